import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SaasusEmulator, type SaasusPartnerEvent, startSaasusEmulator } from '#sandbox/emulators/saasus';
import { signSaasusRequest } from '#shared/saasus/signature';

/** Requests here are built by hand (not with the client), so they test the emulator against the spec. */

const credentials = { saasId: 'saas-0001', apiKey: 'emulator-api-key', secretKey: 'emulator-secret-key' };
const planId = '0f8d6c2e-1111-4a7b-9c3d-000000000001';

let businessNow = new Date('2026-11-22T10:00:00Z');
let realNow = new Date();
let emulator: SaasusEmulator;
let received: SaasusPartnerEvent[];

beforeEach(async () => {
  businessNow = new Date('2026-11-22T10:00:00Z');
  realNow = new Date();
  received = [];
  emulator = await startSaasusEmulator({
    credentials,
    now: () => businessNow,
    signatureNow: () => realNow,
    onPartnerEvent: (event) => {
      received.push(event);
    },
    plans: [{ id: planId, name: 'basic' }],
    tenantAttributes: [{ attribute_name: 'memo', display_name: 'Memo', attribute_type: 'string' }],
    meteringTimeZone: 'Asia/Tokyo',
  });
});

afterEach(async () => {
  await emulator.close();
});

interface RawRequest {
  method: string;
  path: string;
  body?: string;
  /** Defaults to `body`; differs to simulate a body changed after signing. */
  sentBody?: string;
  signedAt?: Date;
  secretKey?: string;
  headers?: Record<string, string>;
}

const send = async (request: RawRequest) => {
  const url = `${emulator.url}${request.path}`;
  const authorization = signSaasusRequest({
    method: request.method,
    url,
    body: request.body,
    ...credentials,
    secretKey: request.secretKey ?? credentials.secretKey,
    now: request.signedAt ?? realNow,
  });
  const response = await fetch(url, {
    method: request.method,
    headers: { authorization, 'content-type': 'application/json', ...request.headers },
    body: request.sentBody ?? request.body,
  });
  const text = await response.text();
  return {
    status: response.status,
    traceId: response.headers.get('x-saasus-trace-id'),
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
};

const json = (value: unknown) => JSON.stringify(value);

const createTenant = async (attributes: Record<string, unknown> = {}) =>
  send({
    method: 'POST',
    path: '/v1/auth/tenants',
    body: json({ name: 'Acme', attributes, back_office_staff_email: 'staff@example.com' }),
  });

describe('SaaSus emulator: SAASUSSIGV1', () => {
  it('accepts a correctly signed request and echoes the trace id', async () => {
    const response = await send({
      method: 'GET',
      path: '/v1/auth/envs',
      headers: { 'x-saasus-trace-id': 't-1' },
    });
    expect(response).toMatchObject({
      status: 200,
      traceId: 't-1',
      body: { envs: [{ id: 3, name: 'production' }] },
    });
  });

  it('rejects a signature made with the wrong secret key', async () => {
    const response = await send({ method: 'GET', path: '/v1/auth/tenants', secretKey: 'not-the-secret' });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({
      type: 'unauthorized',
      message: expect.stringContaining('does not match'),
    });
  });

  it('rejects a timestamp more than one minute off the clock', async () => {
    const response = await send({
      method: 'GET',
      path: '/v1/auth/tenants',
      signedAt: new Date(realNow.getTime() - 2 * 60_000),
    });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ type: 'unauthorized', message: expect.stringContaining('minute') });
  });

  it('rejects a body changed after signing, and does not apply it', async () => {
    const signed = json({ name: 'Acme', attributes: {}, back_office_staff_email: 'staff@example.com' });
    const response = await send({
      method: 'POST',
      path: '/v1/auth/tenants',
      body: signed,
      sentBody: signed.replace('Acme', 'Evil'),
    });
    expect(response.status).toBe(401);
    expect(response.body?.type).toBe('unauthorized');
    expect(emulator.state.tenants()).toEqual([]);
  });

  it('rejects requests without a SAASUSSIGV1 header', async () => {
    const response = await fetch(`${emulator.url}/v1/auth/tenants`, {
      headers: { authorization: 'Bearer x' },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: 'unauthorized' });
  });

  it('answers 404 for an unknown operation', async () => {
    const response = await send({ method: 'GET', path: '/v1/auth/nothing-here' });
    expect(response).toMatchObject({ status: 404, body: { type: 'not_found' } });
  });
});

