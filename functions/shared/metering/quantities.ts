import type { MeteringUnit, Product } from '../config.js';
import {
  IncompleteLedgerError,
  MeteringInputError,
  MissingDayCountError,
  QuantityOutOfRangeError,
} from './errors.js';
import {
  addDays,
  assertDay,
  assertHourStart,
  assertValidDate,
  dayOf,
  firstDayOfMonth,
  firstHourOnOrAfterDay,
  HOUR_MS,
  hourKey,
  hourStart,
  laterDay,
  monthOf,
} from './hours.js';
import { assertQuantity, MAX_QUANTITY } from './limits.js';
import { accountsForUsage, type LedgerStatus, ledgerStatuses } from './outcomes.js';

/**
 * The quantity of each (dimension, hour) to report for one license, from the SaaSus day
 * counts read now and the ledger facts of what was already reported.
 *
 * Sum units. SaaSus only gives a running count per calendar day, so an hour's quantity is the
 * increase of a day's count since what the ledger already accounts for on that day. Each
 * ledger item keeps `usageByDay`, the part of each day's count it accounts for, and "already
 * accounted for day D" is the sum of `usageByDay[D]` over the items whose usage stands
 * (`accountsForUsage`: sent, to be sent, or deliberately unbilled). Past hours are immutable,
 * so usage that reaches SaaSus late is billed in a later hour's record under its own day:
 * - Every run re-reads the days of its pending hours plus the days reaching back
 *   `lateUsageHours` (default 24) before the first pending hour, never before activation.
 * - The increase of day D goes to the earliest pending hour lying in D or later: D's earliest
 *   pending hour, or, once all of D's hours are reported (late usage), the next pending hour.
 *   During a catch-up the other pending hours of D get 0: AWS dedupes by hour, the invoice
 *   total is the same, and no usage is split or rounded.
 * - Hence each day's billed total equals its final count, for usage that reaches SaaSus while
 *   its day is still re-read (until a run's first pending hour starts `lateUsageHours` after
 *   the day ends). A record that is rejected or expires unsent gives its usage back, and a
 *   later record bills it while its day is still re-read.
 * - A record carries at most 2,147,483,647; a larger increase spills into later pending hours
 *   and, failing those, into the next run.
 * - A `direct` overwrite (or a `sub`) can lower a count below what was billed. The quantity
 *   never goes negative: what was billed stays billed, and later growth is billed only once the
 *   count passes what was already accounted for. A count below zero reads as zero.
 * - Usage before activation is never billed: days before the activation day are not read, and
 *   the count on the activation day at activation (the per-unit baseline) counts as reported.
 *
 * Gauge units bill the level at each hour: the hour's day count as read now. A catch-up hour of
 * a past day gets that day's count as read now (SaaSus keeps no hourly history).
 *
 * contract-with-consumption bills only usage above the dimension's entitled quantity (an input,
 * from GetEntitlements). For a sum unit the entitlement is an allowance per SaaSus calendar
 * month (in the SaaSus day time zone): the month's accounted usage up to it is free, only the
 * excess is billed; it restarts each month, and a raised entitlement does not refund overage
 * already billed. For a gauge it is a level: the hour bills `max(0, level - entitled)`.
 *
 * An hour whose quantity is 0 is sent as a 0 record when `sendZeroUsage` is on (AWS recommends
 * a record every hour); when it is off, nothing is sent, but an hour that still accounts for
 * usage (inside an allowance) is kept in the ledger (`recordOnly`) so that usage is remembered.
 */

export type PricingModel = Product['pricingModel'];

/** Usage reaching SaaSus up to this long after its day's last reported hour is still billed. */
export const DEFAULT_LATE_USAGE_HOURS = 24;

/** What the computation needs to know of one ledger item. */
export interface LedgerEntry {
  readonly dimension: string;
  readonly usageHour: Date;
  readonly status: LedgerStatus;
  /** Day (`YYYY-MM-DD`) → the increase of that day's count the item accounts for (sum units). */
  readonly usageByDay: Readonly<Record<string, number>>;
}

