import { describe, expect, it } from 'vitest';
import { type DeploymentConfig, type Product, parseDeploymentConfig } from '#shared/config';
import {
  type DesiredEffects,
  desiredEffects,
  directoryServicesFor,
  type EffectContext,
  type Registration,
} from '#shared/license/effects';
import { mappedDimensions, snapshotFromEntitlements } from '#shared/license/entitlements';
import { type ObservedState, reconcile } from '#shared/license/reconcile';
import {
  applySignal,
  initialRecord,
  type LicenseRecord,
  recordEntitlements,
  recordFinalFlush,
} from '#shared/license/record';
import type { LicenseSignal, LicenseSignalBody } from '#shared/license/signal';
import { domainEventsFor } from '#shared/license/transitions';
import { effectConfig, exampleConfigInput } from '../support/config.js';

const basicPlan = '0f8d6c2e-1111-4a7b-9c3d-000000000001';
const proPlan = '0f8d6c2e-2222-4a7b-9c3d-000000000002';
const revokedPlan = '0f8d6c2e-9999-4a7b-9c3d-000000000009';

const config = (
  pricingModel: Product['pricingModel'] = 'subscription',
  overrides: {
    revokedPlanId?: string;
    defaultPlanId?: string | null;
    tenantUsers?: 'keep' | 'remove';
    disable?: boolean;
    /** Replaces `idoperation.servicesByPlan`; null removes the iDoperation directory. */
    servicesByPlan?: Record<string, (1 | 2)[]> | null;
  } = {},
): DeploymentConfig => {
  const input = exampleConfigInput();
  input.marketplace.pricingModel = pricingModel;
  if (pricingModel === 'contract') input.metering = { ...input.metering, units: [] };
  if (overrides.revokedPlanId) input.plans.revokedPlanId = overrides.revokedPlanId;
  if (overrides.defaultPlanId === null) delete input.plans.defaultPlanId;
  input.revocation = {
    tenantUsers: overrides.tenantUsers ?? 'keep',
    disableDirectoryUsers: overrides.disable ?? true,
  };
  if (overrides.servicesByPlan === null) delete input.idoperation;
  else if (overrides.servicesByPlan && input.idoperation) {
    input.idoperation.servicesByPlan = overrides.servicesByPlan;
  }
  return parseDeploymentConfig(input);
};

const at = (minute: number) => new Date(Date.UTC(2026, 6, 1, 10, minute)).toISOString();
let sequence = 0;
const signal = (minute: number, body: LicenseSignalBody): LicenseSignal => ({
  eventId: `event-${++sequence}`,
  time: at(minute),
  origin: 'eventbridge',
  sourceType: body.kind,
  locator: { by: 'licenseArn', licenseArn: 'arn:aws:license-manager::1:l-1' },
  ...body,
});

const active = (): LicenseRecord =>
  applySignal(initialRecord(), signal(0, { kind: 'agreement-created', agreementId: 'A1' }));
const ending = (): LicenseRecord =>
  applySignal(active(), signal(30, { kind: 'agreement-ended', agreementId: 'A1' }));
const ended = (): LicenseRecord => applySignal(ending(), signal(40, { kind: 'license-deprovisioned' }));
const withDimensions = (record: LicenseRecord, dimensions: string[], minute = 1) =>
  recordEntitlements(record, { observedAt: at(minute), dimensions });

const registration: Registration = {
  tenantId: 'tenant-1',
  users: [{ userId: 'user-1', directoryUserId: 'dir-1' }, { userId: 'user-2' }],
};

const effects = (
  record: LicenseRecord,
  cfg: DeploymentConfig = config(),
  extra: Partial<EffectContext> = {},
) => desiredEffects(record, { config: effectConfig(cfg), registration, ...extra });

