import { MeteringInputError } from './errors.js';

/**
 * Staying under the BatchMeterUsage quota (10 calls per second per account and Region).
 *
 * The hourly run does not call AWS itself: it fans the batches out to an SQS queue consumed by
 * a bounded pool of metering workers, a Lambda function with reserved concurrency N, so at
 * most N workers are alive at once. Each worker owns one token bucket of
 * `workerRate({ workers: N })` = quota × safety / N calls per second, so together they stay
 * below the account quota with some room (safety) for other callers in the account, such as a
 * final flush or a seller's own tooling, and for the fact that buckets of different workers are
 * not aligned. A ThrottlingException still gets through now and then; it is retryable and the
 * caller backs off with jitter (`withRetry` in ../retry.ts).
 *
 * The bucket holds one token by default: calls are at least 1/rate apart, so any window of one
 * second holds at most ⌈rate⌉ calls and any window of T seconds at most ⌊T × rate⌋ + 1. A larger
 * capacity allows a burst after an idle period, at the cost of that guarantee.
 */

export interface TokenBucketOptions {
  readonly ratePerSecond: number;
  /** Tokens the bucket holds when full (the largest burst). Default 1: no burst. */
  readonly capacity?: number;
  /** Injectable clock (ms) and sleep, for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TokenBucket {
  private readonly intervalMs: number;
  private readonly burstMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /**
   * When the bucket would be full again if nobody took a token ("theoretical arrival time"):
   * tracking this one instant instead of a fractional token count is the same bucket without
   * drift.
   */
  private fullAt = Number.NEGATIVE_INFINITY;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: TokenBucketOptions) {
    const { ratePerSecond, capacity = 1 } = options;
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new MeteringInputError(`ratePerSecond: expected a positive number, got ${ratePerSecond}`);
    }
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new MeteringInputError(`capacity: expected a whole number of at least 1, got ${capacity}`);
    }
    this.intervalMs = 1000 / ratePerSecond;
    this.burstMs = (capacity - 1) * this.intervalMs;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  /** Waits until a token is free and takes it. Concurrent callers are served in call order. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.take());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(): Promise<void> {
    for (;;) {
      const now = this.now();
      const fullAt = Math.max(this.fullAt, now);
      const availableAt = fullAt - this.burstMs;
      if (availableAt <= now) {
        this.fullAt = fullAt + this.intervalMs;
        return;
      }
      // Whole milliseconds, rounded up: never early, and a fake clock always moves forward.
      await this.sleep(Math.ceil(availableAt - now));
    }
  }
}

export interface WorkerRateInput {
  /** The number of workers that may call at once (the metering function's reserved concurrency). */
  readonly workers: number;
  /** BatchMeterUsage calls per second allowed per account and Region. */
  readonly accountQuotaPerSecond?: number;
  /** Fraction of the quota the workers may use together, in (0, 1]. */
  readonly safety?: number;
}

/** Calls per second one worker may make so that all `workers` together stay under the quota. */
export const workerRate = ({
  workers,
  accountQuotaPerSecond = 10,
  safety = 0.9,
}: WorkerRateInput): number => {
  if (!Number.isInteger(workers) || workers < 1) {
    throw new MeteringInputError(`workers: expected a whole number of at least 1, got ${workers}`);
  }
  if (!Number.isFinite(accountQuotaPerSecond) || accountQuotaPerSecond <= 0) {
    throw new MeteringInputError(
      `accountQuotaPerSecond: expected a positive number, got ${accountQuotaPerSecond}`,
    );
  }
  if (!Number.isFinite(safety) || safety <= 0 || safety > 1) {
    throw new MeteringInputError(`safety: expected a fraction in (0, 1], got ${safety}`);
  }
  return (accountQuotaPerSecond * safety) / workers;
};
