import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { type DeploymentConfig, parseDeploymentConfig, productFor } from '#shared/config';
import { createSaasusClient, type SaasusClient } from '#shared/saasus/client';
import { staticSecretSource } from '#shared/secrets';
import { type ClockOptions, SimulatedClock, SimulatedTimers } from './clock.js';
import { DeadLetterList, Delivery, queuedCopy, WorkTracker } from './delivery.js';
import { type LocalDynamo, startLocalDynamo } from './dynamo.js';
import { type EventBridgeEmulator, startEventBridgeEmulator } from './emulators/eventbridge.js';
import { type IdoperationEmulator, startIdoperationEmulator } from './emulators/idoperation.js';
import { type MarketplaceEmulator, startMarketplaceEmulator } from './emulators/marketplace.js';
import { HOSTED_SIGN_IN_PATH } from './emulators/saasus/hosted-sign-in.js';
import { type SaasusEmulator, startSaasusEmulator } from './emulators/saasus.js';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from './emulators/secrets-manager.js';
import { EventSourcePoller } from './event-sources.js';
import type { MountedHttpApi } from './http-api.js';
import { FunctionHost, type FunctionLogLine, type InvocationRecord } from './lambda/host.js';
import { allMeteringUnits, sandboxProduct } from './listing.js';
import {
  type Agreement,
  type LegacySnsAction,
  type MarketplaceEventKind,
  marketplaceEvent,
  newAgreementId,
  newOfferId,
} from './marketplace-events.js';
import { EventRouter, type RoutedEvent } from './router.js';
import { type FiredJob, Scheduler } from './scheduler.js';
import { LocalSqs } from './sqs.js';
import {
  type CfnResource,
  evaluateIntrinsic,
  type FunctionModel,
  type IntrinsicContext,
  readTemplate,
  type SandboxModel,
  type SynthesisResult,
  synthesizeBridgeTemplate,
} from './template.js';

/**
 * The whole system on one machine: the stack's template read into a model, dynalite with its
 * tables, the five emulators, the stack's queues, the functions running in worker threads with the
 * environment the template gives them (endpoints pointed at the local services), the rules,
 * schedules and SQS event sources wired as deployed, and the web UI.
 *
 * Handlers run in worker threads, one per warm environment, because module-scope code (clients,
 * Powertools, `parseEnv`) reads `process.env` at import and different functions get different
 * variables. The simulated clock reaches them through shared memory and `functions/shared/clock.ts`.
 */

/** The seller's (our) AWS account in the sandbox. */
export const SANDBOX_ACCOUNT = '123456789012';
/** Buyer accounts offered on the buyer simulator. */
export const PRESET_BUYER_ACCOUNTS = ['111122223333', '444455556666', '777788889999'] as const;

/** The page that stands in for the SaaS sign-in (`saasus.signInUrl`), where sign-up ends. */
export const SAAS_SIGN_IN_PATH = '/saas/sign-in';

/** What the web layer (buyer simulator, dashboard, HTTP APIs) is given besides the sandbox. */
export interface WebOptions {
  readonly presetBuyerAccounts: readonly string[];
  /** The config's `saasus.signInUrl` (the functions are given the stand-in page instead). */
  readonly saasSignInUrl?: string;
}
export const SANDBOX_SAASUS_CREDENTIALS = {
  saasId: 'sandbox-saas-0001',
  apiKey: 'sandbox-api-key',
  secretKey: 'sandbox-secret-key-for-signatures',
} as const;
export const SANDBOX_IDOPERATION_AUTHORIZATION = 'Bearer sandbox-idoperation-token';
/** Where the template's first HTTP API (the fulfillment URL) is mounted. */
export const FULFILLMENT_PREFIX = '/fulfillment';

export interface SandboxOptions {
  /** Web UI port; 0 picks a free one. Default 3000. */
  readonly port?: number;
  /** Default `config/example.json`. */
  readonly configFile?: string;
  /** Default the current directory. */
  readonly projectRoot?: string;
  readonly clock?: ClockOptions;
  /**
   * Simulated seconds before the first and second retry of a failed asynchronous invocation.
   * Default 60 and 120, as Lambda does.
   */
  readonly asyncRetryDelaysSeconds?: readonly number[];
  /** Where the sandbox and handler logs go; default console.log. */
  readonly log?: (line: string) => void;
  /** Print handler log lines (default true). */
  readonly handlerLogs?: boolean;
  /** Start one environment per function right away (default true). */
  readonly warm?: boolean;
  /** Reuse the synthesized template when nothing that shapes it changed (default true). */
  readonly cacheTemplate?: boolean;
  /** Run this template instead of synthesizing the app (tests run small stacks this way). */
  readonly synthesis?: Pick<SynthesisResult, 'template' | 'stackName' | 'config'> & Partial<SynthesisResult>;
  /**
   * Serves the sandbox's web port: `sandbox/index.ts` passes the web layer (which depends on the
   * runner, not the reverse). Without it every request is answered 404.
   */
  readonly web?: (sandbox: Sandbox, options: WebOptions) => RequestListener;
}

