import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meterLicenses } from '#shared/metering/pipeline';
import { at, type Harness, startHarness } from './metering-harness.js';

/**
 * One buyer's tenant holds two products (the example's subscription, metering api_calls,
 * storage_gb and active_users; an add-on metering reports): each SaaSus unit is billed under the
 * license of the product that meters it, once per hour, never under both; one pass, one sender.
 */

const DAY = '2026-11-22';
const t = (time: string) => at(`${DAY}T${time}:00.000Z`);
const ADDON_CODE = 'addon0product0code';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    prefix: 'multiproduct',
    start: t('00:00'),
    extraProducts: [
      {
        productCode: ADDON_CODE,
        productId: 'prod-addon0000001',
        pricingModel: 'subscription',
        plans: { byDimension: { reports_plan: 'addon-plan' }, defaultPlanId: 'addon-plan' },
        meteringUnits: [{ saasusUnit: 'reports', dimension: 'reports', aggregation: 'sum' }],
      },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

const run = (licenseKeys: string[], now: Date) => {
  h.clock.now = now;
  return meterLicenses(h.deps(), { licenseKeys, now });
};

const billed = (licenseKey: string) =>
  h
    .billedFor(licenseKey)
    .filter((record) => record.quantity > 0)
    .map((record) => `${record.hour.toISOString().slice(11, 16)} ${record.dimension} ${record.quantity}`)
    .sort();

describe('a tenant holding two products', () => {
  it("bills each unit under its own product's license, once per hour, never under both", async () => {
    const main = await h.addLicense({ activeAt: t('09:20') });
    const addon = await h.addLicense({ activeAt: t('09:20'), productCode: ADDON_CODE, sameTenantAs: main });
    expect(addon.tenantId).toBe(main.tenantId);
    const both = [main.licenseKey, addon.licenseKey];
    await run(both, t('09:25'));

    await h.addUsage(main.tenantId, 'api_calls', t('09:30'), 5);
    await h.addUsage(main.tenantId, 'reports', t('09:40'), 3);
    const first = await run(both, t('10:05'));
    expect(first.stillPending).toBe(0);
    // Two licenses of two products: two calls, each one product's records.
    expect(first.requests).toBe(2);

    await h.addUsage(main.tenantId, 'api_calls', t('10:30'), 2);
    await h.addUsage(main.tenantId, 'reports', t('10:31'), 4);
    await run(both, t('11:05'));
    await run(both, t('11:06')); // a second pass in the same hour sends nothing again

    expect(billed(main.licenseKey)).toEqual(['09:00 api_calls 5', '10:00 api_calls 2']);
    expect(billed(addon.licenseKey)).toEqual(['09:00 reports 3', '10:00 reports 4']);
    const dimensionsOf = (licenseKey: string) =>
      new Set(h.billedFor(licenseKey).map((record) => record.dimension));
    expect([...dimensionsOf(addon.licenseKey)]).toEqual(['reports']);
    expect(dimensionsOf(main.licenseKey).has('reports')).toBe(false);
    for (const licenseKey of both) {
      const keys = h
        .billedFor(licenseKey)
        .map((record) => `${record.dimension} ${record.hour.toISOString()}`);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });
});
