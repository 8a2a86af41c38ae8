import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installClock } from '#shared/clock';
import { createLicenseStore, LicenseConflictError } from '#shared/store/licenses';
import { startDynalite } from '../support/dynalite.js';

describe('license store', () => {
  let local: Awaited<ReturnType<typeof startDynalite>>;
  let store: ReturnType<typeof createLicenseStore>;
  beforeAll(async () => {
    local = await startDynalite('store');
    store = createLicenseStore({ client: local.client, tableName: local.tables.Licenses });
  });
  afterAll(() => local.close());

  const identity = (n: number, account = '111122223333') => ({
    licenseKey: `arn:aws:license-manager::${account}:license:l-${n}`,
    identityMode: 'license' as const,
    licenseArn: `arn:aws:license-manager::${account}:license:l-${n}`,
    customerAwsAccountId: account,
    productCode: 'prodcode',
  });

  it('creates a pending license once and never overwrites what other flows wrote', async () => {
    const created = await store.upsertIdentity(identity(1), { freeTrial: true });
    expect(created).toMatchObject({ status: 'pending', version: 0, freeTrial: true });
    await store.setAttributes(identity(1).licenseKey, { status: 'active', tenantId: 'tenant-1' });
    const again = await store.upsertIdentity(identity(1), { freeTrial: false });
    expect(again).toMatchObject({ status: 'active', tenantId: 'tenant-1', freeTrial: true });
    expect(again.createdAt).toBe(created.createdAt);
  });

  it('stamps createdAt and updatedAt with the business clock (the simulated time in the sandbox)', async () => {
    const restore = installClock(() => Date.parse('2031-01-02T03:04:05.000Z'));
    try {
      const created = await store.upsertIdentity(identity(9));
      expect(created.createdAt).toBe('2031-01-02T03:04:05.000Z');
      expect(created.updatedAt).toBe('2031-01-02T03:04:05.000Z');
    } finally {
      restore();
    }
    await store.setAttributes(identity(9).licenseKey, { tenantId: 'tenant-9' });
    const updated = await store.get(identity(9).licenseKey);
    expect(updated?.createdAt).toBe('2031-01-02T03:04:05.000Z');
    expect(Date.parse(String(updated?.updatedAt))).toBeLessThan(Date.parse('2031-01-01T00:00:00.000Z'));
  });

  it('keeps concurrent licenses of one account apart and finds them by account and tenant', async () => {
    await store.upsertIdentity(identity(2, '444455556666'));
    await store.upsertIdentity(identity(3, '444455556666'));
    await store.setAttributes(identity(3, '444455556666').licenseKey, { tenantId: 'tenant-3' });
    const byAccount = await store.findByAccount('444455556666');
    expect(byAccount.map((item) => item.licenseKey).sort()).toEqual([
      identity(2, '444455556666').licenseKey,
      identity(3, '444455556666').licenseKey,
    ]);
    expect((await store.findByTenant('tenant-3')).map((item) => item.licenseKey)).toEqual([
      identity(3, '444455556666').licenseKey,
    ]);
  });

  it('records a provisioning step once and returns the first value to a second writer', async () => {
    await store.upsertIdentity(identity(4));
    expect(
      await store.recordProvisioningStep(identity(4).licenseKey, 'tenant', { tenantId: 'first' }),
    ).toEqual({
      tenantId: 'first',
    });
    expect(
      await store.recordProvisioningStep(identity(4).licenseKey, 'tenant', { tenantId: 'second' }),
    ).toEqual({
      tenantId: 'first',
    });
    expect((await store.get(identity(4).licenseKey))?.provisioning).toEqual({
      tenant: { tenantId: 'first' },
    });
  });

  it('rejects a lifecycle write based on a stale version', async () => {
    const item = await store.upsertIdentity(identity(5));
    await store.setAttributes(item.licenseKey, { status: 'active' }, { expectedVersion: item.version });
    await expect(
      store.setAttributes(item.licenseKey, { status: 'ended' }, { expectedVersion: item.version }),
    ).rejects.toBeInstanceOf(LicenseConflictError);
    expect((await store.get(item.licenseKey))?.status).toBe('active');
  });

  it('refuses to set attributes on a license that does not exist', async () => {
    await expect(store.setAttributes('arn:unknown', { status: 'active' })).rejects.toBeInstanceOf(
      LicenseConflictError,
    );
  });
});
