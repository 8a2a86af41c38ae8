import { productFor } from '../config.js';
import { desiredEffects, effectConfigFor } from '../license/effects.js';
import { parseLicenseRecord } from '../license/record.js';
import { type BuyerIdentity, buyerIdentitySchema } from '../marketplace/identity.js';
import type { LicenseItem } from '../store/licenses.js';
import { MeteringInputError } from './errors.js';
import { completedHoursToReport, dayOf, HOUR_MS, hourStart } from './hours.js';
import { initialLedgerStatus } from './outcomes.js';
import { type MeteredHour, meteringReadPlan, quantitiesToReport } from './quantities.js';
import type { RunContext } from './run-context.js';
import { type ActivationBaseline, type LedgerItem, meteringStateOf } from './store.js';

/**
 * Steps 1-2 of the run (see pipeline.ts), and the computation between them and the ledger: read
 * the license and its ledger, decide the hours to report, read the SaaSus day counts, capture
 * the activation baseline once, and compute one ledger item per new (dimension, hour). Nothing
 * here writes a ledger item; the baseline is the one write (once per episode).
 */

/** What planning decided for one license; the ledger step writes `computed`. */
export interface LicensePlan {
  readonly licenseKey: string;
  readonly episode?: string;
  readonly status?: string;
  readonly skipReason?: string;
  readonly hours: readonly Date[];
  readonly skippedHours: number;
  readonly days: readonly string[];
  readonly baseline?: ActivationBaseline;
  /** The license's ledger as read (pending items among them are sent again). */
  readonly ledger: readonly LedgerItem[];
  /** New items for the hours computed now; empty when nothing was computed. */
  readonly computed: readonly LedgerItem[];
  /** The cursor as read, when hours were computed (the ledger step moves it past them). */
  readonly cursor?: { readonly from: Date | undefined; readonly to: Date };
}

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

/** Plans one license: steps 1 and 2, and the quantities of the hours now due. */
export const planLicense = async (run: RunContext, licenseKey: string): Promise<LicensePlan> => {
  const { deps, config, now, mode, write, window, stateStore, checkpoint, skip } = run;
  const item = await run.readLicense(licenseKey);
  checkpoint('licenseRead', licenseKey);
  if (!item) {
    skip('unknownLicense');
    return {
      licenseKey,
      skipReason: 'unknown license',
      hours: [],
      skippedHours: 0,
      days: [],
      ledger: [],
      computed: [],
    };
  }
  const identity = identityOf(item);
  const product = productFor(config, item.productCode);
  const effects = desiredEffects(parseLicenseRecord(item.lifecycle), {
    config: effectConfigFor(config, item.productCode),
  });
  const status = effects.status;
  const episode = status.activeSince;
  if (episode !== undefined) run.episodes.set(licenseKey, episode);
  const meteringState = episode === undefined ? {} : meteringStateOf(item, episode);
  const startsAt = episode === undefined ? undefined : new Date(episode);
  const endsAt = status.endingSince === undefined ? undefined : new Date(status.endingSince);

  let skipReason: string | undefined;
  if (product.pricingModel === 'contract') skipReason = 'contractPricing';
  else if (product.meteringUnits.length === 0) skipReason = 'noUnits';
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
          pricingModel: product.pricingModel,
          ...(deps.lateUsageHours === undefined ? {} : { lateUsageHours: deps.lateUsageHours }),
        })
      : { days: [], ledgerFrom: undefined };
  // Pending items reach back one window (older ones are the sweeper's); quantities need the plan's range.
  const windowStart = hourStart(now).getTime() - (window + 1) * HOUR_MS;
  const readFrom = new Date(Math.min(windowStart, plan.ledgerFrom?.getTime() ?? windowStart));
  const ledger = await deps.ledger.read(licenseKey, readFrom);

  let computed: LedgerItem[] = [];
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
      await captureBaseline(await run.readCounts(tenantId, activationDay));
    }
  }
  const lastHour = hours.hours.at(-1);
  let cursor: LicensePlan['cursor'];
  if (skipReason === undefined && startsAt && episode && activationDay && lastHour) {
    run.state.metered++;
    cursor = { from: meteringState.cursor, to: lastHour };
    // Without a tenant nobody can have used the SaaS yet: every count is 0.
    const countsByDay: Record<string, Readonly<Record<string, number>>> = {};
    for (const day of plan.days) countsByDay[day] = tenantId ? await run.readCounts(tenantId, day) : {};
    checkpoint('usageRead', licenseKey);
    // Usage before activation is never billed: the activation day's count when metering first
    // saw the license counts as reported. Without a tenant there is nothing to capture yet.
    const activationCounts = countsByDay[activationDay];
    if (tenantId && activationCounts) await captureBaseline(activationCounts);

    const entitled =
      product.pricingModel === 'contract-with-consumption'
        ? await (
            deps.readEntitlements ??
            (() => {
              throw new MeteringInputError('contract-with-consumption pricing needs an entitlement reader');
            })
          )(identity, item.productCode)
        : undefined;

    const metered: MeteredHour[] = quantitiesToReport({
      pendingHours: hours.hours,
      timeZone,
      meteringStartsAt: startsAt,
      pricingModel: product.pricingModel,
      ...(deps.lateUsageHours === undefined ? {} : { lateUsageHours: deps.lateUsageHours }),
      units: product.meteringUnits,
      countsByDay,
      ledger,
      ledgerCompleteFrom: readFrom,
      activationBaseline: baseline?.counts ?? {},
      ...(entitled === undefined ? {} : { entitledQuantities: entitled }),
      sendZeroUsage: config.metering.sendZeroUsage,
    });

    computed = metered.map(
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
  }
  return {
    licenseKey,
    ...(episode === undefined ? {} : { episode }),
    status: status.status,
    ...(skipReason === undefined ? {} : { skipReason }),
    hours: hours.hours,
    skippedHours: hours.skippedHours,
    days: plan.days,
    ...(baseline ? { baseline } : {}),
    ledger,
    computed,
    ...(cursor === undefined ? {} : { cursor }),
  };
};
