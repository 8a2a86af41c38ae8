import { Writable } from 'node:stream';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer } from '#sandbox/emulators/http';
import { type SaasusEmulator, startSaasusEmulator } from '#sandbox/emulators/saasus';
import { createSaasusClient, type SaasusClientOptions } from '#shared/saasus/client';
import { SaasusApiError, SaasusInputError } from '#shared/saasus/errors';
import { staticSecretSource } from '#shared/secrets';
import { saasusContract } from '#test/support/saasus-contract';

const credentials = {
  saasId: 'saas-client-test',
  apiKey: 'client-api-key-7c1e',
  secretKey: 'client-secret-key-9f3a',
};
const secretName = 'test/saasus';
const basicPlan = '0f8d6c2e-1111-4a7b-9c3d-000000000001';
const proPlan = '0f8d6c2e-2222-4a7b-9c3d-000000000002';
const businessNow = new Date('2026-11-22T10:00:00Z');
/** A pricing menu with a fixed and a metered unit, in the PricingMenu / PricingUnit shapes of the spec. */
const proMenu = {
  id: 'menu-1',
  name: 'pro_menu',
  display_name: 'Pro menu',
  description: '',
  used: true,
  units: [
    {
      id: 'unit-fixed',
      type: 'fixed',
      name: 'base_fee',
      display_name: 'Base fee',
      description: '',
      currency: 'USD',
      unit_amount: 100,
      recurring_interval: 'month',
      used: true,
    },
    {
      id: 'unit-usage',
      type: 'usage',
      name: 'api_calls_unit',
      display_name: 'API calls',
      description: '',
      currency: 'USD',
      unit_amount: 1,
      upper_count: 1000,
      metering_unit_id: 'meter-1',
      metering_unit_name: 'api_calls',
      aggregate_usage: 'sum',
      recurring_interval: 'month',
      used: true,
    },
  ],
};

let emulator: SaasusEmulator;

beforeEach(async () => {
  emulator = await startSaasusEmulator({
    credentials,
    now: () => businessNow,
    onExchange: saasusContract.observe,
    plans: [
      { id: basicPlan, name: 'basic' },
      { id: proPlan, name: 'pro', display_name: 'Pro', pricing_menus: [proMenu] },
    ],
  });
});

afterEach(async () => {
  await emulator.close();
});

/** A client for the emulator with fast retries; `overrides` replace any option. */
const clientFor = (overrides: Partial<SaasusClientOptions> = {}) =>
  createSaasusClient({
    baseUrl: emulator.url,
    secrets: staticSecretSource({ [secretName]: credentials }),
    secretName,
    timeoutMs: 2_000,
    retry: { retries: 3, baseDelayMs: 1, maxDelayMs: 5 },
    logger: silentLogger(),
    ...overrides,
  });

/** A Powertools Logger whose every line goes to `lines` (one JSON document per entry). */
class CapturingLogger extends Logger {
  readonly lines: string[] = [];
  readonly #stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      this.lines.push(chunk.toString('utf8'));
      done();
    },
  });

  constructor() {
    super({ serviceName: 'saasus-client-test', logLevel: 'DEBUG' });
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    this.#stream.write(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

const silentLogger = () => new CapturingLogger();

const catchError = async (promise: Promise<unknown>): Promise<SaasusApiError> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SaasusApiError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
};

const tenantProps = { name: 'Acme', attributes: {}, back_office_staff_email: 'staff@example.com' };

