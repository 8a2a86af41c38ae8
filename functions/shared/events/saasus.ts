import * as z from 'zod';
import type { SaasusSignal } from '../license/saasus-signal.js';
import {
  accept,
  EventParseError,
  identifier,
  ignore,
  isoTime,
  isPlainObject,
  type ParseOutcome,
  parseJsonText,
  parseWith,
} from './common.js';

/**
 * SaaSus partner events (`aws.partner/saasus.io/...`, detail-type `api_call`): one per SaaSus API
 * call. `detail.event` is the call's API-log record, as JSON text (current docs) or an object
 * (legacy sample); inside it `request_body`/`response_body` are JSON text again, possibly "".
 * Bodies may hold submitted secrets (passwords), so only the identifiers we need leave this module.
 */

const origin = 'saasus';

export const saasusSourcePrefix = 'aws.partner/saasus.io';

/** What we keep of one SaaSus API call. */
export interface SaasusApiCall {
  readonly eventId: string;
  /** Envelope time (ISO): the ordering key SaaSus recommends. */
  readonly time: string;
  readonly traceId?: string;
  readonly eventType: string;
  /** The called path without query string, e.g. `/v1/auth/tenants/<id>/users`. */
  readonly uri: string;
  readonly method: string;
  readonly httpStatus: number;
  readonly tenantId?: string;
  readonly userId?: string;
  /** The plan the call set (`next_plan_id`), where the call sets one. */
  readonly planId?: string;
  readonly email?: string;
}

const envelopeSchema = z.looseObject({
  id: identifier('the event id'),
  'detail-type': identifier('the detail-type'),
  source: z
    .string({ message: 'expected the event source' })
    .refine((source) => source.startsWith(`${saasusSourcePrefix}/`), {
      message: `expected a source starting with ${saasusSourcePrefix}/ (not a SaaSus partner event)`,
    }),
  time: isoTime('the event time'),
  detail: z.looseObject({
    event_type: identifier('detail.event_type'),
    event: z.union([z.string(), z.looseObject({})], {
      message: 'expected detail.event as JSON text or an object',
    }),
    trace_id: z.string().optional(),
  }),
});

const logSchema = z.looseObject({
  uri: identifier('event.uri'),
  request_method: identifier('event.request_method'),
  http_status: z.coerce
    .number({ message: 'expected event.http_status as an HTTP status code' })
    .int('expected event.http_status as an HTTP status code')
    .min(100, 'expected event.http_status as an HTTP status code')
    .max(599, 'expected event.http_status as an HTTP status code'),
  request_body: z.unknown().optional(),
  response_body: z.unknown().optional(),
});

/** A body as an object: JSON text is decoded; "", null, non-JSON text and non-objects count as absent. */
const bodyObject = (body: unknown): Record<string, unknown> | undefined => {
  if (isPlainObject(body)) return body;
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
};

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

const apiPrefix = '(?:/v1)?/auth';
const routes = {
  tenants: new RegExp(`^${apiPrefix}/tenants$`),
  tenant: new RegExp(`^${apiPrefix}/tenants/([^/]+)$`),
  tenantPlans: new RegExp(`^${apiPrefix}/tenants/([^/]+)/plans$`),
  tenantUsers: new RegExp(`^${apiPrefix}/tenants/([^/]+)/users$`),
  tenantUser: new RegExp(`^${apiPrefix}/tenants/([^/]+)/users/([^/]+)$`),
  users: new RegExp(`^${apiPrefix}/users$`),
  user: new RegExp(`^${apiPrefix}/users/([^/]+)$`),
};

const pathTenantId = (path: string): string | undefined =>
  new RegExp(`^${apiPrefix}/tenants/([^/]+)`).exec(path)?.[1];

const pathUserId = (path: string): string | undefined => /\/users\/([^/]+)/.exec(path)?.[1];

const decodePath = (path: string): string => {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
};

interface DecodedCall {
  readonly call: SaasusApiCall;
  /** The decoded bodies; kept inside this module only (they may hold secrets). */
  readonly request?: Record<string, unknown>;
  readonly response?: Record<string, unknown>;
}

