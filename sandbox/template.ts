import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, type DeploymentConfig, parseDeploymentConfig } from '#shared/config';

/**
 * Reads what `cdk deploy` would create from the synthesized CloudFormation template, so the
 * sandbox wires exactly the functions, rules, schedules, queues and HTTP routes of the real stack:
 *
 * - `synthesizeBridgeTemplate` builds the app in-process (`addBridge` from `lib/app.ts`, bundling
 *   skipped) and caches the template by the content of everything that shapes it;
 * - `readTemplate` turns any template into a `SandboxModel` (pure; also used on test stacks);
 * - `evaluateIntrinsic` resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and
 *   `Fn::Split` in values such as environment variables, given how to name local resources.
 */

/** Template metadata key holding a function's source entry (see `lib/constructs/bridge-function.ts`). */
export const ENTRY_METADATA_KEY = 'MarketplaceBridge:Entry';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly [section: string]: unknown;
}

export class TemplateError extends Error {
  override readonly name: string = 'TemplateError';
}

// --- the model ---------------------------------------------------------------------------------

/** Where a rule, schedule, subscription or redrive policy sends things. */
export type Destination =
  | { readonly kind: 'function'; readonly logicalId: string }
  | { readonly kind: 'queue'; readonly logicalId: string }
  | { readonly kind: 'bus'; readonly logicalId: string }
  | { readonly kind: 'topic'; readonly logicalId: string }
  /** Something outside the stack or of a type the sandbox does not run; `description` says what. */
  | { readonly kind: 'unsupported'; readonly description: string };

export interface FunctionModel {
  readonly logicalId: string;
  /** Source module, relative to the project root (BridgeFunction metadata); undefined for other functions. */
  readonly entry: string | undefined;
  /** Exported handler name (`index.handler` → `handler`). */
  readonly handlerExport: string;
  readonly functionName: string | undefined;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** Environment variables as written in the template (values may be intrinsics). */
  readonly environment: Readonly<Record<string, unknown>>;
  readonly reservedConcurrency: number | undefined;
  /** Asynchronous invocation settings (EventInvokeConfig and DeadLetterConfig). */
  readonly async: {
    /** Retries after a failed asynchronous invocation (Lambda's default is 2). */
    readonly maximumRetryAttempts: number;
    readonly onFailure: Destination | undefined;
  };
}

export interface RetryPolicyModel {
  readonly maximumRetryAttempts: number | undefined;
  readonly maximumEventAgeInSeconds: number | undefined;
}

export interface TargetModel {
  readonly id: string;
  readonly destination: Destination;
  /** Constant JSON text sent instead of the event. */
  readonly input: string | undefined;
  /** JSONPath (`$.detail`) selecting the part of the event sent. */
  readonly inputPath: string | undefined;
  readonly inputTransformer:
    | { readonly pathsMap: Readonly<Record<string, string>>; readonly template: string }
    | undefined;
  readonly retryPolicy: RetryPolicyModel | undefined;
  readonly deadLetterQueue: Destination | undefined;
  /** FIFO queue targets: the message group id. */
  readonly messageGroupId: string | undefined;
}

export interface EventBusModel {
  readonly logicalId: string;
  readonly name: string;
  /** Partner event source the bus receives, for partner buses. */
  readonly eventSourceName: string | undefined;
}

export interface RuleModel {
  readonly logicalId: string;
  readonly name: string | undefined;
  /** `default` or the bus name. */
  readonly eventBusName: string;
  readonly eventPattern: unknown;
  readonly scheduleExpression: string | undefined;
  readonly enabled: boolean;
  readonly targets: readonly TargetModel[];
}

export interface ScheduleModel {
  readonly logicalId: string;
  readonly name: string | undefined;
  readonly expression: string;
  readonly timeZone: string;
  readonly enabled: boolean;
  readonly startDate: string | undefined;
  readonly endDate: string | undefined;
  /** The flexible window in minutes (the sandbox fires at its start). */
  readonly flexibleWindowMinutes: number | undefined;
  readonly target: TargetModel;
}

