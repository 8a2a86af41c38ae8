import type { Logger } from '@aws-lambda-powertools/logger';
import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import type { DeploymentConfig } from '../config.js';
import { desiredEffects } from '../license/effects.js';
import { parseLicenseRecord } from '../license/record.js';
import { type Entitlement, entitlementFilterFor, getAllEntitlements } from '../marketplace/entitlements.js';
import { meteringFailureKind } from '../marketplace/errors.js';
import { type BuyerIdentity, buyerIdentitySchema } from '../marketplace/identity.js';
import { batchMeterUsage, type MeteringOutcome } from '../marketplace/metering.js';
import { withRetry } from '../retry.js';
import type { SaasusClient } from '../saasus/client.js';
import type { LicenseItem } from '../store/licenses.js';
import { accountRate, SharedRateLimiter } from './account-rate-limit.js';
import {
  assertValidUsageRecord,
  partitionByWindow,
  toBatches,
  type UsageBatch,
  type UsageRecord,
} from './batches.js';
import { type ErrorClass, PartiallySentBatchError, sendWithBisection } from './bisect.js';
import { MeteringInputError } from './errors.js';
import { completedHoursToReport, dayOf, HOUR_MS, hourStart } from './hours.js';
import { MAX_RECORDS_PER_BATCH } from './limits.js';
import {
  initialLedgerStatus,
  type MeteringMetric,
  type RecordOutcome,
  type SendOutcome,
  transitionFor,
} from './outcomes.js';
import { type MeteredHour, meteringReadPlan, quantitiesToReport } from './quantities.js';
import {
  type ActivationBaseline,
  createLedgerStore,
  createMeteringStateStore,
  expiryOutcome,
  type LedgerItem,
  type LedgerStore,
  ledgerItemKey,
  type MeteringStateLicenses,
  meteringStateOf,
} from './store.js';

/**
 * The metering pipeline: for each license, plan the hours to report, read the SaaSus day counts,
 * fix the quantities in the ledger (conditionally, so a second run computes nothing new), send
 * every pending record with BatchMeterUsage, and record each answer.
 *
 * Order of the steps, and what a crash between any two of them leaves:
 * 1. Read the license and its ledger. (Nothing written yet.)
 * 2. Read the SaaSus counts, capture the activation baseline once.
 * 3. Put one ledger item per new (dimension, hour), `pending` with its quantity fixed. A crash
 *    here leaves some items: the next run finds them and computes only the missing ones, which
 *    account for the usage the found ones already carry.
 * 4. Move the cursor past the computed hours (it only saves work).
 * 5. Send every pending item in the window, ≤ 25 per call, one product per call. A crash before
 *    or after the call leaves the items pending; the next run sends the same records again and
 *    AWS answers the identical resend idempotently (with the same MeteringRecordId).
 * 6. Record each answer on its item. An item leaves `pending` once, so a late duplicate answer
 *    changes nothing.
 * Records that left the window are never sent: they are marked expired and alarmed on.
 */

export type MeteringConfig = Pick<DeploymentConfig, 'marketplace' | 'plans' | 'revocation' | 'metering'>;

/** SaaSus unit name → that day's count, for one tenant and day. */
export type DayCountReader = (tenantId: string, day: string) => Promise<Readonly<Record<string, number>>>;

/** Dimension → entitled quantity of the license (contract-with-consumption). */
export type EntitlementReader = (identity: BuyerIdentity) => Promise<Readonly<Record<string, number>>>;

/** The logger methods metering uses; a Powertools Logger fits. */
export type MeteringLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

/** Step boundaries where a test can make the run die, as a crashed Lambda would. */
export type CrashStep =
  | 'licenseRead'
  | 'usageRead'
  | 'baselineCaptured'
  | 'ledgerItemWritten'
  | 'cursorAdvanced'
  | 'batchSent'
  | 'outcomeRecorded'
  | 'meteringStopped';

export const crashSteps: readonly CrashStep[] = [
  'licenseRead',
  'usageRead',
  'baselineCaptured',
  'ledgerItemWritten',
  'cursorAdvanced',
  'batchSent',
  'outcomeRecorded',
  'meteringStopped',
];

export interface CrashPoint {
  readonly step: CrashStep;
  readonly licenseKey?: string;
}

/** Thrown by a run that `crashAt` stopped; it aborts the whole run like a dead process. */
export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
  constructor(readonly point: CrashPoint) {
    super(`injected crash after ${point.step}${point.licenseKey ? ` (${point.licenseKey})` : ''}`);
  }
}

