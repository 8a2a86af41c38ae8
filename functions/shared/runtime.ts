import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import type { DeploymentConfig } from './config.js';
import { createDomainEventPublisher } from './domain-events.js';
import { bridgeConfigVariable, parseEnv } from './env.js';
import { createIdoperationClient } from './idoperation/index.js';
import { createEntitlementClient, createMeteringClient } from './marketplace/clients.js';
import { createSaasusClient } from './saasus/client.js';
import { secretsManagerSource } from './secrets.js';
import { createLicenseStore } from './store/licenses.js';

/**
 * The environment every function gets (set by `runtimeEnvironment` in the CDK app), validated
 * once at cold start, and lazily built clients: a handler only pays for the clients it uses.
 */
export const runtimeEnvSchema = z.object({
  BRIDGE_CONFIG: bridgeConfigVariable,
  LICENSES_TABLE: z.string().min(3),
  METERING_LEDGER_TABLE: z.string().min(3),
  IDEMPOTENCY_TABLE: z.string().min(3),
  DOMAIN_EVENT_BUS: z.string().min(1),
});

export type RuntimeEnv = z.output<typeof runtimeEnvSchema>;

const lazy = <T>(create: () => T): (() => T) => {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
};

export const createRuntime = (env: RuntimeEnv) => {
  const config: DeploymentConfig = env.BRIDGE_CONFIG;
  const dynamo = lazy(() => new DynamoDBClient({}));
  const secrets = lazy(() => secretsManagerSource(new SecretsManagerClient({})));
  return {
    config,
    env,
    dynamo,
    secrets,
    licenses: lazy(() => createLicenseStore({ client: dynamo(), tableName: env.LICENSES_TABLE })),
    saasus: lazy(() =>
      createSaasusClient({
        baseUrl: config.saasus.apiBaseUrl,
        secrets: secrets(),
        secretName: config.saasus.secretName,
      }),
    ),
    idoperation: lazy(() =>
      config.idoperation
        ? createIdoperationClient({
            baseUrl: config.idoperation.baseUrl,
            secrets: secrets(),
            secretName: config.idoperation.secretName,
            ...(config.idoperation.paths ? { paths: config.idoperation.paths } : {}),
          })
        : undefined,
    ),
    meteringClient: lazy(() => createMeteringClient({ region: config.marketplace.apiRegion })),
    entitlementClient: lazy(() => createEntitlementClient({ region: config.marketplace.apiRegion })),
    publisher: lazy(() =>
      createDomainEventPublisher({ client: new EventBridgeClient({}), eventBusName: env.DOMAIN_EVENT_BUS }),
    ),
  };
};

export type Runtime = ReturnType<typeof createRuntime>;

/** Reads the environment once and builds the runtime; call at module scope of a handler. */
export const runtimeFromEnv = (): Runtime => createRuntime(parseEnv(runtimeEnvSchema));
