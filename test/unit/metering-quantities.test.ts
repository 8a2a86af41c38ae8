import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MeteringUnit } from '#shared/config';
import {
  IncompleteLedgerError,
  MeteringInputError,
  MissingDayCountError,
  QuantityOutOfRangeError,
} from '#shared/metering/errors';
import { completedHoursToReport, dayOf, HOUR_MS, hourKey } from '#shared/metering/hours';
import { MAX_QUANTITY } from '#shared/metering/limits';
import { initialLedgerStatus, type LedgerStatus } from '#shared/metering/outcomes';
import {
  type LedgerEntry,
  type MeteredHour,
  meteringReadPlan,
  type PricingModel,
  type QuantitiesInput,
  quantitiesToReport,
} from '#shared/metering/quantities';

const at = (iso: string) => new Date(iso);
const apiCalls: MeteringUnit = { saasusUnit: 'api_calls', dimension: 'api_calls', aggregation: 'sum' };
const storage: MeteringUnit = { saasusUnit: 'storage_gb', dimension: 'storage_gb', aggregation: 'gauge' };

const input = (overrides: Partial<QuantitiesInput>): QuantitiesInput => ({
  units: [apiCalls],
  pricingModel: 'subscription',
  timeZone: 'UTC',
  meteringStartsAt: at('2026-11-01T00:00:00Z'),
  pendingHours: [],
  countsByDay: {},
  ledger: [],
  ledgerCompleteFrom: at('2026-11-01T00:00:00Z'),
  activationBaseline: {},
  sendZeroUsage: true,
  ...overrides,
});

const entry = (
  usageHour: string,
  usageByDay: Record<string, number>,
  status: LedgerStatus = 'accepted',
  dimension = 'api_calls',
): LedgerEntry => ({ dimension, usageHour: at(usageHour), status, usageByDay });

const summary = (hours: readonly MeteredHour[]) =>
  hours.map((hour) => ({
    hour: hourKey(hour.usageHour),
    dimension: hour.dimension,
    quantity: hour.quantity,
    usageByDay: hour.usageByDay,
    disposition: hour.disposition,
  }));

interface UsageEvent {
  readonly unit: string;
  /** The SaaSus day the usage is counted on. */
  readonly day: string;
  readonly arrivesAt: Date;
  readonly amount: number;
}

/**
 * A license metered by repeated runs, as the hourly job will: each run works out its hours,
 * reads the day counts SaaSus would return at that moment and appends what it computed to the
 * ledger (everything sent is accepted unless `statusOf` says otherwise).
 */