describe('desiredEffects', () => {
  it('pending: no plan until the license is active, metering closed', () => {
    expect(effects(initialRecord())).toMatchObject({
      access: 'pending',
      plan: { kind: 'set', planId: null },
      tenantUsers: 'present',
      directoryUsers: 'enabled',
      metering: 'closed',
      finalFlushDue: false,
    });
  });

  it('active subscription: the default plan, access enabled, metering open', () => {
    expect(effects(active())).toMatchObject({
      access: 'enabled',
      plan: { kind: 'set', planId: basicPlan, reason: 'subscription: the default plan' },
      metering: 'open',
      finalFlushDue: false,
    });
  });

  it('contract: the first entitled dimension in byDimension order decides the plan', () => {
    expect(effects(withDimensions(active(), ['pro']), config('contract')).plan).toMatchObject({
      planId: proPlan,
    });
    expect(effects(withDimensions(active(), ['pro', 'basic']), config('contract')).plan).toMatchObject({
      planId: basicPlan,
      reason: 'entitled to dimension "basic"',
    });
    expect(mappedDimensions(['pro', 'basic', 'seats'], { basic: 'b', pro: 'p' })).toEqual(['basic', 'pro']);
  });

  it('contract: a fresher entitlement read passed in wins over the stored one', () => {
    const record = withDimensions(active(), ['basic'], 1);
    const fresher = { observedAt: at(5), dimensions: ['pro'] };
    expect(effects(record, config('contract'), { entitlements: fresher }).plan).toMatchObject({
      planId: proPlan,
    });
    expect(
      effects(record, config('contract'), { entitlements: { ...fresher, observedAt: at(0) } }).plan,
    ).toMatchObject({
      planId: basicPlan,
    });
  });

  it('contract: default plan or keep while no entitlements are known, revoked when they are empty', () => {
    expect(effects(active(), config('contract')).plan).toMatchObject({ kind: 'set', planId: basicPlan });
    expect(effects(active(), config('contract', { defaultPlanId: null })).plan).toEqual({
      kind: 'keep',
      reason: 'waiting for the entitlements',
    });
    expect(
      effects(withDimensions(active(), ['seats']), config('contract', { defaultPlanId: null })).plan.kind,
    ).toBe('keep');
    expect(effects(withDimensions(active(), []), config('contract'))).toMatchObject({
      access: 'revoked',
      revocationReason: 'no-entitlement',
      plan: { kind: 'set', planId: null },
    });
    // Subscriptions have no entitlements: an empty read changes nothing.
    expect(effects(withDimensions(active(), [])).access).toBe('enabled');
  });

  it('ending: revoked plan and users, metering still open for the final flush', () => {
    const cfg = config('subscription', { revokedPlanId: revokedPlan, tenantUsers: 'remove' });
    expect(effects(ending(), cfg)).toMatchObject({
      access: 'revoked',
      revocationReason: 'license-ending',
      plan: { kind: 'set', planId: revokedPlan },
      tenantUsers: 'removed',
      directoryUsers: 'disabled',
      metering: 'open',
      finalFlushDue: true,
    });
    expect(effects(recordFinalFlush(ending(), at(30)), cfg).finalFlushDue).toBe(false);
  });

  it('ended: metering closed, flush due only when none was recorded for the episode', () => {
    expect(effects(ended())).toMatchObject({ access: 'revoked', metering: 'closed', finalFlushDue: true });
    expect(effects(recordFinalFlush(ended(), at(30))).finalFlushDue).toBe(false);
    // A flush of an earlier episode does not cover a later one.
    expect(effects(recordFinalFlush(ended(), at(10))).finalFlushDue).toBe(true);
  });

  it('keeps users per the revocation settings, and pure contracts are never metered', () => {
    expect(effects(ending(), config('subscription', { tenantUsers: 'keep', disable: false }))).toMatchObject({
      tenantUsers: 'present',
      directoryUsers: 'enabled',
    });
    expect(effects(ending(), config('contract'))).toMatchObject({ metering: 'closed', finalFlushDue: false });
  });

  it('failed: no plan and access revoked', () => {
    const failed = applySignal(initialRecord(), signal(0, { kind: 'subscribe-fail' }));
    expect(effects(failed)).toMatchObject({
      access: 'revoked',
      revocationReason: 'activation-failed',
      plan: { kind: 'set', planId: null },
    });
  });
});