const decodeApiCall = (raw: unknown): DecodedCall => {
  const envelope = parseWith(envelopeSchema, raw, 'SaaSus event envelope', origin);
  if (envelope['detail-type'] !== 'api_call') {
    throw new EventParseError(origin, `detail-type "${envelope['detail-type']}" is not an api_call event`);
  }
  const event =
    typeof envelope.detail.event === 'string'
      ? parseJsonText(envelope.detail.event, 'detail.event', origin)
      : envelope.detail.event;
  const log = parseWith(logSchema, event, 'detail.event', origin);
  const uri = decodePath(log.uri.split('?')[0] ?? log.uri);
  const method = log.request_method.toUpperCase();
  const request = bodyObject(log.request_body);
  const response = bodyObject(log.response_body);
  const creates = method === 'POST';
  const tenantId =
    pathTenantId(uri) ??
    text(response?.tenant_id) ??
    text(request?.tenant_id) ??
    (creates && routes.tenants.test(uri) ? text(response?.id) : undefined);
  const userId =
    pathUserId(uri) ??
    (creates && (routes.users.test(uri) || routes.tenantUsers.test(uri)) ? text(response?.id) : undefined) ??
    text(response?.user_id) ??
    text(request?.user_id);
  const planId = text(request?.next_plan_id) ?? text(request?.plan_id) ?? text(response?.plan_id);
  const email = text(response?.email) ?? text(request?.email);
  const traceId = text(envelope.detail.trace_id);
  const call: SaasusApiCall = {
    eventId: envelope.id,
    time: envelope.time,
    ...(traceId ? { traceId } : {}),
    eventType: envelope.detail.event_type,
    uri,
    method,
    httpStatus: log.http_status,
    ...(tenantId ? { tenantId } : {}),
    ...(userId ? { userId } : {}),
    ...(planId ? { planId } : {}),
    ...(email ? { email } : {}),
  };
  return { call, ...(request ? { request } : {}), ...(response ? { response } : {}) };
};

/**
 * Decodes a SaaSus partner event into the API call it reports (identifiers only, no bodies).
 * Throws EventParseError when the envelope or the API-log record is malformed.
 */
export const parseSaasusApiCall = (raw: unknown): SaasusApiCall => decodeApiCall(raw).call;

/** Tenants named in a DeleteSaasUser response (`UserInfo.tenants[].id`), when SaaSus sends them. */
const tenantsOf = (response: Record<string, unknown> | undefined): string[] => {
  const tenants = response?.tenants;
  if (!Array.isArray(tenants)) return [];
  return tenants.flatMap((tenant) => {
    const id = isPlainObject(tenant) ? text(tenant.id) : undefined;
    return id ? [id] : [];
  });
};

/** `using_next_plan_from` is Unix seconds; absent or 0 means "now". */
const unixSecondsToIso = (value: unknown): string | undefined => {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined;
};

const requireField = (value: string | undefined, what: string, call: SaasusApiCall): string => {
  if (value === undefined) {
    throw new EventParseError(origin, `${call.method} ${call.uri} (${call.eventType}) without ${what}`);
  }
  return value;
};

/**
 * Parses a SaaSus partner event into the signal the bridge acts on. Routing is on method + path
 * (SaaSus publishes no list of `event_type` names). Failed calls, reads and calls that do not
 * concern Marketplace tenants are ignored with the reason.
 */
export const parseSaasusEvent = (raw: unknown): ParseOutcome<SaasusSignal> => {
  const { call, request, response } = decodeApiCall(raw);
  const what = `${call.eventType} (${call.method} ${call.uri})`;
  if (call.httpStatus >= 300) return ignore(`${what} failed with HTTP ${call.httpStatus}`, call.eventId);
  if (call.method === 'GET') return ignore(`${what} is a read`, call.eventId);
  const base = {
    eventId: call.eventId,
    time: call.time,
    ...(call.traceId ? { traceId: call.traceId } : {}),
    eventType: call.eventType,
  };
  const { method, uri } = call;
  if (method === 'POST' && routes.tenantUsers.test(uri)) {
    return accept({
      ...base,
      kind: 'tenant-user-created',
      tenantId: requireField(call.tenantId, 'a tenant id', call),
      userId: requireField(call.userId, 'the created user id (response_body.id)', call),
      ...(call.email ? { email: call.email } : {}),
    });
  }
  if (method === 'DELETE' && routes.tenantUser.test(uri)) {
    return accept({
      ...base,
      kind: 'tenant-user-deleted',
      tenantIds: [requireField(call.tenantId, 'a tenant id', call)],
      userId: requireField(call.userId, 'a user id', call),
    });
  }
  if (method === 'DELETE' && routes.user.test(uri)) {
    const tenantIds = tenantsOf(response);
    if (tenantIds.length === 0) {
      return ignore(`${what}: the event names no tenant of the deleted user`, call.eventId);
    }
    return accept({
      ...base,
      kind: 'tenant-user-deleted',
      tenantIds,
      userId: requireField(call.userId, 'a user id', call),
    });
  }
  if (method === 'PUT' && routes.tenantPlans.test(uri)) {
    const effectiveAt = unixSecondsToIso(request?.using_next_plan_from);
    return accept({
      ...base,
      kind: 'tenant-plan-changed',
      tenantId: requireField(call.tenantId, 'a tenant id', call),
      planId: call.planId ?? null,
      ...(effectiveAt ? { effectiveAt } : {}),
    });
  }
  if (method === 'DELETE' && routes.tenant.test(uri)) {
    return accept({
      ...base,
      kind: 'tenant-deleted',
      tenantId: requireField(call.tenantId, 'a tenant id', call),
    });
  }
  return ignore(`${what} does not concern Marketplace licenses`, call.eventId);
};