const simulation = (options: {
  timeZone: string;
  meteringStartsAt: Date;
  units?: readonly MeteringUnit[];
  pricingModel?: PricingModel;
  entitledQuantities?: Record<string, number>;
  sendZeroUsage?: boolean;
  maxHours?: number;
  lateUsageHours?: number;
  activationBaseline?: Record<string, number>;
}) => {
  const events: UsageEvent[] = [];
  const ledger: LedgerEntry[] = [];
  const emitted: MeteredHour[] = [];
  let cursor: Date | undefined;
  const countsAt = (day: string, now: Date) => {
    const counts: Record<string, number> = {};
    for (const event of events) {
      if (event.arrivesAt <= now && event.day === day) {
        counts[event.unit] = (counts[event.unit] ?? 0) + event.amount;
      }
    }
    return counts;
  };
  return {
    events,
    ledger,
    emitted,
    countsAt,
    use(unit: string, occursAt: string, amount: number, arrivesAt = occursAt) {
      events.push({ unit, day: dayOf(at(occursAt), options.timeZone), arrivesAt: at(arrivesAt), amount });
    },
    run(
      now: Date,
      statusOf: (hour: MeteredHour) => LedgerStatus = (hour) => initialLedgerStatus(hour.disposition),
    ) {
      const { hours } = completedHoursToReport({
        now,
        lastReportedHourStart: cursor,
        meteringStartsAt: options.meteringStartsAt,
        maxHours: options.maxHours ?? 5,
      });
      const pricingModel = options.pricingModel ?? 'subscription';
      const plan = meteringReadPlan({
        pendingHours: hours,
        timeZone: options.timeZone,
        meteringStartsAt: options.meteringStartsAt,
        pricingModel,
        ...(options.lateUsageHours !== undefined ? { lateUsageHours: options.lateUsageHours } : {}),
      });
      const metered = quantitiesToReport({
        units: options.units ?? [apiCalls],
        pricingModel,
        timeZone: options.timeZone,
        meteringStartsAt: options.meteringStartsAt,
        pendingHours: hours,
        ...(options.lateUsageHours !== undefined ? { lateUsageHours: options.lateUsageHours } : {}),
        countsByDay: Object.fromEntries(plan.days.map((day) => [day, countsAt(day, now)])),
        ledger,
        ledgerCompleteFrom: plan.ledgerFrom ?? now,
        activationBaseline: options.activationBaseline ?? {},
        ...(options.entitledQuantities ? { entitledQuantities: options.entitledQuantities } : {}),
        sendZeroUsage: options.sendZeroUsage ?? true,
      });
      for (const hour of metered) {
        const status = statusOf(hour);
        ledger.push({
          dimension: hour.dimension,
          usageHour: hour.usageHour,
          status,
          usageByDay: hour.usageByDay,
        });
      }
      emitted.push(...metered);
      cursor = hours.at(-1) ?? cursor;
      return metered;
    },
    /** Runs at `minute` past every hour from `from` up to `until`. */
    runHourly(from: string, until: string, minute = 5) {
      for (let hour = at(from).getTime(); hour <= at(until).getTime(); hour += HOUR_MS) {
        this.run(new Date(hour + minute * 60_000));
      }
    },
    /** Usage accounted for per day by records that were not rejected or expired. */
    billedByDay(dimension = 'api_calls') {
      const byDay: Record<string, number> = {};
      for (const item of ledger) {
        if (item.dimension !== dimension || item.status === 'rejected' || item.status === 'expired') continue;
        for (const [day, usage] of Object.entries(item.usageByDay)) byDay[day] = (byDay[day] ?? 0) + usage;
      }
      return byDay;
    },
  };
};