export interface MeteredHour {
  readonly dimension: string;
  readonly usageHour: Date;
  /** What to bill (after any entitlement allowance). */
  readonly quantity: number;
  /** See LedgerEntry.usageByDay; empty for gauges. */
  readonly usageByDay: Record<string, number>;
  /** `send`: a record for BatchMeterUsage; `recordOnly`: a ledger item with nothing to send. */
  readonly disposition: 'send' | 'recordOnly';
}

export interface ReadPlanInput {
  /** Hour starts to report, oldest first (from completedHoursToReport). */
  readonly pendingHours: readonly Date[];
  /** IANA time zone of SaaSus calendar days. */
  readonly timeZone: string;
  readonly meteringStartsAt: Date;
  readonly pricingModel: PricingModel;
  readonly lateUsageHours?: number;
}

export interface ReadPlan {
  /** The SaaSus days to read counts for (one read per tenant and day), oldest first. */
  readonly days: string[];
  /** Ledger items from this hour on (inclusive) are needed; undefined when nothing is due. */
  readonly ledgerFrom: Date | undefined;
}

const own = <T>(record: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined;

const assertPendingHours = (hours: readonly Date[], meteringStartsAt: Date): void => {
  const firstHour = hourStart(assertValidDate(meteringStartsAt, 'meteringStartsAt')).getTime();
  let previous = Number.NEGATIVE_INFINITY;
  hours.forEach((hour, index) => {
    const time = assertHourStart(hour, `pendingHours[${index}]`).getTime();
    if (time <= previous) throw new MeteringInputError('pendingHours: expected distinct hours, oldest first');
    if (time < firstHour) {
      throw new MeteringInputError(
        `pendingHours[${index}] (${hour.toISOString()}) is before metering starts`,
      );
    }
    previous = time;
  });
};

/** Which day counts to read and how far back the ledger must be read for `quantitiesToReport`. */
export const meteringReadPlan = (input: ReadPlanInput): ReadPlan => {
  assertPendingHours(input.pendingHours, input.meteringStartsAt);
  const lateUsageHours = input.lateUsageHours ?? DEFAULT_LATE_USAGE_HOURS;
  if (!Number.isInteger(lateUsageHours) || lateUsageHours < 0) {
    throw new MeteringInputError(`lateUsageHours: expected a whole number of hours, got ${lateUsageHours}`);
  }
  const first = input.pendingHours[0];
  const last = input.pendingHours.at(-1);
  if (!first || !last) return { days: [], ledgerFrom: undefined };
  const activationDay = dayOf(input.meteringStartsAt, input.timeZone);
  const reachBack = dayOf(new Date(first.getTime() - lateUsageHours * HOUR_MS), input.timeZone);
  const firstDay = laterDay(reachBack, activationDay);
  const lastDay = dayOf(last, input.timeZone);
  const days: string[] = [];
  for (let day = firstDay; day <= lastDay; day = addDays(day, 1)) days.push(day);
  // An allowance needs the whole month's accounted usage; usage of a day is only ever
  // recorded on items of that day or later, so reading from the day (or month) start suffices,
  // and no item predates the activation hour.
  const ledgerDay = input.pricingModel === 'contract-with-consumption' ? firstDayOfMonth(firstDay) : firstDay;
  const ledgerFrom = Math.max(
    firstHourOnOrAfterDay(ledgerDay, input.timeZone).getTime(),
    hourStart(input.meteringStartsAt).getTime(),
  );
  return { days, ledgerFrom: new Date(ledgerFrom) };
};

export interface QuantitiesInput extends ReadPlanInput {
  readonly units: readonly MeteringUnit[];
  /** Day → SaaSus unit name → that day's count, read now, for every day of the read plan. A unit absent from a day reads as 0. */
  readonly countsByDay: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** This license's ledger items (any dimension) from at least `ledgerCompleteFrom` on. */
  readonly ledger: readonly LedgerEntry[];
  /** The supplied ledger holds every item from this hour on; must be no later than the plan's `ledgerFrom`. */
  readonly ledgerCompleteFrom: Date;
  /** SaaSus unit name → the unit's count on the activation day at activation (absent: 0). */
  readonly activationBaseline: Readonly<Record<string, number>>;
  /** Dimension → entitled quantity; only for contract-with-consumption. Absent: nothing is free. */
  readonly entitledQuantities?: Readonly<Record<string, number>>;
  readonly sendZeroUsage: boolean;
}

const readCount = (value: number | undefined, what: string): number => {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new MeteringInputError(`${what}: expected a whole number, got ${String(value)}`);
  }
  return Math.max(0, value);
};

