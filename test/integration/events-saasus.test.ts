import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SaasusPartnerEvent } from '#sandbox/emulators/saasus';
import { onlyProduct } from '../support/config.js';
import {
  type EventsHarness,
  licenseDetail,
  marketplaceEvent,
  minute,
  type ProvisionedLicense,
  startEventsHarness,
} from '../support/events-harness.js';

// Metrics read their settings when their module loads: this file checks the metric a deleted
// tenant emits, so metrics are on (printed as EMF through the console in dev mode).
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'MarketplaceBridge';
  process.env.POWERTOOLS_SERVICE_NAME = 'saasus-events';
});

/**
 * SaaSus partner events end to end: the SaaSus emulator emits the events of real API calls (made
 * with our own client, as a person in the SaaSus console would) and the real handler module
 * processes them against the emulators and dynalite. The example config: subscription pricing
 * (default plan "basic"), an iDoperation directory, tenant users kept on revocation.
 */

let h: EventsHarness;
beforeAll(async () => {
  h = await startEventsHarness();
});
afterAll(async () => {
  await h?.close();
});

const basic = () => onlyProduct(h.config).plans.byDimension.basic as string;
const pro = () => onlyProduct(h.config).plans.byDimension.pro as string;

/** A provisioned license made active by a License Updated event (subscription: the default plan). */
const activeLicense = async (): Promise<ProvisionedLicense> => {
  const license = await h.provisionLicense();
  const delivery = await h.deliver(
    'marketplace',
    marketplaceEvent({
      detailType: 'License Updated - Manufacturer',
      time: minute(1),
      detail: licenseDetail(h.config, license),
    }),
  );
  expect(delivery.errors).toEqual([]);
  expect(h.tenantPlan(license.tenantId)).toBe(basic());
  h.takePartnerEvents();
  return license;
};

/** The one partner event of `eventType` emitted since the last look (each step is a minute later). */
const partnerEvent = (eventType: string): SaasusPartnerEvent => {
  const events = h.takePartnerEvents().filter((event) => event.detail.event_type === eventType);
  expect(events).toHaveLength(1);
  return events[0] as SaasusPartnerEvent;
};

const later = () => h.advanceSaasusClock(60_000);

const addTenantUser = async (license: ProvisionedLicense, email: string) => {
  const user = h.saasus.seedUser({ email });
  later();
  await h.saasusClient.createTenantUser(license.tenantId, { email, attributes: {} });
  return { userId: String(user.id), event: partnerEvent('create_tenant_user') };
};

const members = async (license: ProvisionedLicense) =>
  ((await h.license(license.licenseKey)).members ?? {}) as Record<string, Record<string, unknown>>;

const emfLines = () =>
  h.logs.flatMap((line) => {
    if (!line.includes('"_aws"')) return [];
    return [JSON.parse(line) as Record<string, unknown>];
  });

describe('tenant users', () => {
  it('registers a user added to a Marketplace tenant in iDoperation, and disables them when deleted', async () => {
    const license = await activeLicense();
    const email = `colleague-${Date.now()}@buyer.example`;
    const { userId, event } = await addTenantUser(license, email);

    const created = await h.deliver('saasus', event);

    expect(created.errors).toEqual([]);
    const directory = h.idoperation.users().filter((user) => user.login_id === email);
    expect(directory).toEqual([
      expect.objectContaining({
        login_id: email,
        is_external: 1,
        is_disabled: 0,
        services: [1],
        locale: 'ja',
      }),
    ]);
    expect((await members(license))[userId]).toMatchObject({
      registered: true,
      email,
      directoryUserId: directory[0]?.id,
    });

    later();
    await h.saasusClient.deleteTenantUser(license.tenantId, userId);
    const deleted = await h.deliver('saasus', partnerEvent('delete_tenant_user'));

    expect(deleted.errors).toEqual([]);
    expect(h.directoryUser(String(directory[0]?.id))?.is_disabled).toBe(1);
    expect((await members(license))[userId]?.registered).toBe(false);
    // The sign-up admin is untouched.
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(0);
  });

  it('disables the sign-up admin in iDoperation when the admin is deleted from the tenant', async () => {
    const license = await activeLicense();
    later();
    await h.saasusClient.deleteTenantUser(license.tenantId, license.adminUserId);

    await h.deliver('saasus', partnerEvent('delete_tenant_user'));

    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(1);
    expect((await members(license))[license.adminUserId]?.registered).toBe(false);
  });

  it('ignores users of tenants that belong to no Marketplace license', async () => {
    const tenant = h.saasus.seedTenant({
      name: 'Direct customer',
      back_office_staff_email: 'ops@seller.example',
    });
    const email = `direct-${Date.now()}@example.com`;
    h.saasus.seedUser({ email });
    h.takePartnerEvents();
    later();
    await h.saasusClient.createTenantUser(String(tenant.id), { email, attributes: {} });

    const delivery = await h.deliver('saasus', partnerEvent('create_tenant_user'));

    expect(delivery.result).toMatchObject({
      status: 'processed',
      outcome: {
        status: 'ignored',
        tenants: [{ applied: false, reason: `tenant ${tenant.id} has no Marketplace license` }],
      },
    });
    expect(h.idoperation.users().some((user) => user.login_id === email)).toBe(false);
  });
});