describe('SaaSus client: operations against the emulator', () => {
  it('manages tenants, attributes and plans', async () => {
    const client = clientFor();
    expect(await client.listEnvs()).toEqual([{ id: 3, name: 'production', display_name: 'Production' }]);

    const attribute = {
      attribute_name: 'license_arn',
      display_name: 'License ARN',
      attribute_type: 'string',
    } as const;
    expect(await client.createTenantAttribute(attribute)).toEqual(attribute);
    expect(await client.listTenantAttributes()).toEqual([attribute]);

    const tenant = await client.createTenant({
      ...tenantProps,
      attributes: { license_arn: 'arn:aws:lm::1:l/x' },
    });
    expect(tenant).toMatchObject({
      name: 'Acme',
      attributes: { license_arn: 'arn:aws:lm::1:l/x' },
      plan_histories: [],
    });
    expect(tenant.plan_id).toBeUndefined();

    await client.updateTenant(tenant.id, { ...tenantProps, name: 'Acme Corp', attributes: {} });
    await client.updateTenantPlan(tenant.id, { next_plan_id: proPlan });
    const detail = await client.getTenant(tenant.id);
    expect(detail).toMatchObject({
      id: tenant.id,
      name: 'Acme Corp',
      plan_id: proPlan,
      plan_histories: [{ plan_id: proPlan, plan_applied_at: businessNow.getTime() / 1000 }],
    });
    expect((await client.listTenants()).map((listed) => listed.id)).toEqual([tenant.id]);

    expect((await client.listPricingPlans()).map((plan) => plan.id)).toEqual([basicPlan, proPlan]);
    const plan = await client.getPricingPlan(proPlan);
    expect(plan).toMatchObject({
      id: proPlan,
      name: 'pro',
      display_name: 'Pro',
      description: '',
      used: false,
    });
    const units = plan.pricing_menus.flatMap((menu) => menu.units);
    expect(units.map((unit) => unit.type)).toEqual(['fixed', 'usage']);
    const metered = units.find((unit) => unit.type === 'usage');
    expect(metered).toMatchObject({ metering_unit_name: 'api_calls', upper_count: 1000 });
  });

  it('manages SaaS users, tenant users and roles, and resolves a signed-in user', async () => {
    const client = clientFor();
    const tenant = await client.createTenant(tenantProps);
    const user = await client.createSaasUser({ email: 'admin@example.com' });
    expect(user).toMatchObject({ email: 'admin@example.com', sign_in_id: '', attributes: {} });
    expect(user.password).toBeUndefined();
    expect((await client.findSaasUserByEmail(' Admin@Example.com '))?.id).toBe(user.id);
    expect(await client.findSaasUserByEmail('nobody@example.com')).toBeUndefined();

    const member = await client.createTenantUser(tenant.id, { email: 'admin@example.com' });
    expect(member).toMatchObject({ id: user.id, tenant_id: tenant.id, tenant_name: 'Acme', envs: [] });
    await client.addTenantUserRoles(tenant.id, user.id, 3, ['admin']);
    expect(await client.listTenantUsers(tenant.id)).toEqual([
      expect.objectContaining({
        id: user.id,
        envs: [
          {
            id: 3,
            name: 'production',
            display_name: 'Production',
            roles: [{ role_name: 'admin', display_name: 'admin' }],
          },
        ],
      }),
    ]);

    const minted = emulator.mintUserCredentials(user.id);
    const tokens = await client.getCredentials(minted.code);
    expect(tokens).toEqual({
      id_token: minted.id_token,
      access_token: minted.access_token,
      refresh_token: minted.refresh_token,
    });
    const info = await client.getUserInfo(tokens.id_token);
    expect(info).toMatchObject({
      id: user.id,
      email: 'admin@example.com',
      tenants: [{ id: tenant.id, name: 'Acme', envs: [{ id: 3, roles: [{ role_name: 'admin' }] }] }],
    });

    await client.removeTenantUserRole(tenant.id, user.id, 3, 'admin');
    expect((await client.listTenantUsers(tenant.id))[0]?.envs).toEqual([]);
    await client.deleteTenantUser(tenant.id, user.id);
    expect(await client.listTenantUsers(tenant.id)).toEqual([]);
    expect((await client.deleteSaasUser(user.id)).id).toBe(user.id);
    expect(await client.listSaasUsers()).toEqual([]);
  });

  it('creates sign-in-id users and returns the generated password', async () => {
    const created = await clientFor().createSaasUser({ sign_in_id: 'buyer_01' });
    expect(created).toMatchObject({ email: '', sign_in_id: 'buyer_01', password: expect.any(String) });
  });

  it('updates metering counts now and at a timestamp, and reads the day', async () => {
    const client = clientFor();
    const tenant = await client.createTenant(tenantProps);
    const nowSeconds = businessNow.getTime() / 1000;
    expect(await client.updateMeteringCountNow(tenant.id, 'api_calls', { method: 'add', count: 5 })).toEqual({
      metering_unit_name: 'api_calls',
      timestamp: nowSeconds,
      count: 5,
    });
    await client.updateMeteringCountAt(tenant.id, 'api_calls', nowSeconds - 3600, {
      method: 'direct',
      count: 7,
    });
    await client.updateMeteringCountAt(tenant.id, 'storage_gb', nowSeconds - 60, { method: 'add', count: 2 });
    expect(await client.getMeteringCountsForDate(tenant.id, '2026-11-22')).toEqual([
      { metering_unit_name: 'api_calls', date: '2026-11-22', count: 12 },
      { metering_unit_name: 'storage_gb', date: '2026-11-22', count: 2 },
    ]);
  });
});