export interface QueueModel {
  readonly logicalId: string;
  readonly queueName: string | undefined;
  readonly fifo: boolean;
  readonly contentBasedDeduplication: boolean;
  readonly visibilityTimeoutSeconds: number;
  readonly redrive: { readonly deadLetterQueue: Destination; readonly maxReceiveCount: number } | undefined;
}

export interface EventSourceMappingModel {
  readonly logicalId: string;
  readonly source: Destination;
  readonly functionLogicalId: string | undefined;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly enabled: boolean;
  /** Lambda event filtering patterns (JSON text), any of which lets a record through. */
  readonly filterPatterns: readonly string[];
}

export interface SubscriptionModel {
  readonly logicalId: string;
  /** Literal topic ARN (an external topic) or the logical id of a topic in the stack. */
  readonly topic: string;
  readonly protocol: string;
  readonly destination: Destination;
  readonly rawMessageDelivery: boolean;
}

export interface HttpRouteModel {
  readonly routeKey: string;
  /** `ANY`, `GET`, …; `$default` routes have method `ANY` and path `$default`. */
  readonly method: string;
  readonly path: string;
  readonly functionLogicalId: string | undefined;
  readonly payloadFormatVersion: string;
}

export interface HttpApiModel {
  readonly logicalId: string;
  readonly name: string | undefined;
  readonly stageNames: readonly string[];
  readonly routes: readonly HttpRouteModel[];
}

export interface TableModel {
  readonly logicalId: string;
  readonly tableName: string | undefined;
  readonly partitionKey: string | undefined;
  readonly sortKey: string | undefined;
  readonly indexNames: readonly string[];
}

export interface SecretModel {
  readonly logicalId: string;
  readonly name: string | undefined;
  readonly secretString: string | undefined;
  /** GenerateSecretString: a random string, or a JSON template with the random string under `key`. */
  readonly generate:
    | {
        readonly length: number;
        readonly excludePunctuation: boolean;
        readonly excludeCharacters: string;
        readonly template: string | undefined;
        readonly key: string | undefined;
      }
    | undefined;
}

export interface SandboxModel {
  readonly resources: Readonly<Record<string, CfnResource>>;
  readonly functions: readonly FunctionModel[];
  readonly eventBuses: readonly EventBusModel[];
  readonly rules: readonly RuleModel[];
  readonly schedules: readonly ScheduleModel[];
  readonly queues: readonly QueueModel[];
  readonly eventSourceMappings: readonly EventSourceMappingModel[];
  readonly subscriptions: readonly SubscriptionModel[];
  readonly httpApis: readonly HttpApiModel[];
  readonly tables: readonly TableModel[];
  readonly secrets: readonly SecretModel[];
}

// --- reading ----------------------------------------------------------------------------------------

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const asNumber = (value: unknown): number | undefined =>
  typeof value === 'number'
    ? value
    : typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))
      ? Number(value)
      : undefined;
const asBoolean = (value: unknown): boolean | undefined =>
  typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : undefined;

/** Logical ids an expression refers to through `Ref`, `Fn::GetAtt` or `${X}` in `Fn::Sub`, in order. */
export const referencedLogicalIds = (value: unknown): string[] => {
  if (Array.isArray(value)) return value.flatMap(referencedLogicalIds);
  if (!isObject(value)) return [];
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key = ''] = keys;
    const argument = value[key];
    if (key === 'Ref' && typeof argument === 'string') return [argument];
    if (key === 'Fn::GetAtt') {
      const target = Array.isArray(argument) ? argument[0] : asString(argument)?.split('.')[0];
      return typeof target === 'string' ? [target] : [];
    }
    if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(argument) ? argument : [argument, {}];
      const local = new Set(Object.keys(isObject(variables) ? variables : {}));
      const fromText = [...String(text).matchAll(/\$\{([^}!.]+)(?:\.[^}]+)?\}/g)]
        .map((match) => match[1] ?? '')
        .filter((name) => !local.has(name) && !name.startsWith('AWS::'));
      return [...fromText, ...referencedLogicalIds(variables)];
    }
  }
  return Object.values(value).flatMap(referencedLogicalIds);
};

