import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  type DeadLetterQueueOutput,
  deadLetterOutputPrefix,
  deadLetterQueueOutputSchema,
  stackOutputKeys,
} from '#shared/stack-outputs';
import { CliError, exitCodes } from './output.js';

/** The deployment's resources, as the stack's outputs name them. */
export interface StackResources {
  readonly stackName: string;
  readonly licensesTable: string;
  readonly meteringLedgerTable: string;
  readonly idempotencyTable: string;
  readonly domainEventBus: string;
  readonly meteringQueueUrl: string;
  /** By name (`MarketplaceEvents`, `MeteringWork`, ...), in the stack's order. */
  readonly deadLetterQueues: ReadonlyMap<string, DeadLetterQueueOutput>;
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** Reads the stack's outputs with DescribeStacks; a missing stack or output is a clear error. */
export const discoverStack = async (
  client: CloudFormationClient,
  stackName: string,
): Promise<StackResources> => {
  let outputs: Map<string, string>;
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = answer.Stacks?.[0];
    if (!stack) throw new Error(`Stack with id ${stackName} does not exist`);
    outputs = new Map(
      (stack.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
    );
  } catch (error) {
    const text = describeError(error);
    const fix = /does not exist/.test(text)
      ? `deploy it first (npx cdk deploy -c configFile=...), or pick the right --stage/--config and region`
      : 'check your AWS credentials and region (aws sts get-caller-identity), or use --sandbox for the local sandbox';
    throw new CliError(`Cannot read stack ${stackName}: ${text}\n  fix: ${fix}`, exitCodes.unreachable);
  }
  const required = (key: string): string => {
    const value = outputs.get(key);
    if (!value) {
      throw new CliError(
        `Stack ${stackName} has no output ${key}\n  fix: redeploy it with this version of Marketplace Bridge`,
        exitCodes.unreachable,
      );
    }
    return value;
  };
  const deadLetterQueues = new Map<string, DeadLetterQueueOutput>();
  for (const [key, value] of outputs) {
    if (!key.startsWith(deadLetterOutputPrefix)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    const result = deadLetterQueueOutputSchema.safeParse(parsed);
    if (!result.success) {
      throw new CliError(
        `Stack output ${key} is not a dead-letter queue description: ${value}`,
        exitCodes.unreachable,
      );
    }
    deadLetterQueues.set(key.slice(deadLetterOutputPrefix.length), result.data);
  }
  return {
    stackName,
    licensesTable: required(stackOutputKeys.licensesTable),
    meteringLedgerTable: required(stackOutputKeys.meteringLedgerTable),
    idempotencyTable: required(stackOutputKeys.idempotencyTable),
    domainEventBus: required(stackOutputKeys.domainEventBus),
    meteringQueueUrl: required(stackOutputKeys.meteringQueueUrl),
    deadLetterQueues,
  };
};
