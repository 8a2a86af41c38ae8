import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError, type DeploymentConfig, parseDeploymentConfig } from '#shared/config';
import { createRuntime, type Runtime } from '#shared/runtime';
import { CliError, exitCodes, type Io, UsageError } from './output.js';
import { discoverStack, type StackResources } from './stack.js';

/** The options every command takes. */
export const globalOptions = {
  stage: { type: 'string' },
  config: { type: 'string' },
  sandbox: { type: 'boolean' },
  profile: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const globalHelp = `Global options:
  --stage NAME      the deployment: config/NAME.json, stack MarketplaceBridge-NAME
  --config FILE     the deployment config file (default config/<stage>.json)
  --sandbox         operate the local sandbox (npm start) instead of AWS
  --profile FILE    a local profile (what --sandbox reads; default the one npm start writes)
  --json            machine-readable output on stdout
  -h, --help        help for the command`;

export interface GlobalValues {
  readonly stage?: string | undefined;
  readonly config?: string | undefined;
  readonly sandbox?: boolean | undefined;
  readonly profile?: string | undefined;
  readonly json?: boolean | undefined;
}

/** Where the sandbox's profile is (sandbox/operator-profile.ts writes it there). */
export const defaultProfilePath = (): string =>
  path.join(process.cwd(), 'node_modules', '.cache', 'marketplace-bridge-sandbox', 'cli-profile.json');

interface Profile {
  readonly stackName: string;
  readonly config: unknown;
  readonly environment: Record<string, string>;
}

const readJson = (file: string, what: string): unknown => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(
      `Cannot read ${what} ${file}: ${error instanceof Error ? error.message : String(error)}`,
      exitCodes.unreachable,
    );
  }
};

/** A deployment the tool operates: its config, its stack's resources and the clients to reach them. */
export interface Deployment {
  readonly config: DeploymentConfig;
  readonly stackName: string;
  /** Read from the stack's outputs on first use. */
  resources(): Promise<StackResources>;
  /** The functions' runtime (tables, SaaSus, Marketplace clients) on the stack's resources. */
  runtime(): Promise<Runtime>;
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly cloudFormation: CloudFormationClient;
  /** Where environment variables come from (a profile's endpoints layered over the process's). */
  readonly environment: Readonly<Record<string, string | undefined>>;
}

export interface CommandContext {
  readonly io: Io;
  readonly json: boolean;
  /** The clock commands use for "now" (tests pin it to the sandbox's simulated time). */
  readonly now: () => Date;
  deployment(): Deployment;
}

/** Resolves `--stage`/`--config`/`--sandbox`/`--profile` into a deployment (on first use). */
export const deploymentFrom = (values: GlobalValues): Deployment => {
  const profileFile = values.profile ?? (values.sandbox ? defaultProfilePath() : undefined);
  let config: DeploymentConfig;
  let stackName: string;
  if (profileFile !== undefined) {
    if (values.profile === undefined && !existsSync(profileFile)) {
      throw new CliError(
        `No sandbox profile at ${profileFile}\n  fix: start the sandbox with npm start (it writes the profile), then run this again`,
        exitCodes.unreachable,
      );
    }
    const profile = readJson(profileFile, 'local profile') as Profile;
    // Clients read their endpoints and credentials from the environment, as on a developer's machine.
    for (const [name, value] of Object.entries(profile.environment ?? {})) process.env[name] = value;
    config = parseOrExit(() => parseDeploymentConfig(profile.config, `local profile ${profileFile}`));
    stackName = profile.stackName;
  } else {
    if (values.stage === undefined && values.config === undefined) {
      throw new UsageError(
        'Name the deployment with --stage NAME or --config FILE (or --sandbox for the local one)',
      );
    }
    const file = values.config ?? path.join('config', `${values.stage}.json`);
    config = parseOrExit(() => parseDeploymentConfig(readJson(file, 'config file'), `config file ${file}`));
    if (values.stage !== undefined && values.stage !== config.stage) {
      throw new UsageError(`--stage ${values.stage} does not match the stage "${config.stage}" of ${file}`);
    }
    stackName = `MarketplaceBridge-${config.stage}`;
  }
  // The stack's region, unless the operator's environment says otherwise; the runtime's clients read it too.
  process.env.AWS_REGION ??= config.region;
  const region = process.env.AWS_REGION;
  const cloudFormation = new CloudFormationClient({ region });
  const sqs = new SQSClient({ region });
  const lambda = new LambdaClient({ region });
  let resources: Promise<StackResources> | undefined;
  let runtime: Promise<Runtime> | undefined;
  const deployment: Deployment = {
    config,
    stackName,
    cloudFormation,
    sqs,
    lambda,
    environment: process.env,
    resources: () => {
      resources ??= discoverStack(cloudFormation, stackName);
      return resources;
    },
    runtime: () => {
      runtime ??= deployment.resources().then((found) =>
        createRuntime({
          BRIDGE_CONFIG: config,
          LICENSES_TABLE: found.licensesTable,
          METERING_LEDGER_TABLE: found.meteringLedgerTable,
          IDEMPOTENCY_TABLE: found.idempotencyTable,
          DOMAIN_EVENT_BUS: found.domainEventBus,
        }),
      );
      return runtime;
    },
  };
  return deployment;
};

const parseOrExit = (parse: () => DeploymentConfig): DeploymentConfig => {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, exitCodes.unreachable);
    throw error;
  }
};