const destinationKinds: Record<string, Destination['kind']> = {
  'AWS::Lambda::Function': 'function',
  'AWS::SQS::Queue': 'queue',
  'AWS::Events::EventBus': 'bus',
  'AWS::SNS::Topic': 'topic',
};

/** What an ARN-valued expression points at: a resource of the stack, or something the sandbox cannot run. */
const destinationOf = (value: unknown, resources: Readonly<Record<string, CfnResource>>): Destination => {
  for (const logicalId of referencedLogicalIds(value)) {
    const resource = resources[logicalId];
    if (!resource) continue;
    const kind = destinationKinds[resource.Type];
    if (kind) return { kind, logicalId } as Destination;
    if (resource.Type === 'AWS::Lambda::Alias' || resource.Type === 'AWS::Lambda::Version') {
      const inner = destinationOf(resource.Properties?.FunctionName, resources);
      if (inner.kind === 'function') return inner;
    }
  }
  return { kind: 'unsupported', description: typeof value === 'string' ? value : JSON.stringify(value) };
};

const retryPolicyOf = (value: unknown): RetryPolicyModel | undefined =>
  isObject(value)
    ? {
        maximumRetryAttempts: asNumber(value.MaximumRetryAttempts),
        maximumEventAgeInSeconds: asNumber(value.MaximumEventAgeInSeconds),
      }
    : undefined;

const targetOf = (
  target: Record<string, unknown>,
  resources: Readonly<Record<string, CfnResource>>,
  fallbackId: string,
): TargetModel => {
  const transformer = isObject(target.InputTransformer) ? target.InputTransformer : undefined;
  const deadLetter = isObject(target.DeadLetterConfig) ? target.DeadLetterConfig.Arn : undefined;
  const sqs = isObject(target.SqsParameters) ? target.SqsParameters : undefined;
  return {
    id: asString(target.Id) ?? fallbackId,
    destination: destinationOf(target.Arn, resources),
    input: asString(target.Input),
    inputPath: asString(target.InputPath),
    inputTransformer: transformer
      ? {
          pathsMap: Object.fromEntries(
            Object.entries(isObject(transformer.InputPathsMap) ? transformer.InputPathsMap : {}).map(
              ([key, value]) => [key, String(value)],
            ),
          ),
          template: String(transformer.InputTemplate ?? ''),
        }
      : undefined,
    retryPolicy: retryPolicyOf(target.RetryPolicy),
    deadLetterQueue: deadLetter === undefined ? undefined : destinationOf(deadLetter, resources),
    messageGroupId: asString(sqs?.MessageGroupId),
  };
};

const ofType = (resources: Readonly<Record<string, CfnResource>>, type: string) =>
  Object.entries(resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([logicalId, resource]) => ({ logicalId, properties: resource.Properties ?? {}, resource }));

const functionIdOf = (
  value: unknown,
  resources: Readonly<Record<string, CfnResource>>,
): string | undefined => {
  const destination = destinationOf(value, resources);
  return destination.kind === 'function' ? destination.logicalId : undefined;
};

/** The bus a rule or target names: `default`, a bus of the stack (by its name) or a literal name/ARN. */
const busNameOf = (value: unknown, buses: readonly EventBusModel[]): string => {
  if (value === undefined) return 'default';
  const [referenced] = referencedLogicalIds(value);
  const bus = buses.find((candidate) => candidate.logicalId === referenced);
  if (bus) return bus.name;
  const text = asString(value) ?? 'default';
  return /^arn:aws[a-z-]*:events:[^:]*:\d*:event-bus\/(.+)$/.exec(text)?.[1] ?? text;
};

