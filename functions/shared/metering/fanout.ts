import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { type DeploymentConfig, describeIssues, type Product, productFor } from '../config.js';
import { desiredEffects, effectConfigFor } from '../license/effects.js';
import { parseLicenseRecord } from '../license/record.js';
import { withRetry } from '../retry.js';
import type { LicenseItem } from '../store/licenses.js';
import { partitionByWindow } from './batches.js';
import { completedHoursToReport, HOUR_MS, hourKey, hourStart } from './hours.js';
import { MAX_RECORDS_PER_BATCH } from './limits.js';
import { transitionFor } from './outcomes.js';
import type { MeteringLogger } from './run-context.js';
import { expiryOutcome, type LedgerStore, meteringStateOf } from './store.js';

/**
 * The hourly fan-out. The schedule function picks the licenses that have something to report
 * and queues them for the metering workers in messages of a few licenses each: about one
 * BatchMeterUsage call (25 records) per message when each license reports one hour. A bounded
 * pool of workers drains the queue at the account's rate.
 *
 * Idempotent: the messages depend only on the run hour and the licenses' state. A license whose
 * cursor already covers every completed hour is not queued, so repeating the fan-out after a
 * run finished queues nothing for it; a message processed twice computes nothing new and only
 * resends identical records (see pipeline.ts).
 *
 * The same pass sweeps the `pending` index: items that left the window are marked expired
 * (their license may no longer be metered, so no worker would see them), and licenses with
 * pending items still in the window are queued so their records are sent. The due licenses are
 * queued first, and the expiries written many at once, so a 24-hour backlog neither delays the
 * hour's messages nor outlives the schedule's timeout.
 */

export const meterMessageSchema = z.strictObject({
  kind: z.literal('meter'),
  licenseKeys: z.array(z.string().min(1)).min(1).max(100),
  /**
   * The start of the hour of the fan-out run, or the time of the domain event that asked for the
   * pass (for logs; the worker meters up to its own clock).
   */
  runHour: z.iso.datetime({ offset: true }),
});

/** Sent by the event processor when an agreement ends: report the final usage now. */
export const flushMessageSchema = z.strictObject({
  kind: z.literal('flush'),
  licenseKey: z.string().min(1),
});

export const meteringMessageSchema = z.discriminatedUnion('kind', [meterMessageSchema, flushMessageSchema]);

export type MeterMessage = z.output<typeof meterMessageSchema>;
export type FlushMessage = z.output<typeof flushMessageSchema>;
export type MeteringMessage = z.output<typeof meteringMessageSchema>;

export class MeteringMessageError extends Error {
  override readonly name = 'MeteringMessageError';
}

/** Parses a queue message body; a malformed one throws (and ends in the dead-letter queue). */
export const parseMeteringMessage = (body: string): MeteringMessage => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MeteringMessageError('metering message is not JSON');
  }
  const parsed = meteringMessageSchema.safeParse(json);
  if (!parsed.success)
    throw new MeteringMessageError(`Invalid metering message:\n${describeIssues(parsed.error)}`);
  return parsed.data;
};

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Licenses per message: the fewest whose records for one hour (one per license and unit) fill
 * whole BatchMeterUsage calls, so no call leaves record slots empty (25 licenses × 3 units = 75
 * records = 3 full calls; 5 licenses × 5 units = 1 call). The quota counts calls, not records.
 */
export const licensesPerMessage = (unitCount: number, recordsPerCall = MAX_RECORDS_PER_BATCH): number => {
  const units = Math.max(1, Math.trunc(unitCount));
  return recordsPerCall / gcd(units, recordsPerCall);
};

/** The meter messages for a set of licenses: sorted, deduplicated, chunked; the same input gives the same messages. */
export const planMeterMessages = (
  licenseKeys: Iterable<string>,
  { runHour, unitCount }: { readonly runHour: Date; readonly unitCount: number },
): MeterMessage[] => {
  const keys = [...new Set(licenseKeys)].sort();
  const size = licensesPerMessage(unitCount);
  const messages: MeterMessage[] = [];
  for (let start = 0; start < keys.length; start += size) {
    messages.push({ kind: 'meter', licenseKeys: keys.slice(start, start + size), runHour: hourKey(runHour) });
  }
  return messages;
};

export interface LicenseSelection {
  /** Licenses with completed hours not yet reported. */
  readonly due: string[];
  /** Licenses skipped because AWS answered CustomerNotSubscribed in this activation. */
  readonly stopped: number;
  /** Licenses whose stored record could not be read (logged; they are not queued). */
  readonly invalid: { readonly licenseKey: string; readonly error: string }[];
  /** The oldest completed hour not yet reported by any selected license. */
  readonly oldestUnreportedHour?: Date;
}