export interface SandboxFunction {
  readonly model: FunctionModel;
  readonly host: FunctionHost;
  /** Short name for logs (the Powertools service name, else the logical id). */
  readonly label: string;
  readonly environment: Readonly<Record<string, string>>;
  /** Variables the sandbox could not resolve (left unset). */
  readonly problems: readonly string[];
}

export interface SeededSecret {
  readonly name: string;
  readonly description: string;
}

export interface Sandbox {
  readonly url: string;
  /** The local fulfillment URL, when the template has an HTTP API. */
  readonly fulfillmentUrl: string | undefined;
  readonly stackName: string;
  /** The seller's AWS account in the sandbox. */
  readonly account: string;
  /**
   * The deployment config with the local SaaSus and iDoperation endpoints, and the sign-in page
   * pointed at the sandbox's stand-in (`SAAS_SIGN_IN_PATH`).
   */
  readonly config: DeploymentConfig;
  readonly model: SandboxModel;
  readonly warnings: readonly string[];
  readonly startupMs: number;
  readonly templateFromCache: boolean;
  readonly clock: SimulatedClock;
  /** What waits for simulated time: retries, messages becoming visible again. */
  readonly timers: SimulatedTimers;
  readonly dynamo: LocalDynamo;
  /** Local names of the stack's tables, by definition id (`Licenses`, `MeteringLedger`, `Idempotency`). */
  readonly tableNames: Readonly<Record<string, string>>;
  readonly emulators: {
    readonly saasus: SaasusEmulator;
    readonly marketplace: MarketplaceEmulator;
    readonly idoperation: IdoperationEmulator | undefined;
    readonly eventBridge: EventBridgeEmulator;
    readonly secretsManager: SecretsManagerEmulator;
  };
  readonly sqs: LocalSqs;
  readonly sqsUrl: string;
  readonly secrets: readonly SeededSecret[];
  readonly functions: ReadonlyMap<string, SandboxFunction>;
  readonly httpApis: readonly MountedHttpApi[];
  readonly router: EventRouter;
  readonly scheduler: Scheduler;
  readonly deadLetters: DeadLetterList;
  readonly domainBusName: string | undefined;
  /** The template's outputs resolved to the local resources (what DescribeStacks returns). */
  readonly outputs: Readonly<Record<string, string>>;
  /** An asynchronous invocation by function name (Lambda's `Invoke` with `InvocationType: Event`). */
  invokeAsync(functionName: string, payload: unknown): boolean;
  readonly partnerBusName: string;
  /** Purchases made on the buyer simulator, by license ARN. */
  readonly agreements: ReadonlyMap<string, Agreement>;
  invocations(): InvocationRecord[];
  logs(): FunctionLogLine[];
  /** A SaaSus API client signed with the sandbox credentials (what the SaaS itself would call). */
  saasus(): SaasusClient;
  /** Puts an event on a bus (`default` for AWS events). */
  publish(event: Record<string, unknown>, busName: string): RoutedEvent;
  /** A buyer subscribes: a license, a registration token and (optionally) the purchase events. */
  subscribe(input: SubscribeInput): SubscribeResult;
  /** Emits what AWS Marketplace does later for a purchase. */
  emitMarketplaceEvent(
    licenseArn: string,
    kind: MarketplaceEventKind,
    options?: MarketplaceEventOptions,
  ): RoutedEvent;
  /**
   * Sends a legacy SNS notification (listings from before June 2026) for a purchase to whatever the
   * stack subscribed to the Marketplace topic; returns how many subscriptions received it.
   */
  publishLegacySns(licenseArn: string, action: LegacySnsAction): number;
  /** Moves the simulated clock forward, running every schedule due on the way. */
  advanceClock(ms: number): Promise<FiredJob[]>;
  /** Waits until deliveries, retries and queue consumers are idle (or the timeout passes); true if idle. */
  settle(timeoutMs?: number): Promise<boolean>;
  /** Drops warm handler environments so edited handler sources load afresh. */
  reloadHandlers(): Promise<void>;
  close(): Promise<void>;
}

export interface SubscribeInput {
  readonly customerAwsAccountId: string;
  readonly dimension: string;
  /** The listing bought; defaults to the config's first product. */
  readonly productCode?: string;
  /** Also emit what AWS emits at purchase time (Agreement Created, License Updated). Default true. */
  readonly emitPurchaseEvents?: boolean;
}

export interface SubscribeResult {
  readonly token: string;
  readonly licenseArn: string;
  readonly agreement: Agreement;
}

