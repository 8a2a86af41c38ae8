import { afterEach, describe, expect, it } from 'vitest';
import { type SaasusEmulator, startSaasusEmulator } from '#sandbox/emulators/saasus';
import { createTenantSync, PlanNotRemovedError } from '#shared/events/tenant-sync';
import { createSaasusClient } from '#shared/saasus/client';
import { staticSecretSource } from '#shared/secrets';
import type { LicenseStore } from '#shared/store/licenses';

/**
 * Removing a tenant's plan sends UpdateTenantPlan without `next_plan_id`, which the SaaSus spec
 * does not document as a removal: the plan is read back, and a plan that stayed is an error.
 */

const credentials = { saasId: 'sync', apiKey: 'sync-key', secretKey: 'sync-secret' };
const planId = '0f8d6c2e-1111-4a7b-9c3d-000000000001';
const running: SaasusEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

const syncWith = async (emptyPlanReservation: 'removes-plan' | 'ignored') => {
  const emulator = await startSaasusEmulator({
    credentials,
    plans: [{ id: planId, name: 'basic' }],
    emptyPlanReservation,
  });
  running.push(emulator);
  const tenantId = String(
    emulator.seedTenant({ name: 'Acme', back_office_staff_email: 'ops@example.com', plan_id: planId }).id,
  );
  const saasus = createSaasusClient({
    baseUrl: emulator.url,
    secrets: staticSecretSource({ saasus: credentials }),
    secretName: 'saasus',
  });
  const logger = { info: () => {}, warn: () => {}, error: () => {} };
  // Plan actions touch SaaSus only.
  const sync = createTenantSync({ store: {} as LicenseStore, saasus, logger });
  return { emulator, sync, tenantId };
};

describe('createTenantSync', () => {
  it('removes a plan and reads it back', async () => {
    const { emulator, sync, tenantId } = await syncWith('removes-plan');
    await sync.execute('license-1', { type: 'set-plan', tenantId, planId: null });
    expect(emulator.state.tenant(tenantId)?.plan_id).toBeUndefined();
    expect(emulator.state.callCount('GetTenant')).toBe(1);
  });

  it('fails with a clear reason when SaaSus keeps the plan', async () => {
    const { sync, tenantId } = await syncWith('ignored');
    await expect(sync.execute('license-1', { type: 'set-plan', tenantId, planId: null })).rejects.toThrow(
      PlanNotRemovedError,
    );
  });
});
