import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod';
import { ConfigError } from '../config.js';
import { logger as defaultLogger } from '../powertools.js';
import { isRetryable, type RetryOptions, withRetry } from '../retry.js';
import type { SecretSource } from '../secrets.js';
import {
  IdoperationAuthError,
  IdoperationConflictError,
  IdoperationError,
  IdoperationNotFoundError,
  type IdoperationOperation,
  IdoperationResponseError,
  IdoperationTimeoutError,
  IdoperationUnavailableError,
  IdoperationValidationError,
} from './errors.js';
import {
  type ChangeUserInput,
  changeUserSchema,
  fieldErrorsFromZod,
  type IdoperationUser,
  idoperationErrorBodySchema,
  idoperationUserSchema,
  type RegisterUserInput,
  registerUserSchema,
  userIdSchema,
} from './schemas.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type IdoperationRoute = { readonly method: HttpMethod; readonly path: string };
export type IdoperationRoutes = Record<IdoperationOperation, IdoperationRoute>;

/**
 * Method and path per operation. The public pages show only the bodies, not the endpoint panel,
 * so these are our best reading and can be overridden from configuration (`paths`).
 */
export const defaultIdoperationRoutes: IdoperationRoutes = {
  register: { method: 'POST', path: '/users' },
  get: { method: 'GET', path: '/users/{userId}' },
  change: { method: 'PATCH', path: '/users/{userId}' },
};

export const defaultIdoperationUserAgent =
  'marketplace-bridge/0.1 (AWS Marketplace integration; +iDoperation)';

/** The secret `{ authorization }`: the Authorization header value, sent as is. */
export const idoperationSecretSchema = z.object({
  // CR/LF would make fetch reject the header with an error quoting the value; refuse it here.
  authorization: z
    .string()
    .min(1)
    .regex(/^[^\r\n\0]+$/),
});

export type IdoperationLogger = Pick<Logger, 'debug' | 'warn'>;

export type IdoperationRetryOptions = Partial<
  Pick<RetryOptions, 'retries' | 'baseDelayMs' | 'maxDelayMs' | 'sleep' | 'random'>
>;

export interface IdoperationClientOptions {
  /** API base URL, may include a path prefix (`https://example.idoperation.com/api`). */
  readonly baseUrl: string;
  readonly secrets: SecretSource;
  /** Secrets Manager secret holding `{ authorization }`. */
  readonly secretName: string;
  readonly paths?: Partial<IdoperationRoutes>;
  /** Per-attempt timeout; default 10 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly userAgent?: string;
  /** Backoff for get/change (register is never retried); default 3 retries, 200 ms base, 2 s cap. */
  readonly retry?: IdoperationRetryOptions;
  readonly logger?: IdoperationLogger;
}

export interface IdoperationClient {
  /** Registers a user and returns it with its new id. Not retried: a blind retry could register twice. */
  registerUser(input: RegisterUserInput): Promise<IdoperationUser>;
  getUser(userId: string): Promise<IdoperationUser>;
  /** Partial update; returns the user as it is afterwards. */
  changeUser(userId: string, changes: ChangeUserInput): Promise<IdoperationUser>;
  /** Prohibits sign-in (`is_disabled: 1`). */
  disableUser(userId: string): Promise<IdoperationUser>;
}

const retriedOperations: ReadonlySet<IdoperationOperation> = new Set(['get', 'change']);

const resolveRoutes = (overrides: Partial<IdoperationRoutes> = {}): IdoperationRoutes => {
  const routes = { ...defaultIdoperationRoutes, ...overrides };
  for (const [operation, route] of Object.entries(routes)) {
    if (!route.path.startsWith('/')) {
      throw new ConfigError(`iDoperation paths.${operation}: expected a path starting with "/"`);
    }
    if (operation !== 'register' && !route.path.includes('{userId}')) {
      throw new ConfigError(`iDoperation paths.${operation}: expected a path containing {userId}`);
    }
  }
  return routes;
};

const parseBaseUrl = (baseUrl: string): string => {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConfigError('iDoperation baseUrl: expected an http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('iDoperation baseUrl: expected an http(s) URL');
  }
  return url.href.replace(/\/+$/, '');
};

const readErrorBody = (text: string): { message: string; errors?: Record<string, string[]> } => {
  try {
    const parsed = idoperationErrorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // Not JSON: fall through to a short excerpt of the text.
  }
  return { message: text.slice(0, 200) };
};

