import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishedLicenseArnOf } from '#sandbox/marketplace-events';
import { onlyProduct } from '../support/config.js';
import {
  agreementDetail,
  type EventsHarness,
  licenseDetail,
  marketplaceEvent,
  minute,
  type ProvisionedLicense,
  startEventsHarness,
} from '../support/events-harness.js';

/**
 * The EventBridge handler end to end: real handler module, Powertools idempotency on dynalite,
 * the SaaSus, Marketplace, iDoperation and EventBridge emulators. A contract-with-consumption
 * listing, so License Updated reads entitlements and an ending license needs its final flush.
 */

let h: EventsHarness;
beforeAll(async () => {
  h = await startEventsHarness({
    configure: (input) => {
      input.marketplace.pricingModel = 'contract-with-consumption';
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const plans = () => onlyProduct(h.config).plans.byDimension as Record<'basic' | 'pro', string>;

const licenseUpdated = (license: ProvisionedLicense, time: string, agreementId?: string, id?: string) =>
  marketplaceEvent({
    detailType: 'License Updated - Manufacturer',
    time,
    ...(id ? { id } : {}),
    detail: licenseDetail(h.config, license, agreementId),
  });

const agreementEvent = (
  kind: 'Created' | 'Amended' | 'Ended',
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

const detailTypes = (license: ProvisionedLicense) =>
  h.domainEvents(license.licenseKey).map((event) => event.detailType);

const planWrites = (tenantId: string) =>
  h.saasus.state
    .requests()
    .filter((request) => request.operation === 'UpdateTenantPlan' && request.path.includes(tenantId)).length;

/** A license activated by License Updated (which also binds the agreement to the license). */
const activeLicense = async (entitlements: string[] = ['pro'], agreementId = `agmt-${randomUUID()}`) => {
  const license = await h.provisionLicense({ entitlements });
  const delivery = await h.deliver('marketplace', licenseUpdated(license, minute(1), agreementId));
  expect(delivery.errors).toEqual([]);
  return { license, agreementId };
};

describe('License Updated', () => {
  it('reads the entitlements (all pages), sets the mapped plan and publishes License Activated', async () => {
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    h.marketplace.faults.emptyPagesNext(2);
    const event = licenseUpdated(license, minute(1));
    // Fields the parser does not know are accepted.
    Object.assign(event.detail, { someFutureField: { nested: true } });

    const delivery = await h.deliver('marketplace', event);

    expect(delivery.attempts).toBe(1);
    expect(h.tenantPlan(license.tenantId)).toBe(plans().pro);
    const item = await h.license(license.licenseKey);
    expect(item.status).toBe('active');
    // The snapshot stands for the event's time, not for when it was read.
    expect((item.lifecycle as { entitlements: unknown }).entitlements).toEqual({
      observedAt: minute(1),
      dimensions: ['pro'],
    });
    const reads = h.marketplace.calls('GetEntitlements');
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.at(-1)?.input.Filter).toEqual({ LICENSE_ARN: [license.licenseArn] });
    expect(h.domainEvents(license.licenseKey)).toEqual([
      {
        detailType: 'License Activated',
        detail: expect.objectContaining({
          licenseKey: license.licenseKey,
          tenantId: license.tenantId,
          status: 'active',
          planId: plans().pro,
          entitledDimensions: ['pro'],
        }),
      },
    ]);
  });

  it("finds the license from the ARN in the form AWS's published License events use", async () => {
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    const event = licenseUpdated(license, minute(1));
    const published = publishedLicenseArnOf(license.licenseArn, 'us-east-1');
    expect(published).toMatch(/^aws:license-manager:us-east-1:\d{12}:l-/);
    (event.detail as { license: { arn: string } }).license.arn = published;

    const delivery = await h.deliver('marketplace', event);

    expect(delivery.errors).toEqual([]);
    expect((await h.license(license.licenseKey)).status).toBe('active');
    expect(h.tenantPlan(license.tenantId)).toBe(plans().pro);
  });

  it('changes the plan when the entitlements change, and makes no plan call when it is already right', async () => {
    const { license } = await activeLicense(['basic']);
    expect(h.tenantPlan(license.tenantId)).toBe(plans().basic);
    const writesBefore = planWrites(license.tenantId);

    await h.deliver('marketplace', licenseUpdated(license, minute(2)));
    expect(planWrites(license.tenantId)).toBe(writesBefore);

    h.marketplace.setEntitlements(license.licenseArn, [{ dimension: 'pro', value: 5 }]);
    await h.deliver('marketplace', licenseUpdated(license, minute(3)));
    expect(h.tenantPlan(license.tenantId)).toBe(plans().pro);
    expect(planWrites(license.tenantId)).toBe(writesBefore + 1);
    expect(detailTypes(license)).toEqual(['License Activated', 'Entitlements Changed']);
  });

  it('sends an event whose acceptor is not the license’s AWS account to the dead-letter queue, changing nothing', async () => {
    const { license } = await activeLicense(['basic']);
    const before = await h.license(license.licenseKey);
    const planWritesBefore = planWrites(license.tenantId);
    h.marketplace.setEntitlements(license.licenseArn, [{ dimension: 'pro', value: 1 }]);
    const event = marketplaceEvent({
      detailType: 'License Updated - Manufacturer',
      time: minute(2),
      detail: licenseDetail(h.config, { account: '999999999999', licenseArn: license.licenseArn }),
    });

    const delivery = await h.deliver('marketplace', event);

    expect(delivery.deadLetter?.responsePayload.errorMessage).toBe(
      `event acceptor account 999999999999 is not license ${license.licenseKey}'s account ${license.account}`,
    );
    expect(await h.license(license.licenseKey)).toEqual(before);
    expect(h.tenantPlan(license.tenantId)).toBe(plans().basic);
    expect(planWrites(license.tenantId)).toBe(planWritesBefore);
  });

  it('creates the license record when the event comes before sign-up', async () => {
    const account = '123456789012';
    const licenseArn = `arn:aws:license-manager::${account}:license:l-${randomUUID().replaceAll('-', '')}`;
    h.marketplace.addLicense({ customerAwsAccountId: account, licenseArn });
    h.marketplace.setEntitlements(licenseArn, [{ dimension: 'basic', value: 1 }]);
    const event = marketplaceEvent({
      detailType: 'License Updated - Manufacturer',
      time: minute(1),
      // As published: the ARN without its "arn:" prefix.
      detail: licenseDetail(h.config, { account, licenseArn: licenseArn.replace(/^arn:/, '') }),
    });

    await h.deliver('marketplace', event);

    const item = await h.license(licenseArn);
    expect(item).toMatchObject({ licenseArn, customerAwsAccountId: account, status: 'active' });
    expect(item.tenantId).toBeUndefined();
  });
});

describe('directory services follow the plan', () => {
  /** Requests the iDoperation emulator received about one user, optionally of one method. */
  const directoryCalls = (directoryUserId: string, method?: string) =>
    h.idoperation
      .calls()
      .filter(
        (call) =>
          call.path.endsWith(`/users/${directoryUserId}`) && (method === undefined || call.method === method),
      );
  const actionsOf = (delivery: { result?: unknown }) =>
    (delivery.result as { outcome?: { actions?: string[] } } | undefined)?.outcome?.actions;

  it("an amendment that changes the plan gives the directory user the new plan's services, once", async () => {
    const { license, agreementId } = await activeLicense(['basic']);
    const directoryUserId = license.directoryUserId;
    expect(h.tenantPlan(license.tenantId)).toBe(plans().basic);
    // Sign-up gave the user the basic plan's services: activation looked and changed nothing.
    expect(h.directoryUser(directoryUserId)?.services).toEqual([1]);
    expect(directoryCalls(directoryUserId, 'GET').length).toBeGreaterThan(0);
    expect(directoryCalls(directoryUserId, 'PATCH')).toEqual([]);

    // The buyer amends to pro: AWS sends Purchase Agreement Amended, and License Updated as the
    // entitlements change.
    h.marketplace.setEntitlements(license.licenseArn, [{ dimension: 'pro', value: 1 }]);
    const amended = agreementEvent('Amended', license, agreementId, minute(2), {
      intent: 'AMEND',
      status: 'ACTIVE',
    });
    const updated = licenseUpdated(license, minute(2), agreementId);
    expect((await h.deliver('marketplace', amended)).errors).toEqual([]);
    const delivery = await h.deliver('marketplace', updated);

    expect(delivery.errors).toEqual([]);
    expect(actionsOf(delivery)).toEqual(['set-plan', 'set-directory-services']);
    expect(h.tenantPlan(license.tenantId)).toBe(plans().pro);
    expect(h.directoryUser(directoryUserId)).toMatchObject({ services: [1, 2], is_disabled: 0 });
    expect(directoryCalls(directoryUserId, 'PATCH')).toHaveLength(1);
    expect(detailTypes(license)).toEqual(['License Activated', 'Entitlements Changed']);

    // A duplicate delivery of the same event: no second call of any kind.
    const callsBefore = directoryCalls(directoryUserId).length;
    const again = await h.deliver('marketplace', updated);
    expect(again.result).toEqual(delivery.result);
    expect(directoryCalls(directoryUserId)).toHaveLength(callsBefore);

    // The same facts once more under another event id (a copy, a redrive after the idempotency
    // window): the processor runs and looks, and finds nothing to change.
    const copy = await h.deliver('marketplace', licenseUpdated(license, minute(3), agreementId));
    expect(copy.errors).toEqual([]);
    expect(actionsOf(copy)).toEqual([]);
    expect(directoryCalls(directoryUserId).length).toBeGreaterThan(callsBefore);
    expect(directoryCalls(directoryUserId, 'PATCH')).toHaveLength(1);
    expect(h.directoryUser(directoryUserId)?.services).toEqual([1, 2]);
  });

  it('leaves the disabled directory user of a revoked license alone; reinstatement brings it in step', async () => {
    const { license, agreementId } = await activeLicense(['basic']);
    const directoryUserId = license.directoryUserId;
    await h.deliver(
      'marketplace',
      agreementEvent('Ended', license, agreementId, minute(5), { status: 'CANCELLED' }),
    );
    expect(h.directoryUser(directoryUserId)).toMatchObject({ is_disabled: 1, services: [1] });
    const patches = directoryCalls(directoryUserId, 'PATCH').length;

    // The entitlements change while the license is ending: the plan the license would have changes,
    // but a revoked user is neither given services nor enabled.
    h.marketplace.setEntitlements(license.licenseArn, [{ dimension: 'pro', value: 1 }]);
    const updated = await h.deliver('marketplace', licenseUpdated(license, minute(6), agreementId));

    expect(updated.errors).toEqual([]);
    expect(actionsOf(updated)).toEqual([]);
    expect((await h.license(license.licenseKey)).status).toBe('ending');
    expect(h.directoryUser(directoryUserId)).toMatchObject({ is_disabled: 1, services: [1] });
    expect(directoryCalls(directoryUserId, 'PATCH')).toHaveLength(patches);

    // A renewal reinstates the license: the user is enabled and gets the pro plan's services.
    const renewal = await h.deliver(
      'marketplace',
      agreementEvent('Created', license, `agmt-${randomUUID()}`, minute(30), {
        intent: 'RENEW',
        previousAgreementId: agreementId,
      }),
    );
    expect(renewal.errors).toEqual([]);
    expect(actionsOf(renewal)).toEqual(['set-plan', 'enable-directory-user', 'set-directory-services']);
    expect(h.directoryUser(directoryUserId)).toMatchObject({ is_disabled: 0, services: [1, 2] });
  });
});

describe('agreement ended', () => {
  it('publishes License Ending once (the final flush request) and revokes access', async () => {
    const { license, agreementId } = await activeLicense();

    const delivery = await h.deliver(
      'marketplace',
      agreementEvent('Ended', license, agreementId, minute(5), { status: 'CANCELLED' }),
    );

    expect(delivery.errors).toEqual([]);
    const ending = h
      .domainEvents(license.licenseKey)
      .filter((event) => event.detailType === 'License Ending');
    expect(ending).toEqual([
      {
        detailType: 'License Ending',
        detail: expect.objectContaining({
          licenseKey: license.licenseKey,
          status: 'ending',
          endingSince: minute(5),
          finalUsageWindowEndsAt: minute(65),
        }),
      },
    ]);
    const item = await h.license(license.licenseKey);
    expect(item.status).toBe('ending');
    expect((item.lifecycle as { finalFlushFor?: string }).finalFlushFor).toBe(minute(5));
    expect(h.tenantPlan(license.tenantId)).toBeNull();
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(1);
    // Tenant users are kept (revocation.tenantUsers "keep").
    expect(h.tenantUserIds(license.tenantId)).toEqual([license.adminUserId]);

    // The deprovisioning that follows ends the license without a second flush request.
    await h.deliver(
      'marketplace',
      marketplaceEvent({
        detailType: 'License Deprovisioned - Manufacturer',
        time: minute(50),
        detail: licenseDetail(h.config, license, agreementId),
      }),
    );
    expect(detailTypes(license)).toEqual([
      'License Activated',
      'License Ending',
      'License Revoked',
      'Metering Stopped',
    ]);
    expect((await h.license(license.licenseKey)).status).toBe('ended');
  });
});

describe('License Deprovisioned', () => {
  it('removes the plan, disables the directory user and still requests the final flush', async () => {
    const { license, agreementId } = await activeLicense();

    await h.deliver(
      'marketplace',
      marketplaceEvent({
        detailType: 'License Deprovisioned - Manufacturer',
        time: minute(10),
        detail: licenseDetail(h.config, license, agreementId),
      }),
    );

    expect(h.tenantPlan(license.tenantId)).toBeNull();
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(1);
    expect((await h.license(license.licenseKey)).status).toBe('ended');
    expect(detailTypes(license)).toEqual([
      'License Activated',
      'License Ending',
      'License Revoked',
      'Metering Stopped',
    ]);
    const revoked = h
      .domainEvents(license.licenseKey)
      .find((event) => event.detailType === 'License Revoked');
    expect(revoked?.detail).toMatchObject({ reason: 'license-ended', endedAt: minute(10) });
  });
});

describe('re-subscription before the end', () => {
  it('waits for the license of a new agreement, then reinstates it: plan back, directory user enabled', async () => {
    const { license, agreementId } = await activeLicense();
    await h.deliver(
      'marketplace',
      agreementEvent('Ended', license, agreementId, minute(5), { status: 'CANCELLED' }),
    );
    expect(h.tenantPlan(license.tenantId)).toBeNull();

    // The new agreement's Created event names no license, and the account's license knows only
    // the old agreement: it cannot be placed yet, fails with the reason and lands in the DLQ.
    const next = `agmt-${randomUUID()}`;
    const created = agreementEvent('Created', license, next, minute(20), { intent: 'NEW' });
    const failed = await h.deliver('marketplace', created);
    expect(failed.attempts).toBe(3);
    expect(failed.deadLetter?.responsePayload.errorMessage).toBe(
      `no license of account ${license.account} knows agreement ${next} yet`,
    );
    expect((await h.license(license.licenseKey)).status).toBe('ending');

    // License Updated binds the new agreement to the license; the redrive then applies Created.
    await h.deliver('marketplace', licenseUpdated(license, minute(21), next));
    const redriven = await h.deliver('marketplace', failed.deadLetter);
    expect(redriven.errors).toEqual([]);

    expect((await h.license(license.licenseKey)).status).toBe('active');
    expect(h.tenantPlan(license.tenantId)).toBe(plans().pro);
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(0);
    expect(detailTypes(license)).toEqual(['License Activated', 'License Ending', 'License Reinstated']);
  });
});

describe('failures', () => {
  /** What a license looks like after a run, without ids and times that differ between licenses. */
  const finalState = async (license: ProvisionedLicense) => {
    const item = await h.license(license.licenseKey);
    const lifecycle = item.lifecycle as { finalFlushFor?: string; entitlements?: unknown };
    return {
      status: item.status,
      finalFlushFor: lifecycle.finalFlushFor,
      entitlements: lifecycle.entitlements,
      outbox: item.domainOutbox,
      plan: h.tenantPlan(license.tenantId),
      members: h.tenantUserIds(license.tenantId).map((id) => (id === license.adminUserId ? 'admin' : id)),
      directoryDisabled: h.directoryUser(license.directoryUserId)?.is_disabled,
      domainEvents: h.domainEvents(license.licenseKey).map(({ detailType, detail }) => ({
        detailType,
        detail: { ...detail, licenseKey: undefined, tenantId: undefined },
      })),
    };
  };

  it('a SaaSus outage mid-event fails the invocation; the retry ends where a clean run ends', async () => {
    const clean = await activeLicense();
    const faulty = await activeLicense();
    const ended = (run: { license: ProvisionedLicense; agreementId: string }) =>
      agreementEvent('Ended', run.license, run.agreementId, minute(5), { status: 'CANCELLED' });

    await h.deliver('marketplace', ended(clean));
    // SaaSus applies the plan change but the answer is lost, then stays down past the client's retries.
    h.saasus.faults.failNext(1, { status: 503, apply: true }, { operation: 'UpdateTenantPlan' });
    h.saasus.faults.failNext(3, { status: 503 }, { operation: 'UpdateTenantPlan' });
    const delivery = await h.deliver('marketplace', ended(faulty));

    expect(delivery.attempts).toBe(2);
    expect(delivery.errors[0]).toMatch(/SaaSus PUT .*\/plans failed: 503/);
    expect(h.saasus.faults.pending()).toBe(0);
    expect(await finalState(faulty.license)).toEqual(await finalState(clean.license));
    expect(detailTypes(faulty.license)).toEqual(['License Activated', 'License Ending']);
  });

  it('a duplicate delivery of an event has no second effect', async () => {
    const license = await h.provisionLicense({ entitlements: ['basic'] });
    const event = licenseUpdated(license, minute(1));
    const first = await h.deliver('marketplace', event);
    const reads = h.marketplace.callCount('GetEntitlements');
    const writes = planWrites(license.tenantId);
    const saasusCalls = h.saasus.state.requests().length;

    const second = await h.deliver('marketplace', event);

    expect(second.result).toEqual(first.result);
    expect(h.marketplace.callCount('GetEntitlements')).toBe(reads);
    expect(planWrites(license.tenantId)).toBe(writes);
    expect(h.saasus.state.requests().length).toBe(saasusCalls);
    expect(detailTypes(license)).toEqual(['License Activated']);
  });

  it('a malformed event fails with its reason every time and ends in the dead-letter queue', async () => {
    const license = await h.provisionLicense();
    const event = licenseUpdated(license, minute(1));
    event.detail = { product: event.detail.product } as typeof event.detail;

    const delivery = await h.deliver('marketplace', event);

    expect(delivery.attempts).toBe(3);
    expect(delivery.deadLetter?.responsePayload.errorMessage).toBe(
      'marketplace-eventbridge event rejected: License Updated names neither detail.license.arn nor detail.agreement.id with detail.acceptor.accountId, so no license can be found for it',
    );
    expect((await h.license(license.licenseKey)).lifecycle).toBeUndefined();
  });

  it('acknowledges informational and foreign-product events without touching anything', async () => {
    const license = await h.provisionLicense();
    const ending = marketplaceEvent({
      detailType: 'Purchase Agreement Ending - Proposer',
      time: minute(1),
      detail: agreementDetail(license, 'agmt-1', { daysBeforeEndTime: 30 }),
    });
    const foreign = marketplaceEvent({
      detailType: 'License Updated - Manufacturer',
      time: minute(1),
      detail: { ...licenseDetail(h.config, license), product: { code: 'someoneelse' } },
    });

    const results = [await h.deliver('marketplace', ending), await h.deliver('marketplace', foreign)];

    expect(results.map((result) => (result.result as { status: string }).status)).toEqual([
      'ignored',
      'ignored',
    ]);
    expect((results[1]?.result as { reason?: string } | undefined)?.reason).toMatch(
      /product someoneelse, not one of this deployment's listings/,
    );
    expect((await h.license(license.licenseKey)).lifecycle).toBeUndefined();
  });
});
