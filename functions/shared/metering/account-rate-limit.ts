import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { quotaItemKey } from '../tables.js';
import { MeteringInputError } from './errors.js';

/**
 * The account-wide BatchMeterUsage rate limit (10 calls per second per account and Region),
 * shared by every metering worker through one DynamoDB item.
 *
 * The item holds `nextSlotAtMicros`: the earliest instant (epoch microseconds, a whole number, so
 * the sum of many intervals does not drift in floating point) the next call may start. Slots are
 * at least one interval apart account-wide, whichever worker or final flush takes them, and a
 * worker that has nothing to send leaves its share to the others (a fixed per-worker split wastes
 * the share of every idle worker).
 *
 * One request per granted call while calls queue up (the steady state of an hourly run): an
 * atomic `ADD interval` on the condition that the next slot is not in the past reserves the slot
 * the item held, without reading it first and without losing to another worker. When the limiter
 * was idle (the next slot is in the past), `SET now + interval` on the condition that it still is
 * takes the slot `now`, so an idle period grants no burst. Each process remembers the last value
 * it saw and tries the write that fits it first; a wrong guess costs one failed conditional write.
 *
 * With the interval 1000 / (quota × safety) ms, the starts of any ⌊quota × safety⌋ + 1 = 10
 * calls span at least one second plus (1 / safety − 1) seconds: with safety 0.95 a call may land
 * 52 ms later than its slot (event-loop delay, the network) before 11 calls fall inside one
 * sliding second. So a slot the caller can no longer use on time (its timer fired late, the
 * process was busy, the reservation itself took long) is given up, not used late: past
 * `lateToleranceMs` the caller takes a new slot, and the unused one is lost to everyone rather
 * than bunched with the next calls (a throttled call costs a backoff of hundreds of ms; a skipped
 * slot costs one interval). A ThrottlingException still gets through now and then (the seller's
 * own tooling, a longer delay); it is retryable and backed off.
 *
 * A reservation further ahead than `maxAheadMs` cannot come from a live worker (a clock that
 * jumped, a rate since lowered) and is replaced.
 */

/** The fraction of the quota the limiter grants; see the window bound above. */
export const DEFAULT_QUOTA_SAFETY = 0.95;

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
  /**
   * How late after its slot a call may still start; later, the slot is given up and a new one
   * taken. Keep it under the window bound of `DEFAULT_QUOTA_SAFETY` (52 ms) minus the network's
   * spread. @default 25 ms
   */
  readonly lateToleranceMs?: number;
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
  /** The last `nextSlotAtMicros` this process saw or wrote; undefined when it does not know. */
  private known: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lateToleranceMs: number;
  /** Conditional writes that lost to another process (for metrics and tests). */
  conflicts = 0;
  /** Slots given up because the caller could not start on time (for metrics and tests). */
  lateSlots = 0;

  constructor(private readonly options: SharedRateLimiterOptions) {
    const { ratePerSecond, maxAheadMs = 60_000, lateToleranceMs = 25 } = options;
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new MeteringInputError(`ratePerSecond: expected a positive number, got ${ratePerSecond}`);
    }
    if (!Number.isFinite(maxAheadMs) || maxAheadMs <= 0) {
      throw new MeteringInputError(`maxAheadMs: expected a positive number, got ${maxAheadMs}`);
    }
    if (!Number.isFinite(lateToleranceMs) || lateToleranceMs < 0) {
      throw new MeteringInputError(`lateToleranceMs: expected a number ≥ 0, got ${lateToleranceMs}`);
    }
    this.lateToleranceMs = lateToleranceMs;
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
      const slot =
        this.known !== undefined && this.known >= now
          ? ((await this.reserveQueued(now)) ?? (await this.reserveIdle(now)))
          : ((await this.reserveIdle(now)) ?? (await this.reserveQueued(now)));
      if (slot === undefined) continue;
      if (slot - now > this.maxAheadMicros) {
        // Not from a live worker: start over from now, unless someone else already did.
        await this.replaceStale(slot + this.intervalMicros, now);
        continue;
      }
      const slotMs = slot / MICROS_PER_MS;
      const wait = slotMs - this.now();
      // Whole milliseconds, rounded up: never early.
      if (wait > 0) await this.sleep(Math.ceil(wait));
      if (this.now() - slotMs > this.lateToleranceMs) {
        this.lateSlots++;
        continue;
      }
      return slotMs;
    }
  }

  /** Calls queue up: take the item's slot and move it one interval on; undefined if it is in the past. */
  private async reserveQueued(now: number): Promise<number | undefined> {
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: quotaItemKey,
          UpdateExpression: 'ADD nextSlotAtMicros :interval',
          ConditionExpression: 'nextSlotAtMicros >= :now',
          ExpressionAttributeValues: { ':interval': this.intervalMicros, ':now': now },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const next = Attributes?.nextSlotAtMicros;
      if (typeof next !== 'number') throw new MeteringInputError('the quota item returned no next slot');
      this.known = next;
      return next - this.intervalMicros;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.conflicts++;
      this.known = undefined;
      return undefined;
    }
  }

  /** The limiter was idle: take `now` if the item's slot is still in the past (or unset). */
  private async reserveIdle(now: number): Promise<number | undefined> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: quotaItemKey,
          UpdateExpression: 'SET nextSlotAtMicros = :next',
          ConditionExpression: 'attribute_not_exists(nextSlotAtMicros) OR nextSlotAtMicros < :now',
          ExpressionAttributeValues: { ':next': now + this.intervalMicros, ':now': now },
        }),
      );
      this.known = now + this.intervalMicros;
      return now;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.conflicts++;
      // Someone holds a slot at or after now: calls are queued.
      this.known = now;
      return undefined;
    }
  }

  /** Replaces a reservation too far ahead with `now`, if the item still holds it. */
  private async replaceStale(expected: number, now: number): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: quotaItemKey,
          UpdateExpression: 'SET nextSlotAtMicros = :now',
          ConditionExpression: 'nextSlotAtMicros = :expected',
          ExpressionAttributeValues: { ':now': now, ':expected': expected },
        }),
      );
      this.known = now;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.conflicts++;
      this.known = undefined;
    }
  }
}
