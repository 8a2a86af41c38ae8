import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { parseEnv } from '#shared/env';
import { resolveCustomer } from '#shared/marketplace/resolve-customer';
import { createPlanResolver } from '#shared/plans';
import { logger, metrics } from '#shared/powertools';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';
import { createSignUpApp } from '#shared/signup/app';
import { createProvisioning } from '#shared/signup/provisioning';
import { securityHeaders } from '#shared/signup/security-headers';
import { createSessionSealer, type SessionSealer } from '#shared/signup/session';
import { createSignUpClaims } from '#shared/store/sign-up-claims';

/** The fulfillment URL's function: the web flow lives in the shared sign-up module. */
const env = parseEnv(
  runtimeEnvSchema.extend({
    SESSION_SECRET_NAME: z.string().min(1),
    /** Path prefix of the routes; '' behind API Gateway (the sandbox mounts them under a prefix). */
    PUBLIC_BASE_PATH: z.string().default(''),
    SIGN_UP_CLAIMS_TABLE: z.string().min(3),
  }),
);
const runtime = createRuntime(env);
const { config } = runtime;
const claims = createSignUpClaims({ client: runtime.dynamo(), tableName: env.SIGN_UP_CLAIMS_TABLE });

let sealer: Promise<SessionSealer> | undefined;
const sessions = () => {
  sealer ??= runtime
    .secrets()
    .getJson(env.SESSION_SECRET_NAME, z.object({ key: z.string().min(32) }))
    .then(({ key }) => createSessionSealer(key));
  sealer.catch(() => {
    sealer = undefined;
  });
  return sealer;
};

const app = createSignUpApp({
  config,
  store: runtime.licenses(),
  resolveCustomer: (token) => resolveCustomer(runtime.meteringClient(), token),
  provisioning: createProvisioning({
    config,
    store: runtime.licenses(),
    claims,
    saasus: runtime.saasus(),
    idoperation: runtime.idoperation(),
    publish: (events) => runtime.publisher().publish(events),
    planFor: createPlanResolver({
      config,
      entitlementClient: runtime.entitlementClient,
      store: runtime.licenses(),
    }),
    recordMetric: (name) => metrics.addMetric(name, MetricUnit.Count, 1),
    logger,
  }),
  sessions,
  claims,
  exchangeCode: async (code) => {
    const credentials = await runtime.saasus().getCredentials(code);
    const user = await runtime.saasus().getUserInfo(credentials.id_token);
    // The roles per env come along: the app offers only the tenants the user administers.
    return {
      userId: user.id,
      email: user.email,
      tenants: user.tenants.map(({ id, name, envs }) => ({ id, name, envs })),
    };
  },
  logger,
  basePath: env.PUBLIC_BASE_PATH,
});

export const handler = middy((event: APIGatewayProxyEventV2) => app.handle(event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(securityHeaders(config.branding));
