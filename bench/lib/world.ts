import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DeploymentConfig, Product, SingleProductConfigInput } from '../../functions/shared/config.js';
import { parseDeploymentConfig, productFor } from '../../functions/shared/config.js';
import { createSaasusClient, type SaasusClient } from '../../functions/shared/saasus/client.js';
import { staticSecretSource } from '../../functions/shared/secrets.js';
import { createLocalTables } from '../../sandbox/dynamo.js';
import { type EventBridgeEmulator, startEventBridgeEmulator } from '../../sandbox/emulators/eventbridge.js';
import {
  AwsJsonError,
  awsJsonHandler,
  type RunningServer,
  startServer,
} from '../../sandbox/emulators/http.js';
import { type IdoperationEmulator, startIdoperationEmulator } from '../../sandbox/emulators/idoperation.js';
import { type MarketplaceEmulator, startMarketplaceEmulator } from '../../sandbox/emulators/marketplace.js';
import { type SaasusEmulator, startSaasusEmulator } from '../../sandbox/emulators/saasus.js';
import {
  type SecretsManagerEmulator,
  startSecretsManagerEmulator,
} from '../../sandbox/emulators/secrets-manager.js';
import { cpuSecondsOf } from './machine.js';
import {
  type LocalResources,
  PROJECT_ROOT,
  resolveEnvironment,
  type Synthesis,
  type SynthesizedFunction,
} from './synth.js';

/**
 * Everything the functions talk to, on loopback: dynalite (in a child process) with the stack's
 * tables, the SaaSus, Marketplace, iDoperation, EventBridge and Secrets Manager emulators, and a
 * minimal SQS that keeps what the metering fan-out sends. Latency and throttling come from the
 * emulators' own options. `environmentFor` gives a synthesized function the environment its
 * template declares, resolved to these local resources, plus the AWS_ENDPOINT_URL_* variables.
 */

export const BENCH_ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const SAASUS_CREDENTIALS = {
  saasId: 'bench-saas',
  apiKey: 'bench-api-key',
  secretKey: 'bench-secret-key-for-signatures',
} as const;
export const IDOPERATION_AUTHORIZATION = 'Bearer bench-idoperation';
export const STACK_SECRET_NAME = 'bench-session';
export const DOMAIN_EVENT_BUS = 'bench-domain-events';

export interface WorldOptions {
  /** Added to every call of the SaaSus emulator. */
  readonly saasusLatencyMs?: number;
  /** Added to every call of the Marketplace emulator. */
  readonly marketplaceLatencyMs?: number;
  /** Added to every call of the iDoperation emulator. */
  readonly idoperationLatencyMs?: number;
  /** Added to every DynamoDB request (dynalite answers after this long). */
  readonly dynamoLatencyMs?: number;
  /** Meter only the first N of the example config's units (dimensions). */
  readonly meteringDimensions?: number;
  /**
   * Listings sharing the one BatchMeterUsage quota (default 1): the second is the example's listing
   * again under another product code, with SaaSus units of its own (one unit per product).
   */
  readonly products?: number;
  /** Marketplace quota (calls per second per operation). */
  readonly marketplaceCallsPerSecond?: number;
  /** Business clock of the emulators (the functions get the same one through BENCH_CLOCK_OFFSET_MS). */
  readonly clockOffsetMs?: number;
}

