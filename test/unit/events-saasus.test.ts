import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventParseError } from '#shared/events/common';
import { parseSaasusApiCall, parseSaasusEvent } from '#shared/events/saasus';
import { type SaasusSignal, saasusSignalTenantIds } from '#shared/license/saasus-signal';

const eventsDir = new URL('../../../shared/reference/saasus/events/', import.meta.url);
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(name, eventsDir), 'utf8')) as Record<string, unknown>;

const tenantId = '7b0e6c1e-0000-4000-8000-00000000000a';
const userId = '5d1c8f0a-0000-4000-8000-00000000000b';

/** A SaaSus api_call event in the current format: `event` and its bodies are JSON text. */
const apiCall = (
  call: { uri: string; method: string; status?: number | string; request?: unknown; response?: unknown },
  { asObject = false, time = '2026-07-01T09:00:00Z', id = 'evt-1' } = {},
) => {
  const body = (value: unknown) => (value === undefined ? '' : asObject ? value : JSON.stringify(value));
  const event = {
    log_id: 'log-1',
    date_time: time,
    http_status: String(call.status ?? 200),
    uri: call.uri,
    request_method: call.method,
    saas_id: 'sample',
    api_key: 'sample',
    request_body: body(call.request),
    response_body: body(call.response),
  };
  return {
    version: '0',
    id,
    'detail-type': 'api_call',
    source: 'aws.partner/saasus.io/00000000-0000-0000-0000-000000000000-1/event',
    account: '111122223333',
    time,
    region: 'ap-northeast-1',
    resources: [],
    detail: { event_type: 'some_call', event: asObject ? event : JSON.stringify(event), trace_id: 'trace-1' },
  };
};

const accepted = (raw: unknown): SaasusSignal => {
  const outcome = parseSaasusEvent(raw);
  if (!outcome.ok) throw new Error(`expected a signal, got ignored: ${outcome.ignored}`);
  return outcome.signal;
};

