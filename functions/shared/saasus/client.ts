import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { z } from 'zod';
import { logger as sharedLogger } from '../powertools.js';
import { isRetryable, type RetryOptions, withRetry } from '../retry.js';
import type { SecretSource } from '../secrets.js';
import { clientErrorTypes, isTransientStatus, SaasusApiError, SaasusInputError } from './errors.js';
import {
  type Attribute,
  type AttributeInput,
  type AuthCredentials,
  attributeInputSchema,
  attributeSchema,
  authCredentialsSchema,
  type CreatedSaasUser,
  type CreateSaasUserInput,
  type CreateTenantUserInput,
  createdSaasUserSchema,
  createSaasUserInputSchema,
  createTenantUserInputSchema,
  type Env,
  type EventBridgeSettings,
  envsSchema,
  errorBodySchema,
  eventBridgeSettingsInputSchema,
  eventBridgeSettingsSchema,
  type MeteringCountUpdate,
  type MeteringUnitDateCount,
  type MeteringUnitTimestampCount,
  meteringCountUpdateSchema,
  meteringUnitDateCountsSchema,
  meteringUnitsSchema,
  meteringUnitTimestampCountSchema,
  type PlanReservation,
  type PricingPlan,
  planReservationSchema,
  pricingPlanSchema,
  pricingPlansSchema,
  type SaasUser,
  saasUsersSchema,
  saasusCredentialsSchema,
  type Tenant,
  type TenantDetail,
  type TenantProps,
  type TenantUser,
  tenantAttributesSchema,
  tenantDetailSchema,
  tenantPropsSchema,
  tenantSchema,
  tenantsSchema,
  tenantUserSchema,
  tenantUsersSchema,
  type UserInfo,
  userInfoSchema,
} from './schemas.js';
import { signSaasusRequest } from './signature.js';

/** The logger methods the client uses; a Powertools Logger fits. */
export type SaasusLogger = Pick<Logger, 'info' | 'warn'>;

export interface SaasusClientOptions {
  /** API origin, e.g. `https://api.saasus.io` (paths `/v1/auth/...`, `/v1/pricing/...` are appended). */
  readonly baseUrl: string;
  /** Where the `{ saasId, apiKey, secretKey }` secret is read from (cached by the source). */
  readonly secrets: SecretSource;
  readonly secretName: string;
  /** Per attempt, including reading the body. Default 10 s. */
  readonly timeoutMs?: number;
  /** Backoff for idempotent calls; `isRetryable`/`onRetry` add to the client's own rules. */
  readonly retry?: Partial<RetryOptions>;
  readonly fetch?: typeof fetch;
  /** Clock used for signature timestamps. */
  readonly now?: () => Date;
  readonly logger?: SaasusLogger;
}

export interface CallOptions {
  /** Sent as `X-SaaSus-Trace-Id` (SaaSus echoes it into partner events); generated when omitted. */
  readonly traceId?: string;
}

export interface UserInfoCallOptions extends CallOptions {
  /**
   * The page the buyer came from, sent as `X-SaaSus-Referer` (SaaSus records GetUserInfo calls that
   * carry it in the user's sign-in history); omitted when absent.
   */
  readonly referer?: string;
}

/**
 * Exactly-once creation: a POST is never retried by the client, because a POST whose response was
 * lost may already have been applied. A caller that must create something exactly once looks it up
 * first (e.g. `findSaasUserByEmail`, `listTenantUsers`, or the tenant id it stored) and creates it only
 * when absent; after a failed POST it repeats that look-up before trying again.
 */
export interface SaasusClient {
  createTenant(props: TenantProps, options?: CallOptions): Promise<Tenant>;
  getTenant(tenantId: string, options?: CallOptions): Promise<TenantDetail>;
  listTenants(options?: CallOptions): Promise<Tenant[]>;
  /** Replaces name, attributes and back-office email (all required by the API). */
  updateTenant(tenantId: string, props: TenantProps, options?: CallOptions): Promise<void>;
  /** Changes or (without `next_plan_id`) removes the plan; without `using_next_plan_from`, immediately. */
  updateTenantPlan(tenantId: string, reservation: PlanReservation, options?: CallOptions): Promise<void>;

  listTenantAttributes(options?: CallOptions): Promise<Attribute[]>;
  createTenantAttribute(attribute: AttributeInput, options?: CallOptions): Promise<Attribute>;