export interface BatchSendResult<T extends UsageRecord> {
  /** One outcome per record of the batch. */
  readonly outcomes: SendOutcome<T>[];
  /** BatchMeterUsage requests made. */
  readonly requests: number;
  /** Backoff retries after throttling or another transient failure. */
  readonly retries: number;
  /** The request-level failure that left records unsent; `fatal` when retrying cannot help. */
  readonly failure?: { readonly error: unknown; readonly fatal: boolean };
}

export interface UsageSender {
  sendBatch<T extends UsageRecord>(batch: UsageBatch<T>): Promise<BatchSendResult<T>>;
}

export interface MeteringDeps {
  readonly config: MeteringConfig;
  readonly licenses: MeteringStateLicenses;
  readonly ledger: LedgerStore;
  readonly readDayCounts: DayCountReader;
  readonly sender: UsageSender;
  /** Required for contract-with-consumption pricing: only usage above the entitlement is billed. */
  readonly readEntitlements?: EntitlementReader;
  readonly logger?: MeteringLogger;
  /** Fault injection: return true to crash the run after `point`. */
  readonly crashAt?: (point: CrashPoint) => boolean;
  /**
   * Where licenses wait for their turn to be planned (SaaSus and DynamoDB reads overlap, calls go
   * out as soon as planned licenses fill them). @default `planningSlots(8)` for this run
   */
  readonly planning?: PlanningSlots;
  /** See quantities.ts. */
  readonly lateUsageHours?: number;
}

export interface RunFailure {
  readonly licenseKey?: string;
  readonly message: string;
  /** Retrying will not help (configuration, permissions, a bug): alarm. */
  readonly fatal: boolean;
}

export interface RunReport {
  readonly now: Date;
  /** Licenses asked for. */
  readonly licenses: number;
  /** Licenses whose hours were computed this run. */
  readonly metered: number;
  /** Why licenses computed nothing new (a reason → count). */
  readonly skipped: Record<string, number>;
  /** Ledger items this run created. */
  readonly itemsWritten: number;
  /** Records handed to BatchMeterUsage (retries not counted). */
  readonly recordsSent: number;
  /** Outcomes by metric name (accepted, unprocessed, not subscribed, duplicate, rejected, expired). */
  readonly outcomes: Record<MeteringMetric, number>;
  readonly requests: number;
  readonly retries: number;
  /** Items still pending when the run ended (sent again next run). */
  readonly stillPending: number;
  readonly stoppedLicenses: string[];
  readonly failures: RunFailure[];
}

/** One record a dry run would send, or found pending. */
export interface PlannedRecord {
  readonly licenseKey: string;
  readonly dimension: string;
  readonly usageHour: string;
  readonly quantity: number;
  readonly usageByDay: Readonly<Record<string, number>>;
  /** `new`: computed now; `pending`: already in the ledger, waiting to be (re)sent. */
  readonly source: 'new' | 'pending';
  /** `send`: goes to BatchMeterUsage; `recordOnly`: ledger only; `expired`: out of the window. */
  readonly action: 'send' | 'recordOnly' | 'expired';
}

export interface DryRunReport {
  readonly now: string;
  readonly licenseKey: string;
  readonly status?: string;
  readonly skipped?: string;
  readonly hours: string[];
  readonly skippedHours: number;
  readonly days: string[];
  readonly baseline?: ActivationBaseline;
  readonly records: PlannedRecord[];
}

// --- sending ------------------------------------------------------------------------------------

