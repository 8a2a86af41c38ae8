import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { onlyProduct } from '../support/config.js';
import {
  type EventsHarness,
  licenseDetail,
  marketplaceEvent,
  minute,
  startEventsHarness,
} from '../support/events-harness.js';

// Metrics read their settings when their module loads: this file checks the PlanDrift metric.
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'MarketplaceBridge';
  process.env.POWERTOOLS_SERVICE_NAME = 'saasus-events';
});

/**
 * `saasusEvents.onPlanDrift: "alert"`: a plan changed by hand in SaaSus stays as it is, and the
 * PlanDrift metric (alarmed in this mode) is emitted once per event. The default, `correct`, is
 * covered in events-saasus.test.ts. One harness per file: the handler reads its config at import.
 */

let h: EventsHarness;
beforeAll(async () => {
  h = await startEventsHarness({
    configure: (input) => {
      const saasusEvents = input.saasusEvents as Record<string, unknown>;
      saasusEvents.onPlanDrift = 'alert';
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const planDriftMetrics = () =>
  h.logs.filter((line) => line.includes('"_aws"') && line.includes('"PlanDrift"')).length;

describe('plan drift with onPlanDrift = alert', () => {
  it('leaves the hand-set plan, emits PlanDrift once per event and changes nothing else', async () => {
    expect(h.config.saasusEvents?.onPlanDrift).toBe('alert');
    const license = await h.provisionLicense();
    const activation = await h.deliver(
      'marketplace',
      marketplaceEvent({
        detailType: 'License Updated - Manufacturer',
        time: minute(1),
        detail: licenseDetail(h.config, license),
      }),
    );
    expect(activation.errors).toEqual([]);
    const basic = onlyProduct(h.config).plans.byDimension.basic as string;
    const pro = onlyProduct(h.config).plans.byDimension.pro as string;
    expect(h.tenantPlan(license.tenantId)).toBe(basic);
    h.takePartnerEvents();

    h.advanceSaasusClock(60_000);
    await h.saasusClient.updateTenantPlan(license.tenantId, { next_plan_id: pro });
    const [drift] = h.takePartnerEvents().filter((event) => event.detail.event_type === 'update_tenant_plan');
    expect(drift).toBeDefined();
    const planWrites = h.saasus.state.callCount('UpdateTenantPlan');
    const metricsBefore = planDriftMetrics();

    const first = await h.deliver('saasus', drift);
    const again = await h.deliver('saasus', drift);

    expect(first.errors).toEqual([]);
    expect(again.result).toEqual(first.result);
    expect(h.tenantPlan(license.tenantId)).toBe(pro);
    expect(h.saasus.state.callCount('UpdateTenantPlan')).toBe(planWrites);
    expect(planDriftMetrics()).toBe(metricsBefore + 1);
  });
});
