import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { quotaItemKey } from '../tables.js';
import { MeteringInputError } from './errors.js';

/**
 * The account-wide BatchMeterUsage rate limit (10 calls per second per account and Region),
 * shared by every metering worker through one DynamoDB item.
 *
 * The item holds `nextSlotAtMicros`: the earliest instant (epoch microseconds, a whole number, so
 * the sum of many intervals does not drift in floating point) the next call may start. A caller
 * reserves the slot `max(nextSlotAtMicros, now)` by moving it one interval past that with a
 * conditional write on the value it read (compare-and-set), then waits until its slot and calls.
 * Slots are therefore at least one interval apart account-wide, whichever worker or final flush
 * takes them, and a worker that has nothing to send leaves its share to the others (a fixed
 * per-worker split wastes the share of every idle worker).
 *
 * With the interval 1000 / (quota × safety) ms, any window of one second holds at most
 * ⌊quota × safety⌋ + 1 slots: with quota 10 and safety 0.97 that is 10, the quota itself, while
 * the limiter grants 9.7 calls per second. A ThrottlingException still gets through now and then
 * (the seller's own tooling, clock skew between hosts); it is retryable and backed off.
 *
 * Each process holds at most one reservation at a time (its callers queue in order), so the
 * backlog of reservations is at most one per worker; a reservation further ahead than
 * `maxAheadMs` cannot come from a live worker (a clock that jumped, a rate since lowered) and is
 * replaced.
 */

/** The fraction of the quota the limiter grants; see the window bound above. */
export const DEFAULT_QUOTA_SAFETY = 0.97;

export interface AccountRateOptions {
  /** BatchMeterUsage calls per second allowed per account and Region. */
  readonly quotaPerSecond: number;
  /** Fraction of the quota the limiter grants, in (0, 1]. */
  readonly safety?: number;
}

/** Calls per second the shared limiter grants across all workers. */
export const accountRate = ({
  quotaPerSecond,
  safety = DEFAULT_QUOTA_SAFETY,
}: AccountRateOptions): number => {
  if (!Number.isFinite(quotaPerSecond) || quotaPerSecond <= 0) {
    throw new MeteringInputError(`quotaPerSecond: expected a positive number, got ${quotaPerSecond}`);
  }
  if (!Number.isFinite(safety) || safety <= 0 || safety > 1) {
    throw new MeteringInputError(`safety: expected a fraction in (0, 1], got ${safety}`);
  }
  return quotaPerSecond * safety;
};

export interface SharedRateLimiterOptions {
  readonly client: DynamoDBClient;
  /** The table holding the quota item (the metering ledger). */
  readonly tableName: string;
  /** Calls per second granted across every process sharing the item (see `accountRate`). */
  readonly ratePerSecond: number;
  /** A reservation further ahead than this is stale and replaced. @default 60 s */
  readonly maxAheadMs?: number;
  /** Injectable clock (epoch ms) and sleep, for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const MICROS_PER_MS = 1000;

export class SharedRateLimiter {
  /** Microseconds between slots, rounded up so the rate is never exceeded. */
  readonly intervalMicros: number;
  private readonly maxAheadMicros: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly documents: DynamoDBDocumentClient;
  /** The last `nextSlotAtMicros` this process saw or wrote; `null` when there was none. */
  private known: number | null | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Conditional writes that lost to another process (for metrics and tests). */
  conflicts = 0;

  constructor(private readonly options: SharedRateLimiterOptions) {
    const { ratePerSecond, maxAheadMs = 60_000 } = options;
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new MeteringInputError(`ratePerSecond: expected a positive number, got ${ratePerSecond}`);
    }
    if (!Number.isFinite(maxAheadMs) || maxAheadMs <= 0) {
      throw new MeteringInputError(`maxAheadMs: expected a positive number, got ${maxAheadMs}`);
    }
    this.intervalMicros = Math.ceil((1000 * MICROS_PER_MS) / ratePerSecond);
    this.maxAheadMicros = Math.ceil(maxAheadMs * MICROS_PER_MS);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.documents = DynamoDBDocumentClient.from(options.client);
  }

  /**
   * Waits until this caller's slot has come and returns the slot (epoch ms). Callers in one
   * process are served in call order.
   */
  acquire(): Promise<number> {
    const turn = this.queue.then(() => this.take());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(): Promise<number> {
    for (;;) {
      const now = Math.ceil(this.now() * MICROS_PER_MS);
      const known = this.known === undefined ? await this.read() : this.known;
      const current = known !== null && known - now <= this.maxAheadMicros ? known : null;
      const slot = Math.max(current ?? now, now);
      if (await this.compareAndSet(known, slot + this.intervalMicros)) {
        const wait = slot / MICROS_PER_MS - this.now();
        // Whole milliseconds, rounded up: never early.
        if (wait > 0) await this.sleep(Math.ceil(wait));
        return slot / MICROS_PER_MS;
      }
      this.conflicts++;
    }
  }

  private async read(): Promise<number | null> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.options.tableName, Key: quotaItemKey, ConsistentRead: true }),
    );
    return typeof Item?.nextSlotAtMicros === 'number' ? Item.nextSlotAtMicros : null;
  }

  /** Writes `next` if the item still holds `expected`; on a lost race learns the current value. */
  private async compareAndSet(expected: number | null, next: number): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: quotaItemKey,
          UpdateExpression: 'SET nextSlotAtMicros = :next',
          ConditionExpression:
            expected === null ? 'attribute_not_exists(nextSlotAtMicros)' : 'nextSlotAtMicros = :expected',
          ExpressionAttributeValues: {
            ':next': next,
            ...(expected === null ? {} : { ':expected': expected }),
          },
        }),
      );
      this.known = next;
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.known = await this.read();
      return false;
    }
  }
}
