import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '#shared/config';
import {
  licensesPerMessage,
  MeteringMessageError,
  meteringMessageSchema,
  parseMeteringMessage,
  planMeterMessages,
  selectDueLicenses,
} from '#shared/metering/fanout';
import { entitledQuantities, needsRedelivery, type RunReport } from '#shared/metering/pipeline';
import { meteringAttributes, pendingShardOf, pendingShards } from '#shared/metering/store';
import { exampleConfig, exampleConfigInput } from '../support/config.js';

const runHour = new Date('2026-11-22T13:00:00.000Z');
const now = new Date('2026-11-22T13:05:00.000Z');
const config = exampleConfig();

const lifecycle = (events: { activeAt?: string; endingAt?: string; deprovisionedAt?: string }) => ({
  version: 1,
  agreements: events.activeAt
    ? {
        'agmt-1': {
          firstSeenAt: events.activeAt,
          created: { at: events.activeAt },
          ...(events.endingAt ? { ended: { at: events.endingAt } } : {}),
        },
      }
    : {},
  ...(events.deprovisionedAt ? { deprovisionedAt: events.deprovisionedAt } : {}),
  recentEvents: [],
});

describe('fan-out messages', () => {
  it('sizes messages so one hour of their licenses fills whole 25-record calls', () => {
    expect(licensesPerMessage(3)).toBe(25);
    expect(licensesPerMessage(1)).toBe(25);
    expect(licensesPerMessage(5)).toBe(5);
    expect(licensesPerMessage(10)).toBe(5);
    expect(licensesPerMessage(30)).toBe(5);
    expect(licensesPerMessage(0)).toBe(25);
    for (let units = 1; units <= 24; units++) {
      const records = licensesPerMessage(units) * units;
      expect(records % 25, `${units} units`).toBe(0);
      // The fewest licenses that do it (smaller messages redeliver less on a failure).
      for (let fewer = 1; fewer < licensesPerMessage(units); fewer++) {
        expect((fewer * units) % 25, `${fewer} licenses × ${units} units`).not.toBe(0);
      }
    }
  });

  it('plans sorted, deduplicated, deterministic messages that each worker can parse', () => {
    const keys = Array.from({ length: 60 }, (_, index) => `license-${String(index).padStart(2, '0')}`);
    const shuffled = [...keys].reverse();
    const messages = planMeterMessages([...shuffled, ...keys.slice(0, 5)], { runHour, unitCount: 3 });
    expect(messages.map((message) => message.licenseKeys.length)).toEqual([25, 25, 10]);
    expect(messages.flatMap((message) => message.licenseKeys)).toEqual(keys);
    expect(planMeterMessages(keys, { runHour, unitCount: 3 })).toEqual(messages);
    for (const message of messages) {
      expect(message.runHour).toBe('2026-11-22T13:00:00.000Z');
      expect(parseMeteringMessage(JSON.stringify(message))).toEqual(message);
    }
    expect(planMeterMessages([], { runHour, unitCount: 3 })).toEqual([]);
  });

  it('fans 100,000 licenses with 3 dimensions out into 4,000 messages of 25', () => {
    const keys = Array.from(
      { length: 100_000 },
      (_, index) => `arn:aws:license-manager::1:license:l-${index}`,
    );
    const messages = planMeterMessages(keys, { runHour, unitCount: 3 });
    expect(messages).toHaveLength(4_000);
    expect(new Set(messages.flatMap((message) => message.licenseKeys)).size).toBe(100_000);
  });

  it('parses flush requests and rejects malformed messages with a reason', () => {
    expect(parseMeteringMessage('{"kind":"flush","licenseKey":"arn:x"}')).toEqual({
      kind: 'flush',
      licenseKey: 'arn:x',
    });
    expect(() => parseMeteringMessage('not json')).toThrow(MeteringMessageError);
    expect(() =>
      parseMeteringMessage('{"kind":"meter","licenseKeys":[],"runHour":"2026-11-22T13:00:00Z"}'),
    ).toThrow(/licenseKeys/);
    expect(() => parseMeteringMessage('{"kind":"flush","licenseKey":"a","extra":1}')).toThrow(/extra/);
    expect(() => parseMeteringMessage('{"kind":"purge","licenseKey":"a"}')).toThrow(MeteringMessageError);
    expect(
      meteringMessageSchema.safeParse({ kind: 'meter', licenseKeys: ['a'], runHour: 'yesterday' }).success,
    ).toBe(false);
  });
});

