import { afterAll, describe, expect, it } from 'vitest';
import { meterLicenses } from '#shared/metering/pipeline';
import { startLocalWorld } from '#test/support/local-world';
import { at, type Harness, HOUR, startHarness } from './metering-harness.js';

/**
 * SaaSus does not document the time zone of a metering "day", nor whether `method: direct`
 * overwrites one second's count or the whole day's. The SaaSus emulator plays each; whatever
 * SaaSus does, the total billed to AWS for a day must equal that day's SaaSus count.
 */

const harnesses: Harness[] = [];
afterAll(async () => {
  await Promise.all(harnesses.map((harness) => harness.close()));
});

/** Start of the local calendar day 2026-11-22 in each zone. */
const dayStart = {
  UTC: at('2026-11-22T00:00:00.000Z'),
  'Asia/Tokyo': at('2026-11-21T15:00:00.000Z'),
} as const;
const DAY = '2026-11-22';

describe('SaaSus metering days', () => {
  it.each([
    ['second', 'UTC'],
    ['day', 'UTC'],
    ['second', 'Asia/Tokyo'],
    ['day', 'Asia/Tokyo'],
  ] as const)(
    'bills exactly the day count when direct overwrites the %s, with days in %s',
    async (direct, zone) => {
      const start = dayStart[zone];
      const h = await startHarness({
        prefix: `days-${direct}-${zone.replace('/', '-')}`,
        start,
        saasusDirect: direct,
        metering: { saasusDayTimeZone: zone },
      });
      harnesses.push(h);
      const run = (now: Date) => {
        h.clock.now = now;
        return meterLicenses(h.deps(), { licenseKeys: [license.licenseKey], now });
      };
      const license = await h.addLicense({ activeAt: start });
      await run(new Date(start.getTime() + 60_000));

      // The seller's app reports a running total for the day with `direct`, at several seconds.
      const report = (hoursIn: number, total: number) =>
        h.saasus.updateMeteringCountAt(
          license.tenantId,
          'api_calls',
          Math.floor((start.getTime() + hoursIn * HOUR) / 1000),
          { method: 'direct', count: total },
        );
      await report(1.2, 5);
      await run(new Date(start.getTime() + 2 * HOUR + 5 * 60_000));
      await report(2.5, 9);
      await report(7.75, 12);
      for (let hour = 3; hour <= 26; hour++) await run(new Date(start.getTime() + hour * HOUR + 5 * 60_000));

      const dayCount = h.saasusEmulator.state.meteringDateCount(license.tenantId, 'api_calls', DAY);
      // `second`: three seconds, 5 + 9 + 12; `day`: the last total overwrote the day, 12.
      expect(dayCount).toBe(direct === 'second' ? 26 : 12);
      const billed = h
        .billedFor(license.licenseKey)
        .filter((record) => record.dimension === 'api_calls')
        .reduce((sum, record) => sum + record.quantity, 0);
      expect(billed).toBe(dayCount);
    },
  );
});

describe('startLocalWorld', () => {
  it('starts the SaaSus emulator with the configured day time zone', async () => {
    const world = await startLocalWorld({
      tablePrefix: 'world-zone',
      saasusCredentials: { saasId: 'zone', apiKey: 'zone-key', secretKey: 'zone-secret' },
      idoperationAuthorization: 'Bearer zone',
      domainEventBus: 'zone-bus',
      configure: (input) => {
        input.metering = { ...input.metering, saasusDayTimeZone: 'Asia/Tokyo' };
      },
    });
    try {
      const tenant = world.saasus.seedTenant({ name: 'zone', back_office_staff_email: 'ops@example.com' });
      // 16:00 UTC on the 22nd is 01:00 on the 23rd in Tokyo.
      await world.saasusClient.updateMeteringCountAt(
        String(tenant.id),
        'api_calls',
        Date.UTC(2026, 10, 22, 16) / 1000,
        {
          method: 'add',
          count: 3,
        },
      );
      const counts = await world.saasusClient.getMeteringCountsForDate(String(tenant.id), '2026-11-23');
      expect(counts).toEqual([expect.objectContaining({ metering_unit_name: 'api_calls', count: 3 })]);
    } finally {
      await world.close();
    }
  });
});