export interface UsageSenderOptions {
  readonly client: MarketplaceMeteringClient;
  /** Backoff retries of a whole batch after throttling or a transient failure. @default 4 */
  readonly retries?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Further requests for records AWS returned unprocessed (see batchMeterUsage). */
  readonly unprocessedRetries?: number;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** For bisection: only a poison rejection is split; anything else is handed to the backoff. */
const classifyForBisection = (error: unknown): ErrorClass =>
  meteringFailureKind(error) === 'poison' ? 'poison' : 'retryable';

const toSendOutcome = <T extends UsageRecord>(outcome: MeteringOutcome, record: T): SendOutcome<T> => {
  switch (outcome.status) {
    case 'Success':
      return { record, status: 'Success', meteringRecordId: outcome.meteringRecordId };
    case 'CustomerNotSubscribed':
    case 'DuplicateRecord':
      return {
        record,
        status: outcome.status,
        ...(outcome.meteringRecordId === undefined ? {} : { meteringRecordId: outcome.meteringRecordId }),
      };
    case 'Unprocessed':
      return { record, status: 'Unprocessed', reason: 'still in UnprocessedRecords after the retries' };
    case 'Failed':
      return { record, status: 'Unprocessed', reason: describeError(outcome.error) };
  }
};

/**
 * BatchMeterUsage for the pipeline: each batch goes through `batchMeterUsage` (which resends
 * UnprocessedRecords a few times), a request-level rejection is thrown so `sendWithBisection`
 * can isolate a poison record, and throttling or a transient failure is retried with jittered
 * backoff (`withRetry`). Add the client-side rate limit with `limitRate`.
 */
export const createUsageSender = (options: UsageSenderOptions): UsageSender => ({
  async sendBatch<T extends UsageRecord>(batch: UsageBatch<T>): Promise<BatchSendResult<T>> {
    let requests = 0;
    let retries = 0;
    const outcomes: SendOutcome<T>[] = [];
    let remaining: readonly T[] = batch.records;

    const send = async (part: UsageBatch<T>): Promise<SendOutcome<T>[]> => {
      const result = await batchMeterUsage(options.client, {
        productCode: part.productCode,
        identityMode: part.identityMode,
        records: part.records.map((record) => ({
          identity: record.identity,
          dimension: record.dimension,
          quantity: record.quantity,
          timestamp: record.usageHour,
        })),
        ...(options.unprocessedRetries === undefined
          ? {}
          : { unprocessedRetries: options.unprocessedRetries }),
        ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      });
      requests += result.requests;
      const failed = result.outcomes.find((outcome) => outcome.status === 'Failed');
      if (failed?.status === 'Failed') throw failed.error;
      return result.outcomes.map((outcome, index) => {
        const record = part.records[index];
        if (record === undefined)
          throw new MeteringInputError('batchMeterUsage returned more outcomes than records');
        return toSendOutcome(outcome, record);
      });
    };

    try {
      await withRetry(
        async () => {
          try {
            outcomes.push(
              ...(await sendWithBisection({ ...batch, records: remaining }, send, classifyForBisection)),
            );
            remaining = [];
          } catch (error) {
            if (!(error instanceof PartiallySentBatchError)) throw error;
            outcomes.push(...(error.settled as SendOutcome<T>[]));
            remaining = error.unsent as T[];
            throw error.cause;
          }
        },
        {
          retries: options.retries ?? 4,
          baseDelayMs: options.baseDelayMs ?? 200,
          maxDelayMs: options.maxDelayMs ?? 5_000,
          isRetryable: (error) => meteringFailureKind(error) === 'retryable',
          onRetry: (error, attempt, delayMs) => {
            retries++;
            options.onRetry?.(error, attempt, delayMs);
          },
          ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
          ...(options.random === undefined ? {} : { random: options.random }),
        },
      );
      return { outcomes, requests, retries };
    } catch (error) {
      const reason = describeError(error);
      for (const record of remaining) outcomes.push({ record, status: 'Unprocessed', reason });
      return {
        outcomes,
        requests,
        retries,
        failure: { error, fatal: meteringFailureKind(error) !== 'retryable' },
      };
    }
  },
});

const rateLimitMiddleware = 'marketplaceBridgeMeteringRateLimit';

/**
 * Makes every HTTP attempt of `client` (the SDK's own retries included) wait for a slot of
 * `limiter`, so all workers together stay under the account's BatchMeterUsage quota.
 */
export const limitRate = <C extends Pick<MarketplaceMeteringClient, 'middlewareStack'>>(
  client: C,
  limiter: { acquire(): Promise<unknown> },
): C => {
  client.middlewareStack.remove(rateLimitMiddleware);
  client.middlewareStack.add(
    (next) => async (args) => {
      await limiter.acquire();
      return next(args);
    },
    // Inside the SDK's retry middleware (priority high in the same step): one token per attempt.
    { step: 'finalizeRequest', priority: 'low', name: rateLimitMiddleware },
  );
  return client;
};

// --- readers ------------------------------------------------------------------------------------

/** Day counts from SaaSus: one call per tenant and day, every unit at once. */
export const saasusDayCounts =
  (saasus: Pick<SaasusClient, 'getMeteringCountsForDate'>): DayCountReader =>
  async (tenantId, day) =>
    Object.fromEntries(
      (await saasus.getMeteringCountsForDate(tenantId, day)).map((count) => [
        count.metering_unit_name,
        count.count,
      ]),
    );

/**
 * Entitled quantities from GetEntitlements: per dimension the largest whole quantity among the
 * unexpired entitlements (a boolean or text entitlement entitles no quantity).
 */
export const entitledQuantities = (
  entitlements: readonly Entitlement[],
  at: Date,
): Record<string, number> => {
  const quantities: Record<string, number> = {};
  for (const entitlement of entitlements) {
    if (entitlement.expirationDate !== undefined && entitlement.expirationDate <= at) continue;
    if (typeof entitlement.value !== 'number' || !Number.isFinite(entitlement.value)) continue;
    const quantity = Math.max(0, Math.floor(entitlement.value));
    quantities[entitlement.dimension] = Math.max(quantities[entitlement.dimension] ?? 0, quantity);
  }
  return quantities;
};

export const marketplaceEntitlements =
  (
    client: Parameters<typeof getAllEntitlements>[0],
    productCode: string,
    now: () => Date = () => new Date(),
  ): EntitlementReader =>
  async (identity) =>
    entitledQuantities(
      await getAllEntitlements(client, { productCode, filter: entitlementFilterFor(identity) }),
      now(),
    );

// --- the run ------------------------------------------------------------------------------------

type Mode = 'hourly' | 'flush' | 'dryRun';

interface LicenseWork {
  readonly licenseKey: string;
  readonly episode?: string;
  readonly toSend: LedgerItem[];
  readonly expired: LedgerItem[];
  readonly dryRun?: DryRunReport;
}

const emptyOutcomes = (): Record<MeteringMetric, number> => ({
  UsageRecordAccepted: 0,
  UsageRecordUnprocessed: 0,
  CustomerNotSubscribed: 0,
  UsageRecordDuplicate: 0,
  UsageRecordRejected: 0,
  UsageRecordExpired: 0,
});

const identityOf = (item: LicenseItem): BuyerIdentity => {
  const candidate =
    item.identityMode === 'legacy'
      ? {
          mode: 'legacy',
          customerIdentifier: item.customerIdentifier ?? item.licenseKey,
          ...(item.customerAwsAccountId === undefined
            ? {}
            : { customerAwsAccountId: item.customerAwsAccountId }),
        }
      : {
          mode: 'license',
          licenseArn: item.licenseArn ?? item.licenseKey,
          customerAwsAccountId: item.customerAwsAccountId,
        };
  const parsed = buyerIdentitySchema.safeParse(candidate);
  if (!parsed.success) throw new MeteringInputError(`license ${item.licenseKey} has no valid buyer identity`);
  return parsed.data.mode === 'license'
    ? {
        mode: 'license',
        licenseArn: parsed.data.licenseArn,
        customerAwsAccountId: parsed.data.customerAwsAccountId,
      }
    : {
        mode: 'legacy',
        customerIdentifier: parsed.data.customerIdentifier,
        ...(parsed.data.customerAwsAccountId === undefined
          ? {}
          : { customerAwsAccountId: parsed.data.customerAwsAccountId }),
      };
};

/** Runs a task when one of a fixed number of slots is free, in the order the tasks were queued. */
export type PlanningSlots = <T>(task: () => Promise<T>) => Promise<T>;

export const planningSlots = (limit: number): PlanningSlots => {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new MeteringInputError(`planning slots: expected a whole number of at least 1, got ${limit}`);
  }
  let active = 0;
  const queued: (() => void)[] = [];
  return async (task) => {
    if (active < limit) active++;
    // A finishing task hands its slot straight to the next in line (`active` stays the same).
    else await new Promise<void>((resolve) => queued.push(resolve));
    try {
      return await task();
    } finally {
      const next = queued.shift();
      if (next) next();
      else active--;
    }
  };
};

