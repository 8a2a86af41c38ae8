import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sleep } from '#shared/retry';
import { verifySaasusSignature } from '#shared/saasus/signature';
import { sendJson, startServer } from './http.js';
import { badRequest, faultType, notFound, SaasusEmulatorError } from './saasus/errors.js';
import { partnerEvent, type SaasusPartnerEvent } from './saasus/events.js';
import { Faults } from './saasus/faults.js';
import { type HostedSignInOptions, serveHostedSignIn } from './saasus/hosted-sign-in.js';
import type { DirectMeaning, MeteringRecord } from './saasus/metering.js';
import { matchRoute, type RouteResult } from './saasus/routes.js';
import {
  type AttributeSeed,
  type EnvSeed,
  type MeteringUnitSeed,
  type MintedCredentials,
  type PlanSeed,
  type RoleSeed,
  SaasusState,
  type TenantSeed,
  type UserSeed,
} from './saasus/state.js';

/**
 * A local SaaSus Auth + Pricing API over HTTP, written from the OpenAPI documents: it checks the
 * SAASUSSIGV1 signature of every request, keeps tenants, users, roles, plans and metering counts in
 * memory, emits partner events for successful changes, and can inject faults.
 */

export type { SaasusPartnerEvent } from './saasus/events.js';
export type { Fault, FaultMatch } from './saasus/faults.js';
export type {
  AttributeSeed,
  EnvSeed,
  MeteringUnitSeed,
  MintedCredentials,
  PlanSeed,
  RoleSeed,
  TenantSeed,
  UserSeed,
} from './saasus/state.js';

export interface SaasusEmulatorOptions {
  /** The credentials requests must be signed with. */
  readonly credentials: { readonly saasId: string; readonly apiKey: string; readonly secretKey: string };
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Business clock (plan changes, `now` metering, `today`, event times); the sandbox's simulated clock. */
  readonly now?: () => Date;
  /** Serve the stand-in hosted sign-in (`/sign-in`) that returns a temporary code to this callback. */
  readonly hostedSignIn?: HostedSignInOptions;
  /** Clock for signature timestamps and temporary-code expiry; real time by default. */
  readonly signatureNow?: () => Date;
  /** Delay before answering each request. */
  readonly latencyMs?: number;
  /** Called after each successful non-GET call; errors it throws are ignored. */
  readonly onPartnerEvent?: (event: SaasusPartnerEvent) => void | Promise<void>;
  /** Default: env 3 "production". */
  readonly envs?: readonly EnvSeed[];
  /** Role names or roles; default `admin`. */
  readonly roles?: readonly (string | RoleSeed)[];
  readonly plans?: readonly PlanSeed[];
  readonly tenantAttributes?: readonly AttributeSeed[];
  /** When given, metering calls for other units answer 404; otherwise any unit name is accepted. */
  readonly meteringUnits?: readonly MeteringUnitSeed[];
  /** IANA time zone of metering days; default UTC. */
  readonly meteringTimeZone?: string;
  /**
   * UpdateTenantPlan without `next_plan_id` (undocumented): `removes-plan` (default) or `ignored`,
   * to check that a caller reads the plan back.
   */
  readonly emptyPlanReservation?: 'removes-plan' | 'ignored';
  /** What `method: direct` overwrites (undocumented): the second's count (default) or the day's. */
  readonly meteringDirect?: DirectMeaning;
  /** Default `aws.partner/saasus.io/<saasId>-1/event`. */
  readonly partnerEventSource?: string;
  readonly eventAccount?: string;
  readonly eventRegion?: string;
  /** Lifetime of temporary codes; the API documents 10 s. */
  readonly tempCodeTtlMs?: number;
  /** Called with every answered request (for contract checks); errors it throws are ignored. */
  readonly onExchange?: (exchange: SaasusExchange) => void;
}

/** One request and the emulator's answer, as sent over the wire. */
export interface SaasusExchange {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  /** Raw request body; empty when none was sent. */
  readonly requestBody: string;
  readonly status: number;
  /** Raw response body; empty when none was sent. */
  readonly responseBody: string;
  /**
   * What answered: an operation (the emulator's model of the documented API), an injected fault (the
   * test's choice), or the signature check (undocumented: the spec does not say how SaaSus answers a
   * bad signature).
   */
  readonly answeredBy: 'operation' | 'fault' | 'signature';
}

export interface RecordedRequest {
  /** Operation id, or `Unknown` for an unrouted path. */
  operation: string;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** The `X-SaaSus-Trace-Id` the client sent, or the one the emulator generated. */
  readonly traceId: string;
  /** The trace id header as received; undefined when the client sent none. */
  readonly receivedTraceId: string | undefined;
  /** Undefined while unanswered (or never, for a hang). */
  status?: number;
  /** `X-SaaSus-Referer`, else `Referer`, as received (SaaSus records it in the sign-in history). */
  readonly referer: string | undefined;
}