describe('reconcile', () => {
  const rightFor = (desired: DesiredEffects): ObservedState => ({
    planId: desired.plan.kind === 'set' ? desired.plan.planId : 'whatever',
    tenantUserIds: desired.tenantUsers === 'present' ? ['user-1', 'user-2'] : [],
    directoryUsers: [
      {
        directoryUserId: 'dir-1',
        disabled: desired.directoryUsers === 'disabled',
        // Whatever the user has when the effects leave the services alone.
        services: desired.directoryServices.kind === 'set' ? [...desired.directoryServices.services] : [2],
      },
    ],
  });

  it('does nothing when the world is already right', () => {
    const cfg = config('subscription', { tenantUsers: 'remove', revokedPlanId: revokedPlan });
    for (const record of [
      initialRecord(),
      active(),
      recordFinalFlush(ending(), at(30)),
      recordFinalFlush(ended(), at(30)),
    ]) {
      const desired = effects(record, cfg);
      expect(reconcile(desired, rightFor(desired))).toEqual([]);
    }
  });

  it('activation: sets the plan, adds missing users, enables disabled directory users', () => {
    const observed: ObservedState = {
      planId: null,
      tenantUserIds: ['user-1'],
      directoryUsers: [{ directoryUserId: 'dir-1', disabled: true, services: [1] }],
    };
    expect(reconcile(effects(active()), observed)).toEqual([
      { type: 'set-plan', tenantId: 'tenant-1', planId: basicPlan },
      { type: 'add-tenant-user', tenantId: 'tenant-1', userId: 'user-2' },
      { type: 'enable-directory-user', directoryUserId: 'dir-1' },
    ]);
  });

  it('revocation: flush first, then the revoked plan, users removed and directory users disabled', () => {
    const cfg = config('subscription', { tenantUsers: 'remove', revokedPlanId: revokedPlan });
    const observed: ObservedState = {
      planId: basicPlan,
      tenantUserIds: ['user-2', 'user-1', 'someone-else'],
      directoryUsers: [{ directoryUserId: 'dir-1', disabled: false, services: [1, 2] }],
    };
    expect(reconcile(effects(ending(), cfg), observed)).toEqual([
      { type: 'flush-final-usage', endingSince: at(30) },
      { type: 'set-plan', tenantId: 'tenant-1', planId: revokedPlan },
      { type: 'remove-tenant-user', tenantId: 'tenant-1', userId: 'someone-else' },
      { type: 'remove-tenant-user', tenantId: 'tenant-1', userId: 'user-1' },
      { type: 'remove-tenant-user', tenantId: 'tenant-1', userId: 'user-2' },
      { type: 'disable-directory-user', directoryUserId: 'dir-1' },
    ]);
  });

  it('keep plan and missing directory accounts produce no actions; without registration only the flush', () => {
    const desired = effects(active(), config('contract', { defaultPlanId: null }));
    expect(
      reconcile(desired, { planId: 'anything', tenantUserIds: ['user-1', 'user-2'], directoryUsers: [] }),
    ).toEqual([]);
    const unregistered = desiredEffects(ending(), { config: effectConfig(config()) });
    expect(reconcile(unregistered, rightFor(unregistered))).toEqual([
      { type: 'flush-final-usage', endingSince: at(30) },
    ]);
  });
});