describe('SaaSus client: answers the official SDK accepts', () => {
  it('reads users without sign_in_id and ignores fields it does not know', async () => {
    const answer =
      (body: unknown): typeof fetch =>
      async () =>
        new Response(JSON.stringify(body), { status: 200 });
    const user = { id: 'u-1', email: 'a@example.com', attributes: {}, favourite_colour: 'teal' };
    const users = await clientFor({ fetch: answer({ users: [user] }) }).listSaasUsers();
    expect(users).toEqual([{ id: 'u-1', email: 'a@example.com', attributes: {} }]);
    const info = await clientFor({
      fetch: answer({ id: 'u-1', email: 'a@example.com', user_attribute: {}, tenants: [], new_field: 1 }),
    }).getUserInfo('id-token');
    expect(info.sign_in_id).toBeUndefined();
    const members = await clientFor({
      fetch: answer({
        users: [
          {
            id: 'u-1',
            tenant_id: 't-1',
            tenant_name: 'Acme',
            email: 'a@example.com',
            attributes: {},
            envs: [],
          },
        ],
      }),
    }).listTenantUsers('t-1');
    expect(members[0]?.tenant_id).toBe('t-1');
  });

  it("forwards the buyer's page to GetUserInfo as X-SaaSus-Referer", async () => {
    const client = clientFor();
    const user = emulator.seedUser({ email: 'ref@example.com' });
    const { id_token } = await client.getCredentials(emulator.mintUserCredentials(String(user.id)).code);
    await client.getUserInfo(id_token, { referer: 'https://app.example.com/marketplace/sign-up' });
    const call = emulator.state.requests().find((request) => request.operation === 'GetUserInfo');
    expect(call?.referer).toBe('https://app.example.com/marketplace/sign-up');
  });
});

