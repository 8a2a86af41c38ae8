import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlyProduct } from '../support/config.js';
import {
  agreementDetail,
  type EventsHarness,
  marketplaceEvent,
  minute,
  newAccountId,
  type ProvisionedLicense,
  startEventsHarness,
} from '../support/events-harness.js';

/**
 * Revocation that takes everything away and reinstatement that gives it back: the revoked plan
 * (`plans.revokedPlanId`), tenant users removed (`revocation.tenantUsers: "remove"`) and directory
 * users disabled, then a new agreement that continues the old one (its `previousAgreementId`).
 */

const revokedPlanId = '0f8d6c2e-0000-4a7b-9c3d-00000000f7ee';

let h: EventsHarness;
beforeAll(async () => {
  h = await startEventsHarness({
    configure: (input) => {
      input.plans.revokedPlanId = revokedPlanId;
      input.revocation = { tenantUsers: 'remove', disableDirectoryUsers: true };
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const agreementEvent = (
  kind: 'Created' | 'Ended',
  license: ProvisionedLicense,
  agreementId: string,
  time: string,
  extra: Record<string, unknown> = {},
) =>
  marketplaceEvent({
    detailType: `Purchase Agreement ${kind} - Proposer`,
    time,
    detail: agreementDetail(license, agreementId, extra),
  });

/** An active license (agreement A1) with a second tenant user registered through a SaaSus event. */
const licenseWithColleague = async () => {
  const license = await h.provisionLicense();
  const first = `agmt-${randomUUID()}`;
  expect(
    (await h.deliver('marketplace', agreementEvent('Created', license, first, minute(1), { intent: 'NEW' })))
      .errors,
  ).toEqual([]);
  const email = `colleague-${randomUUID().slice(0, 8)}@buyer.example`;
  const colleague = String(h.saasus.seedUser({ email }).id);
  h.takePartnerEvents();
  h.advanceSaasusClock(60_000);
  await h.saasusClient.createTenantUser(license.tenantId, { email, attributes: {} });
  await h.saasusClient.addTenantUserRoles(license.tenantId, colleague, h.config.saasus.envId, ['member']);
  const [created] = h.takePartnerEvents().filter((event) => event.detail.event_type === 'create_tenant_user');
  expect((await h.deliver('saasus', created)).errors).toEqual([]);
  const colleagueDirectoryId = h.idoperation.users().find((user) => user.login_id === email)?.id ?? '';
  expect(colleagueDirectoryId).not.toBe('');
  return { license, first, colleague, colleagueDirectoryId };
};

describe('revocation with removal', () => {
  it('sets the revoked plan, removes every tenant user and disables their directory users; a renewal restores all', async () => {
    const { license, first, colleague, colleagueDirectoryId } = await licenseWithColleague();
    const adminRoles = h.tenantUserRoles(license.tenantId, license.adminUserId);
    expect(adminRoles).toEqual(h.config.saasus.adminRoleNames);

    await h.deliver(
      'marketplace',
      agreementEvent('Ended', license, first, minute(5), { status: 'CANCELLED' }),
    );

    expect(h.tenantPlan(license.tenantId)).toBe(revokedPlanId);
    expect(h.tenantUserIds(license.tenantId)).toEqual([]);
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(1);
    expect(h.directoryUser(colleagueDirectoryId)?.is_disabled).toBe(1);

    // A continuing agreement arrives before the old one's deprovisioning: the license is back.
    const second = `agmt-${randomUUID()}`;
    const renewed = await h.deliver(
      'marketplace',
      agreementEvent('Created', license, second, minute(30), { intent: 'RENEW', previousAgreementId: first }),
    );

    expect(renewed.errors).toEqual([]);
    expect((await h.license(license.licenseKey)).status).toBe('active');
    expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.defaultPlanId);
    expect(h.tenantUserIds(license.tenantId)).toEqual([license.adminUserId, colleague].sort());
    expect(h.tenantUserRoles(license.tenantId, license.adminUserId)).toEqual(adminRoles);
    expect(h.tenantUserRoles(license.tenantId, colleague)).toEqual(['member']);
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(0);
    expect(h.directoryUser(colleagueDirectoryId)?.is_disabled).toBe(0);
    const members = (await h.license(license.licenseKey)).members as Record<string, { removed?: unknown }>;
    expect(Object.values(members).filter((entry) => entry.removed !== undefined)).toEqual([]);
    expect(h.domainEvents(license.licenseKey).map((event) => event.detailType)).toEqual([
      'License Activated',
      'License Ending',
      'License Reinstated',
    ]);
  });

  it('finishes an interrupted removal and a re-add whose answer was lost, without repeating the POST', async () => {
    const { license, first, colleague } = await licenseWithColleague();
    // The first removal is applied, then SaaSus stays down beyond the client's retries.
    h.saasus.faults.failNext(4, { status: 503 }, { operation: 'DeleteTenantUser' });

    const ended = await h.deliver(
      'marketplace',
      agreementEvent('Ended', license, first, minute(5), { status: 'CANCELLED' }),
    );

    expect(ended.attempts).toBe(2);
    expect(h.tenantUserIds(license.tenantId)).toEqual([]);

    // Re-adding the colleague is applied but its answer is lost: the handler looks before failing.
    h.saasus.faults.failNext(1, { status: 502, apply: true }, { operation: 'CreateTenantUser' });
    const creates = h.saasus.state.callCount('CreateTenantUser');
    const second = `agmt-${randomUUID()}`;
    const renewed = await h.deliver(
      'marketplace',
      agreementEvent('Created', license, second, minute(30), { intent: 'RENEW', previousAgreementId: first }),
    );

    expect(renewed.errors).toEqual([]);
    expect(h.saasus.state.callCount('CreateTenantUser')).toBe(creates + 2);
    expect(h.tenantUserIds(license.tenantId)).toEqual([license.adminUserId, colleague].sort());
    expect(h.tenantUserRoles(license.tenantId, license.adminUserId)).toEqual(h.config.saasus.adminRoleNames);
    expect(h.tenantUserRoles(license.tenantId, colleague)).toEqual(['member']);
  });

  it('registers a user added to a revoked tenant, disabled, and takes them out of the tenant', async () => {
    const { license, first } = await licenseWithColleague();
    await h.deliver(
      'marketplace',
      agreementEvent('Ended', license, first, minute(5), { status: 'CANCELLED' }),
    );
    const email = `late-${randomUUID().slice(0, 8)}@buyer.example`;
    const late = String(h.saasus.seedUser({ email }).id);
    h.takePartnerEvents();
    h.advanceSaasusClock(60_000);
    await h.saasusClient.createTenantUser(license.tenantId, { email, attributes: {} });
    const [created] = h
      .takePartnerEvents()
      .filter((event) => event.detail.event_type === 'create_tenant_user');

    expect((await h.deliver('saasus', created)).errors).toEqual([]);

    expect(h.tenantUserIds(license.tenantId)).toEqual([]);
    expect(h.idoperation.users().find((user) => user.login_id === email)?.is_disabled).toBe(1);
    const members = (await h.license(license.licenseKey)).members as Record<string, { registered?: boolean }>;
    expect(members[late]?.registered).toBe(true);
  });
});

describe('revocation of a license linked to a tenant that existed before it', () => {
  it('gives the tenant back its previous plan and keeps its own members', async () => {
    const previousPlanId = String(onlyProduct(h.config).plans.byDimension.pro);
    const suffix = randomUUID().slice(0, 8);
    const ownerEmail = `owner-${suffix}@existing.example`;
    const memberEmail = `member-${suffix}@existing.example`;
    const owner = String(h.saasus.seedUser({ email: ownerEmail }).id);
    const member = String(h.saasus.seedUser({ email: memberEmail }).id);
    const tenant = h.saasus.seedTenant({
      name: `Existing ${suffix}`,
      back_office_staff_email: 'ops@seller.example',
      plan_id: previousPlanId,
    });
    const tenantId = String(tenant.id);
    await h.saasusClient.createTenantUser(tenantId, { email: ownerEmail, attributes: {} });
    await h.saasusClient.addTenantUserRoles(tenantId, owner, h.config.saasus.envId, [
      ...h.config.saasus.adminRoleNames,
    ]);
    await h.saasusClient.createTenantUser(tenantId, { email: memberEmail, attributes: {} });

    // What sign-up's link flow records: the tenant (linked, with its plan before the link) and the plan.
    const account = newAccountId();
    const { licenseArn } = h.marketplace.addLicense({ customerAwsAccountId: account });
    await h.store.upsertIdentity({
      licenseKey: licenseArn,
      identityMode: 'license',
      licenseArn,
      customerAwsAccountId: account,
      productCode: onlyProduct(h.config).productCode,
    });
    await h.store.setAttributes(licenseArn, { tenantId });
    await h.store.recordProvisioningStep(licenseArn, 'tenant', { tenantId, linked: true, previousPlanId });
    const linked = { licenseKey: licenseArn, licenseArn, account };
    const first = `agmt-${randomUUID()}`;
    expect(
      (
        await h.deliver(
          'marketplace',
          marketplaceEvent({
            detailType: 'Purchase Agreement Created - Proposer',
            time: minute(1),
            detail: agreementDetail(linked, first, { intent: 'NEW' }),
          }),
        )
      ).errors,
    ).toEqual([]);
    expect(h.tenantPlan(tenantId)).toBe(onlyProduct(h.config).plans.defaultPlanId);
    h.takePartnerEvents();

    const ended = await h.deliver(
      'marketplace',
      marketplaceEvent({
        detailType: 'Purchase Agreement Ended - Proposer',
        time: minute(5),
        detail: agreementDetail(linked, first, { status: 'CANCELLED' }),
      }),
    );

    expect(ended.errors).toEqual([]);
    expect((await h.license(licenseArn)).status).not.toBe('active');
    // Not `plans.revokedPlanId`, and nobody removed (`revocation.tenantUsers` is "remove" here).
    expect(h.tenantPlan(tenantId)).toBe(previousPlanId);
    expect(h.tenantUserIds(tenantId)).toEqual([owner, member].sort());
    expect(h.tenantUserRoles(tenantId, owner)).toEqual(h.config.saasus.adminRoleNames);
  });
});
