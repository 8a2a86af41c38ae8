/**
 * Typed errors of the AWS Marketplace clients. Every failure of a Marketplace call becomes a
 * MarketplaceError carrying the AWS exception name (`code`) and whether retrying can help, so
 * callers branch on types, not on SDK internals.
 */

/** The Marketplace API call an error belongs to; `CreateClient` for bad client options. */
export type MarketplaceOperation = 'ResolveCustomer' | 'GetEntitlements' | 'BatchMeterUsage' | 'CreateClient';

export interface MarketplaceErrorOptions {
  readonly operation: MarketplaceOperation;
  /** The AWS exception name, e.g. `InvalidLicenseException`; undefined when AWS sent no error. */
  readonly code?: string;
  readonly retryable?: boolean;
  readonly requestId?: string;
  readonly cause?: unknown;
}

export class MarketplaceError extends Error {
  override readonly name: string = 'MarketplaceError';
  readonly operation: MarketplaceOperation;
  readonly code: string | undefined;
  readonly retryable: boolean;
  readonly requestId: string | undefined;

  constructor(message: string, options: MarketplaceErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.operation = options.operation;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.requestId = options.requestId;
  }
}

/** Throttling, a server fault or a network failure: the same call may succeed later. */
export class MarketplaceUnavailableError extends MarketplaceError {
  override readonly name = 'MarketplaceUnavailableError';

  constructor(message: string, options: Omit<MarketplaceErrorOptions, 'retryable'>) {
    super(message, { ...options, retryable: true });
  }
}

/** A client function was called with bad input; nothing was sent to AWS. */
export class MarketplaceInputError extends MarketplaceError {
  override readonly name = 'MarketplaceInputError';
}

export type RegistrationTokenProblem = 'invalid' | 'expired';

/**
 * The registration token from the fulfillment URL POST did not resolve. The message is written
 * for the buyer: the only fix is a fresh token from AWS Marketplace. It never contains the token.
 */
export class RegistrationTokenError extends MarketplaceError {
  override readonly name = 'RegistrationTokenError';
  readonly kind: RegistrationTokenProblem;

  constructor(
    kind: RegistrationTokenProblem,
    options: Omit<MarketplaceErrorOptions, 'operation' | 'retryable'>,
  ) {
    const what = kind === 'expired' ? 'has expired' : 'is not valid';
    super(
      `Your AWS Marketplace registration link ${what}. Return to AWS Marketplace, open your subscription ` +
        'and click "Set up your account" again.',
      { ...options, operation: 'ResolveCustomer', retryable: false },
    );
    this.kind = kind;
  }
}

/**
 * BatchMeterUsage rejected a whole request. `poison`: a record in it caused the rejection
 * (timestamp out of window, unknown license or dimension, ...), so splitting the batch isolates
 * the bad record. Otherwise the request can never succeed as configured (e.g. a wrong product
 * code, the API disabled in the region) and no split helps.
 */
export class MeteringRejectedError extends MarketplaceError {
  override readonly name = 'MeteringRejectedError';
  readonly poison: boolean;

  constructor(
    message: string,
    options: Omit<MarketplaceErrorOptions, 'operation' | 'retryable'> & { poison: boolean },
  ) {
    super(message, { ...options, operation: 'BatchMeterUsage', retryable: false });
    this.poison = options.poison;
  }
}

/** Exceptions that reject a BatchMeterUsage request because of one of its records. */
export const poisonMeteringCodes: ReadonlySet<string> = new Set([
  'TimestampOutOfBoundsException',
  'InvalidLicenseException',
  'InvalidUsageDimensionException',
  'InvalidCustomerIdentifierException',
  'InvalidUsageAllocationsException',
  'InvalidTagException',
  'ValidationException',
]);

const transientCodes: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'InternalServiceErrorException',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const networkErrorCodes: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

const redact = (text: string, secrets: readonly string[]): string =>
  secrets.reduce(
    (result, secret) => (secret.length > 0 ? result.split(secret).join('[redacted]') : result),
    text,
  );

export interface ToMarketplaceErrorOptions {
  /** Values that must not appear in the message (e.g. a registration token); also drops `cause`. */
  readonly secrets?: readonly string[];
}

/**
 * Maps anything a Marketplace SDK call threw to a MarketplaceError: throttling, server faults
 * and network failures become retryable MarketplaceUnavailableErrors, BatchMeterUsage rejections
 * MeteringRejectedErrors, and everything else a plain (non-retryable) MarketplaceError.
 */
export const toMarketplaceError = (
  error: unknown,
  operation: MarketplaceOperation,
  { secrets = [] }: ToMarketplaceErrorOptions = {},
): MarketplaceError => {
  if (error instanceof MarketplaceError) return error;
  const shape: SdkErrorShape = typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {};
  const code = typeof shape.name === 'string' && shape.name !== 'Error' ? shape.name : undefined;
  const networkCode =
    typeof shape.code === 'string' && networkErrorCodes.has(shape.code) ? shape.code : undefined;
  const status = shape.$metadata?.httpStatusCode;
  const requestId = shape.$metadata?.requestId;
  const serviceMessage = redact(typeof shape.message === 'string' ? shape.message : String(error), secrets);
  const options = {
    operation,
    code: code ?? networkCode,
    requestId,
    cause: secrets.length > 0 ? undefined : error,
  };
  const transient =
    (code !== undefined && transientCodes.has(code)) ||
    networkCode !== undefined ||
    shape.$fault === 'server' ||
    (status !== undefined && status >= 500);
  if (transient) {
    return new MarketplaceUnavailableError(
      `AWS Marketplace ${operation} is unavailable (${options.code ?? `HTTP ${status ?? 'error'}`}): ${serviceMessage}`,
      options,
    );
  }
  if (operation === 'BatchMeterUsage' && code !== undefined && shape.$metadata !== undefined) {
    return new MeteringRejectedError(`BatchMeterUsage rejected the request (${code}): ${serviceMessage}`, {
      ...options,
      poison: poisonMeteringCodes.has(code),
    });
  }
  return new MarketplaceError(
    `AWS Marketplace ${operation} failed (${options.code ?? 'error'}): ${serviceMessage}`,
    options,
  );
};

export type MeteringFailureKind = 'retryable' | 'poison' | 'fatal';

/**
 * How the metering pipeline should treat a failed BatchMeterUsage request: `retryable` (send the
 * same records later), `poison` (bisect the batch to find the record AWS rejects) or `fatal`
 * (stop and alarm: configuration or permissions are wrong).
 */
export const meteringFailureKind = (error: unknown): MeteringFailureKind => {
  const mapped = toMarketplaceError(error, 'BatchMeterUsage');
  if (mapped.retryable) return 'retryable';
  if (mapped instanceof MeteringRejectedError && mapped.poison) return 'poison';
  return 'fatal';
};
