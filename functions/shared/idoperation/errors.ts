import { describeFieldErrors, type IdoperationFieldErrors } from './schemas.js';

export type IdoperationOperation = 'register' | 'get' | 'change';

const operationLabels: Record<IdoperationOperation, string> = {
  register: 'register user',
  get: 'get user',
  change: 'change user',
};

export const describeOperation = (operation: IdoperationOperation): string => operationLabels[operation];

/**
 * Base of every iDoperation client error. Messages name the operation, the status and the fields
 * involved; they never carry the Authorization value or request field values.
 */
export class IdoperationError extends Error {
  override readonly name: string = 'IdoperationError';
  /** The same request may succeed later (429, 5xx, network, timeout); see `isRetryable`. */
  readonly retryable: boolean = false;

  constructor(
    readonly operation: IdoperationOperation,
    message: string,
    /** HTTP status, when a response arrived. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(`iDoperation ${describeOperation(operation)}: ${message}`, options);
  }
}

/** The request was rejected as invalid, before sending (`status` undefined) or by the API (400). */
export class IdoperationValidationError extends IdoperationError {
  override readonly name = 'IdoperationValidationError';

  constructor(
    operation: IdoperationOperation,
    readonly fieldErrors: IdoperationFieldErrors,
    status?: number,
    serverMessage?: string,
  ) {
    const fields = describeFieldErrors(fieldErrors);
    const prefix = status === undefined ? 'invalid request' : `rejected (${status} ${serverMessage ?? ''})`;
    super(operation, fields ? `${prefix}: ${fields}` : prefix, status);
  }
}

/** 404: the user (or the configured path) does not exist. */
export class IdoperationNotFoundError extends IdoperationError {
  override readonly name = 'IdoperationNotFoundError';
}

/** 401/403: the Authorization value was refused. Not retried: a new attempt would fail the same way. */
export class IdoperationAuthError extends IdoperationError {
  override readonly name = 'IdoperationAuthError';
}

/** The login_id is already registered: 409, or a 400/422 whose `errors` name login_id (undocumented; all are read alike). */
export class IdoperationConflictError extends IdoperationError {
  override readonly name = 'IdoperationConflictError';
}

/** 429, 5xx or a network failure: worth retrying later (automatically for get/change). */
export class IdoperationUnavailableError extends IdoperationError {
  override readonly name: string = 'IdoperationUnavailableError';
  override readonly retryable = true;
}

/** No response within the timeout. For register, the user may still have been created. */
export class IdoperationTimeoutError extends IdoperationUnavailableError {
  override readonly name = 'IdoperationTimeoutError';
}

/** A status or body the client does not understand (unexpected 4xx, malformed 2xx body). */
export class IdoperationResponseError extends IdoperationError {
  override readonly name = 'IdoperationResponseError';
}