describe('sum units', () => {
  it("bills the increase of the day's count since what the ledger accounts for", () => {
    const result = quantitiesToReport(
      input({
        pendingHours: [at('2026-11-22T13:00:00Z')],
        countsByDay: { '2026-11-21': { api_calls: 500 }, '2026-11-22': { api_calls: 55 } },
        ledger: [
          entry('2026-11-21T23:00:00Z', { '2026-11-21': 500 }),
          entry('2026-11-22T12:00:00Z', { '2026-11-22': 40 }),
        ],
        ledgerCompleteFrom: at('2026-11-21T00:00:00Z'),
      }),
    );
    expect(summary(result)).toEqual([
      {
        hour: '2026-11-22T13:00:00.000Z',
        dimension: 'api_calls',
        quantity: 15,
        usageByDay: { '2026-11-22': 15 },
        disposition: 'send',
      },
    ]);
  });

  it('closes a UTC day with its last hour and starts the next day at 00:00 UTC', () => {
    const license = simulation({ timeZone: 'UTC', meteringStartsAt: at('2026-11-21T20:00:00Z') });
    license.use('api_calls', '2026-11-21T23:30:00Z', 5);
    license.use('api_calls', '2026-11-22T00:02:00Z', 3);
    license.runHourly('2026-11-21T21:00:00Z', '2026-11-22T00:00:00Z');
    expect(summary(license.emitted).at(-1)).toMatchObject({ hour: '2026-11-21T23:00:00.000Z', quantity: 5 });
    license.run(at('2026-11-22T01:05:00Z'));
    expect(summary(license.emitted).at(-1)).toMatchObject({
      hour: '2026-11-22T00:00:00.000Z',
      quantity: 3,
      usageByDay: { '2026-11-22': 3 },
    });
  });

  it('follows Asia/Tokyo days, which turn at 15:00 UTC', () => {
    const license = simulation({ timeZone: 'Asia/Tokyo', meteringStartsAt: at('2026-11-22T00:00:00Z') });
    license.use('api_calls', '2026-11-22T14:30:00Z', 10);
    license.use('api_calls', '2026-11-22T15:02:00Z', 7);
    license.runHourly('2026-11-22T01:00:00Z', '2026-11-22T15:00:00Z');
    expect(summary(license.emitted).at(-1)).toMatchObject({
      hour: '2026-11-22T14:00:00.000Z',
      quantity: 10,
      usageByDay: { '2026-11-22': 10 },
    });
    license.run(at('2026-11-22T16:05:00Z'));
    expect(summary(license.emitted).at(-1)).toMatchObject({
      hour: '2026-11-22T15:00:00.000Z',
      quantity: 7,
      usageByDay: { '2026-11-23': 7 },
    });
  });

  it.each([
    ['2026-11-01', 25],
    ['2026-03-08', 23],
  ])('bills each hour of the America/New_York DST day %s (%i hours) once', (day, hoursInDay) => {
    const license = simulation({ timeZone: 'America/New_York', meteringStartsAt: at(`${day}T00:00:00Z`) });
    const from = at(`${day}T00:00:00Z`).getTime();
    for (let hour = from; hour < from + 56 * HOUR_MS; hour += HOUR_MS) {
      license.use('api_calls', new Date(hour + 10 * 60_000).toISOString(), 1);
    }
    license.runHourly(`${day}T01:00:00Z`, new Date(from + 57 * HOUR_MS).toISOString());
    const ofDay = license.emitted.filter((hour) => (hour.usageByDay[day] ?? 0) > 0);
    expect(ofDay).toHaveLength(hoursInDay);
    expect(
      ofDay.every((hour) => hour.quantity === 1 && dayOf(hour.usageHour, 'America/New_York') === day),
    ).toBe(true);
    expect(license.billedByDay()[day]).toBe(license.countsAt(day, at('2027-01-01T00:00:00Z')).api_calls);
  });

  it("bills usage that arrives after its day's hours were reported in the next hour, keeping the day total", () => {
    const license = simulation({ timeZone: 'UTC', meteringStartsAt: at('2026-11-22T00:00:00Z') });
    license.use('api_calls', '2026-11-22T09:00:00Z', 100);
    license.use('api_calls', '2026-11-22T20:00:00Z', 4, '2026-11-23T02:30:00Z');
    license.use('api_calls', '2026-11-23T02:40:00Z', 6);
    license.runHourly('2026-11-22T01:00:00Z', '2026-11-23T03:00:00Z');
    expect(summary(license.emitted).at(-1)).toMatchObject({
      hour: '2026-11-23T02:00:00.000Z',
      quantity: 10,
      usageByDay: { '2026-11-22': 4, '2026-11-23': 6 },
    });
    expect(license.billedByDay()).toEqual({ '2026-11-22': 104, '2026-11-23': 6 });
  });

  it('does not bill usage that reaches SaaSus later than lateUsageHours after its day', () => {
    const license = simulation({
      timeZone: 'UTC',
      meteringStartsAt: at('2026-11-22T00:00:00Z'),
      lateUsageHours: 24,
    });
    license.use('api_calls', '2026-11-22T09:00:00Z', 100);
    license.use('api_calls', '2026-11-22T20:00:00Z', 4, '2026-11-24T03:00:00Z');
    license.runHourly('2026-11-22T01:00:00Z', '2026-11-24T05:00:00Z');
    expect(license.billedByDay()).toEqual({ '2026-11-22': 100 });
  });

  it('gives a catch-up increase to the earliest pending hour of its day and 0 to the rest', () => {
    const result = quantitiesToReport(
      input({
        pendingHours: ['21T22', '21T23', '22T00', '22T01'].map((hour) => at(`2026-11-${hour}:00:00Z`)),
        countsByDay: {
          '2026-11-20': { api_calls: 0 },
          '2026-11-21': { api_calls: 130 },
          '2026-11-22': { api_calls: 12 },
        },
        ledger: [entry('2026-11-21T21:00:00Z', { '2026-11-21': 100 })],
        ledgerCompleteFrom: at('2026-11-20T00:00:00Z'),
      }),
    );
    expect(result.map((hour) => [hourKey(hour.usageHour), hour.quantity, hour.usageByDay])).toEqual([
      ['2026-11-21T22:00:00.000Z', 30, { '2026-11-21': 30 }],
      ['2026-11-21T23:00:00.000Z', 0, {}],
      ['2026-11-22T00:00:00.000Z', 12, { '2026-11-22': 12 }],
      ['2026-11-22T01:00:00.000Z', 0, {}],
    ]);
  });

  it('never bills a negative quantity when a direct overwrite lowers the count, and bills only growth above what was billed', () => {
    const license = simulation({ timeZone: 'UTC', meteringStartsAt: at('2026-11-22T00:00:00Z') });
    license.use('api_calls', '2026-11-22T09:10:00Z', 100);
    license.runHourly('2026-11-22T01:00:00Z', '2026-11-22T10:00:00Z');
    // A `direct` overwrite to 60 is a count going down by 40.
    license.use('api_calls', '2026-11-22T10:10:00Z', -40);
    license.run(at('2026-11-22T11:05:00Z'));
    expect(summary(license.emitted).at(-1)).toMatchObject({ quantity: 0, usageByDay: {} });
    license.use('api_calls', '2026-11-22T11:10:00Z', 70);
    license.run(at('2026-11-22T12:05:00Z'));
    expect(summary(license.emitted).at(-1)).toMatchObject({ quantity: 30, usageByDay: { '2026-11-22': 30 } });
    expect(license.emitted.every((hour) => hour.quantity >= 0)).toBe(true);
    expect(license.billedByDay()).toEqual({ '2026-11-22': 130 });
  });

  it('reads a count below zero as zero', () => {
    const result = quantitiesToReport(
      input({ pendingHours: [at('2026-11-01T05:00:00Z')], countsByDay: { '2026-11-01': { api_calls: -5 } } }),
    );
    expect(result[0]).toMatchObject({ quantity: 0 });
  });

  it('never bills usage from before activation', () => {
    const startsAt = at('2026-11-22T10:30:00Z');
    const plan = meteringReadPlan({
      pendingHours: [at('2026-11-22T10:00:00Z')],
      timeZone: 'UTC',
      meteringStartsAt: startsAt,
      pricingModel: 'subscription',
    });
    expect(plan.days).toEqual(['2026-11-22']);
    const first = quantitiesToReport(
      input({
        meteringStartsAt: startsAt,
        pendingHours: [at('2026-11-22T10:00:00Z')],
        countsByDay: { '2026-11-22': { api_calls: 95 } },
        activationBaseline: { api_calls: 70 },
        ledgerCompleteFrom: at('2026-11-22T10:00:00Z'),
      }),
    );
    expect(summary(first)).toMatchObject([{ quantity: 25, usageByDay: { '2026-11-22': 25 } }]);
    const second = quantitiesToReport(
      input({
        meteringStartsAt: startsAt,
        pendingHours: [at('2026-11-22T11:00:00Z')],
        countsByDay: { '2026-11-22': { api_calls: 100 } },
        activationBaseline: { api_calls: 70 },
        ledger: [entry('2026-11-22T10:00:00Z', { '2026-11-22': 25 })],
        ledgerCompleteFrom: at('2026-11-22T10:00:00Z'),
      }),
    );
    expect(summary(second)).toMatchObject([{ quantity: 5 }]);
  });

  it('spills an increase too large for one record into the next pending hour', () => {
    const result = quantitiesToReport(
      input({
        pendingHours: [at('2026-11-01T10:00:00Z'), at('2026-11-01T11:00:00Z')],
        countsByDay: { '2026-11-01': { api_calls: MAX_QUANTITY + 5 } },
      }),
    );
    expect(result.map((hour) => hour.quantity)).toEqual([MAX_QUANTITY, 5]);
  });

  it.each<[LedgerStatus, number]>([
    ['pending', 0],
    ['accepted', 0],
    ['duplicate', 0],
    ['notSubscribed', 0],
    ['expiredUnconfirmed', 0],
    ['unsentZero', 0],
    ['rejected', 40],
    ['expired', 40],
  ])('treats the usage of a %s ledger item as billed again = %i', (status, billedAgain) => {
    const result = quantitiesToReport(
      input({
        pendingHours: [at('2026-11-01T13:00:00Z')],
        countsByDay: { '2026-11-01': { api_calls: 40 } },
        ledger: [entry('2026-11-01T12:00:00Z', { '2026-11-01': 40 }, status)],
      }),
    );
    expect(result[0]?.quantity).toBe(billedAgain);
  });
});