describe('plan drift', () => {
  it('sets a plan changed by hand back to what the license allows', async () => {
    const license = await activeLicense();
    later();
    await h.saasusClient.updateTenantPlan(license.tenantId, { next_plan_id: pro() });
    expect(h.tenantPlan(license.tenantId)).toBe(pro());
    const drift = partnerEvent('update_tenant_plan');
    later();

    const delivery = await h.deliver('saasus', drift);

    expect(delivery.errors).toEqual([]);
    expect(h.tenantPlan(license.tenantId)).toBe(basic());
    // The correction's own event agrees with the license: nothing more happens.
    const writes = h.saasus.state.callCount('UpdateTenantPlan');
    const echo = await h.deliver('saasus', partnerEvent('update_tenant_plan'));
    expect(echo.result).toMatchObject({
      outcome: { tenants: [{ applied: true, reason: 'plan matches the license' }] },
    });
    expect(h.saasus.state.callCount('UpdateTenantPlan')).toBe(writes);
  });

  it('applies only events newer than the last one applied', async () => {
    const license = await activeLicense();
    later();
    await h.saasusClient.updateTenantPlan(license.tenantId, { next_plan_id: pro() });
    const older = partnerEvent('update_tenant_plan');
    later();
    await h.saasusClient.updateTenantPlan(license.tenantId, { next_plan_id: basic() });
    const newer = partnerEvent('update_tenant_plan');
    const writes = h.saasus.state.callCount('UpdateTenantPlan');

    await h.deliver('saasus', newer);
    const stale = await h.deliver('saasus', older);

    expect(stale.result).toMatchObject({
      outcome: {
        status: 'ignored',
        tenants: [{ applied: false, reason: expect.stringMatching(/^stale: plan/) }],
      },
    });
    expect(h.saasus.state.callCount('UpdateTenantPlan')).toBe(writes);
    expect(h.tenantPlan(license.tenantId)).toBe(basic());
    expect((await h.license(license.licenseKey)).saasusCursor).toEqual({
      plan: newer.time.replace('Z', '.000Z'),
    });
  });

  it('survives a SaaSus outage: the failed run leaves the cursor alone and the retry corrects the plan', async () => {
    const license = await activeLicense();
    later();
    await h.saasusClient.updateTenantPlan(license.tenantId, { next_plan_id: pro() });
    const event = partnerEvent('update_tenant_plan');
    h.saasus.faults.failNext(4, { status: 500 }, { operation: 'UpdateTenantPlan' });

    const failed = await h.deliver('saasus', event, 0);
    expect(failed.deadLetter?.responsePayload.errorMessage).toMatch(/SaaSus PUT .*\/plans failed: 500/);
    expect((await h.license(license.licenseKey)).saasusCursor).toBeUndefined();
    expect(h.tenantPlan(license.tenantId)).toBe(pro());

    const retried = await h.deliver('saasus', failed.deadLetter);
    expect(retried.errors).toEqual([]);
    expect(h.tenantPlan(license.tenantId)).toBe(basic());
  });
});

describe('tenant deleted', () => {
  it('flags the license, publishes Tenant Deleted and emits the alarmed metric, once per event', async () => {
    const license = await activeLicense();
    later();
    expect(await h.saasusRequest('DELETE', `/v1/auth/tenants/${license.tenantId}`)).toBe(200);
    const event = partnerEvent('delete_tenant');
    const metricsBefore = emfLines().filter((line) => line.TenantDeleted !== undefined).length;

    const first = await h.deliver('saasus', event);
    const second = await h.deliver('saasus', event);

    expect(first.errors).toEqual([]);
    expect(second.result).toEqual(first.result);
    const item = await h.license(license.licenseKey);
    expect(item.tenantDeleted).toEqual({ at: event.time.replace('Z', '.000Z'), eventId: event.id });
    expect(h.domainEvents(license.licenseKey).filter((e) => e.detailType === 'Tenant Deleted')).toEqual([
      {
        detailType: 'Tenant Deleted',
        detail: expect.objectContaining({
          licenseKey: license.licenseKey,
          tenantId: license.tenantId,
          status: 'active',
        }),
      },
    ]);
    const metrics = emfLines().filter((line) => line.TenantDeleted !== undefined);
    expect(metrics).toHaveLength(metricsBefore + 1);
    expect(metrics.at(-1)).toMatchObject({
      TenantDeleted: 1,
      service: 'saasus-events',
      _aws: {
        CloudWatchMetrics: [
          { Namespace: 'MarketplaceBridge', Metrics: [{ Name: 'TenantDeleted', Unit: 'Count' }] },
        ],
      },
    });

    // The license's later Marketplace events no longer try to change the deleted tenant.
    const ended = await h.deliver(
      'marketplace',
      marketplaceEvent({
        detailType: 'License Deprovisioned - Manufacturer',
        time: minute(30),
        detail: licenseDetail(h.config, license),
      }),
    );
    expect(ended.errors).toEqual([]);
    expect((await h.license(license.licenseKey)).status).toBe('ended');
  });
});
