/**
 * Errors of the SaaSus client. Messages name the call (method and path, never the query string,
 * which may carry a token) and what went wrong; they never contain credentials or request bodies.
 */

/** `type` values the client itself assigns when SaaSus sent no error body of its own. */
export const clientErrorTypes = {
  /** No response within the timeout. */
  timeout: 'timeout',
  /** The connection failed (DNS, refused, reset). */
  network: 'network_error',
  /** An error status without a JSON `{ type, message }` body. */
  unknown: 'unknown_error',
  /** A response that does not match the API schema. */
  invalidResponse: 'invalid_response',
} as const;

export interface SaasusApiErrorDetails {
  /** HTTP status; 0 when no response arrived (timeout, network error). */
  readonly status: number;
  /** SaaSus error `type`, or one of `clientErrorTypes`. */
  readonly type: string;
  /** What SaaSus (or the client) said went wrong. */
  readonly detail: string;
  readonly traceId: string;
  readonly method: string;
  /** Request path without the query string. */
  readonly path: string;
  /**
   * The failure is transient (429, 5xx, timeout, network): the same request may succeed later.
   * For a POST it may also have been applied already, so look up before creating again.
   */
  readonly retryable: boolean;
  readonly cause?: unknown;
}

/** Any failed SaaSus API call: an error response, no response, or a response of the wrong shape. */
export class SaasusApiError extends Error {
  override readonly name = 'SaasusApiError';
  readonly status: number;
  readonly type: string;
  readonly detail: string;
  readonly traceId: string;
  readonly method: string;
  readonly path: string;
  readonly retryable: boolean;

  constructor(details: SaasusApiErrorDetails) {
    const status = details.status > 0 ? `${details.status} ` : '';
    super(
      `SaaSus ${details.method} ${details.path} failed: ${status}${details.type}: ${details.detail} (trace id ${details.traceId})`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.status = details.status;
    this.type = details.type;
    this.detail = details.detail;
    this.traceId = details.traceId;
    this.method = details.method;
    this.path = details.path;
    this.retryable = details.retryable;
  }
}

/** A call the client refuses to send because an argument is invalid (caught before any request). */
export class SaasusInputError extends Error {
  override readonly name = 'SaasusInputError';
}

/** Whether a status means "try again later". */
export const isTransientStatus = (status: number): boolean => status === 429 || status >= 500;