const validateLedger = (ledger: readonly LedgerEntry[]): void => {
  const statuses = new Set<string>(ledgerStatuses);
  for (const entry of ledger) {
    const what = `ledger item ${entry.dimension}`;
    assertHourStart(entry.usageHour, `${what} usageHour`);
    if (!statuses.has(entry.status)) {
      throw new MeteringInputError(
        `${what} at ${hourKey(entry.usageHour)}: unknown status "${entry.status}"`,
      );
    }
    for (const [day, usage] of Object.entries(entry.usageByDay)) {
      assertDay(day);
      assertQuantity(usage, `${what} at ${hourKey(entry.usageHour)} usageByDay[${day}]`);
    }
  }
};

const validateEntitlements = (input: QuantitiesInput): Readonly<Record<string, number>> => {
  const entitled = input.entitledQuantities ?? {};
  if (input.pricingModel !== 'contract-with-consumption' && Object.keys(entitled).length > 0) {
    throw new MeteringInputError(
      `entitledQuantities apply only to contract-with-consumption pricing, not "${input.pricingModel}"`,
    );
  }
  for (const [dimension, quantity] of Object.entries(entitled)) {
    if (!Number.isSafeInteger(quantity) || quantity < 0) {
      throw new MeteringInputError(
        `entitledQuantities[${dimension}]: expected a whole number >= 0, got ${quantity}`,
      );
    }
  }
  return entitled;
};

/** The part of `usage` that lies above `allowance`, given `before` already used this period. */
const overage = (before: number, usage: number, allowance: number): number =>
  Math.max(0, before + usage - allowance) - Math.max(0, before - allowance);

interface UnitContext {
  readonly unit: MeteringUnit;
  readonly hours: readonly Date[];
  readonly hourDays: readonly string[];
  readonly entries: readonly LedgerEntry[];
  readonly entitled: number | undefined;
}

/**
 * The quantities to report for one license: for each mapped unit and each pending hour not
 * yet in the ledger, at most one MeteredHour (see the module comment for the rules).
 */
export const quantitiesToReport = (input: QuantitiesInput): MeteredHour[] => {
  if (input.pricingModel === 'contract') {
    throw new MeteringInputError('pure contract pricing is never metered');
  }
  const entitledQuantities = validateEntitlements(input);
  const plan = meteringReadPlan(input);
  if (!plan.ledgerFrom) return [];
  const completeFrom = assertValidDate(input.ledgerCompleteFrom, 'ledgerCompleteFrom');
  if (completeFrom.getTime() > plan.ledgerFrom.getTime()) {
    throw new IncompleteLedgerError(
      `the ledger must be read from ${plan.ledgerFrom.toISOString()}, but is complete only from ${completeFrom.toISOString()}`,
    );
  }
  validateLedger(input.ledger);
  const dimensions = new Set<string>();
  for (const unit of input.units) {
    if (dimensions.has(unit.dimension)) {
      throw new MeteringInputError(`dimension "${unit.dimension}" is metered by more than one unit`);
    }
    dimensions.add(unit.dimension);
  }
  const countFor = (day: string, unit: MeteringUnit): number => {
    const counts = own(input.countsByDay, day);
    if (!counts)
      throw new MissingDayCountError(`no SaaSus counts supplied for day ${day}; read every day of the plan`);
    return readCount(own(counts, unit.saasusUnit), `SaaSus count of "${unit.saasusUnit}" on ${day}`);
  };
  const activationDay = dayOf(input.meteringStartsAt, input.timeZone);

  const metered: MeteredHour[] = [];
  for (const unit of input.units) {
    const entries = input.ledger.filter((entry) => entry.dimension === unit.dimension);
    const taken = new Set(entries.map((entry) => entry.usageHour.getTime()));
    const hours = input.pendingHours.filter((hour) => !taken.has(hour.getTime()));
    const context: UnitContext = {
      unit,
      hours,
      hourDays: hours.map((hour) => dayOf(hour, input.timeZone)),
      entries,
      entitled: own(entitledQuantities, unit.dimension),
    };
    const computed =
      unit.aggregation === 'sum'
        ? sumQuantities(context, plan.days, countFor, {
            day: activationDay,
            count: readCount(
              own(input.activationBaseline, unit.saasusUnit),
              `activation baseline of "${unit.saasusUnit}"`,
            ),
          })
        : gaugeQuantities(context, countFor);
    for (const hour of computed) {
      const usage = Object.values(hour.usageByDay).reduce((total, part) => total + part, 0);
      if (hour.quantity > 0 || input.sendZeroUsage) metered.push({ ...hour, disposition: 'send' });
      else if (usage > 0) metered.push({ ...hour, disposition: 'recordOnly' });
    }
  }
  return metered.sort((a, b) => a.usageHour.getTime() - b.usageHour.getTime());
};