describe('directory services', () => {
  const contract = (overrides: Parameters<typeof config>[1] = {}) => config('contract', overrides);
  const onPlan = (dimension: string, cfg = contract()) =>
    effects(withDimensions(active(), [dimension]), cfg).directoryServices;

  it("an active license's users get the services of its plan", () => {
    expect(effects(active()).directoryServices).toEqual({
      kind: 'set',
      services: [1],
      reason: `the services of plan "${basicPlan}"`,
    });
    expect(onPlan('basic')).toMatchObject({ kind: 'set', services: [1] });
    expect(onPlan('pro')).toMatchObject({ kind: 'set', services: [1, 2] });
  });

  it("a plan without a servicesByPlan entry gets iDoperation's default, PAM only", () => {
    const cfg = contract({ servicesByPlan: { [basicPlan]: [2] } });
    expect(onPlan('basic', cfg)).toMatchObject({ kind: 'set', services: [2] });
    expect(onPlan('pro', cfg)).toEqual({
      kind: 'set',
      services: [1],
      reason: `plan "${proPlan}" has no servicesByPlan entry: iDoperation's default (PAM only)`,
    });
  });

  it('is sorted and without repeats, whatever the config lists', () => {
    expect(onPlan('pro', contract({ servicesByPlan: { [proPlan]: [2, 1, 2] } }))).toMatchObject({
      services: [1, 2],
    });
    expect(directoryServicesFor({ p: [2, 2] }, 'p')).toEqual([2]);
    expect(directoryServicesFor({ p: [2] }, 'other')).toEqual([1]);
    expect(directoryServicesFor({ p: [2] }, null)).toEqual([1]);
  });

  it('leaves the services alone while pending, once revoked, without a plan or without a directory', () => {
    const kept = (desired: DesiredEffects) => desired.directoryServices.kind;
    expect(kept(effects(initialRecord()))).toBe('keep');
    // Revoked: the users are disabled, or (disableDirectoryUsers false) kept as they are.
    expect(kept(effects(withDimensions(ending(), ['pro']), contract()))).toBe('keep');
    expect(kept(effects(withDimensions(ending(), ['pro']), contract({ disable: false })))).toBe('keep');
    expect(kept(effects(ended(), config('subscription', { revokedPlanId: revokedPlan })))).toBe('keep');
    expect(kept(effects(withDimensions(active(), []), contract()))).toBe('keep');
    expect(kept(effects(applySignal(initialRecord(), signal(0, { kind: 'subscribe-fail' }))))).toBe('keep');
    expect(kept(effects(active(), contract({ defaultPlanId: null })))).toBe('keep');
    expect(effects(active(), config('subscription', { servicesByPlan: null })).directoryServices).toEqual({
      kind: 'keep',
      reason: 'no iDoperation directory is configured',
    });
  });
});

describe('reconcile: directory services', () => {
  const cfg = config('contract');
  const observedWith = (
    services: number[],
    disabled = false,
    planId: string | null = proPlan,
  ): ObservedState => ({
    planId,
    tenantUserIds: ['user-1', 'user-2'],
    directoryUsers: [{ directoryUserId: 'dir-1', disabled, services }],
  });
  const onPro = () => effects(withDimensions(active(), ['pro'], 2), cfg);

  it('a plan change sets the new plan and the new services, once', () => {
    const actions = reconcile(onPro(), observedWith([1], false, basicPlan));
    expect(actions).toEqual([
      { type: 'set-plan', tenantId: 'tenant-1', planId: proPlan },
      { type: 'set-directory-services', directoryUserId: 'dir-1', services: [1, 2] },
    ]);
    // Once applied, a repeat (a duplicate or a reordered older event) asks for nothing.
    expect(reconcile(onPro(), observedWith([1, 2]))).toEqual([]);
    // A downgrade takes the service away again.
    expect(reconcile(effects(withDimensions(active(), ['basic'], 3), cfg), observedWith([1, 2]))).toEqual([
      { type: 'set-plan', tenantId: 'tenant-1', planId: basicPlan },
      { type: 'set-directory-services', directoryUserId: 'dir-1', services: [1] },
    ]);
  });

  it('compares the services as a set of the codes we manage', () => {
    expect(reconcile(onPro(), observedWith([2, 1]))).toEqual([]);
    expect(reconcile(onPro(), observedWith([1, 2, 2]))).toEqual([]);
    // A code iDoperation may add later is neither compared nor a reason to write.
    expect(reconcile(onPro(), observedWith([1, 2, 7]))).toEqual([]);
    expect(reconcile(onPro(), observedWith([7]))).toEqual([
      { type: 'set-directory-services', directoryUserId: 'dir-1', services: [1, 2] },
    ]);
  });

  it('a revoked license: no services call and no re-enabling, whatever its entitlements say', () => {
    const revoked = effects(withDimensions(ending(), ['pro'], 50), cfg);
    expect(revoked.plan).toEqual({ kind: 'set', planId: null, reason: 'revoked: no plan' });
    // A pure contract is never metered, so there is no final flush either: nothing at all to do.
    expect(reconcile(revoked, observedWith([1], true, null))).toEqual([]);
    const kept = effects(withDimensions(ending(), ['pro'], 50), config('contract', { disable: false }));
    expect(reconcile(kept, observedWith([1], false, null))).toEqual([]);
  });

  it('reinstatement enables the user, then brings its services in step', () => {
    const reinstated = applySignal(
      withDimensions(ending(), ['pro'], 50),
      signal(55, { kind: 'agreement-created', agreementId: 'A2' }),
    );
    expect(effects(reinstated, cfg).access).toBe('enabled');
    expect(reconcile(effects(recordFinalFlush(reinstated, at(30)), cfg), observedWith([1], true))).toEqual([
      { type: 'enable-directory-user', directoryUserId: 'dir-1' },
      { type: 'set-directory-services', directoryUserId: 'dir-1', services: [1, 2] },
    ]);
  });

  it('users without a directory account, or whose account is gone, get no call', () => {
    const desired = onPro();
    expect(reconcile(desired, { ...observedWith([1]), directoryUsers: [] })).toEqual([]);
    const unlinked = desiredEffects(withDimensions(active(), ['pro'], 2), {
      config: effectConfig(cfg),
      registration: { tenantId: 'tenant-1', users: [{ userId: 'user-1' }, { userId: 'user-2' }] },
    });
    expect(reconcile(unlinked, observedWith([1]))).toEqual([]);
  });
});