const errorForStatus = (operation: IdoperationOperation, status: number, text: string): IdoperationError => {
  const body = readErrorBody(text);
  const detail = `${status}${body.message ? ` ${body.message}` : ''}`;
  // A taken login_id is undocumented: 409, or a validation answer (400/422) naming login_id. The
  // client checks login_id's form before sending, so a server objection to it means "taken".
  if (status === 409 || ((status === 400 || status === 422) && body.errors?.login_id !== undefined)) {
    return new IdoperationConflictError(operation, `login_id conflict (${detail})`, status);
  }
  if (status === 400 || status === 422) {
    return new IdoperationValidationError(operation, body.errors ?? {}, status, body.message);
  }
  if (status === 401 || status === 403) {
    return new IdoperationAuthError(operation, `the Authorization value was refused (${detail})`, status);
  }
  if (status === 404) return new IdoperationNotFoundError(operation, `not found (${detail})`, status);
  if (status === 429 || status >= 500) {
    return new IdoperationUnavailableError(operation, `service unavailable (${detail})`, status);
  }
  return new IdoperationResponseError(operation, `unexpected status ${detail}`, status);
};

/**
 * A client for the iDoperation user directory (register, get, change user). Inputs are validated
 * before sending; responses are validated with zod; every failure is a typed `IdoperationError`.
 * The Authorization value is read from Secrets Manager per call (the source caches it) and is
 * never logged or put into an error.
 */
export const createIdoperationClient = (options: IdoperationClientOptions): IdoperationClient => {
  const baseUrl = parseBaseUrl(options.baseUrl);
  const routes = resolveRoutes(options.paths);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError('iDoperation timeoutMs: expected a positive number of milliseconds');
  }
  const fetchImpl = options.fetch ?? fetch;
  const userAgent = options.userAgent ?? defaultIdoperationUserAgent;
  const log = options.logger ?? defaultLogger;
  const retry = { retries: 3, baseDelayMs: 200, maxDelayMs: 2_000, ...options.retry };

  const send = async (
    operation: IdoperationOperation,
    attempt: number,
    userId: string | undefined,
    body: unknown,
  ): Promise<IdoperationUser> => {
    const { authorization } = await options.secrets.getJson(options.secretName, idoperationSecretSchema);
    const route = routes[operation];
    const path = route.path.replace('{userId}', encodeURIComponent(userId ?? ''));
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'User-Agent': userAgent,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';

    let status: number;
    let text: string;
    try {
      const response = await fetchImpl(`${baseUrl}${path}`, {
        method: route.method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        // A register that timed out may still have been applied; say so, as it is never retried.
        const outcome = operation === 'register' ? ' (the user may have been registered)' : '';
        const message = `no response within ${timeoutMs} ms${outcome}`;
        throw new IdoperationTimeoutError(operation, message, undefined, { cause: error });
      }
      const reason =
        error instanceof Error ? (error.cause instanceof Error ? error.cause : error) : undefined;
      throw new IdoperationUnavailableError(
        operation,
        `request failed (${reason ? `${reason.name}: ${reason.message}` : 'network error'})`,
        undefined,
        { cause: error },
      );
    }
    log.debug('iDoperation response', { operation, method: route.method, status, attempt });

    if (status < 200 || status >= 300) throw errorForStatus(operation, status, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new IdoperationResponseError(operation, `response ${status} is not JSON`, status);
    }
    const user = idoperationUserSchema.safeParse(json);
    if (!user.success) {
      const fields = [...new Set(user.error.issues.map((issue) => issue.path.join('.') || '(root)'))];
      throw new IdoperationResponseError(
        operation,
        `response ${status} is not a user object (bad field(s): ${fields.join(', ')})`,
        status,
      );
    }
    return user.data;
  };

  const call = (operation: IdoperationOperation, userId?: string, body?: unknown) => {
    if (!retriedOperations.has(operation)) return send(operation, 0, userId, body);
    return withRetry((attempt) => send(operation, attempt, userId, body), {
      ...retry,
      isRetryable,
      onRetry: (error, attempt, delayMs) =>
        log.warn('Retrying iDoperation call', {
          operation,
          attempt,
          delayMs,
          reason: error instanceof IdoperationError ? (error.status ?? error.name) : 'unknown',
        }),
    });
  };

  const validate = <T extends z.ZodType>(operation: IdoperationOperation, schema: T, input: unknown) => {
    const result = schema.safeParse(input);
    if (!result.success) throw new IdoperationValidationError(operation, fieldErrorsFromZod(result.error));
    return result.data as z.output<T>;
  };

  const validateUserId = (operation: IdoperationOperation, userId: string): string => {
    if (!userIdSchema.safeParse(userId).success) {
      throw new IdoperationValidationError(operation, { userId: ['must be a user id (uuid)'] });
    }
    return userId;
  };

  return {
    registerUser: async (input) =>
      call('register', undefined, validate('register', registerUserSchema, input)),
    getUser: async (userId) => call('get', validateUserId('get', userId)),
    changeUser: async (userId, changes) => {
      const id = validateUserId('change', userId);
      return call('change', id, validate('change', changeUserSchema, changes));
    },
    disableUser: async (userId) => call('change', validateUserId('change', userId), { is_disabled: 1 }),
  };
};
