import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { type EventBridgeEmulator, startEventBridgeEmulator } from '#sandbox/emulators/eventbridge';
import { type IdoperationEmulator, startIdoperationEmulator } from '#sandbox/emulators/idoperation';
import { type MarketplaceEmulator, startMarketplaceEmulator } from '#sandbox/emulators/marketplace';
import { type EnvSeed, type SaasusEmulator, startSaasusEmulator } from '#sandbox/emulators/saasus';
import {
  type SecretsManagerEmulator,
  type SecretValue,
  startSecretsManagerEmulator,
} from '#sandbox/emulators/secrets-manager';
import type { DeploymentConfig, SingleProductConfigInput } from '#shared/config';
import { parseDeploymentConfig } from '#shared/config';
import { createSaasusClient, type SaasusClient } from '#shared/saasus/client';
import { staticSecretSource } from '#shared/secrets';
import { createLicenseStore, type LicenseStore } from '#shared/store/licenses';
import { exampleConfigInput } from './config.js';
import { startDynalite } from './dynalite.js';
import { saasusContract } from './saasus-contract.js';

/**
 * The world the functions talk to in the integration tests, on loopback port 0: dynalite with the
 * stack's tables and the SaaSus, Marketplace, iDoperation, EventBridge and Secrets Manager
 * emulators. `startLocalWorld` seeds the SaaSus and iDoperation secrets (and any others given),
 * sets the environment the handlers read at cold start (the AWS SDK reaches the emulators through
 * the AWS_ENDPOINT_URL_* variables) and captures the console; `close` undoes all of it.
 *
 * The sign-up and events harnesses build on it. The handler modules read their environment once,
 * at import, so one world per test file.
 */

export type ConfigInput = SingleProductConfigInput & Record<string, unknown>;

export interface SaasusCredentials {
  readonly saasId: string;
  readonly apiKey: string;
  readonly secretKey: string;
}

export interface LocalWorldOptions {
  /** Prefix of the dynalite table names (`<prefix>-Licenses`, ...). */
  readonly tablePrefix: string;
  /** What the SaaSus emulator checks signatures against, seeded as the configured SaaSus secret. */
  readonly saasusCredentials: SaasusCredentials;
  /** What the iDoperation emulator expects, seeded as the configured iDoperation secret. */
  readonly idoperationAuthorization: string;
  /** DOMAIN_EVENT_BUS: the EventBridge bus the functions publish domain events to. */
  readonly domainEventBus: string;
  /** Changes the example config before it is validated (pricing model, identity mode, revocation, ...). */
  readonly configure?: (input: ConfigInput) => void;
  /** SaaSus envs besides the configured one ("production"), given its id. */
  readonly extraSaasusEnvs?: (configuredEnvId: number) => readonly EnvSeed[];
  /** Start of the SaaSus emulator's business clock (partner event times); real time when absent. */
  readonly saasusClockStart?: number;
  /** Secrets to seed besides the SaaSus and iDoperation credentials. */
  readonly secrets?: Readonly<Record<string, SecretValue>>;
  /** Environment variables to set besides the common ones. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface LocalWorld {
  /** The config as the functions get it (BRIDGE_CONFIG), emulator URLs filled in. */
  readonly input: ConfigInput;
  readonly config: DeploymentConfig;
  /** Every environment variable the world set. */
  readonly env: Readonly<Record<string, string>>;
  readonly dynamo: Awaited<ReturnType<typeof startDynalite>>;
  readonly saasus: SaasusEmulator;
  readonly marketplace: MarketplaceEmulator;
  readonly idoperation: IdoperationEmulator;
  readonly eventBridge: EventBridgeEmulator;
  readonly secrets: SecretsManagerEmulator;
  readonly store: LicenseStore;
  /** A SaaSus client of our own, signed with the seeded credentials. */
  readonly saasusClient: SaasusClient;
  /** Every line printed through the console since the world started (Powertools logs and metrics in dev mode). */
  readonly logs: string[];
  /** Moves the Marketplace emulator's clock (token expiry). */
  advanceMarketplaceClock(ms: number): void;
  /** Moves the SaaSus emulator's business clock (partner event times). */
  advanceSaasusClock(ms: number): void;
  /** Domain events on the bus, all or those about one license (detail.licenseKey), in publication order. */
  domainEvents(licenseKey?: string): { detailType: string; detail: Record<string, unknown> }[];
  /** Restores the console and stops every server. */
  close(): Promise<void>;
}

/** A Lambda context as the runtime passes it, a fresh request id per call. */
export const lambdaContext = (functionName: string, remainingTimeInMillis = 60_000): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
  memoryLimitInMB: '512',
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'harness',
  getRemainingTimeInMillis: () => remainingTimeInMillis,
  done: () => {},
  fail: () => {},
  succeed: () => {},
});

/** A SaaSus role the world knows that is not one of the configured admin roles. */
export const memberRole = 'member';

let accountSequence = 0;
/** A 12-digit account id, unique within the process. */
export const newAccountId = (): string =>
  `${(Date.now() % 1_000_000).toString().padStart(6, '0')}${(++accountSequence % 1_000_000).toString().padStart(6, '0')}`;