/** Which licenses (from the scan's projection) have hours to report at `now`. */
export const selectDueLicenses = (
  items: Iterable<Partial<LicenseItem>>,
  config: Pick<DeploymentConfig, 'products' | 'revocation' | 'idoperation' | 'metering'>,
  now: Date,
): LicenseSelection => {
  const due: string[] = [];
  const invalid: { licenseKey: string; error: string }[] = [];
  let stopped = 0;
  let oldest: number | undefined;
  const metered = (product: Product) =>
    product.pricingModel !== 'contract' && product.meteringUnits.length > 0;
  if (!config.products.some(metered)) return { due, stopped, invalid };
  for (const item of items) {
    if (typeof item.licenseKey !== 'string') continue;
    let effects: ReturnType<typeof desiredEffects>;
    try {
      const productCode = item.productCode ?? '';
      if (!metered(productFor(config, productCode))) continue;
      effects = desiredEffects(parseLicenseRecord(item.lifecycle), {
        config: effectConfigFor(config, productCode),
      });
    } catch (error) {
      invalid.push({
        licenseKey: item.licenseKey,
        error: error instanceof Error ? error.message : String(error),
      });
      continue;
    }
    const episode = effects.status.activeSince;
    if (effects.metering !== 'open' || episode === undefined) continue;
    const state = meteringStateOf(item, episode);
    if (state.stopped) {
      stopped++;
      continue;
    }
    const startsAt = new Date(episode);
    const endsAt =
      effects.status.endingSince === undefined ? undefined : new Date(effects.status.endingSince);
    const { hours } = completedHoursToReport({
      now,
      lastReportedHourStart: state.cursor,
      meteringStartsAt: startsAt,
      meteringEndsAt: endsAt && endsAt >= startsAt ? endsAt : undefined,
      maxHours: 1,
    });
    // maxHours 1 returns the newest due hour; the oldest unreported one follows the cursor.
    if (hours.length === 0) continue;
    due.push(item.licenseKey);
    const first = state.cursor ? state.cursor.getTime() + HOUR_MS : hourStart(startsAt).getTime();
    oldest = oldest === undefined ? first : Math.min(oldest, first);
  }
  return {
    due,
    stopped,
    invalid,
    ...(oldest === undefined ? {} : { oldestUnreportedHour: new Date(oldest) }),
  };
};

export interface FanoutDeps {
  readonly config: Pick<DeploymentConfig, 'products' | 'revocation' | 'idoperation' | 'metering'>;
  /** Pages of licenses that may be metered (see `meterableLicenses`). */
  readonly licensePages: () => AsyncIterable<Partial<LicenseItem>[]>;
  readonly ledger: Pick<LedgerStore, 'pending' | 'recordOutcome' | 'pendingShards'>;
  readonly enqueue: (messages: readonly MeteringMessage[]) => Promise<void>;
  /** Gives licenses stored before the meterable index their shard (once; see store.ts). */
  readonly backfillMeterableIndex?: () => Promise<number>;
  readonly logger?: MeteringLogger;
}

export interface FanoutReport {
  readonly runHour: string;
  /** Licenses queued because hours are due. */
  readonly dueLicenses: number;
  /** Further licenses queued only to send pending records. */
  readonly pendingOnlyLicenses: number;
  readonly stoppedLicenses: number;
  readonly messages: number;
  /** Pending items the sweep marked expired. */
  readonly expired: number;
  /** Seconds since the start of the oldest unreported hour (due hours and pending records); 0 if none. */
  readonly oldestUnreportedHourLagSeconds: number;
}