interface RunState {
  crashed?: InjectedCrash;
  metered: number;
  itemsWritten: number;
  recordsSent: number;
  requests: number;
  retries: number;
  readonly skipped: Record<string, number>;
  readonly outcomes: Record<MeteringMetric, number>;
  readonly failures: RunFailure[];
  readonly stopped: Set<string>;
}

const createRun = (deps: MeteringDeps, now: Date, mode: Mode) => {
  const { config } = deps;
  const window = config.metering.allowedWindowHours;
  const stateStore = createMeteringStateStore(deps.licenses);
  const state: RunState = {
    metered: 0,
    itemsWritten: 0,
    recordsSent: 0,
    requests: 0,
    retries: 0,
    skipped: {},
    outcomes: emptyOutcomes(),
    failures: [],
    stopped: new Set(),
  };
  const write = mode !== 'dryRun';
  const countCache = new Map<string, Promise<Readonly<Record<string, number>>>>();
  const episodes = new Map<string, string>();

  const checkpoint = (step: CrashStep, licenseKey?: string) => {
    if (state.crashed) throw state.crashed;
    const point: CrashPoint = licenseKey === undefined ? { step } : { step, licenseKey };
    if (deps.crashAt?.(point)) {
      state.crashed = new InjectedCrash(point);
      throw state.crashed;
    }
  };

  const skip = (reason: string) => {
    state.skipped[reason] = (state.skipped[reason] ?? 0) + 1;
  };

  const readCounts = (tenantId: string, day: string) => {
    const key = `${tenantId}\u0000${day}`;
    let counts = countCache.get(key);
    if (!counts) {
      counts = deps.readDayCounts(tenantId, day);
      countCache.set(key, counts);
      counts.catch(() => countCache.delete(key));
    }
    return counts;
  };

  const prepare = async (licenseKey: string): Promise<LicenseWork> => {
    const item = await deps.licenses.get(licenseKey);
    checkpoint('licenseRead', licenseKey);
    const dry = (report: Omit<DryRunReport, 'now' | 'licenseKey'>): DryRunReport => ({
      now: now.toISOString(),
      licenseKey,
      ...report,
    });
    if (!item) {
      skip('unknownLicense');
      return {
        licenseKey,
        toSend: [],
        expired: [],
        dryRun: dry({ skipped: 'unknown license', hours: [], skippedHours: 0, days: [], records: [] }),
      };
    }
    const identity = identityOf(item);
    const effects = desiredEffects(parseLicenseRecord(item.lifecycle), { config });
    const status = effects.status;
    const episode = status.activeSince;
    if (episode !== undefined) episodes.set(licenseKey, episode);
    const meteringState = episode === undefined ? {} : meteringStateOf(item, episode);
    const startsAt = episode === undefined ? undefined : new Date(episode);
    const endsAt = status.endingSince === undefined ? undefined : new Date(status.endingSince);

    let skipReason: string | undefined;
    if (config.marketplace.pricingModel === 'contract') skipReason = 'contractPricing';
    else if (config.metering.units.length === 0) skipReason = 'noUnits';
    else if (startsAt === undefined) skipReason = 'notActivated';
    else if (meteringState.stopped) skipReason = 'stopped';
    else if (effects.metering === 'closed' && !(mode !== 'hourly' && status.status === 'ended')) {
      skipReason = 'meteringClosed';
    }

    const hours =
      skipReason === undefined && startsAt
        ? completedHoursToReport({
            now,
            lastReportedHourStart: meteringState.cursor,
            meteringStartsAt: startsAt,
            meteringEndsAt: endsAt && endsAt >= startsAt ? endsAt : undefined,
            maxHours: Math.max(1, window - 1),
          })
        : { hours: [], skippedHours: 0 };
    const plan =
      startsAt && hours.hours.length > 0
        ? meteringReadPlan({
            pendingHours: hours.hours,
            timeZone: config.metering.saasusDayTimeZone,
            meteringStartsAt: startsAt,
            pricingModel: config.marketplace.pricingModel,
            ...(deps.lateUsageHours === undefined ? {} : { lateUsageHours: deps.lateUsageHours }),
          })
        : { days: [], ledgerFrom: undefined };
    // Pending items reach back one window (older ones are the sweeper's); quantities need the plan's range.
    const windowStart = hourStart(now).getTime() - (window + 1) * HOUR_MS;
    const readFrom = new Date(Math.min(windowStart, plan.ledgerFrom?.getTime() ?? windowStart));
    const ledger = await deps.ledger.read(licenseKey, readFrom);

    const created: LedgerItem[] = [];
    let baseline: ActivationBaseline | undefined = meteringState.baseline;
    const timeZone = config.metering.saasusDayTimeZone;
    const activationDay = startsAt === undefined ? undefined : dayOf(startsAt, timeZone);
    if (baseline && baseline.day !== activationDay) baseline = undefined;
    const tenantId = typeof item.tenantId === 'string' && item.tenantId !== '' ? item.tenantId : undefined;
    /** Stores the activation day's counts as read now, once per episode (see store.ts). */
    const captureBaseline = async (counts: Readonly<Record<string, number>>) => {
      if (baseline || !episode || !activationDay) return;
      const captured = { day: activationDay, counts: { ...counts }, capturedAt: now.toISOString() };
      baseline = write ? await stateStore.captureBaseline(licenseKey, episode, captured, item) : captured;
      checkpoint('baselineCaptured', licenseKey);
    };
    if (skipReason !== undefined) skip(skipReason);
    else if (hours.hours.length === 0) skip('nothingDue');

    if (skipReason === undefined && hours.hours.length === 0 && tenantId && activationDay && !baseline) {
      // Processed before any hour is due (e.g. right at activation): the earliest, most exact baseline.
      if (activationDay >= dayOf(new Date(now.getTime() - 24 * HOUR_MS), timeZone)) {
        await captureBaseline(await readCounts(tenantId, activationDay));
      }
    }
    if (skipReason === undefined && startsAt && episode && activationDay && hours.hours.length > 0) {
      state.metered++;
      // Without a tenant nobody can have used the SaaS yet: every count is 0.
      const countsByDay: Record<string, Readonly<Record<string, number>>> = {};
      for (const day of plan.days) countsByDay[day] = tenantId ? await readCounts(tenantId, day) : {};
      checkpoint('usageRead', licenseKey);
      // Usage before activation is never billed: the activation day's count when metering first
      // saw the license counts as reported. Without a tenant there is nothing to capture yet.
      const activationCounts = countsByDay[activationDay];
      if (tenantId && activationCounts) await captureBaseline(activationCounts);

      const entitled =
        config.marketplace.pricingModel === 'contract-with-consumption'
          ? await (
              deps.readEntitlements ??
              (() => {
                throw new MeteringInputError('contract-with-consumption pricing needs an entitlement reader');
              })
            )(identity)
          : undefined;

      const metered: MeteredHour[] = quantitiesToReport({
        pendingHours: hours.hours,
        timeZone,
        meteringStartsAt: startsAt,
        pricingModel: config.marketplace.pricingModel,
        ...(deps.lateUsageHours === undefined ? {} : { lateUsageHours: deps.lateUsageHours }),
        units: config.metering.units,
        countsByDay,
        ledger,
        ledgerCompleteFrom: readFrom,
        activationBaseline: baseline?.counts ?? {},
        ...(entitled === undefined ? {} : { entitledQuantities: entitled }),
        sendZeroUsage: config.metering.sendZeroUsage,
      });

      const computed = metered.map(
        (hour): LedgerItem => ({
          productCode: item.productCode,
          licenseKey,
          identity,
          dimension: hour.dimension,
          usageHour: hour.usageHour,
          quantity: hour.quantity,
          usageByDay: hour.usageByDay,
          status: initialLedgerStatus(hour.disposition),
          createdAt: now,
          attempts: 0,
        }),
      );
      if (!write) created.push(...computed);
      else {
        // Independent conditional puts: all at once, each one fixed for good when it lands.
        const stored = await Promise.all(
          computed.map(async (entry) => {
            const result = await deps.ledger.putIfAbsent(entry);
            if (result.created) state.itemsWritten++;
            checkpoint('ledgerItemWritten', licenseKey);
            return result.item;
          }),
        );
        created.push(...stored);
      }
      const lastHour = hours.hours.at(-1);
      if (write && lastHour) {
        await stateStore.advanceCursor(licenseKey, episode, lastHour, meteringState.cursor);
        checkpoint('cursorAdvanced', licenseKey);
      }
    }

    // Everything still to send: pending items already in the ledger plus those just written.
    const pending = new Map<string, LedgerItem>();
    for (const entry of [...ledger, ...created]) {
      if (entry.status === 'pending') pending.set(ledgerItemKey(entry), entry);
    }
    const { sendable, expired } = partitionByWindow([...pending.values()], now, window);
    const newKeys = new Set(created.map(ledgerItemKey));
    const planned = (entry: LedgerItem, action: PlannedRecord['action']): PlannedRecord => ({
      licenseKey,
      dimension: entry.dimension,
      usageHour: entry.usageHour.toISOString(),
      quantity: entry.quantity,
      usageByDay: entry.usageByDay,
      source: newKeys.has(ledgerItemKey(entry)) ? 'new' : 'pending',
      action,
    });
    return {
      licenseKey,
      ...(episode === undefined ? {} : { episode }),
      toSend: sendable,
      expired,
      dryRun: dry({
        status: status.status,
        ...(skipReason === undefined ? {} : { skipped: skipReason }),
        hours: hours.hours.map((hour) => hour.toISOString()),
        skippedHours: hours.skippedHours,
        days: plan.days,
        ...(baseline ? { baseline } : {}),
        records: [
          ...sendable.map((entry) => planned(entry, 'send')),
          ...created
            .filter((entry) => entry.status === 'unsentZero')
            .map((entry) => planned(entry, 'recordOnly')),
          ...expired.map((entry) => planned(entry, 'expired')),
        ],
      }),
    };
  };

  const stopLicense = async (licenseKey: string, reason: string) => {
    const episode = episodes.get(licenseKey);
    if (state.stopped.has(licenseKey) || episode === undefined) return;
    state.stopped.add(licenseKey);
    await stateStore.stop(licenseKey, episode, now, reason);
    deps.logger?.warn('Metering stopped for a license: AWS reports the customer is not subscribed', {
      licenseKey,
    });
    checkpoint('meteringStopped', licenseKey);
  };

  const record = async (outcome: RecordOutcome<LedgerItem>) => {
    const transition = transitionFor(outcome);
    const item = outcome.record;
    state.outcomes[transition.metric]++;
    if (transition.retryNextRun) {
      await deps.ledger.recordAttempt(item, transition.reason ?? outcome.status, now);
    } else {
      const written = await deps.ledger.recordOutcome(item, transition, now);
      if (written.result === 'alreadyFinal' && written.status !== transition.status) {
        deps.logger?.warn('Ledger item already has another final status; keeping it', {
          key: ledgerItemKey(item),
          stored: written.status,
          answer: transition.status,
        });
      }
    }
    if (transition.alarm) {
      deps.logger?.error('Usage record needs attention', {
        key: ledgerItemKey(item),
        quantity: item.quantity,
        status: transition.status,
        reason: transition.reason,
      });
    }
    checkpoint('outcomeRecorded', item.licenseKey);
    if (transition.stopMeteringLicense)
      await stopLicense(item.licenseKey, transition.reason ?? outcome.status);
  };

  const execute = async (
    licenseKeys: readonly string[],
  ): Promise<{ report: RunReport; works: LicenseWork[] }> => {
    const unique = [...new Set(licenseKeys)];
    let stillPending = 0;
    /** Valid records waiting until they fill a call (or the planning ends). */
    let waiting: LedgerItem[] = [];
    const sends: Promise<void>[] = [];

    const send = async (batch: UsageBatch<LedgerItem>) => {
      state.recordsSent += batch.records.length;
      const result = await deps.sender.sendBatch(batch);
      state.requests += result.requests;
      state.retries += result.retries;
      checkpoint('batchSent');
      for (const outcome of result.outcomes) if (outcome.status === 'Unprocessed') stillPending++;
      // One write per record, all at once: the next call's slot should not wait for them.
      await Promise.all(result.outcomes.map(record));
      if (result.failure) {
        const message = describeError(result.failure.error);
        deps.logger?.[result.failure.fatal ? 'error' : 'warn'](
          'BatchMeterUsage failed; records stay pending',
          {
            error: message,
            records: batch.records.length,
          },
        );
        state.failures.push({ message, fatal: result.failure.fatal });
      }
    };

    /** Sends the full calls now (or everything, at the end); the rest waits for more licenses. */
    const dispatch = (final: boolean) => {
      const batches = toBatches(waiting);
      waiting = [];
      for (const batch of batches) {
        if (final || batch.records.length === MAX_RECORDS_PER_BATCH) sends.push(send(batch));
        else waiting.push(...batch.records);
      }
    };

    /** A planned license's records: expired ones marked, invalid ones rejected, the rest queued. */
    const enqueue = async (work: LicenseWork) => {
      for (const item of work.expired) await record(expiryOutcome(item, window));
      for (const item of work.toSend) {
        try {
          waiting.push(assertValidUsageRecord(item));
        } catch (error) {
          await record({ record: item, status: 'Rejected', reason: describeError(error) });
        }
      }
      dispatch(false);
    };

    // Planning and sending overlap: a call goes out as soon as planned licenses fill it, so the
    // shared rate limit is not left idle while the rest of the message is planned.
    const planning = deps.planning ?? planningSlots(8);
    const settled = await Promise.allSettled(
      unique.map(async (licenseKey) => {
        const work = await planning(() => prepare(licenseKey));
        if (write) await enqueue(work);
        return work;
      }),
    );
    if (write && !state.crashed) dispatch(true);
    const sent = await Promise.allSettled(sends);
    if (state.crashed) throw state.crashed;
    const sendError = sent.find((result) => result.status === 'rejected');
    if (sendError) throw sendError.reason;

    const works: LicenseWork[] = [];
    settled.forEach((result, index) => {
      if (result.status === 'fulfilled') {
        works.push(result.value);
        return;
      }
      const licenseKey = unique[index];
      const message = describeError(result.reason);
      deps.logger?.error('Metering a license failed', { licenseKey, error: message });
      state.failures.push({ ...(licenseKey === undefined ? {} : { licenseKey }), message, fatal: false });
    });
    return {
      works,
      report: {
        now,
        licenses: unique.length,
        metered: state.metered,
        skipped: state.skipped,
        itemsWritten: state.itemsWritten,
        recordsSent: state.recordsSent,
        outcomes: state.outcomes,
        requests: state.requests,
        retries: state.retries,
        stillPending,
        stoppedLicenses: [...state.stopped],
        failures: state.failures,
      },
    };
  };

  return { execute };
};