export const readTemplate = (template: CfnTemplate): SandboxModel => {
  const resources = template.Resources ?? {};

  const invokeConfigs = ofType(resources, 'AWS::Lambda::EventInvokeConfig');
  const functions: FunctionModel[] = ofType(resources, 'AWS::Lambda::Function').map(
    ({ logicalId, properties, resource }) => {
      const config = invokeConfigs.find(
        ({ properties: p }) => functionIdOf(p.FunctionName, resources) === logicalId,
      )?.properties;
      const onFailure =
        isObject(config?.DestinationConfig) && isObject(config.DestinationConfig.OnFailure)
          ? config.DestinationConfig.OnFailure.Destination
          : isObject(properties.DeadLetterConfig)
            ? properties.DeadLetterConfig.TargetArn
            : undefined;
      const environment =
        isObject(properties.Environment) && isObject(properties.Environment.Variables)
          ? properties.Environment.Variables
          : {};
      const handler = asString(properties.Handler) ?? 'index.handler';
      return {
        logicalId,
        entry: asString(resource.Metadata?.[ENTRY_METADATA_KEY]),
        handlerExport: handler.slice(handler.lastIndexOf('.') + 1),
        functionName: asString(properties.FunctionName),
        timeoutSeconds: asNumber(properties.Timeout) ?? 3,
        memorySize: asNumber(properties.MemorySize) ?? 128,
        environment,
        reservedConcurrency: asNumber(properties.ReservedConcurrentExecutions),
        async: {
          maximumRetryAttempts: asNumber(config?.MaximumRetryAttempts) ?? 2,
          onFailure: onFailure === undefined ? undefined : destinationOf(onFailure, resources),
        },
      };
    },
  );

  const eventBuses: EventBusModel[] = ofType(resources, 'AWS::Events::EventBus').map(
    ({ logicalId, properties }) => ({
      logicalId,
      name: asString(properties.Name) ?? logicalId,
      eventSourceName: asString(properties.EventSourceName),
    }),
  );

  const rules: RuleModel[] = ofType(resources, 'AWS::Events::Rule').map(({ logicalId, properties }) => ({
    logicalId,
    name: asString(properties.Name),
    eventBusName: busNameOf(properties.EventBusName, eventBuses),
    eventPattern: properties.EventPattern,
    scheduleExpression: asString(properties.ScheduleExpression),
    enabled: (asString(properties.State) ?? 'ENABLED') === 'ENABLED',
    targets: (Array.isArray(properties.Targets) ? properties.Targets : [])
      .filter(isObject)
      .map((target, index) => targetOf(target, resources, `Target${index}`)),
  }));

  const schedules: ScheduleModel[] = ofType(resources, 'AWS::Scheduler::Schedule').map(
    ({ logicalId, properties }) => {
      const window = isObject(properties.FlexibleTimeWindow) ? properties.FlexibleTimeWindow : {};
      const expression = asString(properties.ScheduleExpression);
      if (!expression) throw new TemplateError(`Schedule ${logicalId} has no literal ScheduleExpression`);
      return {
        logicalId,
        name: asString(properties.Name),
        expression,
        timeZone: asString(properties.ScheduleExpressionTimezone) ?? 'UTC',
        enabled: (asString(properties.State) ?? 'ENABLED') === 'ENABLED',
        startDate: asString(properties.StartDate),
        endDate: asString(properties.EndDate),
        flexibleWindowMinutes:
          window.Mode === 'FLEXIBLE' ? asNumber(window.MaximumWindowInMinutes) : undefined,
        target: targetOf(isObject(properties.Target) ? properties.Target : {}, resources, 'Target'),
      };
    },
  );

  const queues: QueueModel[] = ofType(resources, 'AWS::SQS::Queue').map(({ logicalId, properties }) => {
    const redrive = isObject(properties.RedrivePolicy) ? properties.RedrivePolicy : undefined;
    return {
      logicalId,
      queueName: asString(properties.QueueName),
      fifo: asBoolean(properties.FifoQueue) ?? false,
      contentBasedDeduplication: asBoolean(properties.ContentBasedDeduplication) ?? false,
      visibilityTimeoutSeconds: asNumber(properties.VisibilityTimeout) ?? 30,
      redrive: redrive
        ? {
            deadLetterQueue: destinationOf(redrive.deadLetterTargetArn, resources),
            maxReceiveCount: asNumber(redrive.maxReceiveCount) ?? 1,
          }
        : undefined,
    };
  });

  const eventSourceMappings: EventSourceMappingModel[] = ofType(
    resources,
    'AWS::Lambda::EventSourceMapping',
  ).map(({ logicalId, properties }) => {
    const filters =
      isObject(properties.FilterCriteria) && Array.isArray(properties.FilterCriteria.Filters)
        ? properties.FilterCriteria.Filters
        : [];
    return {
      logicalId,
      source: destinationOf(properties.EventSourceArn, resources),
      functionLogicalId: functionIdOf(properties.FunctionName, resources),
      batchSize: asNumber(properties.BatchSize) ?? 10,
      maximumBatchingWindowSeconds: asNumber(properties.MaximumBatchingWindowInSeconds) ?? 0,
      reportBatchItemFailures: Array.isArray(properties.FunctionResponseTypes)
        ? properties.FunctionResponseTypes.includes('ReportBatchItemFailures')
        : false,
      enabled: asBoolean(properties.Enabled) ?? true,
      filterPatterns: filters
        .filter(isObject)
        .map((filter) =>
          typeof filter.Pattern === 'string' ? filter.Pattern : JSON.stringify(filter.Pattern),
        ),
    };
  });

  const subscriptions: SubscriptionModel[] = ofType(resources, 'AWS::SNS::Subscription').map(
    ({ logicalId, properties }) => {
      const [topicId] = referencedLogicalIds(properties.TopicArn);
      return {
        logicalId,
        topic:
          topicId && resources[topicId]
            ? topicId
            : (asString(properties.TopicArn) ?? JSON.stringify(properties.TopicArn)),
        protocol: asString(properties.Protocol) ?? '',
        destination: destinationOf(properties.Endpoint, resources),
        rawMessageDelivery: asBoolean(properties.RawMessageDelivery) ?? false,
      };
    },
  );

  const integrations = ofType(resources, 'AWS::ApiGatewayV2::Integration');
  const routes = ofType(resources, 'AWS::ApiGatewayV2::Route');
  const stages = ofType(resources, 'AWS::ApiGatewayV2::Stage');
  const httpApis: HttpApiModel[] = ofType(resources, 'AWS::ApiGatewayV2::Api')
    .filter(({ properties }) => (asString(properties.ProtocolType) ?? 'HTTP') === 'HTTP')
    .map(({ logicalId, properties }) => {
      const belongs = (p: Record<string, unknown>) => referencedLogicalIds(p.ApiId).includes(logicalId);
      return {
        logicalId,
        name: asString(properties.Name),
        stageNames: stages
          .filter(({ properties: p }) => belongs(p))
          .map(({ properties: p }) => String(p.StageName)),
        routes: routes
          .filter(({ properties: p }) => belongs(p))
          .map(({ properties: p }) => {
            const routeKey = asString(p.RouteKey) ?? '$default';
            const [method = 'ANY', routePath = '$default'] =
              routeKey === '$default' ? ['ANY', '$default'] : routeKey.split(' ');
            const integrationId = referencedLogicalIds(p.Target).find((id) =>
              integrations.some((i) => i.logicalId === id),
            );
            const integration = integrations.find((i) => i.logicalId === integrationId)?.properties;
            return {
              routeKey,
              method,
              path: routePath,
              functionLogicalId: integration
                ? functionIdOf(integration.IntegrationUri, resources)
                : undefined,
              payloadFormatVersion: asString(integration?.PayloadFormatVersion) ?? '1.0',
            };
          }),
      };
    });

  const tables: TableModel[] = [
    ...ofType(resources, 'AWS::DynamoDB::Table'),
    ...ofType(resources, 'AWS::DynamoDB::GlobalTable'),
  ].map(({ logicalId, properties }) => {
    const keys = (Array.isArray(properties.KeySchema) ? properties.KeySchema : []).filter(isObject);
    const keyNamed = (type: string) => asString(keys.find((key) => key.KeyType === type)?.AttributeName);
    return {
      logicalId,
      tableName: asString(properties.TableName),
      partitionKey: keyNamed('HASH'),
      sortKey: keyNamed('RANGE'),
      indexNames: (Array.isArray(properties.GlobalSecondaryIndexes) ? properties.GlobalSecondaryIndexes : [])
        .filter(isObject)
        .map((index) => String(index.IndexName)),
    };
  });

  const secrets: SecretModel[] = ofType(resources, 'AWS::SecretsManager::Secret').map(
    ({ logicalId, properties }) => {
      const generate = isObject(properties.GenerateSecretString)
        ? properties.GenerateSecretString
        : undefined;
      return {
        logicalId,
        name: asString(properties.Name),
        secretString: asString(properties.SecretString),
        generate: generate
          ? {
              length: asNumber(generate.PasswordLength) ?? 32,
              excludePunctuation: asBoolean(generate.ExcludePunctuation) ?? false,
              excludeCharacters: asString(generate.ExcludeCharacters) ?? '',
              template: asString(generate.SecretStringTemplate),
              key: asString(generate.GenerateStringKey),
            }
          : undefined,
      };
    },
  );

  return {
    resources,
    functions,
    eventBuses,
    rules,
    schedules,
    queues,
    eventSourceMappings,
    subscriptions,
    httpApis,
    tables,
    secrets,
  };
};