type ComputedHour = Omit<MeteredHour, 'disposition'>;

const sumQuantities = (
  context: UnitContext,
  days: readonly string[],
  countFor: (day: string, unit: MeteringUnit) => number,
  baseline: { day: string; count: number },
): ComputedHour[] => {
  const { unit, hours, hourDays } = context;
  const accounted = new Map<string, number>();
  const monthUsage = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, amount: number) =>
    map.set(key, (map.get(key) ?? 0) + amount);
  for (const entry of context.entries) {
    if (!accountsForUsage(entry.status)) continue;
    for (const [day, usage] of Object.entries(entry.usageByDay)) {
      add(accounted, day, usage);
      add(monthUsage, monthOf(day), usage);
    }
  }
  add(accounted, baseline.day, baseline.count);

  // Per pending hour: the usage it takes on, by day, and its running total.
  const allocations = hours.map(() => ({ byDay: new Map<string, number>(), total: 0 }));
  for (const day of days) {
    let unreported = Math.max(0, countFor(day, unit) - (accounted.get(day) ?? 0));
    const target = hourDays.findIndex((hourDay) => hourDay >= day);
    if (target === -1) continue;
    for (const allocation of allocations.slice(target)) {
      if (unreported === 0) break;
      const take = Math.min(unreported, MAX_QUANTITY - allocation.total);
      if (take === 0) continue;
      add(allocation.byDay, day, take);
      allocation.total += take;
      unreported -= take;
    }
  }

  return hours.map((usageHour, index) => {
    const usageByDay = Object.fromEntries(allocations[index]?.byDay ?? []);
    let quantity = 0;
    for (const [day, usage] of Object.entries(usageByDay)) {
      if (context.entitled === undefined) {
        quantity += usage;
      } else {
        const month = monthOf(day);
        const before = monthUsage.get(month) ?? 0;
        quantity += overage(before, usage, context.entitled);
        monthUsage.set(month, before + usage);
      }
    }
    return { dimension: unit.dimension, usageHour, quantity, usageByDay };
  });
};

const gaugeQuantities = (
  context: UnitContext,
  countFor: (day: string, unit: MeteringUnit) => number,
): ComputedHour[] =>
  context.hours.map((usageHour, index) => {
    const level = countFor(context.hourDays[index] ?? '', context.unit);
    const quantity = context.entitled === undefined ? level : Math.max(0, level - context.entitled);
    if (quantity > MAX_QUANTITY) {
      throw new QuantityOutOfRangeError(
        `level of "${context.unit.saasusUnit}" at ${hourKey(usageHour)} is ${quantity}, above the ${MAX_QUANTITY} a record can carry`,
      );
    }
    return { dimension: context.unit.dimension, usageHour, quantity, usageByDay: {} };
  });