/** Captures everything printed through the global console (where Powertools writes in dev mode). */
const captureConsole = (lines: string[]) => {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const originals = methods.map((method) => [method, console[method]] as const);
  for (const method of methods) {
    console[method] = (...parts: unknown[]) => {
      lines.push(parts.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(' '));
    };
  }
  return () => {
    for (const [method, original] of originals) console[method] = original;
  };
};

/** The configured plans (by dimension, default, revoked), each once: the SaaSus emulator's plans. */
const configuredPlans = (config: DeploymentConfig): string[] => [
  ...new Set(
    config.products.flatMap(({ plans }) => [
      ...Object.values(plans.byDimension),
      ...(plans.defaultPlanId ? [plans.defaultPlanId] : []),
      ...(plans.revokedPlanId ? [plans.revokedPlanId] : []),
    ]),
  ),
];

export const startLocalWorld = async (options: LocalWorldOptions): Promise<LocalWorld> => {
  const input = exampleConfigInput() as ConfigInput;
  options.configure?.(input);
  const base = parseDeploymentConfig(input);
  const dynamo = await startDynalite(options.tablePrefix);
  let marketplaceOffsetMs = 0;
  let saasusOffsetMs = 0;
  const [saasus, marketplace, idoperation, eventBridge, secrets] = await Promise.all([
    startSaasusEmulator({
      credentials: options.saasusCredentials,
      onExchange: saasusContract.observe,
      envs: [
        { id: base.saasus.envId, name: 'production', display_name: 'Production' },
        ...(options.extraSaasusEnvs?.(base.saasus.envId) ?? []),
      ],
      roles: [...base.saasus.adminRoleNames, memberRole],
      meteringTimeZone: base.metering.saasusDayTimeZone,
      plans: configuredPlans(base).map((id, index) => ({ id, name: `plan-${index}` })),
      now: () => new Date((options.saasusClockStart ?? Date.now()) + saasusOffsetMs),
    }),
    startMarketplaceEmulator({
      // The emulator's own listing is the first product; a buyer of another one names its code.
      productCode: base.products[0]?.productCode ?? '',
      identityMode: base.products[0]?.identityMode ?? 'license',
      now: () => new Date(Date.now() + marketplaceOffsetMs),
    }),
    startIdoperationEmulator({ authorization: options.idoperationAuthorization, basePath: '/v1' }),
    startEventBridgeEmulator(),
    startSecretsManagerEmulator(),
  ]);
  input.saasus.apiBaseUrl = saasus.url;
  if (input.idoperation) input.idoperation.baseUrl = `${idoperation.url}/v1`;
  const config = parseDeploymentConfig(input);
  secrets.putSecret(config.saasus.secretName, options.saasusCredentials);
  if (config.idoperation) {
    secrets.putSecret(config.idoperation.secretName, { authorization: options.idoperationAuthorization });
  }
  for (const [name, value] of Object.entries(options.secrets ?? {})) secrets.putSecret(name, value);

  const env: Record<string, string> = {
    BRIDGE_CONFIG: JSON.stringify(input),
    LICENSES_TABLE: dynamo.tables.Licenses,
    METERING_LEDGER_TABLE: dynamo.tables.MeteringLedger,
    IDEMPOTENCY_TABLE: dynamo.tables.Idempotency,
    SIGN_UP_CLAIMS_TABLE: dynamo.tables.SignUpClaims,
    DOMAIN_EVENT_BUS: options.domainEventBus,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ENDPOINT_URL_MARKETPLACE_METERING: marketplace.url,
    AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE: marketplace.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'harness',
    AWS_SECRET_ACCESS_KEY: 'harness',
    ...options.env,
  };
  Object.assign(process.env, env);

  // Powertools prints through the global console in dev mode; the level comes from
  // POWERTOOLS_LOG_LEVEL when the logger module is first loaded (a test file that reads the logs
  // sets it with vi.hoisted), because the logger resets to that level on every warm invocation.
  const logs: string[] = [];
  const restoreConsole = captureConsole(logs);

  return {
    input,
    config,
    env,
    dynamo,
    saasus,
    marketplace,
    idoperation,
    eventBridge,
    secrets,
    store: createLicenseStore({ client: dynamo.client, tableName: dynamo.tables.Licenses }),
    saasusClient: createSaasusClient({
      baseUrl: saasus.url,
      secrets: staticSecretSource({ harness: options.saasusCredentials }),
      secretName: 'harness',
      logger: { info: () => {}, warn: () => {} },
    }),
    logs,
    advanceMarketplaceClock: (ms) => {
      marketplaceOffsetMs += ms;
    },
    advanceSaasusClock: (ms) => {
      saasusOffsetMs += ms;
    },
    domainEvents: (licenseKey) =>
      eventBridge
        .events(options.domainEventBus)
        .filter((event) => licenseKey === undefined || event.detail.licenseKey === licenseKey)
        .map((event) => ({ detailType: event['detail-type'], detail: event.detail })),
    close: async () => {
      restoreConsole();
      await Promise.all([
        saasus.close(),
        marketplace.close(),
        idoperation.close(),
        eventBridge.close(),
        secrets.close(),
      ]);
      dynamo.client.destroy();
      await dynamo.close();
    },
  };
};