/** One hourly fan-out: select, sweep, queue. */
export const runFanout = async (
  deps: FanoutDeps,
  input: { readonly now: Date; readonly runHour: Date },
): Promise<FanoutReport> => {
  const { now } = input;
  const window = deps.config.metering.allowedWindowHours;
  const backfilled = (await deps.backfillMeterableIndex?.()) ?? 0;
  if (backfilled > 0) deps.logger?.info('Meterable index backfilled', { licenses: backfilled });
  // Page by page: the whole table's lifecycle records would not fit in memory at scale.
  const due = new Set<string>();
  let stopped = 0;
  let oldest: number | undefined;
  for await (const page of deps.licensePages()) {
    const selection = selectDueLicenses(page, deps.config, now);
    for (const licenseKey of selection.due) due.add(licenseKey);
    stopped += selection.stopped;
    const first = selection.oldestUnreportedHour?.getTime();
    if (first !== undefined) oldest = oldest === undefined ? first : Math.min(oldest, first);
    for (const problem of selection.invalid) {
      deps.logger?.error('License record cannot be read; the license is not metered', { ...problem });
    }
  }

  // The hour's due licenses are queued before the sweep: after a long outage the sweep has a
  // large backlog to expire, and the hour must be queued even if the sweep runs out of time.
  // Messages are sized for the product with the most units (one message may hold any product's licenses).
  const unitCount = Math.max(...deps.config.products.map((product) => product.meteringUnits.length));
  const dueMessages = planMeterMessages(due, { runHour: input.runHour, unitCount });
  await deps.enqueue(dueMessages);

  let expired = 0;
  const pendingOnly = new Set<string>();
  const expiries = concurrentWrites(EXPIRY_WRITES_IN_FLIGHT);
  for (const shard of deps.ledger.pendingShards()) {
    for await (const page of deps.ledger.pending(shard)) {
      const partition = partitionByWindow(page, now, window);
      for (const item of partition.expired) {
        // Independent conditional writes, many at once (each marks one item, once).
        await expiries.add(async () => {
          const outcome = expiryOutcome(item, window);
          const written = await deps.ledger.recordOutcome(item, transitionFor(outcome), now);
          if (written.result === 'recorded') {
            expired++;
            deps.logger?.error('Usage record left the metering window unsent', {
              licenseKey: item.licenseKey,
              dimension: item.dimension,
              usageHour: item.usageHour.toISOString(),
              quantity: item.quantity,
            });
          }
        });
      }
      for (const item of partition.sendable) {
        if (!due.has(item.licenseKey)) pendingOnly.add(item.licenseKey);
        oldest = oldest === undefined ? item.usageHour.getTime() : Math.min(oldest, item.usageHour.getTime());
      }
    }
  }
  // Licenses with only pending records to send: queued alongside the last expiries.
  const pendingMessages = planMeterMessages(pendingOnly, { runHour: input.runHour, unitCount });
  await Promise.all([deps.enqueue(pendingMessages), expiries.settle()]);
  const messages = [...dueMessages, ...pendingMessages];
  return {
    runHour: hourKey(input.runHour),
    dueLicenses: due.size,
    pendingOnlyLicenses: pendingOnly.size,
    stoppedLicenses: stopped,
    messages: messages.length,
    expired,
    oldestUnreportedHourLagSeconds:
      oldest === undefined ? 0 : Math.max(0, Math.round((now.getTime() - oldest) / 1000)),
  };
};

/** Expiry writes in flight during the sweep (a 24-hour backlog is hundreds of thousands). */
const EXPIRY_WRITES_IN_FLIGHT = 64;

/**
 * Runs writes with at most `limit` in flight: `add` waits while the pool is full (so reading
 * pages never races ahead of the writes), `settle` waits for the rest and throws the first failure.
 */
const concurrentWrites = (limit: number) => {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  return {
    async add(write: () => Promise<void>): Promise<void> {
      while (inFlight.size >= limit) await Promise.race(inFlight);
      if (failure) throw failure.error;
      const running: Promise<void> = write()
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
    },
    async settle(): Promise<void> {
      await Promise.all(inFlight);
      if (failure) throw failure.error;
    },
  };
};

/** SendMessageBatch takes at most 10 entries. */
const SQS_BATCH = 10;

class EntriesNotQueued extends Error {
  override readonly name = 'EntriesNotQueued';
}

/** Queues messages 10 per SendMessageBatch call; entries SQS failed are sent again with backoff. */
export const sqsEnqueue =
  (
    client: Pick<SQSClient, 'send'>,
    queueUrl: string,
    options: { sleep?: (ms: number) => Promise<void> } = {},
  ) =>
  async (messages: readonly MeteringMessage[]): Promise<void> => {
    for (let start = 0; start < messages.length; start += SQS_BATCH) {
      let entries = messages
        .slice(start, start + SQS_BATCH)
        .map((message, index) => ({ Id: `m${start + index}`, MessageBody: JSON.stringify(message) }));
      await withRetry(
        async () => {
          const output: SendMessageBatchCommandOutput = await client.send(
            new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
          );
          const failed = new Set((output.Failed ?? []).map((entry) => entry.Id));
          entries = entries.filter((entry) => failed.has(entry.Id));
          if (entries.length > 0) throw new EntriesNotQueued(`${entries.length} message(s) not queued`);
        },
        {
          retries: 5,
          baseDelayMs: 100,
          maxDelayMs: 2_000,
          // The SDK retries throttled and failed calls itself; this retries entries SQS refused.
          isRetryable: (error) => error instanceof EntriesNotQueued,
          ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
        },
      );
    }
  };
