import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod';
import { parseEnv } from '#shared/env';
import { applySignal, parseLicenseRecord } from '#shared/license/record';
import type { LicenseSignal } from '#shared/license/signal';
import { deriveStatus } from '#shared/license/status';
import { resolveCustomer } from '#shared/marketplace/resolve-customer';
import { createPlanResolver } from '#shared/plans';
import { logger } from '#shared/powertools';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';
import { createSignUpApp, type SignUpApp } from '#shared/signup/app';
import { createProvisioning, LICENSE_ATTRIBUTE, type ProvisioningStep } from '#shared/signup/provisioning';
import { createSessionSealer, SESSION_COOKIE, type SessionSealer } from '#shared/signup/session';
import type { LicenseItem } from '#shared/store/licenses';
import { createSignUpClaims } from '#shared/store/sign-up-claims';
import { type LocalWorld, lambdaContext, memberRole, newAccountId, startLocalWorld } from './local-world.js';

export { memberRole, newAccountId };

/**
 * Everything the sign-up function talks to (the local world of `./local-world.ts`: dynalite and
 * the emulators, the secrets, the environment the handler reads at cold start) plus the session
 * secret; then the harness imports the real handler module. `buildApp` wires `createSignUpApp`
 * exactly as the handler does, for tests that need hooks such as `afterStep`.
 *
 * One harness per test file: the handler module reads its environment once, at import.
 */

export type HttpResult = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
};

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Raw query string, without `?`. */
  readonly query?: string;
  /** Header names are lower-cased, as payload v2 delivers them. */
  readonly headers?: Record<string, string>;
  readonly cookies?: readonly string[];
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

export interface Buyer {
  readonly account: string;
  /** LicenseArn in `license` identity mode, CustomerIdentifier in `legacy` mode. */
  readonly licenseKey: string;
  readonly licenseArn: string;
  readonly customerIdentifier: string;
  readonly token: string;
}

export interface RegistrationFields {
  tenantName: string;
  adminEmail: string;
  adminName: string;
}

/**
 * The local world's parts (`saasusClient` is for seeding memberships; `logs` holds what the
 * Powertools logger printed at the level POWERTOOLS_LOG_LEVEL had at load), plus the sign-up side.
 */
export interface SignUpHarness
  extends Pick<
    LocalWorld,
    | 'config'
    | 'env'
    | 'saasus'
    | 'marketplace'
    | 'idoperation'
    | 'eventBridge'
    | 'secrets'
    | 'store'
    | 'saasusClient'
    | 'logs'
    | 'advanceMarketplaceClock'
    | 'domainEvents'
    | 'close'
  > {
  readonly sealer: SessionSealer;
  /** The seeded session key (`{ key }` of the session secret). */
  readonly sessionKey: string;
  /** The real Lambda handler (middy + Powertools), invoked with a payload-v2 event. */
  invoke(request: HttpRequest): Promise<HttpResult>;
  /** `createSignUpApp` wired as the handler wires it, plus test hooks. */
  buildApp(hooks?: { afterStep?: (step: ProvisioningStep) => void | Promise<void> }): SignUpApp;
  /** A new buyer license (a new account unless given) and a registration token for it. */
  newBuyer(options?: { account?: string; productCode?: string }): Buyer;
  /** Writes an agreement-created signal into the license's lifecycle record (the license becomes active). */
  activate(licenseKey: string): Promise<LicenseItem>;
  /** Every item of the licenses table. */
  licenseItems(): Promise<LicenseItem[]>;
  /** SaaSus tenants that carry the license attribute of `licenseKey`. */
  tenantsOf(licenseKey: string): Record<string, unknown>[];
  /** How many SaaSus API calls changed something (non-GET), so far. */
  saasusWrites(): number;
}

/** The id of a SaaSus env the harness knows besides the configured `saasus.envId`. */
export const otherEnvId = (envId: number): number => envId + 1;

export const saasusCredentials = {
  saasId: 'signup-harness-saas',
  apiKey: 'signup-harness-api-key',
  secretKey: 'signup-harness-secret-key',
} as const;
export const idoperationAuthorization = 'Bearer signup-harness-idoperation';
export const domainEventBus = 'marketplace-bridge-test';
export const sessionSecretName = 'marketplace-bridge/test/session-key';