describe('domainEventsFor', () => {
  const cfg = config('contract');
  const types = (before: LicenseRecord, after: LicenseRecord) =>
    domainEventsFor(effects(before, cfg), effects(after, cfg), { licenseKey: 'l-1' }).map(
      (event) => event.detailType,
    );

  it('names each transition', () => {
    const activeBasic = withDimensions(active(), ['basic']);
    expect(types(initialRecord(), activeBasic)).toEqual(['License Activated']);
    expect(types(activeBasic, withDimensions(activeBasic, ['pro'], 2))).toEqual(['Entitlements Changed']);
    expect(
      types(
        activeBasic,
        applySignal(activeBasic, signal(30, { kind: 'agreement-ended', agreementId: 'A1' })),
      ),
    ).toEqual(['License Ending']);
    expect(
      types(activeBasic, applySignal(activeBasic, signal(30, { kind: 'license-deprovisioned' }))),
    ).toEqual(['License Revoked']);
    expect(types(activeBasic, withDimensions(activeBasic, [], 2))).toEqual(['License Revoked']);
    const reinstated = applySignal(ended(), signal(50, { kind: 'agreement-created', agreementId: 'A2' }));
    expect(types(ended(), reinstated)).toEqual(['License Reinstated']);
  });

  it('reports metering stopping and carries the subject and status in the detail', () => {
    const sub = config('subscription');
    const [revoked, ...rest] = domainEventsFor(effects(ending(), sub), effects(ended(), sub), {
      licenseKey: 'l-1',
    });
    expect(revoked).toEqual({
      detailType: 'License Revoked',
      detail: expect.objectContaining({
        licenseKey: 'l-1',
        status: 'ended',
        planId: null,
        reason: 'license-ended',
        endedAt: at(40),
      }),
    });
    expect(rest.map((event) => event.detailType)).toEqual(['Metering Stopped']);
  });

  it('emits nothing when nothing changed', () => {
    expect(types(active(), active())).toEqual([]);
  });
});

describe('snapshotFromEntitlements', () => {
  it('keeps granted, unexpired dimensions, sorted and unique', () => {
    const snapshot = snapshotFromEntitlements(
      [
        { dimension: 'pro', value: 1 },
        { dimension: 'basic', value: 5, expirationDate: new Date('2027-01-01T00:00:00Z') },
        { dimension: 'basic', value: 1 },
        { dimension: 'seats', value: 0 },
        { dimension: 'addon', value: false },
        { dimension: 'old', value: 3, expirationDate: new Date('2026-01-01T00:00:00Z') },
        { dimension: 'flag', value: undefined },
      ],
      '2026-07-01T10:00:00Z',
    );
    expect(snapshot).toEqual({
      observedAt: '2026-07-01T10:00:00.000Z',
      dimensions: ['basic', 'flag', 'pro'],
    });
  });
});