export interface MarketplaceEventOptions {
  /** For amendments: the new dimension. */
  readonly dimension?: string;
  /** For Ended events: the agreement status (default CANCELLED). */
  readonly endStatus?: string;
}

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const randomAlphanumeric = (length: number, excludePunctuation: boolean, exclude = '') => {
  const alphabet =
    `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${excludePunctuation ? '' : '!#$%&()*+,-.:;<=>?@[]^_{|}~'}`
      .split('')
      .filter((char) => !exclude.includes(char));
  return [...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('');
};

/** Powertools Metrics' notice when an invocation added no metric: harmless, and noise on a console. */
const NO_METRICS_NOTICE = 'No application metrics to publish.';

/**
 * Formats a handler log line (Powertools JSON) for the console; EMF metric lines and the
 * "no application metrics" notice are not shown.
 */
const formatLogLine = (label: string, line: string): string | undefined => {
  if (line.startsWith(NO_METRICS_NOTICE)) return undefined;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry && typeof entry === 'object' && '_aws' in entry) return undefined;
    if (typeof entry.message === 'string') {
      const level = String(entry.level ?? entry.levelName ?? 'INFO').toUpperCase();
      const error =
        entry.error && typeof entry.error === 'object'
          ? ` (${JSON.stringify(entry.error).slice(0, 300)})`
          : '';
      return `[${label}] ${level} ${entry.message}${error}`;
    }
  } catch {
    // Not JSON: print as is.
  }
  return `[${label}] ${line}`;
};