describe('gauge units', () => {
  it("bills the level at each hour, the hour's day count as read, not a delta", () => {
    const result = quantitiesToReport(
      input({
        units: [storage],
        pendingHours: [at('2026-11-21T23:00:00Z'), at('2026-11-22T00:00:00Z'), at('2026-11-22T01:00:00Z')],
        countsByDay: {
          '2026-11-20': {},
          '2026-11-21': { storage_gb: 40 },
          '2026-11-22': { storage_gb: 45 },
        },
        ledger: [entry('2026-11-21T22:00:00Z', {}, 'accepted', 'storage_gb')],
      }),
    );
    expect(result.map((hour) => [hourKey(hour.usageHour), hour.quantity, hour.usageByDay])).toEqual([
      ['2026-11-21T23:00:00.000Z', 40, {}],
      ['2026-11-22T00:00:00.000Z', 45, {}],
      ['2026-11-22T01:00:00.000Z', 45, {}],
    ]);
  });

  it('rejects a level above what a record can carry', () => {
    expect(() =>
      quantitiesToReport(
        input({
          units: [storage],
          pendingHours: [at('2026-11-01T01:00:00Z')],
          countsByDay: { '2026-11-01': { storage_gb: MAX_QUANTITY + 1 } },
        }),
      ),
    ).toThrow(QuantityOutOfRangeError);
  });
});

