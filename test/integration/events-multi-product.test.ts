import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EventsHarness,
  licenseDetail,
  marketplaceEvent,
  minute,
  type ProvisionedLicense,
  startEventsHarness,
} from '../support/events-harness.js';

/**
 * One buyer, one tenant, two products: events are routed by product code, the tenant's plan
 * follows the product order in the config, and ending one product leaves the other alone.
 */

const ADDON_CODE = 'addon0product0code';
const ADDON_PLAN = 'addon-plan-0001';

let h: EventsHarness;
beforeAll(async () => {
  h = await startEventsHarness({
    configure: (input) => {
      const { plans, marketplace, metering } = input as unknown as Record<string, Record<string, unknown>>;
      const { apiRegion, ...listing } = marketplace as Record<string, unknown>;
      const { units, ...sharedMetering } = metering as Record<string, unknown>;
      const raw = input as unknown as Record<string, unknown>;
      delete raw.plans;
      raw.marketplace = { apiRegion };
      raw.metering = sharedMetering;
      raw.products = [
        { ...listing, plans, meteringUnits: units },
        {
          productCode: ADDON_CODE,
          productId: 'prod-addon0000001',
          pricingModel: 'contract',
          plans: { byDimension: { seats: ADDON_PLAN } },
        },
      ];
      raw.revocation = { tenantUsers: 'remove', disableDirectoryUsers: true };
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const licenseEvent = (kind: 'Updated' | 'Deprovisioned', license: ProvisionedLicense, time: string) =>
  marketplaceEvent({
    detailType: `License ${kind} - Manufacturer`,
    time,
    detail: licenseDetail(h.config, license),
  });

const deliver = async (event: unknown) => expect((await h.deliver('marketplace', event)).errors).toEqual([]);

/** A buyer holding the first product (subscription) and the add-on (contract) on one tenant. */
const buyerOfBoth = async () => {
  const main = await h.provisionLicense();
  const addon = await h.provisionLicense({
    productCode: ADDON_CODE,
    sameTenantAs: main,
    entitlements: ['seats'],
  });
  await deliver(licenseEvent('Updated', main, minute(1)));
  await deliver(licenseEvent('Updated', addon, minute(2)));
  expect((await h.license(main.licenseKey)).status).toBe('active');
  expect((await h.license(addon.licenseKey)).status).toBe('active');
  return { main, addon, mainPlan: h.config.products[0]?.plans.defaultPlanId };
};

describe('a tenant holding two products', () => {
  it("takes the plan of the product listed first, whichever license's event came last", async () => {
    const { main, mainPlan } = await buyerOfBoth();
    expect(mainPlan).toBeDefined();
    expect(h.tenantPlan(main.tenantId)).toBe(mainPlan);
  });

  it("ending the add-on leaves the first product's plan, users and directory account alone", async () => {
    const { main, addon, mainPlan } = await buyerOfBoth();
    await deliver(licenseEvent('Deprovisioned', addon, minute(10)));
    expect((await h.license(addon.licenseKey)).status).toBe('ended');
    expect((await h.license(main.licenseKey)).status).toBe('active');
    expect(h.tenantPlan(main.tenantId)).toBe(mainPlan);
    expect(h.tenantUserIds(main.tenantId)).toContain(main.adminUserId);
    expect(h.directoryUser(main.directoryUserId)?.is_disabled).toBe(0);
  });

  it("ending the first product hands the tenant to the add-on's plan and keeps its users", async () => {
    const { main } = await buyerOfBoth();
    await deliver(licenseEvent('Deprovisioned', main, minute(10)));
    expect((await h.license(main.licenseKey)).status).toBe('ended');
    expect(h.tenantPlan(main.tenantId)).toBe(ADDON_PLAN);
    expect(h.tenantUserIds(main.tenantId)).toContain(main.adminUserId);
    expect(h.directoryUser(main.directoryUserId)?.is_disabled).toBe(0);
  });

  it("sets a plan changed by hand back to the first product's plan, not the add-on's", async () => {
    const { main, mainPlan } = await buyerOfBoth();
    h.takePartnerEvents();
    h.advanceSaasusClock(60_000);
    await h.saasusClient.updateTenantPlan(main.tenantId, { next_plan_id: ADDON_PLAN });
    const [drift, ...more] = h
      .takePartnerEvents()
      .filter((event) => event.detail.event_type === 'update_tenant_plan');
    expect(more).toEqual([]);
    h.advanceSaasusClock(60_000);
    expect((await h.deliver('saasus', drift)).errors).toEqual([]);
    expect(h.tenantPlan(main.tenantId)).toBe(mainPlan);
  });
});