  createSaasUser(input: CreateSaasUserInput, options?: CallOptions): Promise<CreatedSaasUser>;
  listSaasUsers(options?: CallOptions): Promise<SaasUser[]>;
  /** The SaaS user with this email (compared case-insensitively), or undefined. */
  findSaasUserByEmail(email: string, options?: CallOptions): Promise<SaasUser | undefined>;
  /** Deletes the user from every tenant and the SaaS; returns the user as it was. */
  deleteSaasUser(userId: string, options?: CallOptions): Promise<UserInfo>;

  /** Adds an existing SaaS user to a tenant. */
  createTenantUser(
    tenantId: string,
    input: CreateTenantUserInput,
    options?: CallOptions,
  ): Promise<TenantUser>;
  listTenantUsers(tenantId: string, options?: CallOptions): Promise<TenantUser[]>;
  deleteTenantUser(tenantId: string, userId: string, options?: CallOptions): Promise<void>;
  addTenantUserRoles(
    tenantId: string,
    userId: string,
    envId: number,
    roleNames: readonly string[],
    options?: CallOptions,
  ): Promise<void>;
  removeTenantUserRole(
    tenantId: string,
    userId: string,
    envId: number,
    roleName: string,
    options?: CallOptions,
  ): Promise<void>;

  listEnvs(options?: CallOptions): Promise<Env[]>;
  /** The metering units the SaaS defined (`GET /v1/pricing/metering/units`). */
  listMeteringUnits(options?: CallOptions): Promise<{ id: string; unit_name: string; used: boolean }[]>;
  listPricingPlans(options?: CallOptions): Promise<PricingPlan[]>;
  getPricingPlan(planId: string, options?: CallOptions): Promise<PricingPlan>;

  /** Every metering unit's count for a calendar day (`YYYY-MM-DD`). */
  getMeteringCountsForDate(
    tenantId: string,
    date: string,
    options?: CallOptions,
  ): Promise<MeteringUnitDateCount[]>;
  /**
   * Updates the count at the current time. Only `direct` is retried: a lost `add`/`sub` response
   * cannot be told from a lost request, and repeating it would count twice.
   */
  updateMeteringCountNow(
    tenantId: string,
    unitName: string,
    update: MeteringCountUpdate,
    options?: CallOptions,
  ): Promise<MeteringUnitTimestampCount>;
  /** As `updateMeteringCountNow`, at a Unix time in seconds. */
  updateMeteringCountAt(
    tenantId: string,
    unitName: string,
    unixSeconds: number,
    update: MeteringCountUpdate,
    options?: CallOptions,
  ): Promise<MeteringUnitTimestampCount>;

  /** Exchanges the temporary `code` SaaSus passes to the callback URL for the user's tokens. */
  getCredentials(code: string, options?: CallOptions): Promise<AuthCredentials>;
  /** The signed-in user, their tenants, envs and roles. The API takes the user's ID token. */
  getUserInfo(idToken: string, options?: UserInfoCallOptions): Promise<UserInfo>;

  /**
   * The account and region SaaSus sends partner events to; undefined when an answer says none is
   * set (404 or empty values, tolerated). Never set, SaaSus's spec allows only its 500 (an error).
   */
  getEventBridgeSettings(options?: CallOptions): Promise<EventBridgeSettings | undefined>;
  /** Points SaaSus's partner event source at an account and region (SaaSus creates the source there). */
  saveEventBridgeSettings(settings: EventBridgeSettings, options?: CallOptions): Promise<void>;
  /** Asks SaaSus to send a test event through the partner event source ("Test EventBridge Connection"). */
  sendEventBridgeTestEvent(options?: CallOptions): Promise<void>;
}

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const IDEMPOTENT_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'PUT', 'PATCH', 'DELETE']);

interface ApiRequest<T> {
  readonly method: HttpMethod;
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  /** Extra headers (never signed). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Response schema; omitted when the operation answers without a body. */
  readonly response?: z.ZodType<T>;
  /** Overrides the method's idempotency (a PUT that adds to a count is not idempotent). */
  readonly idempotent?: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY = { retries: 3, baseDelayMs: 200, maxDelayMs: 3_000 } as const;
const MAX_REPORTED_ISSUES = 5;

/** Zod issues as one line of `path: problem` (never the offending values, which may be secret). */
const oneLine = (error: z.ZodError) =>
  error.issues
    .slice(0, MAX_REPORTED_ISSUES)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');

const validInput = <T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> => {
  const result = schema.safeParse(value);
  if (!result.success) throw new SaasusInputError(`Invalid ${what}: ${oneLine(result.error)}`);
  return result.data;
};

const requireText = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SaasusInputError(`Invalid ${what}: expected a non-empty string`);
  }
  return value;
};