describe('SaaSus emulator: tenants, users and roles', () => {
  it("routes the spec's literal paths before templates and answers operations it does not serve with 501", async () => {
    const tenantId = String((await createTenant()).body?.id);
    for (const [method, path, operation] of [
      ['GET', '/v1/auth/tenants/all/users', 'GetAllTenantUsers'],
      ['GET', '/v1/auth/tenants/all/users/count', 'GetAllTenantUsersCount'],
      ['GET', '/v1/auth/tenants/all/users/search', 'SearchTenantUsers'],
      ['GET', '/v1/auth/users/count', 'GetSaasUsersCount'],
      ['GET', '/v1/auth/users/search', 'SearchSaasUsers'],
      ['GET', '/v1/awsmarketplace/settings', 'GetSettings'],
      ['POST', '/v1/integration/eventbridge/event', 'CreateEventBridgeEvent'],
    ] as const) {
      expect(await send({ method, path }), `${method} ${path}`).toMatchObject({
        status: 501,
        body: { type: 'not_served', message: expect.stringContaining(operation) },
      });
    }
    // The templates still serve real ids.
    expect(await send({ method: 'GET', path: `/v1/auth/tenants/${tenantId}/users` })).toMatchObject({
      status: 200,
    });
    expect(await send({ method: 'GET', path: '/v1/auth/no-such-operation' })).toMatchObject({ status: 404 });
  });

  it('creates a tenant in the spec shape and refuses bad attributes with the 500 CreateTenant declares', async () => {
    const created = await createTenant({ memo: 'hello' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'Acme',
      attributes: { memo: 'hello' },
      back_office_staff_email: 'staff@example.com',
      plan_histories: [],
    });
    expect(await createTenant({ unknown_field: 1 })).toMatchObject({
      status: 500,
      body: { type: 'bad_request', message: expect.stringContaining('unknown_field') },
    });
    expect(await createTenant({ memo: 42 })).toMatchObject({ status: 500, body: { type: 'bad_request' } });
    const missing = await send({
      method: 'POST',
      path: '/v1/auth/tenants',
      body: json({ name: 'x', attributes: {} }),
    });
    expect(missing).toMatchObject({
      status: 500,
      body: { type: 'bad_request', message: expect.stringContaining('back_office_staff_email') },
    });
    const notJson = await send({ method: 'POST', path: '/v1/auth/tenants', body: '{"name":' });
    expect(notJson).toMatchObject({ status: 500, body: { message: expect.stringContaining('JSON') } });
  });

  it('answers an unknown tenant, user or plan with 404 where the operation declares it, else 500', async () => {
    const unknown = '00000000-0000-0000-0000-000000000000';
    for (const [method, path, status] of [
      ['GET', `/v1/auth/tenants/${unknown}`, 404],
      ['GET', `/v1/auth/tenants/${unknown}/users`, 500],
      ['DELETE', `/v1/auth/users/${unknown}`, 404],
      ['GET', `/v1/pricing/plans/${unknown}`, 500],
    ] as const) {
      expect(await send({ method, path }), `${method} ${path}`).toMatchObject({
        status,
        body: { type: 'not_found' },
      });
    }
  });

  it('refuses a second SaaS user with the same email, in any capitalization', async () => {
    const first = await send({
      method: 'POST',
      path: '/v1/auth/users',
      body: json({ email: 'a@example.com' }),
    });
    expect(first).toMatchObject({
      status: 201,
      body: { email: 'a@example.com', sign_in_id: '', attributes: {} },
    });
    const second = await send({
      method: 'POST',
      path: '/v1/auth/users',
      body: json({ email: 'A@Example.com' }),
    });
    expect(second).toMatchObject({ status: 400, body: { type: 'user_already_exists' } });
    const both = await send({
      method: 'POST',
      path: '/v1/auth/users',
      body: json({ email: 'b@example.com', sign_in_id: 'bee' }),
    });
    expect(both).toMatchObject({ status: 400, body: { type: 'bad_request' } });
  });

  it('adds a SaaS user to a tenant with roles in an env, and only existing users, envs and roles', async () => {
    const tenantId = String((await createTenant()).body?.id);
    const user = emulator.seedUser({ email: 'admin@example.com' });
    const unknownUser = await send({
      method: 'POST',
      path: `/v1/auth/tenants/${tenantId}/users`,
      body: json({ email: 'nobody@example.com', attributes: {} }),
    });
    expect(unknownUser).toMatchObject({ status: 500, body: { type: 'not_found' } });
    const member = await send({
      method: 'POST',
      path: `/v1/auth/tenants/${tenantId}/users`,
      body: json({ email: 'admin@example.com', attributes: {} }),
    });
    expect(member).toMatchObject({
      status: 201,
      body: { id: user.id, tenant_id: tenantId, tenant_name: 'Acme', envs: [] },
    });
    const rolesPath = `/v1/auth/tenants/${tenantId}/users/${String(user.id)}/envs`;
    expect(
      await send({ method: 'POST', path: `${rolesPath}/3/roles`, body: json({ role_names: ['admin'] }) }),
    ).toMatchObject({ status: 201, body: undefined });
    expect(
      await send({ method: 'POST', path: `${rolesPath}/3/roles`, body: json({ role_names: ['owner'] }) }),
    ).toMatchObject({ status: 500 });
    expect(
      await send({ method: 'POST', path: `${rolesPath}/9/roles`, body: json({ role_names: ['admin'] }) }),
    ).toMatchObject({ status: 500 });
    expect(emulator.state.tenantUsers(tenantId)).toEqual([
      expect.objectContaining({
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
    expect(await send({ method: 'DELETE', path: `${rolesPath}/3/roles/admin` })).toMatchObject({
      status: 200,
    });
    expect(await send({ method: 'DELETE', path: `${rolesPath}/3/roles/admin` })).toMatchObject({
      status: 404,
    });
  });

  it('applies a plan now, or reserves it for at least five minutes ahead and applies it when due', async () => {
    const tenantId = String((await createTenant()).body?.id);
    const plansPath = `/v1/auth/tenants/${tenantId}/plans`;
    const nowSeconds = businessNow.getTime() / 1000;
    expect(
      await send({ method: 'PUT', path: plansPath, body: json({ next_plan_id: planId }) }),
    ).toMatchObject({
      status: 200,
    });
    expect(emulator.state.tenant(tenantId)).toMatchObject({
      plan_id: planId,
      plan_histories: [{ plan_id: planId, plan_applied_at: nowSeconds }],
    });
    expect(
      await send({ method: 'PUT', path: plansPath, body: json({ next_plan_id: 'no-such-plan' }) }),
    ).toMatchObject({ status: 400 });
    expect(
      await send({ method: 'PUT', path: plansPath, body: json({ using_next_plan_from: nowSeconds + 60 }) }),
    ).toMatchObject({ status: 400, body: { message: expect.stringContaining('5 minutes') } });

    // A reserved removal of the plan, an hour ahead on the business clock.
    await send({ method: 'PUT', path: plansPath, body: json({ using_next_plan_from: nowSeconds + 3600 }) });
    expect(emulator.state.tenant(tenantId)).toMatchObject({
      plan_id: planId,
      using_next_plan_from: nowSeconds + 3600,
    });
    businessNow = new Date(businessNow.getTime() + 2 * 3600_000);
    const after = await send({ method: 'GET', path: `/v1/auth/tenants/${tenantId}` });
    expect(after.body?.plan_id).toBeUndefined();
    expect(after.body?.using_next_plan_from).toBeUndefined();
  });
});

describe('SaaSus emulator: metering', () => {
  it('applies add, sub and direct per timestamp and rolls counts up by day in the configured time zone', async () => {
    const tenantId = String((await createTenant()).body?.id);
    const unitPath = `/v1/pricing/metering/tenants/${tenantId}/units/api_calls`;
    // 2026-11-22T14:59:59Z is 23:59:59 in Tokyo; one second later is the next Tokyo day.
    const lateEvening = Date.UTC(2026, 10, 22, 14, 59, 59) / 1000;
    const put = (timestamp: number | 'now', method: string, count: number) =>
      send({
        method: 'PUT',
        path: timestamp === 'now' ? `${unitPath}/now` : `${unitPath}/timestamp/${timestamp}`,
        body: json({ method, count }),
      });

    expect(await put(lateEvening, 'add', 5)).toMatchObject({
      status: 200,
      body: { metering_unit_name: 'api_calls', timestamp: lateEvening, count: 5 },
    });
    expect((await put(lateEvening, 'add', 3)).body?.count).toBe(8);
    expect((await put(lateEvening, 'sub', 2)).body?.count).toBe(6);
    expect((await put(lateEvening + 1, 'direct', 10)).body?.count).toBe(10);
    expect((await put(lateEvening + 1, 'direct', 4)).body?.count).toBe(4);
    expect((await put('now', 'add', 1)).body?.timestamp).toBe(businessNow.getTime() / 1000);
    expect(await put(lateEvening, 'multiply', 2)).toMatchObject({ status: 500 });

    const day = await send({
      method: 'GET',
      path: `/v1/pricing/metering/tenants/${tenantId}/units/date/2026-11-22`,
    });
    // 10:00Z ("now") and 14:59:59Z are both on 2026-11-22 in Tokyo.
    expect(day.body).toEqual({ counts: [{ metering_unit_name: 'api_calls', date: '2026-11-22', count: 7 }] });
    const nextDay = await send({ method: 'GET', path: `${unitPath}/date/2026-11-23` });
    expect(nextDay.body).toEqual({ metering_unit_name: 'api_calls', date: '2026-11-23', count: 4 });
    expect(emulator.state.meteringDateCount(tenantId, 'api_calls', '2026-11-23')).toBe(4);
    expect(await send({ method: 'GET', path: `${unitPath}/date/22-11-2026` })).toMatchObject({ status: 500 });
  });
});

describe('SaaSus emulator: sign-in codes and tokens', () => {
  it('exchanges a temporary code for tokens within ten seconds and resolves the ID token', async () => {
    const user = emulator.seedUser({ email: 'buyer@example.com' });
    const minted = emulator.mintUserCredentials(String(user.id));
    const exchanged = await send({ method: 'GET', path: `/v1/auth/credentials?code=${minted.code}` });
    expect(exchanged).toMatchObject({
      status: 200,
      body: {
        id_token: minted.id_token,
        access_token: minted.access_token,
        refresh_token: minted.refresh_token,
      },
    });
    const info = await send({ method: 'GET', path: `/v1/auth/userinfo?token=${minted.id_token}` });
    expect(info).toMatchObject({
      status: 200,
      body: { id: user.id, email: 'buyer@example.com', tenants: [] },
    });
    expect(await send({ method: 'GET', path: '/v1/auth/userinfo?token=forged' })).toMatchObject({
      status: 401,
      body: { type: 'invalid_token' },
    });

    realNow = new Date(realNow.getTime() + 11_000);
    expect(await send({ method: 'GET', path: `/v1/auth/credentials?code=${minted.code}` })).toMatchObject({
      status: 404,
    });
  });
});

describe('SaaSus emulator: partner events', () => {
  const sample = JSON.parse(
    readFileSync('../shared/reference/saasus/events/create_tenant.current-2026-05.json', 'utf8'),
  ) as SaasusPartnerEvent;

  it('emits an event shaped like the published sample after a successful change', async () => {
    const body = json({
      name: 'Acme',
      attributes: { memo: 'm' },
      back_office_staff_email: 'staff@example.com',
    });
    const created = await send({
      method: 'POST',
      path: '/v1/auth/tenants',
      body,
      headers: { 'x-saasus-trace-id': 'trace-create-1' },
    });
    expect(received).toHaveLength(1);
    const [event] = received;
    expect(Object.keys(event ?? {}).sort()).toEqual(Object.keys(sample).sort());
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'api_call',
      source: `aws.partner/saasus.io/${credentials.saasId}-1/event`,
      time: '2026-11-22T10:00:00Z',
      resources: [],
      detail: { event_type: 'create_tenant', trace_id: 'trace-create-1' },
    });
    expect(typeof event?.detail.event).toBe('string');
    const record = JSON.parse(event?.detail.event ?? '{}') as Record<string, string>;
    const sampleRecord = JSON.parse(sample.detail.event) as Record<string, string>;
    expect(Object.keys(record).sort()).toEqual(Object.keys(sampleRecord).sort());
    expect(record).toMatchObject({
      http_status: '201',
      uri: '/v1/auth/tenants',
      request_method: 'POST',
      date: '2026-11-22',
      saas_id: credentials.saasId,
    });
    expect(JSON.parse(record.request_body ?? '')).toEqual(JSON.parse(body));
    expect(JSON.parse(record.response_body ?? '')).toEqual(created.body);
    expect(emulator.state.partnerEvents()).toEqual(received);
  });

  it('emits nothing for reads and failed calls, and masks passwords', async () => {
    await send({ method: 'GET', path: '/v1/auth/tenants' });
    await createTenant({ unknown: 1 });
    expect(received).toEqual([]);
    await send({
      method: 'POST',
      path: '/v1/auth/users',
      body: json({ email: 'p@example.com', password: 'Hunter2!x' }),
    });
    expect(received.map((event) => event.detail.event_type)).toEqual(['create_saas_user']);
    expect(received[0]?.detail.event).not.toContain('Hunter2!x');
    expect(received[0]?.detail.event).toContain('xxxxx');
  });
});

describe('SaaSus emulator: faults and call counts', () => {
  it('fails the next matching requests with a status, then serves normally', async () => {
    emulator.faults.failNext(2, { status: 503 }, { operation: 'GetTenants' });
    expect(await send({ method: 'GET', path: '/v1/auth/envs' })).toMatchObject({ status: 200 });
    expect(await send({ method: 'GET', path: '/v1/auth/tenants' })).toMatchObject({
      status: 503,
      body: { type: 'service_unavailable' },
    });
    expect(await send({ method: 'GET', path: '/v1/auth/tenants' })).toMatchObject({ status: 503 });
    expect(await send({ method: 'GET', path: '/v1/auth/tenants' })).toMatchObject({ status: 200 });
    expect(emulator.state.callCount('GetTenants')).toBe(3);
    expect(emulator.faults.pending()).toBe(0);
  });

  it('can apply a request and still answer with an error, without an event', async () => {
    emulator.faults.failNext(1, { status: 500, apply: true }, { method: 'POST', path: '/v1/auth/tenants' });
    expect(await createTenant()).toMatchObject({ status: 500, body: { type: 'internal_server_error' } });
    expect(emulator.state.tenants()).toHaveLength(1);
    expect(received).toEqual([]);
  });

  it('can leave a request unanswered', async () => {
    emulator.faults.failNext(1, { hang: true });
    const url = `${emulator.url}/v1/auth/envs`;
    const authorization = signSaasusRequest({ method: 'GET', url, ...credentials, now: realNow });
    await expect(
      fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(300) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    const [request] = emulator.state.requests();
    expect(request?.operation).toBe('GetEnvs');
    expect(request?.status).toBeUndefined();
  });
});