export interface MeterInput {
  readonly licenseKeys: readonly string[];
  /** The run's time: hours completed by then are reported. */
  readonly now: Date;
}

/**
 * The hourly run for a few licenses: every completed hour not yet reported, for licenses whose
 * metering is open, plus every pending record of these licenses still in the window.
 */
export const meterLicenses = async (deps: MeteringDeps, input: MeterInput): Promise<RunReport> =>
  (await createRun(deps, input.now, 'hourly').execute(input.licenseKeys)).report;

/**
 * The final flush of a license whose agreement ended (or was deprovisioned): reports at once
 * everything up to and including the hour in which it ended (the current, partial hour when it
 * ends now) and sends everything pending.
 */
export const flushLicense = async (
  deps: MeteringDeps,
  input: { readonly licenseKey: string; readonly now: Date },
): Promise<RunReport> => (await createRun(deps, input.now, 'flush').execute([input.licenseKey])).report;

/** What a run would compute and send for one license, without writing or sending anything. */
export const dryRunLicense = async (
  deps: Omit<MeteringDeps, 'sender'>,
  input: { readonly licenseKey: string; readonly now: Date },
): Promise<DryRunReport> => {
  const unused: UsageSender = {
    sendBatch: () => Promise.reject(new Error('a dry run never sends')),
  };
  const { works, report } = await createRun({ ...deps, sender: unused }, input.now, 'dryRun').execute([
    input.licenseKey,
  ]);
  const [failure] = report.failures;
  if (failure) throw new Error(`dry run of ${input.licenseKey} failed: ${failure.message}`);
  const [work] = works;
  if (!work?.dryRun) throw new Error(`dry run of ${input.licenseKey} produced no plan`);
  return work.dryRun;
};