/** A path segment: non-empty, percent-encoded so an id can never change the path. */
const segment = (value: unknown, what: string): string => encodeURIComponent(requireText(value, what));

const envSegment = (envId: unknown): string => {
  if (typeof envId !== 'number' || !Number.isSafeInteger(envId) || envId <= 0) {
    throw new SaasusInputError('Invalid env id: expected a positive integer such as 3');
  }
  return String(envId);
};

const dateSegment = (date: unknown): string => {
  const valid =
    typeof date === 'string' &&
    /^\d{4}-\d{2}-\d{2}$/.test(date) &&
    new Date(`${date}T00:00:00Z`).toISOString().startsWith(date);
  if (!valid) throw new SaasusInputError('Invalid date: expected a calendar date as YYYY-MM-DD');
  return date;
};

const unixSecondsSegment = (value: unknown): string => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SaasusInputError('Invalid timestamp: expected Unix time in whole seconds');
  }
  return String(value);
};

const isTimeout = (error: unknown) => {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
};

const parseJson = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

export const createSaasusClient = (options: SaasusClientOptions): SaasusClient => {
  let origin: string;
  try {
    const parsed = new URL(options.baseUrl);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('not http(s)');
    origin = parsed.href.replace(/\/+$/, '');
  } catch {
    throw new SaasusInputError(
      'Invalid SaaSus baseUrl: expected an http(s) URL such as https://api.saasus.io',
    );
  }
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  const log = options.logger ?? sharedLogger;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const call = async <T>(request: ApiRequest<T>, callOptions: CallOptions = {}): Promise<T> => {
    const traceId = callOptions.traceId ?? randomUUID();
    const credentials = await options.secrets.getJson(options.secretName, saasusCredentialsSchema);
    const url = new URL(`${origin}${request.path}`);
    for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const idempotent = request.idempotent ?? IDEMPOTENT_METHODS.has(request.method);
    // Logged and put in errors: never the query string (it may carry a token) nor the body.
    const context = { method: request.method, path: url.pathname, traceId };

    const fail = (status: number, type: string, detail: string, cause?: unknown) =>
      new SaasusApiError({
        ...context,
        status,
        type,
        detail,
        retryable: status === 0 || isTransientStatus(status),
        cause,
      });

    const attempt = async (attemptNumber: number): Promise<T> => {
      const started = Date.now();
      const logAttempt = (status: number, errorType?: string) => {
        const entry = { ...context, status, attempt: attemptNumber + 1, durationMs: Date.now() - started };
        if (errorType === undefined) log.info('SaaSus API call', entry);
        else log.warn('SaaSus API call failed', { ...entry, errorType });
      };
      const headers: Record<string, string> = {
        ...request.headers,
        // Signed per attempt: a retry may fall into the next minute.
        authorization: signSaasusRequest({ method: request.method, url, body, ...credentials, now: now() }),
        'x-saasus-trace-id': traceId,
        accept: 'application/json',
      };
      if (body !== undefined) headers['content-type'] = 'application/json';

      let response: Response | undefined;
      let text: string;
      try {
        response = await fetchImpl(url, {
          method: request.method,
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        const timedOut = isTimeout(error);
        const type = timedOut ? clientErrorTypes.timeout : clientErrorTypes.network;
        logAttempt(response?.status ?? 0, type);
        // A response whose body never finished is as unreliable as no response: status 0.
        throw fail(
          0,
          type,
          timedOut ? `no complete response within ${timeoutMs} ms` : 'the request failed before a response',
          error,
        );
      }

      if (!response.ok) {
        const json = parseJson(text);
        const errorBody = json.ok ? errorBodySchema.safeParse(json.value) : undefined;
        const type = errorBody?.success ? errorBody.data.type : clientErrorTypes.unknown;
        logAttempt(response.status, type);
        throw errorBody?.success
          ? fail(response.status, errorBody.data.type, errorBody.data.message)
          : fail(response.status, type, `HTTP ${response.status} without a SaaSus error body`);
      }

      if (!request.response) {
        logAttempt(response.status);
        return undefined as T;
      }
      const json = parseJson(text);
      const parsed = json.ok ? request.response.safeParse(json.value) : undefined;
      if (!parsed?.success) {
        logAttempt(response.status, clientErrorTypes.invalidResponse);
        const problem = parsed ? oneLine(parsed.error) : 'the body is not JSON';
        // Not retryable: the status is a success, and asking again will not fix the shape.
        throw fail(
          response.status,
          clientErrorTypes.invalidResponse,
          `response does not match the SaaSus API schema: ${problem}`,
        );
      }
      logAttempt(response.status);
      return parsed.data;
    };

    return withRetry(attempt, {
      ...DEFAULT_RETRY,
      ...options.retry,
      isRetryable: (error) =>
        idempotent && isRetryable(error) && (options.retry?.isRetryable?.(error) ?? true),
      onRetry: (error, attemptNumber, delayMs) => {
        log.warn('Retrying SaaSus API call', { ...context, retry: attemptNumber, delayMs });
        options.retry?.onRetry?.(error, attemptNumber, delayMs);
      },
    });
  };

  const tenantPath = (tenantId: string) => `/v1/auth/tenants/${segment(tenantId, 'tenant id')}`;
  const tenantUserPath = (tenantId: string, userId: string) =>
    `${tenantPath(tenantId)}/users/${segment(userId, 'user id')}`;
  const meteringUnitPath = (tenantId: string, unitName: string) =>
    `/v1/pricing/metering/tenants/${segment(tenantId, 'tenant id')}/units/${segment(unitName, 'metering unit name')}`;
  const meteringUpdate = (update: MeteringCountUpdate) => {
    const body = validInput(meteringCountUpdateSchema, update, 'metering count update');
    return { body, idempotent: body.method === 'direct' };
  };

  const listSaasUsers = async (callOptions?: CallOptions) =>
    (await call({ method: 'GET', path: '/v1/auth/users', response: saasUsersSchema }, callOptions)).users;

  return {
    createTenant: async (props, callOptions) =>
      call(
        {
          method: 'POST',
          path: '/v1/auth/tenants',
          body: validInput(tenantPropsSchema, props, 'tenant'),
          response: tenantSchema,
        },
        callOptions,
      ),
    getTenant: async (tenantId, callOptions) =>
      call({ method: 'GET', path: tenantPath(tenantId), response: tenantDetailSchema }, callOptions),
    listTenants: async (callOptions) =>
      (await call({ method: 'GET', path: '/v1/auth/tenants', response: tenantsSchema }, callOptions)).tenants,
    updateTenant: async (tenantId, props, callOptions) =>
      call(
        { method: 'PATCH', path: tenantPath(tenantId), body: validInput(tenantPropsSchema, props, 'tenant') },
        callOptions,
      ),
    updateTenantPlan: async (tenantId, reservation, callOptions) =>
      call(
        {
          method: 'PUT',
          path: `${tenantPath(tenantId)}/plans`,
          body: validInput(planReservationSchema, reservation, 'plan reservation'),
        },
        callOptions,
      ),

    listTenantAttributes: async (callOptions) =>
      (
        await call(
          { method: 'GET', path: '/v1/auth/tenant-attributes', response: tenantAttributesSchema },
          callOptions,
        )
      ).tenant_attributes,
    createTenantAttribute: async (attribute, callOptions) =>
      call(
        {
          method: 'POST',
          path: '/v1/auth/tenant-attributes',
          body: validInput(attributeInputSchema, attribute, 'tenant attribute'),
          response: attributeSchema,
        },
        callOptions,
      ),

    createSaasUser: async (input, callOptions) =>
      call(
        {
          method: 'POST',
          path: '/v1/auth/users',
          body: validInput(createSaasUserInputSchema, input, 'SaaS user'),
          response: createdSaasUserSchema,
        },
        callOptions,
      ),
    listSaasUsers,
    findSaasUserByEmail: async (email, callOptions) => {
      // GET /users returns every SaaS user in one response (no pagination), so an exact match is
      // reliable; `/users/search` matches prefixes and `/userinfo/search/email` answers 404 for both
      // "no such user" and "no such endpoint". Emails compare case-insensitively so a look-up before
      // create cannot miss a user registered with different capitalization.
      const wanted = requireText(email, 'email').trim().toLowerCase();
      return (await listSaasUsers(callOptions)).find((user) => user.email.toLowerCase() === wanted);
    },
    deleteSaasUser: async (userId, callOptions) =>
      call(
        { method: 'DELETE', path: `/v1/auth/users/${segment(userId, 'user id')}`, response: userInfoSchema },
        callOptions,
      ),

    createTenantUser: async (tenantId, input, callOptions) =>
      call(
        {
          method: 'POST',
          path: `${tenantPath(tenantId)}/users`,
          body: validInput(createTenantUserInputSchema, input, 'tenant user'),
          response: tenantUserSchema,
        },
        callOptions,
      ),
    listTenantUsers: async (tenantId, callOptions) =>
      (
        await call(
          { method: 'GET', path: `${tenantPath(tenantId)}/users`, response: tenantUsersSchema },
          callOptions,
        )
      ).users,
    deleteTenantUser: async (tenantId, userId, callOptions) =>
      call({ method: 'DELETE', path: tenantUserPath(tenantId, userId) }, callOptions),
    addTenantUserRoles: async (tenantId, userId, envId, roleNames, callOptions) => {
      if (!Array.isArray(roleNames) || roleNames.length === 0) {
        throw new SaasusInputError('Invalid role names: expected at least one role name');
      }
      const names = roleNames.map((name) => requireText(name, 'role name'));
      return call(
        {
          method: 'POST',
          path: `${tenantUserPath(tenantId, userId)}/envs/${envSegment(envId)}/roles`,
          body: { role_names: names },
        },
        callOptions,
      );
    },
    removeTenantUserRole: async (tenantId, userId, envId, roleName, callOptions) =>
      call(
        {
          method: 'DELETE',
          path: `${tenantUserPath(tenantId, userId)}/envs/${envSegment(envId)}/roles/${segment(roleName, 'role name')}`,
        },
        callOptions,
      ),

    listEnvs: async (callOptions) =>
      (await call({ method: 'GET', path: '/v1/auth/envs', response: envsSchema }, callOptions)).envs,
    listMeteringUnits: async (callOptions) =>
      (
        await call(
          { method: 'GET', path: '/v1/pricing/metering/units', response: meteringUnitsSchema },
          callOptions,
        )
      ).units,
    listPricingPlans: async (callOptions) =>
      (await call({ method: 'GET', path: '/v1/pricing/plans', response: pricingPlansSchema }, callOptions))
        .pricing_plans,
    getPricingPlan: async (planId, callOptions) =>
      call(
        {
          method: 'GET',
          path: `/v1/pricing/plans/${segment(planId, 'plan id')}`,
          response: pricingPlanSchema,
        },
        callOptions,
      ),

    getMeteringCountsForDate: async (tenantId, date, callOptions) =>
      (
        await call(
          {
            method: 'GET',
            path: `/v1/pricing/metering/tenants/${segment(tenantId, 'tenant id')}/units/date/${dateSegment(date)}`,
            response: meteringUnitDateCountsSchema,
          },
          callOptions,
        )
      ).counts,
    updateMeteringCountNow: async (tenantId, unitName, update, callOptions) =>
      call(
        {
          method: 'PUT',
          path: `${meteringUnitPath(tenantId, unitName)}/now`,
          ...meteringUpdate(update),
          response: meteringUnitTimestampCountSchema,
        },
        callOptions,
      ),
    updateMeteringCountAt: async (tenantId, unitName, unixSeconds, update, callOptions) =>
      call(
        {
          method: 'PUT',
          path: `${meteringUnitPath(tenantId, unitName)}/timestamp/${unixSecondsSegment(unixSeconds)}`,
          ...meteringUpdate(update),
          response: meteringUnitTimestampCountSchema,
        },
        callOptions,
      ),

    getCredentials: async (code, callOptions) => {
      return call(
        {
          method: 'GET',
          path: '/v1/auth/credentials',
          query: { code: requireText(code, 'temporary code'), 'auth-flow': 'tempCodeAuth' },
          response: authCredentialsSchema,
        },
        callOptions,
      );
    },
    getUserInfo: async (idToken, callOptions) => {
      return call(
        {
          method: 'GET',
          path: '/v1/auth/userinfo',
          query: { token: requireText(idToken, 'ID token') },
          ...(callOptions?.referer ? { headers: { 'x-saasus-referer': callOptions.referer } } : {}),
          response: userInfoSchema,
        },
        callOptions,
      );
    },

    getEventBridgeSettings: async (callOptions) => {
      try {
        const settings = await call(
          { method: 'GET', path: '/v1/integration/eventbridge/info', response: eventBridgeSettingsSchema },
          callOptions,
        );
        return settings.aws_account_id && settings.aws_region
          ? eventBridgeSettingsInputSchema.parse(settings)
          : undefined;
      } catch (error) {
        if (error instanceof SaasusApiError && error.status === 404) return undefined;
        throw error;
      }
    },
    saveEventBridgeSettings: async (settings, callOptions) =>
      call(
        {
          method: 'PUT',
          path: '/v1/integration/eventbridge/info',
          body: validInput(eventBridgeSettingsInputSchema, settings, 'EventBridge settings'),
        },
        callOptions,
      ),
    sendEventBridgeTestEvent: async (callOptions) =>
      call({ method: 'POST', path: '/v1/integration/eventbridge/test-event' }, callOptions),
  };
};