describe('contract-with-consumption', () => {
  const contract = {
    pricingModel: 'contract-with-consumption' as const,
    entitledQuantities: { api_calls: 100 },
  };

  it("reads the ledger from the month's start and bills only usage above the monthly allowance", () => {
    const pendingHours = [at('2026-11-22T13:00:00Z')];
    const plan = meteringReadPlan({
      pendingHours,
      timeZone: 'UTC',
      meteringStartsAt: at('2026-11-01T00:00:00Z'),
      pricingModel: 'contract-with-consumption',
    });
    expect(plan.ledgerFrom?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    const base = input({
      ...contract,
      pendingHours,
      countsByDay: { '2026-11-21': {}, '2026-11-22': { api_calls: 50 } },
      ledger: [entry('2026-11-05T10:00:00Z', { '2026-11-05': 80 })],
    });
    expect(summary(quantitiesToReport(base))).toMatchObject([
      { quantity: 30, usageByDay: { '2026-11-22': 50 } },
    ]);
    expect(() => quantitiesToReport({ ...base, ledgerCompleteFrom: at('2026-11-21T00:00:00Z') })).toThrow(
      IncompleteLedgerError,
    );
  });

  it('restarts the allowance each month, keeps zero-billed usage in the ledger, and bills late usage of the old month', () => {
    const license = simulation({
      ...contract,
      timeZone: 'UTC',
      meteringStartsAt: at('2026-11-30T20:00:00Z'),
      sendZeroUsage: false,
    });
    license.use('api_calls', '2026-11-30T21:10:00Z', 150);
    license.use('api_calls', '2026-12-01T00:10:00Z', 30);
    license.runHourly('2026-11-30T21:00:00Z', '2026-12-01T01:00:00Z');
    expect(summary(license.emitted)).toMatchObject([
      { hour: '2026-11-30T21:00:00.000Z', quantity: 50, disposition: 'send' },
      {
        hour: '2026-12-01T00:00:00.000Z',
        quantity: 0,
        usageByDay: { '2026-12-01': 30 },
        disposition: 'recordOnly',
      },
    ]);
    license.use('api_calls', '2026-11-30T22:00:00Z', 5, '2026-12-01T01:30:00Z');
    license.use('api_calls', '2026-12-01T01:40:00Z', 80);
    license.run(at('2026-12-01T02:05:00Z'));
    expect(summary(license.emitted).at(-1)).toMatchObject({
      hour: '2026-12-01T01:00:00.000Z',
      quantity: 15,
      usageByDay: { '2026-11-30': 5, '2026-12-01': 80 },
    });
  });

  it('bills a gauge level above the entitled quantity', () => {
    const result = quantitiesToReport(
      input({
        units: [storage],
        pricingModel: 'contract-with-consumption',
        entitledQuantities: { storage_gb: 10 },
        pendingHours: [at('2026-11-01T01:00:00Z'), at('2026-11-02T01:00:00Z')],
        countsByDay: { '2026-11-01': { storage_gb: 12 }, '2026-11-02': { storage_gb: 8 } },
      }),
    );
    expect(result.map((hour) => hour.quantity)).toEqual([2, 0]);
  });

  it('refuses entitlements with other pricing models and pure contracts altogether', () => {
    expect(() => quantitiesToReport(input({ entitledQuantities: { api_calls: 1 } }))).toThrow(
      /contract-with-consumption/,
    );
    expect(() => quantitiesToReport(input({ pricingModel: 'contract' }))).toThrow(/never metered/);
    expect(() =>
      quantitiesToReport(
        input({ pricingModel: 'contract-with-consumption', entitledQuantities: { api_calls: -1 } }),
      ),
    ).toThrow(/entitledQuantities\[api_calls\]/);
  });
});

describe('zero usage', () => {
  const quiet = {
    pendingHours: [at('2026-11-01T01:00:00Z')],
    countsByDay: { '2026-11-01': {} },
    units: [apiCalls, storage],
  };

  it('sends a quantity-0 record per dimension for an hour without usage when sendZeroUsage is on', () => {
    expect(summary(quantitiesToReport(input({ ...quiet, sendZeroUsage: true })))).toEqual([
      {
        hour: '2026-11-01T01:00:00.000Z',
        dimension: 'api_calls',
        quantity: 0,
        usageByDay: {},
        disposition: 'send',
      },
      {
        hour: '2026-11-01T01:00:00.000Z',
        dimension: 'storage_gb',
        quantity: 0,
        usageByDay: {},
        disposition: 'send',
      },
    ]);
  });

  it('produces no record when sendZeroUsage is off', () => {
    expect(quantitiesToReport(input({ ...quiet, sendZeroUsage: false }))).toEqual([]);
  });
});

describe('input checks', () => {
  const hour = at('2026-11-01T05:00:00Z');

  it('requires every day of the read plan', () => {
    expect(() =>
      quantitiesToReport(input({ pendingHours: [at('2026-11-02T05:00:00Z')], countsByDay: {} })),
    ).toThrow(MissingDayCountError);
  });

  it('rejects counts that are not whole numbers', () => {
    expect(() =>
      quantitiesToReport(input({ pendingHours: [hour], countsByDay: { '2026-11-01': { api_calls: 1.5 } } })),
    ).toThrow(/SaaSus count of "api_calls" on 2026-11-01: expected a whole number/);
  });

  it('never makes a second record for an hour the ledger already holds', () => {
    const result = quantitiesToReport(
      input({
        pendingHours: [hour, at('2026-11-01T06:00:00Z')],
        countsByDay: { '2026-11-01': { api_calls: 9 } },
        ledger: [entry('2026-11-01T05:00:00Z', { '2026-11-01': 4 }, 'pending')],
      }),
    );
    expect(summary(result)).toMatchObject([{ hour: '2026-11-01T06:00:00.000Z', quantity: 5 }]);
  });

  it('rejects unordered or pre-activation hours, bad ledger items and duplicate dimensions', () => {
    const countsByDay = { '2026-10-31': {}, '2026-11-01': {} };
    expect(() => quantitiesToReport(input({ pendingHours: [hour, hour], countsByDay }))).toThrow(
      /oldest first/,
    );
    expect(() =>
      quantitiesToReport(input({ pendingHours: [at('2026-10-31T23:00:00Z')], countsByDay })),
    ).toThrow(/before metering starts/);
    expect(() =>
      quantitiesToReport(
        input({
          pendingHours: [hour],
          countsByDay,
          ledger: [entry('2026-11-01T04:00:00Z', {}, 'sent' as LedgerStatus)],
        }),
      ),
    ).toThrow(/unknown status "sent"/);
    expect(() =>
      quantitiesToReport(
        input({
          pendingHours: [hour],
          countsByDay,
          ledger: [entry('2026-11-01T04:00:00Z', { '2026-11-01': -1 })],
        }),
      ),
    ).toThrow(QuantityOutOfRangeError);
    expect(() =>
      quantitiesToReport(input({ pendingHours: [hour], countsByDay, units: [apiCalls, apiCalls] })),
    ).toThrow(MeteringInputError);
  });
});

describe('property: billing random usage with runs at random times', () => {
  const timeZones = ['UTC', 'Asia/Tokyo', 'America/New_York'] as const;
  const start = at('2026-10-30T00:00:00Z').getTime();
  const horizonHours = 96;
  const gauge: MeteringUnit = { saasusUnit: 'seats', dimension: 'seats', aggregation: 'gauge' };

  const usage = fc.record({
    occursAtMinute: fc.integer({ min: 0, max: horizonHours * 60 - 1 }),
    lateByMinutes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 * 60 })),
    amount: fc.integer({ min: 1, max: 1_000 }),
    unit: fc.constantFrom('api_calls', 'seats'),
  });
  const scenario = fc.record({
    timeZone: fc.constantFrom(...timeZones),
    activationMinute: fc.integer({ min: 0, max: 6 * 60 }),
    events: fc.array(usage, { maxLength: 60 }),
    // One run per hour at a random minute (as the schedule allows), some hours skipped.
    runMinutes: fc.array(fc.integer({ min: 1, max: 30 }), {
      minLength: horizonHours + 48,
      maxLength: horizonHours + 48,
    }),
    skipped: fc.array(fc.boolean(), { minLength: horizonHours + 48, maxLength: horizonHours + 48 }),
    sendZeroUsage: fc.boolean(),
  });

  it('bills each day exactly its final count (after activation), never negative, once per dimension and hour', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const activation = new Date(start + s.activationMinute * 60_000);
        const minute = (value: number) => new Date(start + value * 60_000).toISOString();
        const events = s.events.map((event) => ({
          ...event,
          occursAt: minute(event.occursAtMinute),
          arrivesAt: minute(event.occursAtMinute + event.lateByMinutes),
        }));
        const activationDay = dayOf(activation, s.timeZone);
        const baselineSim = simulation({ timeZone: s.timeZone, meteringStartsAt: activation });
        for (const event of events)
          baselineSim.use(event.unit, event.occursAt, event.amount, event.arrivesAt);
        const license = simulation({
          timeZone: s.timeZone,
          meteringStartsAt: activation,
          units: [apiCalls, gauge],
          sendZeroUsage: s.sendZeroUsage,
          activationBaseline: baselineSim.countsAt(activationDay, activation),
        });
        for (const event of events) license.use(event.unit, event.occursAt, event.amount, event.arrivesAt);

        let consecutiveSkips = 0;
        s.runMinutes.forEach((runMinute, index) => {
          const skip =
            (s.skipped[index] ?? false) && consecutiveSkips < 3 && index < s.runMinutes.length - 30;
          consecutiveSkips = skip ? consecutiveSkips + 1 : 0;
          if (!skip) license.run(new Date(start + index * HOUR_MS + runMinute * 60_000));
        });

        const seen = new Set<string>();
        for (const hour of license.emitted) {
          const key = `${hour.dimension}#${hourKey(hour.usageHour)}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
          expect(Number.isInteger(hour.quantity) && hour.quantity >= 0).toBe(true);
          expect(hour.usageHour.getTime()).toBeGreaterThanOrEqual(activation.getTime() - HOUR_MS);
        }
        const end = new Date(start + (horizonHours + 48) * HOUR_MS);
        const expected: Record<string, number> = {};
        for (const event of events) {
          const day = dayOf(at(event.occursAt), s.timeZone);
          if (event.unit !== 'api_calls' || day < activationDay) continue;
          expected[day] = license.countsAt(day, end).api_calls ?? 0;
        }
        if (expected[activationDay] !== undefined) {
          expected[activationDay] -= license.countsAt(activationDay, activation).api_calls ?? 0;
          if (expected[activationDay] === 0) delete expected[activationDay];
        }
        expect(license.billedByDay()).toEqual(expected);
        const billed = license.emitted.filter((hour) => hour.dimension === 'api_calls');
        const usageTotal = billed.reduce(
          (total, hour) => total + Object.values(hour.usageByDay).reduce((sum, part) => sum + part, 0),
          0,
        );
        expect(billed.reduce((total, hour) => total + hour.quantity, 0)).toBe(usageTotal);
      }),
      { numRuns: 60 },
    );
  });
});