/** What a minimal SQS endpoint received through SendMessage(Batch). */
export interface SentMessage {
  readonly messageId: string;
  readonly body: string;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

const startQueueSink = async (messages: SentMessage[]): Promise<RunningServer> => {
  const accept = (body: unknown) => {
    if (typeof body !== 'string') throw new AwsJsonError('InvalidParameterValue', 'MessageBody is required');
    const message = { messageId: randomUUID(), body };
    messages.push(message);
    return { MessageId: message.messageId, MD5OfMessageBody: md5(body) };
  };
  return startServer(
    awsJsonHandler('AmazonSQS', {
      SendMessage: (input) => accept(input.MessageBody),
      SendMessageBatch: (input) => {
        const entries = (input.Entries ?? []) as { Id: string; MessageBody: unknown }[];
        return {
          Successful: entries.map((entry) => ({ Id: entry.Id, ...accept(entry.MessageBody) })),
          Failed: [],
        };
      },
    }),
  );
};

export interface LocalDynalite {
  readonly endpoint: string;
  readonly pid: number;
  readonly client: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  close(): Promise<void>;
}

export const startDynaliteProcess = async (latencyMs = 0): Promise<LocalDynalite> => {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(import.meta.dirname, 'dynalite-server.mjs')],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DYNALITE_LATENCY_MS: String(latencyMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dynalite exited (${code})`)));
    child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  return {
    endpoint,
    pid: child.pid ?? 0,
    client,
    documents: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    close: async () => {
      client.destroy();
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
};

export interface World {
  readonly config: DeploymentConfig;
  /** The listing the bench plays (the example's one product). */
  readonly product: Product;
  /** Every listing played (`products`), the first being `product`. */
  readonly products: readonly Product[];
  /** The config as the functions get it (BRIDGE_CONFIG), emulator URLs filled in. */
  readonly configInput: SingleProductConfigInput;
  readonly dynamo: LocalDynalite;
  readonly tables: Readonly<Record<string, string>>;
  readonly saasus: SaasusEmulator;
  readonly marketplace: MarketplaceEmulator;
  readonly idoperation: IdoperationEmulator;
  readonly eventBridge: EventBridgeEmulator;
  readonly secrets: SecretsManagerEmulator;
  /** Messages the functions sent to the stack's queue(s). */
  readonly queued: SentMessage[];
  readonly queueUrl: string;
  /** A signed SaaSus client of our own (what the SaaS itself would call). */
  readonly saasusClient: SaasusClient;
  readonly clockOffsetMs: number;
  /** The business time the emulators and functions share. */
  now(): Date;
  environmentFor(synthesis: Synthesis, fn: SynthesizedFunction): Record<string, string>;
  /** Every item of a table (by definition id). */
  scan(tableId: string): Promise<Record<string, unknown>[]>;
  /** CPU seconds used so far by dynalite and by this process. */
  cpu(): { dynalite: number | undefined; harness: number };
  close(): Promise<void>;
}

export const startWorld = async (options: WorldOptions = {}): Promise<World> => {
  const clockOffsetMs = options.clockOffsetMs ?? 0;
  const now = () => new Date(Date.now() + clockOffsetMs);
  const input = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, 'config', 'example.json'), 'utf8'),
  ) as SingleProductConfigInput & {
    saasus: Record<string, unknown>;
    idoperation: Record<string, unknown>;
  };
  if (options.meteringDimensions !== undefined && input.metering?.units) {
    input.metering.units = input.metering.units.slice(0, options.meteringDimensions);
  }
  const parsed = parseDeploymentConfig(input);
  // The bench plays the example's listing, and with `products` more copies of it under other codes.
  const product = productFor(parsed, input.marketplace.productCode);
  const products: Product[] = Array.from({ length: Math.max(1, options.products ?? 1) }, (_, index) =>
    index === 0
      ? product
      : {
          ...product,
          productCode: `benchlisting${index}`,
          productId: `prod-benchlisting${index}`,
          meteringUnits: product.meteringUnits.map((unit) => ({
            ...unit,
            saasusUnit: `${unit.saasusUnit}_listing${index}`,
          })),
        },
  );
  const base = { ...parsed, products };
  const dynamo = await startDynaliteProcess(options.dynamoLatencyMs);
  const tables: Record<string, string> = await createLocalTables(dynamo.client, 'bench');
  const queued: SentMessage[] = [];
  const plans = [
    ...new Set([
      ...Object.values(product.plans.byDimension),
      ...(product.plans.defaultPlanId ? [product.plans.defaultPlanId] : []),
      ...(product.plans.revokedPlanId ? [product.plans.revokedPlanId] : []),
    ]),
  ];
  const [saasus, marketplace, idoperation, eventBridge, secrets, queue] = await Promise.all([
    startSaasusEmulator({
      credentials: SAASUS_CREDENTIALS,
      envs: [{ id: base.saasus.envId, name: 'production', display_name: 'Production' }],
      roles: [...base.saasus.adminRoleNames, 'member'],
      plans: plans.map((id, index) => ({ id, name: `plan-${index}` })),
      now,
      meteringTimeZone: base.metering.saasusDayTimeZone,
      ...(options.saasusLatencyMs ? { latencyMs: options.saasusLatencyMs } : {}),
    }),
    startMarketplaceEmulator({
      productCode: product.productCode,
      ...(products.length > 1
        ? { otherProductCodes: products.slice(1).map((other) => other.productCode) }
        : {}),
      identityMode: product.identityMode,
      now,
      meteringWindowHours: base.metering.allowedWindowHours,
      dimensions: product.meteringUnits.map((unit) => unit.dimension),
      ...(options.marketplaceLatencyMs ? { latencyMs: options.marketplaceLatencyMs } : {}),
      ...(options.marketplaceCallsPerSecond
        ? { throttle: { callsPerSecond: options.marketplaceCallsPerSecond } }
        : {}),
    }),
    startIdoperationEmulator({
      authorization: IDOPERATION_AUTHORIZATION,
      basePath: '/v1',
      ...(options.idoperationLatencyMs ? { latencyMs: options.idoperationLatencyMs } : {}),
    }),
    startEventBridgeEmulator({ account: BENCH_ACCOUNT, region: REGION }),
    startSecretsManagerEmulator({ account: BENCH_ACCOUNT, region: REGION }),
    startQueueSink(queued),
  ]);
  input.saasus.apiBaseUrl = saasus.url;
  input.idoperation.baseUrl = `${idoperation.url}/v1`;
  const config = parseDeploymentConfig(input);
  secrets.putSecret(config.saasus.secretName, SAASUS_CREDENTIALS);
  if (config.idoperation)
    secrets.putSecret(config.idoperation.secretName, { authorization: IDOPERATION_AUTHORIZATION });
  secrets.putSecret(STACK_SECRET_NAME, {
    key: 'bench-session-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ',
  });
  const queueUrl = `${queue.url}/${BENCH_ACCOUNT}/bench-work`;
  const local: LocalResources = {
    tables,
    domainEventBus: DOMAIN_EVENT_BUS,
    stackSecretName: STACK_SECRET_NAME,
    queueUrl,
    region: REGION,
    account: BENCH_ACCOUNT,
  };
  const saasusClient = createSaasusClient({
    baseUrl: saasus.url,
    secrets: staticSecretSource({ bench: SAASUS_CREDENTIALS }),
    secretName: 'bench',
    logger: { info: () => {}, warn: () => {} },
  });

  return {
    config: { ...config, products },
    product,
    products,
    configInput: input,
    dynamo,
    tables,
    saasus,
    marketplace,
    idoperation,
    eventBridge,
    secrets,
    queued,
    queueUrl,
    saasusClient,
    clockOffsetMs,
    now,
    environmentFor: (synthesis, fn) => {
      const environment = resolveEnvironment(synthesis, fn, local);
      if (environment.BRIDGE_CONFIG) {
        const bridgeConfig = JSON.parse(environment.BRIDGE_CONFIG) as Record<string, Record<string, unknown>>;
        if (bridgeConfig.saasus) bridgeConfig.saasus.apiBaseUrl = saasus.url;
        if (bridgeConfig.idoperation) bridgeConfig.idoperation.baseUrl = `${idoperation.url}/v1`;
        if (options.meteringDimensions !== undefined || products.length > 1)
          Object.assign(bridgeConfig, { products: base.products });
        environment.BRIDGE_CONFIG = JSON.stringify(bridgeConfig);
      }
      return {
        ...environment,
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
        AWS_ENDPOINT_URL_MARKETPLACE_METERING: marketplace.url,
        AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE: marketplace.url,
        AWS_ENDPOINT_URL_SQS: queue.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        TZ: 'UTC',
        ...(clockOffsetMs === 0 ? {} : { BENCH_CLOCK_OFFSET_MS: String(clockOffsetMs) }),
      };
    },
    scan: async (tableId) => {
      const tableName = tables[tableId];
      if (!tableName) throw new Error(`no table ${tableId}`);
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await dynamo.documents.send(
          new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }),
        );
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
    cpu: () => ({
      dynalite: cpuSecondsOf(dynamo.pid),
      harness: cpuSecondsOf(process.pid) ?? process.cpuUsage().user / 1e6,
    }),
    close: async () => {
      await Promise.all([
        saasus.close(),
        marketplace.close(),
        idoperation.close(),
        eventBridge.close(),
        secrets.close(),
        queue.close(),
      ]);
      await dynamo.close();
    },
  };
};