const rejection = (raw: unknown): string => {
  try {
    parseSaasusEvent(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(EventParseError);
    return (error as EventParseError).reason;
  }
  throw new Error('expected the event to be rejected');
};

describe('SaaSus published samples', () => {
  const expectations: Record<string, { call: Record<string, unknown>; ignored: RegExp }> = {
    'create_eventbridge_test_event.screenshot-2023-01.json': {
      call: {
        eventType: 'create_eventbridge_test_event',
        uri: '/v1/integration/eventbridge/test-event',
        method: 'POST',
        httpStatus: 201,
        traceId: 'f74ea689-f647-444d-aadb-c6d669521feb',
        time: '2023-01-22T10:22:42.000Z',
      },
      ignored: /does not concern Marketplace licenses/,
    },
    'create_saas_user.current-2026-05.json': {
      call: {
        eventType: 'create_saas_user',
        uri: '/v1/auth/users',
        method: 'POST',
        httpStatus: 201,
        userId: '66ccc133-67ea-4be4-9c1d-7bddf325a790',
        email: 'AmazonEventBridgeTest@example.com',
      },
      ignored: /create_saas_user \(POST \/v1\/auth\/users\) does not concern/,
    },
    'create_saas_user.legacy-2023-10.json': {
      call: {
        eventType: 'create_saas_user',
        uri: '/v1/auth/users',
        userId: '075dbcde-b5c3-4c64-8a04-204fee8b5073',
        email: 'AmazonEventBridgeTest_user@example.com',
      },
      ignored: /does not concern Marketplace licenses/,
    },
    'create_tenant.current-2026-05.json': {
      call: {
        eventType: 'create_tenant',
        uri: '/v1/auth/tenants',
        method: 'POST',
        tenantId: 'fc84307d-e285-4854-8c16-21a6871a2a13',
        traceId: '6aae5af4-7ee4-4de3-bd1d-5ebf13767cbf',
        time: '2026-05-19T02:22:58.000Z',
      },
      ignored: /create_tenant \(POST \/v1\/auth\/tenants\) does not concern/,
    },
    'create_tenant.legacy-2023-10.json': {
      call: { eventType: 'create_tenant', tenantId: 'fe27b501-be9e-424c-9f4a-a199dea81f92', httpStatus: 201 },
      ignored: /does not concern Marketplace licenses/,
    },
  };

  it('has an expectation for every published sample', () => {
    const files = readdirSync(eventsDir).filter((name) => name.endsWith('.json'));
    expect(files.sort()).toEqual(Object.keys(expectations).sort());
  });

  it.each(Object.entries(expectations))('%s', (name, expected) => {
    const raw = fixture(name);
    const call = parseSaasusApiCall(raw);
    expect(call).toMatchObject({ eventId: raw.id, ...expected.call });
    // Submitted passwords never leave the parser.
    expect(JSON.stringify(call)).not.toContain('xxxxx');
    const outcome = parseSaasusEvent(raw);
    expect(outcome).toMatchObject({
      ok: false,
      ignored: expect.stringMatching(expected.ignored),
      eventId: raw.id,
    });
  });
});

describe('parseSaasusEvent signals', () => {
  it.each([false, true])('tenant user created (event as object: %s)', (asObject) => {
    const signal = accepted(
      apiCall(
        {
          uri: `/v1/auth/tenants/${tenantId}/users`,
          method: 'POST',
          status: 201,
          request: { email: 'admin@example.com', attributes: {} },
          response: { id: userId, tenant_id: tenantId, email: 'admin@example.com' },
        },
        { asObject },
      ),
    );
    expect(signal).toEqual({
      eventId: 'evt-1',
      time: '2026-07-01T09:00:00.000Z',
      traceId: 'trace-1',
      eventType: 'some_call',
      kind: 'tenant-user-created',
      tenantId,
      userId,
      email: 'admin@example.com',
    });
    expect(saasusSignalTenantIds(signal)).toEqual([tenantId]);
  });

  it('tenant user deleted', () => {
    const signal = accepted(
      apiCall({ uri: `/v1/auth/tenants/${tenantId}/users/${userId}`, method: 'DELETE' }),
    );
    expect(signal).toMatchObject({ kind: 'tenant-user-deleted', tenantIds: [tenantId], userId });
  });

  it('SaaS user deleted: every tenant named in the response', () => {
    const signal = accepted(
      apiCall({
        uri: `/v1/auth/users/${userId}`,
        method: 'DELETE',
        response: { id: userId, email: 'a@example.com', tenants: [{ id: tenantId }, { id: 't2' }] },
      }),
    );
    expect(signal).toMatchObject({ kind: 'tenant-user-deleted', userId });
    expect(saasusSignalTenantIds(signal)).toEqual([tenantId, 't2']);
    const withoutTenants = parseSaasusEvent(apiCall({ uri: `/v1/auth/users/${userId}`, method: 'DELETE' }));
    expect(withoutTenants).toMatchObject({ ok: false, ignored: expect.stringMatching(/names no tenant/) });
  });

  it('tenant plan changed, now or reserved, and plan removed', () => {
    expect(
      accepted(
        apiCall({
          uri: `/v1/auth/tenants/${tenantId}/plans`,
          method: 'PUT',
          request: { next_plan_id: 'p2' },
        }),
      ),
    ).toMatchObject({ kind: 'tenant-plan-changed', tenantId, planId: 'p2' });
    const reserved = accepted(
      apiCall({
        uri: `/v1/auth/tenants/${tenantId}/plans`,
        method: 'PUT',
        request: { next_plan_id: 'p3', using_next_plan_from: 1798761600 },
      }),
    );
    expect(reserved).toMatchObject({ planId: 'p3', effectiveAt: '2027-01-01T00:00:00.000Z' });
    expect(
      accepted(apiCall({ uri: `/v1/auth/tenants/${tenantId}/plans`, method: 'PUT', request: {} })),
    ).toMatchObject({ kind: 'tenant-plan-changed', planId: null });
  });

  it('tenant deleted, with a query string on the uri', () => {
    expect(
      accepted(apiCall({ uri: `/v1/auth/tenants/${tenantId}?force=true`, method: 'delete' })),
    ).toMatchObject({
      kind: 'tenant-deleted',
      tenantId,
    });
  });

  it.each([
    [
      'a failed call',
      { uri: `/v1/auth/tenants/${tenantId}`, method: 'DELETE', status: 404 },
      /failed with HTTP 404/,
    ],
    ['a read', { uri: `/v1/auth/tenants/${tenantId}`, method: 'GET' }, /is a read/],
    [
      'a role change',
      { uri: `/v1/auth/tenants/${tenantId}/users/${userId}/envs/3/roles`, method: 'POST' },
      /does not concern/,
    ],
  ])('ignores %s', (_what, call, reason) => {
    expect(parseSaasusEvent(apiCall(call))).toMatchObject({
      ok: false,
      ignored: expect.stringMatching(reason),
    });
  });

  it.each([
    [
      'a non-SaaSus source',
      { ...apiCall({ uri: '/v1/auth/tenants', method: 'POST' }), source: 'aws.events' },
      /aws.partner\/saasus.io/,
    ],
    [
      'another detail-type',
      { ...apiCall({ uri: '/v1/auth/tenants', method: 'POST' }), 'detail-type': 'custom' },
      /"custom" is not an api_call event/,
    ],
    [
      'detail.event that is not JSON',
      {
        ...apiCall({ uri: '/v1/auth/tenants', method: 'POST' }),
        detail: { event_type: 'x', event: '{oops' },
      },
      /detail.event is not valid JSON/,
    ],
    ['a missing uri', apiCall({ uri: '', method: 'POST' }), /event.uri/],
    [
      'a bad http status',
      apiCall({ uri: '/v1/auth/tenants', method: 'POST', status: 'teapot' }),
      /http_status/,
    ],
    [
      'a created tenant user without its id',
      apiCall({ uri: `/v1/auth/tenants/${tenantId}/users`, method: 'POST', response: {} }),
      /without the created user id/,
    ],
  ])('rejects %s', (_what, raw, reason) => {
    expect(rejection(raw)).toMatch(reason);
  });
});