export interface SaasusEmulatorReadState {
  tenants(): Record<string, unknown>[];
  tenant(tenantId: string): Record<string, unknown> | undefined;
  saasUsers(): Record<string, unknown>[];
  /** Tenant users of one tenant, or of every tenant. */
  tenantUsers(tenantId?: string): Record<string, unknown>[];
  /** Raw per-timestamp metering counts. */
  meteringCounts(tenantId?: string): MeteringRecord[];
  /** A unit's count for a day (`YYYY-MM-DD` in the metering time zone). */
  meteringDateCount(tenantId: string, unitName: string, date: string): number;
  partnerEvents(): SaasusPartnerEvent[];
  /** The partner event source SaaSus created after EventBridge settings were saved (none before). */
  partnerEventSources(): { name: string; account: string; region: string }[];
  requests(): RecordedRequest[];
  /** How many requests reached an operation (faulted and failed ones included). */
  callCount(operation: string): number;
}

export interface SaasusEmulator {
  readonly url: string;
  readonly port: number;
  readonly state: SaasusEmulatorReadState;
  readonly faults: Faults;
  /** Replaces the pricing plans. */
  setPlans(plans: readonly PlanSeed[]): void;
  /** Creates a SaaS user without an API call (no event). */
  seedUser(seed: UserSeed): Record<string, unknown>;
  /** Creates a tenant without an API call (no event). */
  seedTenant(seed: TenantSeed): Record<string, unknown>;
  /** Tokens and a temporary code for a user, as the SaaSus sign-in page would hand out. */
  mintUserCredentials(userId: string): MintedCredentials;
  close(): Promise<void>;
}

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const parseJsonBody = (body: string): unknown => {
  if (body === '') return undefined;
  try {
    return JSON.parse(body);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
};

export const startSaasusEmulator = async (options: SaasusEmulatorOptions): Promise<SaasusEmulator> => {
  const now = options.now ?? (() => new Date());
  const signatureNow = options.signatureNow ?? (() => new Date());
  const { credentials } = options;
  const state = new SaasusState({
    now,
    realNow: signatureNow,
    envs: options.envs ?? [{ id: 3, name: 'production', display_name: 'Production' }],
    roles: (options.roles ?? ['admin']).map((role) =>
      typeof role === 'string' ? { role_name: role, display_name: role } : role,
    ),
    plans: options.plans ?? [],
    tenantAttributes: options.tenantAttributes ?? [],
    meteringUnits: options.meteringUnits ?? [],
    meteringTimeZone: options.meteringTimeZone ?? 'UTC',
    meteringDirect: options.meteringDirect ?? 'second',
    emptyPlanReservation: options.emptyPlanReservation ?? 'removes-plan',
    tempCodeTtlMs: options.tempCodeTtlMs ?? 10_000,
  });
  const faults = new Faults();
  const requests: RecordedRequest[] = [];
  const events: SaasusPartnerEvent[] = [];
  const envelope = {
    source: options.partnerEventSource ?? `aws.partner/saasus.io/${credentials.saasId}-1/event`,
    account: options.eventAccount ?? '123456789012',
    region: options.eventRegion ?? 'us-east-1',
  };

  const emit = (event: SaasusPartnerEvent) => {
    events.push(event);
    try {
      Promise.resolve(options.onPartnerEvent?.(event)).catch(() => {});
    } catch {
      // A failing listener must not turn a successful API call into an error.
    }
  };

  const handle = async (request: IncomingMessage, rawBody: string, response: ServerResponse) => {
    if (serveHostedSignIn(request, rawBody, response, state, options.hostedSignIn)) return;
    if (options.latencyMs) await sleep(options.latencyMs);
    const url = new URL(request.url ?? '/', 'http://emulator');
    const method = (request.method ?? 'GET').toUpperCase();
    const receivedTraceId = header(request, 'x-saasus-trace-id');
    const traceId = receivedTraceId || randomUUID();
    const responseHeaders = { 'x-saasus-trace-id': traceId };
    const recorded: RecordedRequest = {
      operation: 'Unknown',
      method,
      path: url.pathname,
      traceId,
      receivedTraceId,
      referer: header(request, 'x-saasus-referer') ?? header(request, 'referer'),
    };
    requests.push(recorded);
    const observe = (status: number, responseBody: string, answeredBy: SaasusExchange['answeredBy']) => {
      try {
        options.onExchange?.({
          method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: Object.fromEntries(
            Object.entries(request.headers).map(([name, value]) => [
              name,
              Array.isArray(value) ? value.join(', ') : (value ?? ''),
            ]),
          ),
          requestBody: rawBody,
          status,
          responseBody,
          answeredBy,
        });
      } catch {
        // An observer must not change the answer.
      }
    };
    let answeredBy: SaasusExchange['answeredBy'] = 'operation';
    const answer = (status: number, body: unknown) => {
      recorded.status = status;
      const payload = body === undefined ? '' : JSON.stringify(body);
      if (body === undefined) {
        response.writeHead(status, responseHeaders);
        response.end();
      } else {
        sendJson(response, status, body, responseHeaders);
      }
      observe(status, payload, answeredBy);
    };

    try {
      const found = matchRoute(method, url.pathname);
      if (found) recorded.operation = 'route' in found ? found.route.operation : found.unserved.operation;

      const verification = verifySaasusSignature({
        method,
        // What the client signed: the Host it addressed plus the path and query it sent.
        url: `http://${header(request, 'host') ?? ''}${request.url ?? '/'}`,
        body: rawBody,
        authorization: header(request, 'authorization'),
        credentials,
        now: signatureNow(),
      });
      if (!verification.valid) {
        answeredBy = 'signature';
        throw new SaasusEmulatorError(401, 'unauthorized', verification.message);
      }
      if (!found) throw notFound(`no SaaSus API operation ${method} ${url.pathname}`);
      if (!('route' in found)) {
        const { unserved } = found;
        throw new SaasusEmulatorError(
          501,
          'not_served',
          `${unserved.operation} (${unserved.method} ${unserved.path}) is a SaaSus API operation this emulator does not serve`,
        );
      }
      const match = found;

      const fault = faults.take({ method, path: url.pathname, operation: match.route.operation });
      const run = (): RouteResult => {
        state.applyDueReservations();
        try {
          return match.route.handle({
            params: match.params,
            query: url.searchParams,
            body: parseJsonBody(rawBody),
            state,
          });
        } catch (error) {
          // SaaSus answers every failure it does not declare as the 500 it declares for all.
          if (error instanceof SaasusEmulatorError && !match.declaredStatuses.includes(error.status)) {
            throw new SaasusEmulatorError(500, error.type, error.message);
          }
          throw error;
        }
      };
      if (fault) {
        if (fault.apply) run();
        if ('hang' in fault) return;
        recorded.status = fault.status;
        const payload =
          fault.rawBody ??
          JSON.stringify(
            fault.body ?? {
              type: faultType(fault.status),
              message: `injected fault (HTTP ${fault.status})`,
            },
          );
        response.writeHead(fault.status, { 'content-type': 'application/json', ...responseHeaders });
        response.end(payload);
        observe(fault.status, payload, 'fault');
        return;
      }

      const result = run();
      answer(result.status, result.body);
      if (method !== 'GET' && match.route.eventType) {
        emit(
          partnerEvent(
            {
              eventType: match.route.eventType,
              time: now(),
              traceId,
              method,
              uri: url.pathname,
              status: result.status,
              ipAddress: `${request.socket.remoteAddress ?? ''}:${request.socket.remotePort ?? ''}`,
              referer: header(request, 'x-saasus-referer') ?? header(request, 'referer') ?? '',
              saasId: credentials.saasId,
              apiKey: credentials.apiKey,
              requestBody: rawBody,
              responseBody: result.body === undefined ? '' : JSON.stringify(result.body),
            },
            envelope,
          ),
        );
      }
    } catch (error) {
      if (error instanceof SaasusEmulatorError) {
        answer(error.status, { type: error.type, message: error.message });
      } else {
        // An emulator bug, not a SaaSus answer: say so plainly.
        answer(500, { type: 'internal_server_error', message: `emulator error: ${String(error)}` });
      }
    }
  };

  const server = await startServer(handle, options.port ?? 0);

  const readState: SaasusEmulatorReadState = {
    tenants: () => state.listTenants().tenants as Record<string, unknown>[],
    tenant: (tenantId) => {
      try {
        return state.getTenant(tenantId);
      } catch {
        return undefined;
      }
    },
    saasUsers: () => state.listSaasUsers().users as Record<string, unknown>[],
    tenantUsers: (tenantId) =>
      (tenantId === undefined ? readState.tenants().map((tenant) => String(tenant.id)) : [tenantId]).flatMap(
        (id) => state.listTenantUsers(id).users as Record<string, unknown>[],
      ),
    meteringCounts: (tenantId) => state.meteringRecords(tenantId),
    meteringDateCount: (tenantId, unitName, date) =>
      Number(state.meteringDateCount(tenantId, unitName, date).count),
    partnerEvents: () => structuredClone(events),
    partnerEventSources: () => {
      const settings = state.integration.settings;
      return settings
        ? [{ name: envelope.source, account: settings.aws_account_id, region: settings.aws_region }]
        : [];
    },
    requests: () => requests.map((entry) => ({ ...entry })),
    callCount: (operation) => requests.filter((entry) => entry.operation === operation).length,
  };

  return {
    url: server.url,
    port: server.port,
    state: readState,
    faults,
    setPlans: (plans) => state.setPlans(plans),
    seedUser: (seed) => state.seedUser(seed),
    seedTenant: (seed) => state.seedTenant(seed),
    mintUserCredentials: (userId) => state.mintUserCredentials(userId),
    close: () => server.close(),
  };
};