describe('SaaSus client: errors', () => {
  it('maps a 404 to SaasusApiError with the trace id the emulator received', async () => {
    const error = await catchError(clientFor().getTenant('00000000-0000-0000-0000-000000000000'));
    expect(error).toMatchObject({
      status: 404,
      type: 'not_found',
      method: 'GET',
      path: '/v1/auth/tenants/00000000-0000-0000-0000-000000000000',
      retryable: false,
    });
    expect(error.message).toContain('not found');
    expect(emulator.state.requests().map((request) => request.receivedTraceId)).toEqual([error.traceId]);
    expect(emulator.state.callCount('GetTenant')).toBe(1);
  });

  it('maps a 400 (duplicate SaaS user) and the 500 CreateTenant declares for an unknown attribute', async () => {
    const client = clientFor();
    await client.createSaasUser({ email: 'dup@example.com' });
    expect(await catchError(client.createSaasUser({ email: 'DUP@example.com' }))).toMatchObject({
      status: 400,
      type: 'user_already_exists',
      retryable: false,
    });
    const error = await catchError(client.createTenant({ ...tenantProps, attributes: { memo: 'x' } }));
    expect(error).toMatchObject({ status: 500, type: 'bad_request' });
    expect(error.message).toContain('memo');
  });

  it('maps a 401 for wrong credentials and does not retry it', async () => {
    const client = clientFor({
      secrets: staticSecretSource({ [secretName]: { ...credentials, secretKey: 'wrong-secret' } }),
    });
    expect(await catchError(client.listTenants())).toMatchObject({
      status: 401,
      type: 'unauthorized',
      retryable: false,
    });
    expect(emulator.state.callCount('GetTenants')).toBe(1);
  });

  it('maps a 500 that persists after the retries', async () => {
    emulator.faults.failNext(10, { status: 500 }, { operation: 'GetEnvs' });
    const error = await catchError(
      clientFor({ retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } }).listEnvs(),
    );
    expect(error).toMatchObject({ status: 500, type: 'internal_server_error', retryable: true });
    expect(emulator.state.callCount('GetEnvs')).toBe(3);
    expect(new Set(emulator.state.requests().map((request) => request.receivedTraceId))).toEqual(
      new Set([error.traceId]),
    );
  });

  it('maps an error status without a SaaSus body', async () => {
    emulator.faults.failNext(
      1,
      { status: 502, rawBody: '<html>Bad gateway</html>' },
      { operation: 'GetEnvs' },
    );
    expect(await catchError(clientFor({ retry: { retries: 0 } }).listEnvs())).toMatchObject({
      status: 502,
      type: 'unknown_error',
      retryable: true,
    });
  });

  it('maps a connection failure to a retryable network error', async () => {
    const closed = await startServer(() => {});
    await closed.close();
    const error = await catchError(
      clientFor({ baseUrl: closed.url, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 } }).listEnvs(),
    );
    expect(error).toMatchObject({ status: 0, type: 'network_error', retryable: true });
  });

  it('turns a response of the wrong shape into a clear, non-retried error', async () => {
    emulator.faults.failNext(
      1,
      { status: 200, body: { tenants: [{ id: 42, name: 'x' }] } },
      { operation: 'GetTenants' },
    );
    const error = await catchError(clientFor().listTenants());
    expect(error).toMatchObject({ status: 200, type: 'invalid_response', retryable: false });
    expect(error.message).toMatch(/does not match the SaaSus API schema: tenants\.0\.id: .*expected string/);
    expect(emulator.state.callCount('GetTenants')).toBe(1);

    emulator.faults.failNext(1, { status: 200, rawBody: 'ok' }, { operation: 'GetEnvs' });
    expect((await catchError(clientFor().listEnvs())).message).toContain('not JSON');
  });

  it('refuses invalid arguments before sending anything', async () => {
    const client = clientFor();
    const attempts = [
      client.createTenant({ ...tenantProps, back_office_staff_email: 'not-an-email' }),
      client.getMeteringCountsForDate('t-1', '2026-02-30'),
      client.updateMeteringCountAt('t-1', 'api_calls', 1.5, { method: 'add', count: 1 }),
      client.updateMeteringCountNow('t-1', 'api_calls', { method: 'add', count: -1 }),
      client.addTenantUserRoles('t-1', 'u-1', 3, []),
      client.addTenantUserRoles('t-1', 'u-1', 0, ['admin']),
      client.getTenant(''),
      client.createSaasUser({ email: 'a@example.com', sign_in_id: 'a' } as never),
    ];
    for (const attempt of attempts) await expect(attempt).rejects.toBeInstanceOf(SaasusInputError);
    expect(emulator.state.requests()).toEqual([]);
    expect(() =>
      createSaasusClient({ baseUrl: 'ftp://x', secrets: staticSecretSource({}), secretName }),
    ).toThrow(SaasusInputError);
  });
});

