/**
 * Retries with capped exponential backoff and full jitter, for the HTTP clients that have no SDK
 * retry strategy (SaaSus, iDoperation). Callers decide what is retryable: a request that may
 * already have been applied (a POST) must not be retried blindly.
 */
export interface RetryOptions {
  /** Retries after the first attempt. */
  readonly retries: number;
  /** Base delay in ms; attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs * 2^n)). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Whether an error may be retried. */
  readonly isRetryable: (error: unknown) => boolean;
  /** Called before each wait; for logging and metrics. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** Names AWS SDK services give throttling errors that carry no `$retryable` mark (DynamoDB's, for one). */
const throttlingErrorNames: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
]);

/**
 * The one retryability rule: an error of our clients says so in its `retryable` field (SaaSus,
 * iDoperation, Marketplace, provisioning); a raw AWS SDK error is retryable when the SDK marks it
 * `$retryable`, when the fault is the server's, or when it is a throttling error.
 */
export const isRetryable = (error: unknown): boolean => {
  if (!error || typeof error !== 'object') return false;
  const candidate = error as { retryable?: unknown; $retryable?: unknown; $fault?: unknown; name?: unknown };
  if (typeof candidate.retryable === 'boolean') return candidate.retryable;
  if (candidate.$retryable !== undefined && candidate.$retryable !== null) return true;
  if (candidate.$fault === 'server') return true;
  return typeof candidate.name === 'string' && throttlingErrorNames.has(candidate.name);
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const backoffDelay = (
  attempt: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
) =>
  Math.floor(
    (options.random ?? Math.random)() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt),
  );

export const withRetry = async <T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.retries || !options.isRetryable(error)) throw error;
      const delayMs = backoffDelay(attempt, options);
      options.onRetry?.(error, attempt + 1, delayMs);
      await (options.sleep ?? sleep)(delayMs);
    }
  }
};