// --- intrinsic functions --------------------------------------------------------------------------

export interface IntrinsicContext {
  /** `Ref` of a resource or parameter. */
  ref(logicalId: string): string | undefined;
  /** `Fn::GetAtt` of a resource. */
  getAtt(logicalId: string, attribute: string): string | undefined;
  readonly region: string;
  readonly account: string;
  readonly stackName: string;
}

export class UnresolvedIntrinsicError extends TemplateError {
  override readonly name = 'UnresolvedIntrinsicError';
}

const pseudoParameter = (name: string, context: IntrinsicContext): string | undefined =>
  ({
    'AWS::Region': context.region,
    'AWS::AccountId': context.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': context.stackName,
    'AWS::StackId': `arn:aws:cloudformation:${context.region}:${context.account}:stack/${context.stackName}/sandbox`,
  })[name];

/** Evaluates a template value to a string (lists for `Fn::Split`), or throws UnresolvedIntrinsicError. */
export const evaluateIntrinsic = (value: unknown, context: IntrinsicContext): unknown => {
  const evaluate = (inner: unknown) => evaluateIntrinsic(inner, context);
  const text = (inner: unknown) => {
    const result = evaluate(inner);
    if (typeof result !== 'string' && typeof result !== 'number' && typeof result !== 'boolean') {
      throw new UnresolvedIntrinsicError(`expected a string, got ${JSON.stringify(result)}`);
    }
    return String(result);
  };
  if (Array.isArray(value)) return value.map(evaluate);
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  const [key = ''] = keys;
  if (keys.length !== 1 || !(key === 'Ref' || key.startsWith('Fn::'))) {
    return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, evaluate(inner)]));
  }
  const argument = value[key];
  const resolved = (result: string | undefined, what: string) => {
    if (result === undefined) throw new UnresolvedIntrinsicError(`cannot resolve ${what} locally`);
    return result;
  };
  switch (key) {
    case 'Ref': {
      const name = String(argument);
      return resolved(pseudoParameter(name, context) ?? context.ref(name), `Ref ${name}`);
    }
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument)
        ? [String(argument[0]), String(evaluate(argument[1]))]
        : String(argument).split(/\.(.*)/);
      return resolved(
        context.getAtt(logicalId ?? '', attribute ?? ''),
        `Fn::GetAtt ${logicalId}.${attribute}`,
      );
    }
    case 'Fn::Join': {
      const [separator, parts] = Array.isArray(argument) ? argument : [];
      const list = evaluate(parts);
      if (typeof separator !== 'string' || !Array.isArray(list))
        throw new UnresolvedIntrinsicError('malformed Fn::Join');
      return list.map((part) => text(part)).join(separator);
    }
    case 'Fn::Select': {
      const [index, list] = Array.isArray(argument) ? argument : [];
      const items = evaluate(list);
      const position = Number(evaluate(index));
      if (!Array.isArray(items) || !(position >= 0 && position < items.length)) {
        throw new UnresolvedIntrinsicError('Fn::Select index out of range');
      }
      return items[position];
    }
    case 'Fn::Split': {
      const [separator, source] = Array.isArray(argument) ? argument : [];
      if (typeof separator !== 'string') throw new UnresolvedIntrinsicError('malformed Fn::Split');
      return text(source).split(separator);
    }
    case 'Fn::Sub': {
      const [template, variables] = Array.isArray(argument) ? argument : [argument, {}];
      const locals = isObject(variables) ? variables : {};
      return String(template).replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
        if (name.startsWith('!')) return whole.replace('${!', '${');
        if (Object.hasOwn(locals, name)) return text(locals[name]);
        const [logicalId = '', attribute] = name.split(/\.(.*)/);
        if (attribute) return resolved(context.getAtt(logicalId, attribute), `\${${name}}`);
        return resolved(pseudoParameter(name, context) ?? context.ref(name), `\${${name}}`);
      });
    }
    default:
      throw new UnresolvedIntrinsicError(`${key} is not supported by the sandbox`);
  }
};