/** A payload-v2 event as an HTTP API (or a Function URL) delivers it. */
export const httpEvent = (request: HttpRequest): APIGatewayProxyEventV2 => {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: request.query ?? '',
    ...(request.cookies && request.cookies.length > 0 ? { cookies: [...request.cookies] } : {}),
    headers: { host: 'signup.example.com', ...(request.headers ?? {}) },
    requestContext: {
      accountId: '000000000000',
      apiId: 'harness',
      domainName: 'signup.example.com',
      domainPrefix: 'signup',
      http: {
        method: request.method,
        path: request.path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: request.headers?.['user-agent'] ?? 'harness',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(request.body === undefined ? {} : { body: request.body }),
    isBase64Encoded: request.isBase64Encoded ?? false,
  };
};

const normalise = (result: APIGatewayProxyStructuredResultV2 | string | undefined | object): HttpResult => {
  const structured = result as APIGatewayProxyStructuredResultV2;
  return {
    ...structured,
    statusCode: structured.statusCode ?? 200,
    headers: Object.fromEntries(
      Object.entries(structured.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
    ),
    body: structured.body ?? '',
  };
};

/** Sends requests straight to an app built with `buildApp`, as the handler would. */
export const appSender =
  (app: SignUpApp) =>
  async (request: HttpRequest): Promise<HttpResult> =>
    normalise(await app.handle(httpEvent(request)));

/** The `name=value` of the session cookie a response sets, or undefined. */
export const sessionCookieFrom = (result: HttpResult): string | undefined => {
  const setCookie = (result.cookies ?? []).find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
  const pair = setCookie?.split(';')[0];
  return pair === `${SESSION_COOKIE}=` ? undefined : pair;
};

const unescapeHtml = (value: string) =>
  value.replace(/&(#\d+|amp|lt|gt|quot);/g, (entity, code: string) => {
    if (code.startsWith('#')) return String.fromCharCode(Number(code.slice(1)));
    return { amp: '&', lt: '<', gt: '>', quot: '"' }[code] ?? entity;
  });

/** The CSRF token of the first form on a page. */
export const csrfFrom = (html: string): string => {
  const match = /name="csrf" value="([^"]*)"/.exec(html);
  if (!match?.[1]) throw new Error('no CSRF token on the page');
  return unescapeHtml(match[1]);
};

