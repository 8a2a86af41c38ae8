import { describe, expect, it } from 'vitest';
import { partitionByWindow, toBatches, type UsageRecord, usageRecordKey } from '#shared/metering/batches';
import {
  DuplicateUsageRecordError,
  MeteringInputError,
  QuantityOutOfRangeError,
} from '#shared/metering/errors';
import { completedHoursToReport, HOUR_MS } from '#shared/metering/hours';

const at = (iso: string) => new Date(iso);
const licenseArn = (n: number) =>
  `arn:aws:license-manager::123456789012:license:l-${String(n).padStart(8, '0')}`;

const record = (overrides: Partial<UsageRecord> & { license?: number } = {}): UsageRecord => {
  const { license = 1, ...rest } = overrides;
  return {
    productCode: 'prodcodeA',
    licenseKey: licenseArn(license),
    identity: { mode: 'license', licenseArn: licenseArn(license), customerAwsAccountId: '210987654321' },
    dimension: 'api_calls',
    usageHour: at('2026-11-22T13:00:00Z'),
    quantity: 7,
    ...rest,
  };
};

const legacy = (customerIdentifier: string, overrides: Partial<UsageRecord> = {}): UsageRecord =>
  record({ licenseKey: customerIdentifier, identity: { mode: 'legacy', customerIdentifier }, ...overrides });

describe('partitionByWindow', () => {
  const now = at('2026-11-22T14:05:00Z');
  const hoursAgo = (hours: number) =>
    record({ usageHour: new Date(at('2026-11-22T14:00:00Z').getTime() - hours * HOUR_MS) });

  it('keeps records inside the window and sets aside those AWS would reject as too old', () => {
    const { sendable, expired } = partitionByWindow(
      [hoursAgo(0), hoursAgo(1), hoursAgo(5), hoursAgo(6), hoursAgo(9)],
      now,
      6,
    );
    expect(sendable.map((r) => r.usageHour.toISOString())).toEqual([
      '2026-11-22T14:00:00.000Z',
      '2026-11-22T13:00:00.000Z',
      '2026-11-22T09:00:00.000Z',
    ]);
    expect(expired.map((r) => r.usageHour.toISOString())).toEqual([
      '2026-11-22T08:00:00.000Z',
      '2026-11-22T05:00:00.000Z',
    ]);
  });

  it('keeps a safety margin before the window closes', () => {
    const sixHoursBeforeNow = record({ usageHour: at('2026-11-22T08:00:00Z') });
    const justInside = at('2026-11-22T13:55:00Z');
    expect(partitionByWindow([sixHoursBeforeNow], justInside, 6).expired).toHaveLength(1);
    expect(partitionByWindow([sixHoursBeforeNow], justInside, 6, { marginMs: 0 }).sendable).toHaveLength(1);
  });

  it("expires last month's records after 06:00 UTC on the 1st even inside a 24-hour window", () => {
    const lastHourOfNovember = record({ usageHour: at('2026-11-30T23:00:00Z') });
    expect(partitionByWindow([lastHourOfNovember], at('2026-12-01T05:00:00Z'), 24).sendable).toHaveLength(1);
    expect(partitionByWindow([lastHourOfNovember], at('2026-12-01T06:30:00Z'), 24).expired).toHaveLength(1);
  });

  it('never lets an expired record into a batch', () => {
    const records = Array.from({ length: 30 }, (_, index) =>
      record({
        license: index,
        usageHour: new Date(at('2026-11-22T14:00:00Z').getTime() - (index % 10) * HOUR_MS),
      }),
    );
    const { sendable, expired } = partitionByWindow(records, now, 6);
    const batched = toBatches(sendable).flatMap((batch) => batch.records);
    expect(batched).toHaveLength(sendable.length);
    const expiredKeys = new Set(expired.map(usageRecordKey));
    expect(expired.length).toBeGreaterThan(0);
    expect(batched.some((r) => expiredKeys.has(usageRecordKey(r)))).toBe(false);
    expect(batched.every((r) => now.getTime() - r.usageHour.getTime() < 6 * HOUR_MS)).toBe(true);
  });

  it('finds every hour completedHoursToReport returns with maxHours = window - 1 still sendable at minute 30', () => {
    const runAt = at('2026-11-22T14:30:00Z');
    const { hours } = completedHoursToReport({
      now: runAt,
      lastReportedHourStart: at('2026-11-21T00:00:00Z'),
      meteringStartsAt: at('2026-11-01T00:00:00Z'),
      maxHours: 6 - 1,
    });
    const { sendable, expired } = partitionByWindow(
      hours.map((usageHour) => record({ usageHour })),
      runAt,
      6,
    );
    expect(sendable).toHaveLength(5);
    expect(expired).toEqual([]);
  });

  it('rejects records for hours that have not started and bad windows', () => {
    expect(() => partitionByWindow([record({ usageHour: at('2026-11-22T15:00:00Z') })], now, 6)).toThrow(
      /not started/,
    );
    expect(() => partitionByWindow([], now, 0)).toThrow(/allowedWindowHours/);
    expect(() => partitionByWindow([], now, 6, { marginMs: 6 * HOUR_MS })).toThrow(/marginMs/);
  });
});