/**
 * Whether a queue message should be delivered again: a license failed, or a request failed in a
 * way retrying cannot fix (the message ends in the dead-letter queue, which alarms). A final
 * flush is also redelivered while records are still unsent, because its window is one hour;
 * hourly records left pending are simply sent by the next run.
 */
export const needsRedelivery = (report: RunReport, kind: 'meter' | 'flush'): boolean =>
  report.failures.some((failure) => failure.licenseKey !== undefined || failure.fatal) ||
  (kind === 'flush' && report.stillPending > 0);

/** The runtime pieces the metering deps are built from (a `Runtime` fits). */
export interface MeteringRuntime {
  readonly config: DeploymentConfig;
  readonly env: { readonly METERING_LEDGER_TABLE: string };
  dynamo(): Parameters<typeof createLedgerStore>[0]['client'];
  licenses(): MeteringStateLicenses;
  saasus(): Pick<SaasusClient, 'getMeteringCountsForDate'>;
  meteringClient(): MarketplaceMeteringClient;
  entitlementClient(): Parameters<typeof getAllEntitlements>[0];
}

/**
 * The deps of a metering worker: the runtime's clients, and BatchMeterUsage behind the
 * account-wide limiter every worker shares (`metering.batchMeterUsageQuotaPerSecond`).
 */