// --- synthesis ------------------------------------------------------------------------------------

export interface SynthesisOptions {
  /** The deployment config file, relative to the project root. */
  readonly configFile: string;
  /** Default: the current directory. */
  readonly projectRoot?: string;
  /** Reuse a template synthesized from the same sources (default true). */
  readonly cache?: boolean;
}

export interface SynthesisResult {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly config: DeploymentConfig;
  readonly cached: boolean;
  readonly durationMs: number;
  /** Things worth telling the user (cdk-nag findings, handler entries that do not exist yet). */
  readonly warnings: readonly string[];
}

interface CachedTemplate {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly warnings: readonly string[];
}

/** Reads and validates a deployment config file (as `loadDeploymentConfig`, without loading the CDK). */
const readConfigFile = (absolute: string, shown: string): DeploymentConfig => {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(absolute, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `Cannot read config file ${shown}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return parseDeploymentConfig(raw, `config file ${shown}`);
};

/** Files that shape the template: the CDK app, the shared code it imports, the config and the toolchain. */
const templateInputs = (projectRoot: string, configFile: string): string[] => {
  const walk = (directory: string): string[] => {
    const absolute = path.join(projectRoot, directory);
    if (!fs.existsSync(absolute)) return [];
    return fs
      .readdirSync(absolute, { withFileTypes: true })
      .flatMap((entry) =>
        entry.isDirectory()
          ? walk(path.join(directory, entry.name))
          : entry.name.endsWith('.ts')
            ? [path.join(directory, entry.name)]
            : [],
      );
  };
  return [
    ...walk('bin'),
    ...walk('lib'),
    ...walk('functions/shared'),
    'cdk.json',
    'package-lock.json',
    configFile,
  ].sort();
};

const cacheKey = (projectRoot: string, configFile: string): string => {
  const hash = createHash('sha256');
  hash.update('sandbox-template-v1');
  for (const file of templateInputs(projectRoot, configFile)) {
    hash.update(`\0${file}\0`);
    const absolute = path.join(projectRoot, file);
    if (fs.existsSync(absolute)) hash.update(fs.readFileSync(absolute));
  }
  return hash.digest('hex').slice(0, 32);
};

/**
 * Synthesizes the stack for a config file in-process, with bundling skipped. Handler entries that
 * do not exist yet are tolerated (the sandbox reports them as unavailable), and cdk-nag findings
 * are reported as a warning rather than failing: the sandbox needs the template, not a verdict.
 */
export const synthesizeBridgeTemplate = async (options: SynthesisOptions): Promise<SynthesisResult> => {
  const started = performance.now();
  const projectRoot = path.resolve(options.projectRoot ?? process.cwd());
  const config = readConfigFile(path.resolve(projectRoot, options.configFile), options.configFile);
  const cacheFile = path.join(
    projectRoot,
    'node_modules',
    '.cache',
    'marketplace-bridge-sandbox',
    `template-${cacheKey(projectRoot, options.configFile)}.json`,
  );
  const finish = (
    template: CfnTemplate,
    stackName: string,
    cached: boolean,
    synthesisWarnings: readonly string[],
  ): SynthesisResult => {
    const warnings = [...synthesisWarnings];
    for (const fn of readTemplate(template).functions) {
      if (fn.entry && !fs.existsSync(path.join(projectRoot, fn.entry))) {
        warnings.push(
          `${fn.logicalId}: handler ${fn.entry} does not exist yet; the function is unavailable.`,
        );
      }
    }
    return { template, stackName, config, cached, durationMs: performance.now() - started, warnings };
  };

  if (options.cache !== false && fs.existsSync(cacheFile)) {
    try {
      const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as CachedTemplate;
      return finish(cached.template, cached.stackName, true, cached.warnings);
    } catch {
      // An unreadable cache entry is synthesized again.
    }
  }

  const [{ App }, { addBridge }] = await Promise.all([import('aws-cdk-lib'), import('#lib/app')]);
  const cdkJson = JSON.parse(fs.readFileSync(path.join(projectRoot, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const outdir = fs.mkdtempSync(path.join(tmpdir(), 'bridge-sandbox-synth-'));
  const previousDirectory = process.cwd();
  const warnings: string[] = [];
  const existsSync = fs.existsSync;
  try {
    process.chdir(projectRoot);
    const app = new App({
      outdir,
      // Neither changes the template; the sandbox does not need the report or the tree (several seconds).
      builtinCloudFormationValidation: false,
      treeMetadata: false,
      context: { ...cdkJson.context, configFile: options.configFile, 'aws:cdk:bundling-stacks': [] },
    });
    // NodejsFunction refuses an entry that does not exist; while handlers are being written the
    // sandbox still wants the rest of the stack, so missing handler sources count as present here.
    fs.existsSync = ((candidate: fs.PathLike) =>
      existsSync(candidate) ||
      /(^|[/\\])functions[/\\].+\.(ts|mts|js|mjs)$/.test(String(candidate))) as typeof fs.existsSync;
    let stack: ReturnType<typeof addBridge>;
    try {
      stack = addBridge(app, config);
    } finally {
      fs.existsSync = existsSync;
    }
    try {
      app.synth();
    } catch (error) {
      // Policy validation (cdk-nag) runs after the templates are written; anything else is fatal.
      if (!(error instanceof Error && error.name === 'ValidationFailed')) throw error;
      warnings.push('cdk-nag reports findings for the current stack (run `npm test` to see them).');
    }
    const templatePath = path.join(outdir, stack.templateFile);
    if (!fs.existsSync(templatePath))
      throw new TemplateError(`Synthesis wrote no template for ${stack.stackName}`);
    const template = JSON.parse(fs.readFileSync(templatePath, 'utf8')) as CfnTemplate;
    if (options.cache !== false) {
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      const entry: CachedTemplate = { template, stackName: stack.stackName, warnings };
      // Written aside and renamed, so a concurrent reader never sees half a file.
      const partial = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(partial, JSON.stringify(entry));
      fs.renameSync(partial, cacheFile);
    }
    return finish(template, stack.stackName, false, warnings);
  } finally {
    fs.existsSync = existsSync;
    process.chdir(previousDirectory);
    fs.rmSync(outdir, { recursive: true, force: true });
  }
};