describe('selecting the licenses with hours to report', () => {
  const { productCode } = exampleConfigInput().marketplace;
  const item = (licenseKey: string, extra: Record<string, unknown>) => ({
    licenseKey,
    productCode,
    ...extra,
  });
  const activeAt = '2026-11-22T09:20:00.000Z';

  it('queues active and ending licenses with completed hours not yet reported, and nothing else', () => {
    const selection = selectDueLicenses(
      [
        item('never-metered', { lifecycle: lifecycle({ activeAt }) }),
        item('behind', {
          lifecycle: lifecycle({ activeAt }),
          [meteringAttributes.cursor]: { episode: activeAt, hour: '2026-11-22T10:00:00.000Z' },
        }),
        item('up-to-date', {
          lifecycle: lifecycle({ activeAt }),
          [meteringAttributes.cursor]: { episode: activeAt, hour: '2026-11-22T12:00:00.000Z' },
        }),
        item('ending-flushed', {
          lifecycle: lifecycle({ activeAt, endingAt: '2026-11-22T11:30:00.000Z' }),
          [meteringAttributes.cursor]: { episode: activeAt, hour: '2026-11-22T11:00:00.000Z' },
        }),
        item('ending-due', { lifecycle: lifecycle({ activeAt, endingAt: '2026-11-22T12:40:00.000Z' }) }),
        item('ended', {
          lifecycle: lifecycle({
            activeAt,
            endingAt: '2026-11-22T11:00:00.000Z',
            deprovisionedAt: '2026-11-22T11:30:00.000Z',
          }),
        }),
        item('pending', { lifecycle: lifecycle({}) }),
        item('stopped', {
          lifecycle: lifecycle({ activeAt }),
          [meteringAttributes.stopped]: { episode: activeAt, at: activeAt, reason: 'not subscribed' },
        }),
        item('resubscribed', {
          lifecycle: lifecycle({ activeAt }),
          [meteringAttributes.stopped]: { episode: '2026-01-01T00:00:00.000Z', at: activeAt, reason: 'old' },
          // A cursor of an older episode is ignored too.
          [meteringAttributes.cursor]: {
            episode: '2026-01-01T00:00:00.000Z',
            hour: '2026-11-22T12:00:00.000Z',
          },
        }),
      ],
      config,
      now,
    );
    expect(selection.due.sort()).toEqual(['behind', 'ending-due', 'never-metered', 'resubscribed']);
    expect(selection.stopped).toBe(1);
    expect(selection.oldestUnreportedHour?.toISOString()).toBe('2026-11-22T09:00:00.000Z');
  });

  it('reports the oldest unreported hour from the cursors', () => {
    const selection = selectDueLicenses(
      [
        item('a', {
          lifecycle: lifecycle({ activeAt }),
          [meteringAttributes.cursor]: { episode: activeAt, hour: '2026-11-22T10:00:00.000Z' },
        }),
      ],
      config,
      now,
    );
    expect(selection.oldestUnreportedHour?.toISOString()).toBe('2026-11-22T11:00:00.000Z');
  });

  it('skips a license whose record cannot be read, and says which', () => {
    const selection = selectDueLicenses(
      [item('broken', { lifecycle: { version: 7 } }), item('fine', { lifecycle: lifecycle({ activeAt }) })],
      config,
      now,
    );
    expect(selection.due).toEqual(['fine']);
    expect(selection.invalid).toEqual([{ licenseKey: 'broken', error: expect.stringMatching(/version/) }]);
  });

  it('never meters pure contracts', () => {
    const input = exampleConfigInput();
    const contract = parseDeploymentConfig({
      ...input,
      marketplace: { ...input.marketplace, pricingModel: 'contract' },
      metering: { ...input.metering, units: [] },
    });
    expect(selectDueLicenses([item('a', { lifecycle: lifecycle({ activeAt }) })], contract, now).due).toEqual(
      [],
    );
  });

  it("judges each license by its own product: a contract product's licenses are not queued, a metered one's are", () => {
    const { marketplace, plans, metering, ...shared } = exampleConfigInput();
    const { apiRegion, ...listing } = marketplace;
    const { units, ...sharedMetering } = metering ?? {};
    const twoProducts = parseDeploymentConfig({
      ...shared,
      marketplace: { apiRegion },
      metering: sharedMetering,
      products: [
        { ...listing, plans, meteringUnits: units },
        {
          productCode: 'contract0product',
          productId: 'prod-contract00001',
          pricingModel: 'contract',
          plans: { byDimension: { seats: 'seat-plan' } },
        },
      ],
    });
    const selection = selectDueLicenses(
      [
        item('metered', { lifecycle: lifecycle({ activeAt }) }),
        item('contract', { productCode: 'contract0product', lifecycle: lifecycle({ activeAt }) }),
        item('stranger', { productCode: 'notoneofours', lifecycle: lifecycle({ activeAt }) }),
      ],
      twoProducts,
      now,
    );
    expect(selection.due).toEqual(['metered']);
    expect(selection.invalid).toEqual([
      {
        licenseKey: 'stranger',
        error: expect.stringMatching(/"notoneofours" is not one of this deployment's products/),
      },
    ]);
  });
});

describe('pending shards', () => {
  it('spreads licenses over 16 stable shards', () => {
    expect(pendingShards()).toHaveLength(16);
    const keys = Array.from({ length: 1_600 }, (_, index) => `arn:aws:license-manager::1:license:l-${index}`);
    const counts = new Map<string, number>();
    for (const key of keys) counts.set(pendingShardOf(key), (counts.get(pendingShardOf(key)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(pendingShards());
    for (const count of counts.values()) expect(count).toBeGreaterThan(50);
    expect(pendingShardOf(keys[0] as string)).toBe(pendingShardOf(keys[0] as string));
  });
});

describe('when a message is delivered again', () => {
  const report = (extra: Partial<RunReport>): RunReport => ({
    now,
    licenses: 1,
    metered: 1,
    skipped: {},
    itemsWritten: 0,
    recordsSent: 0,
    outcomes: {
      UsageRecordAccepted: 0,
      UsageRecordUnprocessed: 0,
      CustomerNotSubscribed: 0,
      UsageRecordDuplicate: 0,
      UsageRecordRejected: 0,
      UsageRecordExpired: 0,
    },
    requests: 0,
    retries: 0,
    stillPending: 0,
    stoppedLicenses: [],
    failures: [],
    ...extra,
  });

  it('redelivers when a license failed or a failure is fatal, and a flush while records are unsent', () => {
    expect(needsRedelivery(report({}), 'meter')).toBe(false);
    expect(
      needsRedelivery(report({ failures: [{ licenseKey: 'a', message: 'x', fatal: false }] }), 'meter'),
    ).toBe(true);
    expect(needsRedelivery(report({ failures: [{ message: 'AccessDenied', fatal: true }] }), 'meter')).toBe(
      true,
    );
    // Throttled to the end: the next hourly run sends them.
    expect(
      needsRedelivery(
        report({ failures: [{ message: 'Throttling', fatal: false }], stillPending: 3 }),
        'meter',
      ),
    ).toBe(false);
    expect(needsRedelivery(report({ stillPending: 1 }), 'flush')).toBe(true);
  });
});

describe('entitled quantities (contract with consumption)', () => {
  it('takes whole, unexpired quantities per dimension', () => {
    const at = new Date('2026-11-22T00:00:00.000Z');
    expect(
      entitledQuantities(
        [
          { productCode: 'p', dimension: 'api_calls', value: 1000 },
          { productCode: 'p', dimension: 'api_calls', value: 400 },
          { productCode: 'p', dimension: 'storage_gb', value: 10.7 },
          {
            productCode: 'p',
            dimension: 'old',
            value: 5,
            expirationDate: new Date('2026-11-21T00:00:00.000Z'),
          },
          { productCode: 'p', dimension: 'flag', value: true },
          { productCode: 'p', dimension: 'negative', value: -3 },
        ],
        at,
      ),
    ).toEqual({ api_calls: 1000, storage_gb: 10, negative: 0 });
  });
});