export const meteringDepsFromRuntime = (
  runtime: MeteringRuntime,
  options: { readonly workers: number; readonly logger?: MeteringLogger; readonly now?: () => Date },
): MeteringDeps => {
  const { config } = runtime;
  const ratePerSecond = accountRate({ quotaPerSecond: config.metering.batchMeterUsageQuotaPerSecond });
  const limiter = new SharedRateLimiter({
    client: runtime.dynamo(),
    tableName: runtime.env.METERING_LEDGER_TABLE,
    ratePerSecond,
    // Each worker holds at most one reservation: a backlog of one slot per worker, twice over.
    maxAheadMs: Math.max(60_000, (2 * options.workers * 1000) / ratePerSecond),
  });
  return {
    config,
    licenses: runtime.licenses(),
    ledger: createLedgerStore({ client: runtime.dynamo(), tableName: runtime.env.METERING_LEDGER_TABLE }),
    readDayCounts: saasusDayCounts(runtime.saasus()),
    sender: createUsageSender({
      client: limitRate(runtime.meteringClient(), limiter),
      ...(options.logger
        ? {
            onRetry: (error: unknown, attempt: number, delayMs: number) =>
              options.logger?.warn('BatchMeterUsage retry after backoff', {
                error: describeError(error),
                attempt,
                delayMs,
              }),
          }
        : {}),
    }),
    ...(config.marketplace.pricingModel === 'contract-with-consumption'
      ? {
          readEntitlements: marketplaceEntitlements(
            runtime.entitlementClient(),
            config.marketplace.productCode,
            options.now,
          ),
        }
      : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  };
};