describe('toBatches', () => {
  it('splits records into calls of at most 25, oldest hours first', () => {
    const records = Array.from({ length: 60 }, (_, index) =>
      record({
        license: index,
        usageHour: new Date(at('2026-11-22T13:00:00Z').getTime() - (index % 3) * HOUR_MS),
      }),
    );
    const batches = toBatches(records);
    expect(batches.map((batch) => batch.records.length)).toEqual([25, 25, 10]);
    const hours = batches.flatMap((batch) => batch.records.map((r) => r.usageHour.getTime()));
    expect(hours).toEqual([...hours].sort((a, b) => a - b));
    expect(new Set(batches.flatMap((batch) => batch.records.map(usageRecordKey))).size).toBe(60);
  });

  it('puts one product and one identity mode in each call', () => {
    const batches = toBatches([
      record({ license: 1 }),
      record({ license: 2, productCode: 'prodcodeB' }),
      legacy('cust-1'),
      record({ license: 3 }),
      legacy('cust-2', { productCode: 'prodcodeB' }),
    ]);
    expect(batches.map((batch) => [batch.productCode, batch.identityMode, batch.records.length])).toEqual([
      ['prodcodeA', 'license', 2],
      ['prodcodeB', 'license', 1],
      ['prodcodeA', 'legacy', 1],
      ['prodcodeB', 'legacy', 1],
    ]);
    for (const batch of batches) {
      expect(
        batch.records.every(
          (r) => r.productCode === batch.productCode && r.identity.mode === batch.identityMode,
        ),
      ).toBe(true);
    }
  });

  it('keeps hours apart: one record per license, dimension and hour', () => {
    const batches = toBatches([
      record({ usageHour: at('2026-11-22T12:00:00Z'), quantity: 3 }),
      record({ usageHour: at('2026-11-22T13:00:00Z'), quantity: 4 }),
      record({ usageHour: at('2026-11-22T13:00:00Z'), dimension: 'storage_gb', quantity: 5 }),
    ]);
    expect(batches.flatMap((batch) => batch.records.map((r) => r.quantity))).toEqual([3, 4, 5]);
  });

  it('rejects two records for the same license, dimension and hour', () => {
    expect(() => toBatches([record({ quantity: 1 }), record({ quantity: 2 })])).toThrow(
      DuplicateUsageRecordError,
    );
    expect(() => toBatches([legacy('cust-1'), legacy('cust-1', { quantity: 9 })])).toThrow(
      /more than one usage record/,
    );
  });

  it('rejects records a BatchMeterUsage call cannot carry', () => {
    expect(() => toBatches([record({ quantity: -1 })])).toThrow(QuantityOutOfRangeError);
    expect(() => toBatches([record({ quantity: 2.5 })])).toThrow(QuantityOutOfRangeError);
    expect(() => toBatches([record({ usageHour: at('2026-11-22T13:00:00.001Z') })])).toThrow(
      /start of a UTC hour/,
    );
    expect(() => toBatches([record({ dimension: ' ' })])).toThrow(/dimension/);
    expect(() => toBatches([record({ licenseKey: 'something-else' })])).toThrow(
      /licenseKey must be the LicenseArn/,
    );
    expect(() =>
      toBatches([
        record({ identity: { mode: 'license', licenseArn: licenseArn(1), customerAwsAccountId: 'acct-1' } }),
      ]),
    ).toThrow(/customerAwsAccountId/);
    expect(() => toBatches([record()], 26)).toThrow(MeteringInputError);
  });
});