/** The visible text of a page (tags removed, entities decoded, whitespace collapsed). */
export const pageText = (html: string): string =>
  unescapeHtml(html.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();

export const formBody = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

const formHeaders = (lang?: string): Record<string, string> => ({
  'content-type': 'application/x-www-form-urlencoded',
  ...(lang ? { 'accept-language': lang } : {}),
});

/** The sign-up flow from the buyer's side, as a browser would drive it. */
export const browserFlow = (send: (request: HttpRequest) => Promise<HttpResult>) => ({
  /** AWS Marketplace's form post of the registration token. */
  fulfill: (token: string, extra: Record<string, string> = {}, lang?: string) =>
    send({
      method: 'POST',
      path: '/',
      headers: formHeaders(lang),
      body: formBody({ 'x-amzn-marketplace-token': token, ...extra }),
    }),
  /** Posts the token and returns the session cookie the 303 sets. */
  async begin(token: string): Promise<{ result: HttpResult; cookie: string }> {
    const result = await this.fulfill(token);
    const cookie = sessionCookieFrom(result);
    if (result.statusCode !== 303 || !cookie) {
      throw new Error(`fulfillment did not start a session: ${result.statusCode} ${pageText(result.body)}`);
    }
    return { result, cookie };
  },
  registrationPage: (cookie: string | undefined, lang?: string) =>
    send({
      method: 'GET',
      path: '/register',
      headers: lang ? { 'accept-language': lang } : {},
      ...(cookie ? { cookies: [cookie] } : {}),
    }),
  submit: (cookie: string | undefined, fields: Record<string, string>, lang?: string) =>
    send({
      method: 'POST',
      path: '/register',
      headers: formHeaders(lang),
      ...(cookie ? { cookies: [cookie] } : {}),
      body: formBody(fields),
    }),
  /** Opens the registration page and submits the form with its CSRF token. */
  async register(cookie: string, fields: RegistrationFields, lang?: string) {
    const page = await this.registrationPage(cookie, lang);
    if (page.statusCode !== 200) throw new Error(`registration page answered ${page.statusCode}`);
    const csrf = csrfFrom(page.body);
    return { csrf, result: await this.submit(cookie, { csrf, ...fields }, lang) };
  },
  /** `GET /link`: the session now holding the link `state`, and where the buyer signs in. */
  async startLink(cookie: string) {
    const result = await this.get('/link', cookie);
    const location = result.headers.location ?? '';
    const state = new URL(location, 'http://sign-in.invalid').searchParams.get('state') ?? '';
    return { result, location, state, cookie: sessionCookieFrom(result) ?? cookie };
  },
  /** SaaSus sends the buyer back with the temporary code and the `state` it was given. */
  linkCallback(cookie: string | undefined, state: string, code: string) {
    return this.get(
      '/link/callback',
      cookie,
      `code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`,
    );
  },
  get: (path: string, cookie?: string, query?: string) =>
    send({ method: 'GET', path, ...(query ? { query } : {}), ...(cookie ? { cookies: [cookie] } : {}) }),
  post: (path: string, cookie: string | undefined, fields: Record<string, string>) =>
    send({
      method: 'POST',
      path,
      headers: formHeaders(),
      ...(cookie ? { cookies: [cookie] } : {}),
      body: formBody(fields),
    }),
});

export const validRegistration = (suffix = randomBytes(4).toString('hex')): RegistrationFields => ({
  tenantName: `Acme ${suffix}`,
  adminEmail: `admin-${suffix}@acme.example`,
  adminName: `Ada ${suffix}`,
});

export interface SignUpHarnessOptions {
  /** Changes to `config/example.json` before it is validated (e.g. another pricing model). */
  configure?: (input: ConfigInput) => void;
}

/** The example config as the sign-up tests change it: these sections are all in `config/example.json`. */
type ConfigInput = Record<string, unknown> & {
  marketplace: Record<string, unknown>;
  metering: Record<string, unknown>;
  saasus: Record<string, unknown>;
  idoperation: Record<string, unknown>;
};

export const startSignUpHarness = async (options: SignUpHarnessOptions = {}): Promise<SignUpHarness> => {
  const sessionKey = randomBytes(48).toString('base64url').slice(0, 64);
  const world = await startLocalWorld({
    tablePrefix: 'signup',
    saasusCredentials,
    idoperationAuthorization,
    domainEventBus,
    configure: (input) => options.configure?.(input as ConfigInput),
    // A second env (and the world's non-admin role), so tests can seed members who are not administrators.
    extraSaasusEnvs: (envId) => [{ id: otherEnvId(envId), name: 'staging', display_name: 'Staging' }],
    secrets: { [sessionSecretName]: { key: sessionKey } },
    env: { SESSION_SECRET_NAME: sessionSecretName },
  });
  const { config, dynamo, saasus, marketplace, eventBridge, store } = world;

  const { handler } = await import('../../functions/sign-up/handler.js');
  const documents = DynamoDBDocumentClient.from(dynamo.client);

  const buildApp: SignUpHarness['buildApp'] = (hooks = {}) => {
    // The handler's wiring, with a runtime of its own (same environment, same secrets).
    const appEnv = parseEnv(
      runtimeEnvSchema.extend({
        SESSION_SECRET_NAME: z.string().min(1),
        PUBLIC_BASE_PATH: z.string().default(''),
        SIGN_UP_CLAIMS_TABLE: z.string().min(3),
      }),
    );
    const runtime = createRuntime(appEnv);
    const claims = createSignUpClaims({ client: runtime.dynamo(), tableName: appEnv.SIGN_UP_CLAIMS_TABLE });
    let sealer: Promise<SessionSealer> | undefined;
    return createSignUpApp({
      config: runtime.config,
      store: runtime.licenses(),
      resolveCustomer: (token) => resolveCustomer(runtime.meteringClient(), token),
      provisioning: createProvisioning({
        config: runtime.config,
        store: runtime.licenses(),
        claims,
        saasus: runtime.saasus(),
        idoperation: runtime.idoperation(),
        publish: (events) => runtime.publisher().publish(events),
        planFor: createPlanResolver({
          config: runtime.config,
          entitlementClient: runtime.entitlementClient,
          store: runtime.licenses(),
        }),
        logger,
        ...(hooks.afterStep ? { afterStep: hooks.afterStep } : {}),
      }),
      sessions: () => {
        sealer ??= runtime
          .secrets()
          .getJson(appEnv.SESSION_SECRET_NAME, z.object({ key: z.string().min(32) }))
          .then(({ key }) => createSessionSealer(key));
        return sealer;
      },
      claims,
      exchangeCode: async (code) => {
        const credentials = await runtime.saasus().getCredentials(code);
        const user = await runtime.saasus().getUserInfo(credentials.id_token);
        return {
          userId: user.id,
          email: user.email,
          tenants: user.tenants.map(({ id, name, envs }) => ({ id, name, envs })),
        };
      },
      logger,
      basePath: appEnv.PUBLIC_BASE_PATH,
    });
  };

  return {
    config,
    env: world.env,
    saasus,
    marketplace,
    idoperation: world.idoperation,
    eventBridge,
    secrets: world.secrets,
    store,
    saasusClient: world.saasusClient,
    sealer: createSessionSealer(sessionKey),
    sessionKey,
    logs: world.logs,
    invoke: async (request) => normalise(await handler(httpEvent(request), lambdaContext('sign-up', 29_000))),
    buildApp,
    advanceMarketplaceClock: world.advanceMarketplaceClock,
    newBuyer: (options = {}) => {
      const account = options.account ?? newAccountId();
      const license = marketplace.addLicense({ customerAwsAccountId: account });
      const token = marketplace.mintToken({
        customerAwsAccountId: account,
        licenseArn: license.licenseArn,
        ...(options.productCode ? { productCode: options.productCode } : {}),
      });
      // A product the config does not serve is played with the first product's identity mode.
      const product =
        config.products.find((candidate) => candidate.productCode === options.productCode) ??
        config.products[0];
      const licenseKey = product?.identityMode === 'legacy' ? license.customerIdentifier : license.licenseArn;
      return {
        account,
        licenseKey,
        licenseArn: license.licenseArn,
        customerIdentifier: license.customerIdentifier,
        token,
      };
    },
    activate: async (licenseKey) => {
      const item = await store.get(licenseKey);
      if (!item) throw new Error(`license ${licenseKey} does not exist`);
      const agreementId = `agmt-${randomBytes(8).toString('hex')}`;
      const signal: LicenseSignal = {
        kind: 'agreement-created',
        agreementId,
        intent: 'NEW',
        eventId: randomUUID(),
        time: new Date().toISOString(),
        origin: 'eventbridge',
        sourceType: 'Purchase Agreement Created - Proposer',
        locator: { by: 'agreement', customerAwsAccountId: item.customerAwsAccountId ?? '', agreementId },
      };
      const record = applySignal(parseLicenseRecord(item.lifecycle), signal);
      return store.setAttributes(
        licenseKey,
        { lifecycle: record, status: deriveStatus(record).status },
        { expectedVersion: item.version },
      );
    },
    licenseItems: async () => {
      const items: LicenseItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new ScanCommand({ TableName: dynamo.tables.Licenses, ExclusiveStartKey: startKey }),
        );
        items.push(...((page.Items ?? []) as LicenseItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
    domainEvents: world.domainEvents,
    tenantsOf: (licenseKey) =>
      saasus.state
        .tenants()
        .filter(
          (tenant) =>
            (tenant.attributes as Record<string, unknown> | undefined)?.[LICENSE_ATTRIBUTE] === licenseKey,
        ),
    saasusWrites: () => saasus.state.requests().filter((request) => request.method !== 'GET').length,
    close: world.close,
  };
};

/** Request headers of a Node request, as payload v2 delivers them (lower-case, joined). */
const headersOf = (request: IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
};

/**
 * A local stand-in for API Gateway's HTTP API: translates HTTP requests into payload-v2 events
 * (non-text bodies base64-encoded, cookies in `cookies`) and the results back into responses.
 */
export const startHttpGateway = async (
  handle: (request: HttpRequest) => Promise<HttpResult>,
  host = '127.0.0.1',
): Promise<{ url: string; port: number; server: Server; close(): Promise<void> }> => {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://gateway');
      const raw = Buffer.concat(chunks);
      const contentType = String(request.headers['content-type'] ?? '');
      const text = /^(text\/|application\/json)/i.test(contentType);
      const cookieHeader = request.headers.cookie;
      handle({
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.search.replace(/^\?/, ''),
        headers: headersOf(request),
        ...(cookieHeader ? { cookies: cookieHeader.split(';').map((cookie) => cookie.trim()) } : {}),
        ...(raw.length > 0
          ? { body: text ? raw.toString('utf8') : raw.toString('base64'), isBase64Encoded: !text }
          : {}),
      })
        .then((result) => {
          const headers: Record<string, string | string[]> = { ...result.headers };
          if (result.cookies && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
          response.writeHead(result.statusCode, headers);
          response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
        })
        .catch((error: unknown) => {
          response.writeHead(502, { 'content-type': 'text/plain' });
          response.end(`gateway: the function failed (${error instanceof Error ? error.name : 'unknown'})`);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