describe('SaaSus client: retries, timeouts and trace ids', () => {
  it('retries a GET after a transient 500 and a 429, then succeeds', async () => {
    emulator.faults.failNext(1, { status: 500 }, { operation: 'GetTenants' });
    emulator.faults.failNext(1, { status: 429 }, { operation: 'GetTenants' });
    expect(await clientFor().listTenants()).toEqual([]);
    expect(emulator.state.callCount('GetTenants')).toBe(3);
  });

  it('never retries a POST, even when the failure is transient', async () => {
    emulator.faults.failNext(1, { status: 500, apply: true }, { operation: 'CreateTenant' });
    const error = await catchError(clientFor().createTenant(tenantProps));
    expect(error).toMatchObject({ status: 500, method: 'POST', retryable: true });
    expect(emulator.state.callCount('CreateTenant')).toBe(1);
    // The request was applied although its answer failed: the caller looks up before creating again.
    expect(emulator.state.tenants()).toHaveLength(1);
  });

  it('retries a metering PUT with direct, but not with add', async () => {
    const client = clientFor();
    const tenant = await client.createTenant(tenantProps);
    emulator.faults.failNext(1, { status: 503 }, { operation: 'UpdateMeteringUnitTimestampCountNow' });
    await expect(
      client.updateMeteringCountNow(tenant.id, 'api_calls', { method: 'add', count: 1 }),
    ).rejects.toThrow(SaasusApiError);
    expect(emulator.state.callCount('UpdateMeteringUnitTimestampCountNow')).toBe(1);
    emulator.faults.failNext(1, { status: 503 }, { operation: 'UpdateMeteringUnitTimestampCountNow' });
    await client.updateMeteringCountNow(tenant.id, 'api_calls', { method: 'direct', count: 9 });
    expect(emulator.state.callCount('UpdateMeteringUnitTimestampCountNow')).toBe(3);
  });

  it('times out a hanging call; a GET is retried, a POST is not', async () => {
    const client = clientFor({ timeoutMs: 250 });
    emulator.faults.failNext(1, { hang: true }, { operation: 'GetEnvs' });
    expect(await client.listEnvs()).toHaveLength(1);
    expect(emulator.state.callCount('GetEnvs')).toBe(2);

    emulator.faults.failNext(1, { hang: true }, { operation: 'CreateSaasUser' });
    const error = await catchError(client.createSaasUser({ email: 'slow@example.com' }));
    expect(error).toMatchObject({ status: 0, type: 'timeout', retryable: true, method: 'POST' });
    expect(error.message).toContain('250 ms');
    expect(emulator.state.callCount('CreateSaasUser')).toBe(1);
  });

  it('sends the caller’s trace id, or a fresh one per call, and logs it with method, path and status', async () => {
    const logger = new CapturingLogger();
    const client = clientFor({ logger });
    await client.listTenants({ traceId: 'trace-from-caller' });
    await client.listEnvs();
    await client.listEnvs();
    const traceIds = emulator.state.requests().map((request) => request.receivedTraceId);
    expect(traceIds[0]).toBe('trace-from-caller');
    expect(traceIds[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(traceIds[2]).not.toBe(traceIds[1]);
    const entries = logger.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({
      message: 'SaaSus API call',
      method: 'GET',
      path: '/v1/auth/tenants',
      status: 200,
      traceId: 'trace-from-caller',
    });
    expect(entries.map((entry) => entry.traceId)).toEqual(traceIds);
  });
});

describe('SaaSus client: secrets stay out of logs and errors', () => {
  it('never logs the secret key, the API key or the Authorization header', async () => {
    const logger = new CapturingLogger();
    const sentAuthorizations: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      sentAuthorizations.push(new Headers(init?.headers).get('authorization') ?? '');
      return fetch(input, init);
    };
    const client = clientFor({ logger, fetch: recordingFetch, timeoutMs: 250 });
    const tenant = await client.createTenant(tenantProps);
    await client.createSaasUser({ email: 'secret-holder@example.com', password: 'P@ssw0rd-never-logged' });
    emulator.faults.failNext(1, { status: 500 }, { operation: 'GetTenant' });
    emulator.faults.failNext(1, { hang: true }, { operation: 'GetTenant' });
    await client.getTenant(tenant.id);
    const failure = await catchError(client.getTenant('missing-tenant'));
    // What a handler would do with the failure.
    logger.error('SaaSus call failed', failure);
    const userInfoFailure = await catchError(client.getUserInfo('id-token-never-logged'));
    logger.error('SaaSus call failed', userInfoFailure);
    emulator.faults.failNext(1, { hang: true }, { operation: 'CreateSaasUser' });
    const timeout = await catchError(
      client.createSaasUser({ email: 'x@example.com', password: 'P@ssw0rd-never-logged' }),
    );
    logger.error('SaaSus call failed', timeout);

    expect(sentAuthorizations.length).toBeGreaterThanOrEqual(6);
    expect(logger.lines.length).toBeGreaterThanOrEqual(10);
    const forbidden = [
      credentials.secretKey,
      credentials.apiKey,
      'SAASUSSIGV1',
      'P@ssw0rd-never-logged',
      'id-token-never-logged',
      ...sentAuthorizations,
      ...sentAuthorizations.map((header) => /Sig=([0-9a-f]+)/.exec(header)?.[1] ?? header),
    ];
    for (const line of logger.lines) {
      for (const value of forbidden) expect(line).not.toContain(value);
    }
    for (const error of [failure, userInfoFailure, timeout]) {
      const text = `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)}`;
      for (const value of forbidden) expect(text).not.toContain(value);
    }
  });
});