export const startSandbox = async (options: SandboxOptions = {}): Promise<Sandbox> => {
  const started = performance.now();
  const projectRoot = path.resolve(options.projectRoot ?? process.cwd());
  const log = options.log ?? ((line: string) => console.log(line));

  const synthesis =
    options.synthesis ??
    (await synthesizeBridgeTemplate({
      configFile: options.configFile ?? 'config/example.json',
      projectRoot,
      cache: options.cacheTemplate ?? true,
    }));
  const model = readTemplate(synthesis.template);
  const { stackName } = synthesis;
  const deployed = synthesis.config;
  const region = deployed.region;
  const account = SANDBOX_ACCOUNT;
  const warnings = [...(synthesis.warnings ?? [])];
  const clock = SimulatedClock.create(options.clock);
  const timers = new SimulatedTimers(clock);
  const now = () => clock.now();

  // The web server listens first: its URL is part of the functions' environment (API endpoints).
  let handleRequest: Parameters<typeof createServer>[1] = (_request, response) => {
    response.writeHead(503, { 'content-type': 'text/plain' });
    response.end('The sandbox is starting');
  };
  const server: Server = createServer((request, response) => handleRequest?.(request, response));
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const saasusEventSource =
    deployed.saasusEvents?.eventSourceName ??
    `aws.partner/saasus.io/${SANDBOX_SAASUS_CREDENTIALS.saasId}-1/event`;
  const partnerBus = model.eventBuses.find(
    (bus) => bus.eventSourceName === saasusEventSource || bus.name === saasusEventSource,
  );
  const partnerBusName = partnerBus?.name ?? saasusEventSource;
  const domainBusName = model.eventBuses.find(
    (bus) => !bus.eventSourceName && !bus.name.startsWith('aws.partner/'),
  )?.name;

  // Router and SaaSus emulator reference each other through this late binding.
  let publish: (event: Record<string, unknown>, busName: string) => RoutedEvent = () => {
    throw new Error('The sandbox is starting');
  };

  const plans = new Map<string, string>();
  const product = sandboxProduct(deployed);
  for (const { plans: productPlans } of deployed.products) {
    for (const [dimension, planId] of Object.entries(productPlans.byDimension)) {
      if (!plans.has(planId)) plans.set(planId, dimension);
    }
    if (productPlans.defaultPlanId && !plans.has(productPlans.defaultPlanId))
      plans.set(productPlans.defaultPlanId, 'default');
    if (productPlans.revokedPlanId && !plans.has(productPlans.revokedPlanId))
      plans.set(productPlans.revokedPlanId, 'revoked');
  }

  const idoperationBasePath = deployed.idoperation
    ? new URL(deployed.idoperation.baseUrl).pathname.replace(/\/+$/, '')
    : '';
  const [dynamo, saasus, marketplace, idoperation, eventBridge, secretsManager] = await Promise.all([
    startLocalDynamo({ prefix: stackName, region }),
    startSaasusEmulator({
      credentials: SANDBOX_SAASUS_CREDENTIALS,
      now,
      envs: [{ id: deployed.saasus.envId, name: 'production', display_name: 'Production' }],
      roles: deployed.saasus.adminRoleNames,
      plans: [...plans].map(([id, name]) => ({ id, name, display_name: `${name} plan` })),
      meteringUnits: allMeteringUnits(deployed).map((unit) => ({
        unit_name: unit.saasusUnit,
        aggregate_usage: unit.aggregation === 'gauge' ? 'max' : 'sum',
      })),
      meteringTimeZone: deployed.metering.saasusDayTimeZone,
      partnerEventSource: saasusEventSource,
      // The link flow's sign-in: back to the fulfillment URL's callback with a temporary code.
      hostedSignIn: {
        callbackUrl: `${url}${FULFILLMENT_PREFIX}/link/callback`,
        envId: deployed.saasus.envId,
        adminRoleName: deployed.saasus.adminRoleNames[0] ?? 'admin',
      },
      eventAccount: account,
      eventRegion: region,
      onPartnerEvent: (event) => {
        publish(structuredClone(event) as unknown as Record<string, unknown>, partnerBusName);
      },
    }),
    startMarketplaceEmulator({
      productCode: product.productCode,
      // One seller account: the same endpoint meters every product's licenses.
      otherProductCodes: deployed.products.slice(1).map((other) => other.productCode),
      identityMode: product.identityMode,
      now,
      dimensions: [
        ...new Set(
          deployed.products.flatMap((listing) => [
            ...Object.keys(listing.plans.byDimension),
            ...listing.meteringUnits.map((unit) => unit.dimension),
          ]),
        ),
      ],
    }),
    deployed.idoperation
      ? startIdoperationEmulator({
          authorization: SANDBOX_IDOPERATION_AUTHORIZATION,
          basePath: idoperationBasePath,
        })
      : Promise.resolve(undefined),
    startEventBridgeEmulator({ account, region, now }),
    startSecretsManagerEmulator({ account, region }),
  ]);

  const config = parseDeploymentConfig({
    ...deployed,
    saasus: {
      ...deployed.saasus,
      apiBaseUrl: saasus.url,
      signInUrl: `${url}${SAAS_SIGN_IN_PATH}`,
      linkSignInUrl: `${saasus.url}${HOSTED_SIGN_IN_PATH}`,
    },
    ...(deployed.idoperation && idoperation
      ? { idoperation: { ...deployed.idoperation, baseUrl: `${idoperation.url}${idoperationBasePath}` } }
      : {}),
  });

  // Secrets: the seller-created ones the config names, and every secret the stack itself creates.
  const secrets: SeededSecret[] = [];
  const secretArns = new Map<string, string>();
  const seed = (name: string, value: string | object, description: string, arn?: string) => {
    secretsManager.putSecret(name, value);
    // Callers that use the ARN as SecretId find the same value.
    if (arn) secretsManager.putSecret(arn, value);
    secrets.push({ name, description });
  };
  seed(
    config.saasus.secretName,
    SANDBOX_SAASUS_CREDENTIALS,
    'SaaSus API credentials (config saasus.secretName)',
  );
  if (config.idoperation) {
    seed(
      config.idoperation.secretName,
      { authorization: SANDBOX_IDOPERATION_AUTHORIZATION },
      'iDoperation authorization (config idoperation.secretName)',
    );
  }
  for (const secret of model.secrets) {
    const name = secret.name ?? `${secret.logicalId}-${randomAlphanumeric(12, true)}`;
    const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomAlphanumeric(6, true)}`;
    const generated = secret.generate
      ? randomAlphanumeric(
          secret.generate.length,
          secret.generate.excludePunctuation,
          secret.generate.excludeCharacters,
        )
      : undefined;
    const value =
      secret.secretString ??
      (secret.generate?.template !== undefined && secret.generate.key
        ? JSON.stringify({
            ...(JSON.parse(secret.generate.template) as object),
            [secret.generate.key]: generated,
          })
        : (generated ?? ''));
    seed(name, value, `created by the stack (${secret.logicalId})`, arn);
    secretArns.set(secret.logicalId, arn);
  }

  const sqs = new LocalSqs(model.queues, {
    account,
    region,
    namePrefix: stackName,
    now: () => clock.nowMs(),
    timers,
  });
  const sqsUrl = await sqs.start();

  // Tables: the template's tables are the shared definitions; map each to its local table.
  const tableNames: Record<string, string> = { ...dynamo.tables };
  const localTable = new Map<string, string>();
  for (const table of model.tables) {
    const definition = dynamo.definitions.find(
      (candidate) =>
        candidate.partitionKey.name === table.partitionKey &&
        candidate.sortKey?.name === table.sortKey &&
        candidate.indexes.map((index) => index.indexName).join() === table.indexNames.join(),
    );
    const name = definition ? dynamo.tables[definition.id] : undefined;
    if (name) {
      localTable.set(table.logicalId, name);
      continue;
    }
    // A table that is not one of the shared definitions: create it from its template properties.
    const properties = (model.resources[table.logicalId] as CfnResource).Properties ?? {};
    const fallbackName = `${stackName}-${table.logicalId}`;
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: fallbackName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: properties.KeySchema as never,
        AttributeDefinitions: properties.AttributeDefinitions as never,
        ...(Array.isArray(properties.GlobalSecondaryIndexes)
          ? {
              GlobalSecondaryIndexes: (properties.GlobalSecondaryIndexes as Record<string, unknown>[]).map(
                (index) => ({
                  IndexName: index.IndexName as string,
                  KeySchema: index.KeySchema as never,
                  Projection: (index.Projection as never) ?? { ProjectionType: 'ALL' },
                }),
              ),
            }
          : {}),
      }),
    );
    localTable.set(table.logicalId, fallbackName);
    tableNames[table.logicalId] = fallbackName;
    warnings.push(`Table ${table.logicalId} matches no shared definition; created it from the template.`);
  }

  const functionName = (logicalId: string) => `${stackName}-${logicalId}`.slice(0, 64);
  const functionArn = (logicalId: string) =>
    `arn:aws:lambda:${region}:${account}:function:${functionName(logicalId)}`;
  const busName = (logicalId: string) => model.eventBuses.find((bus) => bus.logicalId === logicalId)?.name;
  const httpApis: MountedHttpApi[] = model.httpApis.map((api, index) => ({
    api,
    prefix: index === 0 ? FULFILLMENT_PREFIX : `/http/${api.logicalId}`,
  }));
  const typeOf = (logicalId: string) => model.resources[logicalId]?.Type;

  const intrinsics: IntrinsicContext = {
    region,
    account,
    stackName,
    ref(logicalId) {
      switch (typeOf(logicalId)) {
        case 'AWS::DynamoDB::Table':
        case 'AWS::DynamoDB::GlobalTable':
          return localTable.get(logicalId);
        case 'AWS::Events::EventBus':
          return busName(logicalId);
        case 'AWS::SecretsManager::Secret':
          return secretArns.get(logicalId);
        case 'AWS::SQS::Queue':
          return sqs.queue(logicalId).url;
        case 'AWS::Lambda::Function':
          return functionName(logicalId);
        case 'AWS::SNS::Topic':
          return `arn:aws:sns:${region}:${account}:${stackName}-${logicalId}`;
        case 'AWS::ApiGatewayV2::Api':
          return logicalId;
        default:
          return undefined;
      }
    },
    getAtt(logicalId, attribute) {
      const type = typeOf(logicalId);
      if (type === 'AWS::DynamoDB::Table' || type === 'AWS::DynamoDB::GlobalTable') {
        const name = localTable.get(logicalId);
        return attribute === 'Arn' && name
          ? `arn:aws:dynamodb:${region}:${account}:table/${name}`
          : undefined;
      }
      if (type === 'AWS::Events::EventBus') {
        const name = busName(logicalId);
        if (attribute === 'Name') return name;
        return attribute === 'Arn' && name
          ? `arn:aws:events:${region}:${account}:event-bus/${name}`
          : undefined;
      }
      if (type === 'AWS::SQS::Queue') {
        const queue = sqs.queue(logicalId);
        return ({ Arn: queue.arn, QueueName: queue.name, QueueUrl: queue.url } as Record<string, string>)[
          attribute
        ];
      }
      if (type === 'AWS::Lambda::Function') return attribute === 'Arn' ? functionArn(logicalId) : undefined;
      if (type === 'AWS::SecretsManager::Secret')
        return attribute === 'Id' ? secretArns.get(logicalId) : undefined;
      if (type === 'AWS::SNS::Topic') return attribute === 'TopicArn' ? intrinsics.ref(logicalId) : undefined;
      if (type === 'AWS::ApiGatewayV2::Api') {
        const mount = httpApis.find((candidate) => candidate.api.logicalId === logicalId);
        if (attribute === 'ApiEndpoint' && mount) return `${url}${mount.prefix}`;
        return attribute === 'ApiId' ? logicalId : undefined;
      }
      return undefined;
    },
  };

  // Function environments: the template's variables resolved to local resources, plus the
  // variables Lambda sets and the endpoints of the local services.
  const credentialsFile = path.join(
    projectRoot,
    'node_modules',
    '.cache',
    'marketplace-bridge-sandbox',
    'no-aws-config',
  );
  const baseEnvironment: Record<string, string> = {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'sandbox',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    // Keep the developer's own AWS profiles out of the handlers.
    AWS_CONFIG_FILE: credentialsFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
    AWS_ENDPOINT_URL_MARKETPLACE_METERING: marketplace.url,
    AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE: marketplace.url,
    AWS_ENDPOINT_URL_SQS: sqsUrl,
    // Lambda runs Node.js 24; the SDK's warning about older Node.js versions is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TZ: 'UTC',
  };
  const invocationLog: InvocationRecord[] = [];
  const logLines: FunctionLogLine[] = [];
  const functions = new Map<string, SandboxFunction>();
  // Functions that share a Powertools service name (the metering schedule and worker) are told
  // apart in logs and on the dashboard by their entry file.
  const serviceOf = (fn: FunctionModel) =>
    typeof fn.environment.POWERTOOLS_SERVICE_NAME === 'string'
      ? fn.environment.POWERTOOLS_SERVICE_NAME
      : undefined;
  const sharedServices = new Set(
    model.functions
      .map(serviceOf)
      .filter((service, index, all) => service !== undefined && all.indexOf(service) !== index),
  );
  for (const fn of model.functions) {
    const problems: string[] = [];
    const environment: Record<string, string> = {
      ...baseEnvironment,
      AWS_LAMBDA_FUNCTION_NAME: functionName(fn.logicalId),
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName(fn.logicalId)}`,
    };
    for (const [name, value] of Object.entries(fn.environment)) {
      if (name === 'NODE_OPTIONS') continue;
      try {
        const resolved = evaluateIntrinsic(value, intrinsics);
        environment[name] = typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
      } catch (error) {
        problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (environment.BRIDGE_CONFIG) {
      const bridgeConfig = JSON.parse(environment.BRIDGE_CONFIG) as Record<string, Record<string, unknown>>;
      if (bridgeConfig.saasus) {
        bridgeConfig.saasus.apiBaseUrl = config.saasus.apiBaseUrl;
        bridgeConfig.saasus.signInUrl = config.saasus.signInUrl;
        bridgeConfig.saasus.linkSignInUrl = config.saasus.linkSignInUrl;
      }
      if (bridgeConfig.idoperation && config.idoperation)
        bridgeConfig.idoperation.baseUrl = config.idoperation.baseUrl;
      environment.BRIDGE_CONFIG = JSON.stringify(bridgeConfig);
    }
    const mount = httpApis.find((candidate) =>
      candidate.api.routes.some((route) => route.functionLogicalId === fn.logicalId),
    );
    // Routes served under a prefix: the function builds its links with it (empty behind API Gateway).
    if (mount) environment.PUBLIC_BASE_PATH = mount.prefix;
    const service = serviceOf(fn);
    const label =
      service === undefined
        ? fn.logicalId
        : sharedServices.has(service) && fn.entry
          ? `${service}/${path.basename(fn.entry).replace(/\.[cm]?[jt]s$/, '')}`
          : service;
    for (const problem of problems) warnings.push(`${fn.logicalId}: cannot resolve ${problem}`);
    const host = new FunctionHost(
      {
        logicalId: fn.logicalId,
        functionName: functionName(fn.logicalId),
        functionArn: functionArn(fn.logicalId),
        entry: fn.entry,
        entryPath: fn.entry ? path.join(projectRoot, fn.entry) : undefined,
        handlerExport: fn.handlerExport,
        environment,
        timeoutMs: fn.timeoutSeconds * 1000,
        memorySize: fn.memorySize,
        maxConcurrency: Math.max(1, Math.min(fn.reservedConcurrency ?? 4, 4)),
      },
      {
        clock,
        onLog: (line) => {
          logLines.push(line);
          if (logLines.length > 1_000) logLines.splice(0, logLines.length - 1_000);
          if (options.handlerLogs === false) return;
          const formatted = formatLogLine(label, line.line);
          if (formatted) log(formatted);
        },
        onInvocation: (record) => {
          invocationLog.push(record);
          if (invocationLog.length > 500) invocationLog.splice(0, invocationLog.length - 500);
          if (!record.ok && options.handlerLogs !== false) {
            log(
              `[${label}] ${record.trigger} failed: ${record.error?.errorType}: ${record.error?.errorMessage}`,
            );
          }
        },
      },
    );
    functions.set(fn.logicalId, { model: fn, host, label, environment, problems });
  }

  const tracker = new WorkTracker();
  const deadLetters = new DeadLetterList();
  let router: EventRouter | undefined;
  const delivery = new Delivery({
    functions,
    sqs,
    deadLetters,
    tracker,
    clock,
    timers,
    asyncRetryDelaysSeconds: options.asyncRetryDelaysSeconds ?? [60, 120],
    region,
    publishToBus: (event, bus) => router?.publish(event, bus),
    busNameOf: busName,
  });
  router = new EventRouter(model, { delivery, account, region, now });
  const activeRouter = router;
  publish = (event, bus) => activeRouter.publish(event, bus);
  eventBridge.onEvent((event) => {
    const { eventBusName, ...envelope } = event;
    publish(envelope as unknown as Record<string, unknown>, eventBusName);
  });
  sqs.onDeadLetter(({ queue, deadLetterQueue, message }) => {
    deadLetters.add({
      at: clock.now().toISOString(),
      origin: 'queue',
      source: queue.name,
      target: deadLetterQueue?.name ?? '(no dead-letter queue)',
      payload: message.body,
      error: {
        errorType: 'MaxReceiveCountExceeded',
        errorMessage: `received ${message.receiveCount} times without success`,
      },
      attempts: message.receiveCount,
      ...(deadLetterQueue ? { queued: queuedCopy(sqs, deadLetterQueue.logicalId, message.messageId) } : {}),
      redrive: async () => {
        if (deadLetterQueue) sqs.redrive(deadLetterQueue.logicalId, message.messageId, queue.logicalId);
        else
          sqs.send(queue.logicalId, {
            body: message.body,
            ...(message.groupId ? { groupId: message.groupId } : {}),
          });
      },
    });
  });

  // A handler that sends a record it can never process to its queue's dead-letter queue itself
  // (functions/shared/dead-letters.ts) lists it too, with the reason its message attributes carry.
  const sourceOfDeadLetterQueue = new Map(
    model.queues.flatMap((queue) =>
      queue.redrive?.deadLetterQueue.kind === 'queue'
        ? [[queue.redrive.deadLetterQueue.logicalId, queue.logicalId] as const]
        : [],
    ),
  );
  sqs.onSent((queue, message) => {
    const sourceLogicalId = sourceOfDeadLetterQueue.get(queue.logicalId);
    if (!sourceLogicalId) return;
    const attribute = (name: string) => {
      const value = message.messageAttributes[name] as { StringValue?: unknown } | undefined;
      return typeof value?.StringValue === 'string' ? value.StringValue : undefined;
    };
    deadLetters.add({
      at: clock.now().toISOString(),
      origin: 'queue',
      source: sqs.queue(sourceLogicalId).name,
      target: queue.name,
      payload: message.body,
      error: {
        errorType: attribute('errorType') ?? 'DeadLettered',
        errorMessage: attribute('reason') ?? 'sent to the dead-letter queue by its consumer',
      },
      attempts: 1,
      queued: queuedCopy(sqs, queue.logicalId, message.messageId),
      redrive: async () => sqs.redrive(queue.logicalId, message.messageId, sourceLogicalId),
    });
  });

  const pollers: EventSourcePoller[] = [];
  for (const mapping of model.eventSourceMappings) {
    if (mapping.source.kind !== 'queue') {
      warnings.push(`Event source ${mapping.logicalId}: only SQS sources run in the sandbox.`);
      continue;
    }
    const poller = new EventSourcePoller({
      mapping,
      queue: sqs.queue(mapping.source.logicalId),
      host: mapping.functionLogicalId ? functions.get(mapping.functionLogicalId)?.host : undefined,
      sqs,
      tracker,
      region,
    });
    poller.start();
    pollers.push(poller);
  }

  const scheduler = new Scheduler(model, {
    clock,
    timers,
    tracker,
    delivery,
    account,
    region,
    anchor: clock.now(),
  });
  scheduler.start();
  timers.start();
  for (const problem of router.problems()) warnings.push(`Rule ${problem.rule}: ${problem.problem}`);
  for (const job of scheduler.jobs()) if (job.problem) warnings.push(`Schedule ${job.name}: ${job.problem}`);

  const agreements = new Map<string, Agreement>();
  const saasusClient = createSaasusClient({
    baseUrl: saasus.url,
    secrets: staticSecretSource({ [config.saasus.secretName]: SANDBOX_SAASUS_CREDENTIALS }),
    secretName: config.saasus.secretName,
    retry: { retries: 0 },
    logger: { info: () => {}, warn: () => {} },
  });
  /** The listing of a purchase (each product is a listing of its own) and whether it grants entitlements. */
  const listingOf = (productCode: string | undefined) => {
    const product = productCode === undefined ? sandboxProduct(config) : productFor(config, productCode);
    return {
      listing: {
        productId: product.productId,
        productCode: product.productCode,
        sellerAccount: account,
        region,
      },
      contract: product.pricingModel !== 'subscription',
    };
  };

  let startupMs = 0;
  const sandbox: Sandbox = {
    url,
    fulfillmentUrl: httpApis[0] ? `${url}${httpApis[0].prefix}/` : undefined,
    stackName,
    account,
    config,
    model,
    warnings,
    get startupMs() {
      return startupMs;
    },
    templateFromCache: synthesis.cached ?? false,
    clock,
    timers,
    dynamo,
    tableNames,
    emulators: { saasus, marketplace, idoperation, eventBridge, secretsManager },
    sqs,
    sqsUrl,
    secrets,
    functions,
    httpApis,
    router,
    scheduler,
    deadLetters,
    domainBusName,
    partnerBusName,
    agreements,
    outputs: Object.fromEntries(
      Object.entries((synthesis.template.Outputs ?? {}) as Record<string, { Value: unknown }>).map(
        ([key, output]) => {
          const value = evaluateIntrinsic(output.Value, intrinsics);
          return [key, typeof value === 'string' ? value : JSON.stringify(value)];
        },
      ),
    ),
    invokeAsync(name, payload) {
      const fn = [...functions.values()].find(
        (candidate) => functionName(candidate.model.logicalId) === name,
      );
      if (!fn) return false;
      void delivery.invokeAsync(fn.model.logicalId, payload, { origin: 'rule', name: 'Invoke' });
      return true;
    },
    invocations: () => [...invocationLog],
    logs: () => [...logLines],
    saasus: () => saasusClient,
    publish: (event, bus) => publish(event, bus),
    subscribe(input) {
      const { listing, contract } = listingOf(input.productCode);
      const license = marketplace.addLicense({
        customerAwsAccountId: input.customerAwsAccountId,
        productCode: listing.productCode,
      });
      const token = marketplace.mintToken({
        customerAwsAccountId: input.customerAwsAccountId,
        licenseArn: license.licenseArn,
      });
      if (contract)
        marketplace.setEntitlements(license.licenseArn, [{ dimension: input.dimension, value: 1 }]);
      const agreement: Agreement = {
        licenseArn: license.licenseArn,
        customerAwsAccountId: input.customerAwsAccountId,
        productCode: listing.productCode,
        agreementId: newAgreementId(),
        offerId: newOfferId(),
        dimension: input.dimension,
        startedAt: `${clock.now().toISOString().slice(0, 19)}Z`,
        emitted: [],
      };
      agreements.set(license.licenseArn, agreement);
      if (input.emitPurchaseEvents ?? true) {
        sandbox.emitMarketplaceEvent(license.licenseArn, 'agreement-created');
        sandbox.emitMarketplaceEvent(license.licenseArn, 'license-updated');
      }
      return { token, licenseArn: license.licenseArn, agreement };
    },
    emitMarketplaceEvent(licenseArn, kind, eventOptions = {}) {
      const agreement = agreements.get(licenseArn);
      if (!agreement) throw new Error(`No purchase for license ${licenseArn} on the buyer simulator`);
      const { listing, contract } = listingOf(agreement.productCode);
      let previousAgreementId: string | undefined;
      if (kind === 'agreement-amended' && eventOptions.dimension) {
        agreement.dimension = eventOptions.dimension;
        if (contract)
          marketplace.setEntitlements(licenseArn, [{ dimension: eventOptions.dimension, value: 1 }]);
      }
      if (kind === 'agreement-renewed') {
        previousAgreementId = agreement.agreementId;
        agreement.agreementId = newAgreementId();
      }
      if (kind === 'agreement-ended') agreement.endedAt = clock.now().toISOString();
      if (kind === 'license-deprovisioned') marketplace.endLicense(licenseArn);
      const event = marketplaceEvent(kind, agreement, listing, {
        now: clock.now(),
        ...(previousAgreementId ? { previousAgreementId } : {}),
        ...(eventOptions.endStatus ? { endStatus: eventOptions.endStatus } : {}),
      });
      agreement.emitted.push(String(event['detail-type']));
      return publish(event, 'default');
    },
    publishLegacySns(licenseArn, action) {
      const agreement = agreements.get(licenseArn);
      const license = marketplace.license(licenseArn);
      if (!agreement || !license)
        throw new Error(`No purchase for license ${licenseArn} on the buyer simulator`);
      const topicArn =
        action === 'entitlement-updated'
          ? config.legacySns?.entitlementTopicArn
          : config.legacySns?.subscriptionTopicArn;
      if (!topicArn) throw new Error(`The config names no SNS topic for ${action}`);
      const message = JSON.stringify({
        action,
        'customer-identifier': license.customerIdentifier,
        'product-code': license.productCode,
        ...(action === 'entitlement-updated'
          ? {}
          : { 'offer-identifier': agreement.offerId, isFreeTrialTermPresent: 'false' }),
      });
      const notification = {
        Type: 'Notification',
        MessageId: randomUUID(),
        TopicArn: topicArn,
        Message: message,
        Timestamp: clock.now().toISOString(),
        SignatureVersion: '1',
        Signature: 'sandbox',
        SigningCertURL: 'https://sns.us-east-1.amazonaws.com/sandbox.pem',
        UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
      };
      const subscriptions = model.subscriptions.filter((subscription) => subscription.topic === topicArn);
      for (const subscription of subscriptions) {
        if (subscription.destination.kind === 'queue') {
          sqs.send(subscription.destination.logicalId, {
            body: subscription.rawMessageDelivery ? message : JSON.stringify(notification),
          });
        } else if (subscription.destination.kind === 'function') {
          const { Type: _type, ...sns } = notification;
          void delivery.invokeAsync(
            subscription.destination.logicalId,
            {
              Records: [
                {
                  EventSource: 'aws:sns',
                  EventVersion: '1.0',
                  EventSubscriptionArn: `${topicArn}:${subscription.logicalId}`,
                  Sns: { Type: 'Notification', ...sns, MessageAttributes: {} },
                },
              ],
            },
            { origin: 'rule', name: `sns ${topicArn.split(':').pop()}` },
          );
        }
      }
      return subscriptions.length;
    },
    advanceClock: (ms) => scheduler.advance(ms),
    async settle(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await eventBridge.drain();
        await tracker.drain();
        const waiting = model.eventSourceMappings.some((mapping) => {
          if (mapping.source.kind !== 'queue' || !mapping.functionLogicalId) return false;
          if (!functions.get(mapping.functionLogicalId)?.host.availability.available) return false;
          return sqs.available(mapping.source.logicalId) > 0;
        });
        if (!waiting && !tracker.busy) return true;
        await sleepMs(20);
      }
      return false;
    },
    async reloadHandlers() {
      await Promise.all([...functions.values()].map((fn) => fn.host.reload()));
      for (const poller of pollers) poller.kick();
    },
    async close() {
      scheduler.stop();
      timers.stop();
      for (const poller of pollers) poller.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...functions.values()].map((fn) => fn.host.close()));
      await Promise.all([
        dynamo.close(),
        saasus.close(),
        marketplace.close(),
        idoperation?.close(),
        eventBridge.close(),
        secretsManager.close(),
        sqs.close(),
      ]);
    },
  };
  handleRequest = options.web
    ? options.web(sandbox, {
        presetBuyerAccounts: PRESET_BUYER_ACCOUNTS,
        saasSignInUrl: deployed.saasus.signInUrl,
      })
    : (_request, response) => {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('This sandbox was started without its web layer');
      };
  if (options.warm ?? true) {
    for (const fn of functions.values()) void fn.host.warm();
  }
  startupMs = performance.now() - started;
  return sandbox;
};
