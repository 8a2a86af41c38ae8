import { AwsJsonError } from '../http.js';

/** Exceptions the real services send with a 5xx status (the SDK retries those as server faults). */
const serverFaults = new Set(['InternalServiceErrorException', 'ServiceUnavailableException']);

export const emulatedError = (type: string, message: string) =>
  new AwsJsonError(type, message, serverFaults.has(type) ? 500 : 400);

/**
 * Failures tests and the sandbox inject into the emulated services. Each injection is consumed by
 * the calls it applies to, in order, so a test states exactly which call misbehaves.
 */
export class MarketplaceFaults {
  readonly #failures = new Map<string, string[]>();
  readonly #rejectedDimensions = new Set<string>();
  #unprocessedRecords = 0;
  #emptyPages = 0;

  /** The next `count` calls of `operation` fail with the exception `errorType`. */
  failNext(operation: string, errorType: string, count = 1): void {
    const queue = this.#failures.get(operation) ?? [];
    for (let i = 0; i < count; i++) queue.push(errorType);
    this.#failures.set(operation, queue);
  }

  /** The next `count` BatchMeterUsage requests are rejected as a whole with `errorType`. */
  failNextBatch(errorType: string, count = 1): void {
    this.failNext('BatchMeterUsage', errorType, count);
  }

  /** The next `count` usage records received come back in UnprocessedRecords. */
  unprocessNext(count: number): void {
    this.#unprocessedRecords += count;
  }

  /** The next `count` GetEntitlements pages are empty but carry a NextToken. */
  emptyPagesNext(count: number): void {
    this.#emptyPages += count;
  }

  /** A poison dimension: any request with a record for it fails with InvalidUsageDimensionException. */
  rejectDimension(dimension: string): void {
    this.#rejectedDimensions.add(dimension);
  }

  isRejectedDimension(dimension: string): boolean {
    return this.#rejectedDimensions.has(dimension);
  }

  /** Consumes the failure injected for this call of `operation`, if any. */
  takeFailure(operation: string): AwsJsonError | undefined {
    const type = this.#failures.get(operation)?.shift();
    return type === undefined ? undefined : emulatedError(type, `Injected ${type} for ${operation}`);
  }

  takeUnprocessedRecord(): boolean {
    if (this.#unprocessedRecords === 0) return false;
    this.#unprocessedRecords--;
    return true;
  }

  takeEmptyPage(): boolean {
    if (this.#emptyPages === 0) return false;
    this.#emptyPages--;
    return true;
  }

  clear(): void {
    this.#failures.clear();
    this.#rejectedDimensions.clear();
    this.#unprocessedRecords = 0;
    this.#emptyPages = 0;
  }
}
