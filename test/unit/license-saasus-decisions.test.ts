import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '#shared/config';
import { desiredEffects, type Registration } from '#shared/license/effects';
import { applySignal, initialRecord, type LicenseRecord } from '#shared/license/record';
import { decideSaasusSignal, type SaasusDecisionContext } from '#shared/license/saasus-decisions';
import type { SaasusSignal } from '#shared/license/saasus-signal';
import { effectConfig, exampleConfigInput } from '../support/config.js';

const basicPlan = '0f8d6c2e-1111-4a7b-9c3d-000000000001';
const tenantId = 'tenant-1';
const registration: Registration = { tenantId, users: [{ userId: 'user-1', directoryUserId: 'dir-1' }] };

const record = (...kinds: ('agreement-created' | 'agreement-ended')[]): LicenseRecord =>
  kinds.reduce(
    (current, kind, index) =>
      applySignal(current, {
        eventId: `e${index}`,
        time: new Date(Date.UTC(2026, 6, 1, 10, index)).toISOString(),
        origin: 'eventbridge',
        sourceType: kind,
        locator: { by: 'licenseArn', licenseArn: 'arn:aws:license-manager::1:l-1' },
        kind,
        agreementId: 'A1',
      }),
    initialRecord(),
  );

const license = (lifecycle: LicenseRecord, tenantUsers: 'keep' | 'remove' = 'keep') => {
  const input = exampleConfigInput();
  input.revocation = { tenantUsers, disableDirectoryUsers: true };
  return desiredEffects(lifecycle, { config: effectConfig(parseDeploymentConfig(input)), registration });
};

const context = (overrides: Partial<SaasusDecisionContext> = {}): SaasusDecisionContext => ({
  tenantId,
  license: license(record('agreement-created')),
  cursor: {},
  directoryConfigured: true,
  ...overrides,
});

const base = { eventId: 'saasus-1', time: '2026-07-01T11:00:00.000Z', eventType: 'x' };
const userCreated: SaasusSignal = {
  ...base,
  kind: 'tenant-user-created',
  tenantId,
  userId: 'user-2',
  email: 'u2@example.com',
};
const userDeleted: SaasusSignal = {
  ...base,
  kind: 'tenant-user-deleted',
  tenantIds: [tenantId],
  userId: 'user-1',
};
const planChanged = (planId: string | null): SaasusSignal => ({
  ...base,
  kind: 'tenant-plan-changed',
  tenantId,
  planId,
});

describe('decideSaasusSignal', () => {
  it('registers a new tenant user and creates the directory user when a directory is configured', () => {
    const decision = decideSaasusSignal(userCreated, context());
    expect(decision).toEqual({
      applied: true,
      reason: 'new tenant user',
      actions: [
        { type: 'register-tenant-user', tenantId, userId: 'user-2', email: 'u2@example.com' },
        {
          type: 'create-directory-user',
          tenantId,
          userId: 'user-2',
          email: 'u2@example.com',
          disabled: false,
        },
      ],
      cursor: { 'user:user-2': base.time },
    });
    expect(decideSaasusSignal(userCreated, context({ directoryConfigured: false })).actions).toHaveLength(1);
  });

  it('a user added to a revoked tenant is registered, created disabled and removed again', () => {
    const revoked = license(record('agreement-created', 'agreement-ended'), 'remove');
    expect(
      decideSaasusSignal(userCreated, context({ license: revoked })).actions.map((action) => action.type),
    ).toEqual(['register-tenant-user', 'create-directory-user', 'remove-tenant-user']);
  });

  it('an already registered user (e.g. re-added by the bridge) needs nothing', () => {
    const decision = decideSaasusSignal({ ...userCreated, userId: 'user-1' }, context());
    expect(decision).toMatchObject({ applied: true, actions: [] });
  });

  it('a deleted user is unregistered and disabled in the directory', () => {
    expect(decideSaasusSignal(userDeleted, context()).actions).toEqual([
      { type: 'unregister-tenant-user', tenantId, userId: 'user-1' },
      { type: 'disable-directory-user', directoryUserId: 'dir-1' },
    ]);
  });

  it('deletions caused by revoking a license are expected and keep the registration', () => {
    const revoked = license(record('agreement-created', 'agreement-ended'), 'remove');
    expect(decideSaasusSignal(userDeleted, context({ license: revoked }))).toMatchObject({
      applied: true,
      actions: [],
      reason: expect.stringMatching(/expected/),
    });
  });

  it('corrects a plan changed away from the entitled one, or alerts per policy; the right plan needs nothing', () => {
    expect(decideSaasusSignal(planChanged('other-plan'), context()).actions).toEqual([
      { type: 'set-plan', tenantId, planId: basicPlan },
    ]);
    expect(decideSaasusSignal(planChanged(null), context({ onPlanDrift: 'alert' })).actions).toEqual([
      { type: 'alert-plan-drift', tenantId, planId: null, expectedPlanId: basicPlan },
    ]);
    expect(decideSaasusSignal(planChanged(basicPlan), context()).actions).toEqual([]);
  });

  it('a deleted tenant flags the license, raises the alarm metric and publishes Tenant Deleted', () => {
    const decision = decideSaasusSignal({ ...base, kind: 'tenant-deleted', tenantId }, context());
    expect(decision.actions).toEqual([
      { type: 'flag-license', tenantId, reason: 'tenant-deleted' },
      { type: 'put-alarm-metric', metricName: 'TenantDeleted' },
      {
        type: 'publish',
        event: { detailType: 'Tenant Deleted', detail: { tenantId, status: 'active', deletedAt: base.time } },
      },
    ]);
  });

  it('applies only events newer than the last applied one of the same subject', () => {
    const first = decideSaasusSignal(planChanged('other-plan'), context());
    const stale = decideSaasusSignal(
      { ...planChanged('third-plan'), time: '2026-07-01T10:59:59.000Z' },
      context({ cursor: first.cursor }),
    );
    expect(stale).toEqual({
      applied: false,
      reason: `stale: plan already applied up to ${base.time}`,
      actions: [],
      cursor: first.cursor,
    });
    const sameTime = decideSaasusSignal(planChanged('third-plan'), context({ cursor: first.cursor }));
    expect(sameTime.applied).toBe(false);
    // Another subject is not shadowed by the plan's cursor.
    expect(decideSaasusSignal(userCreated, context({ cursor: first.cursor })).applied).toBe(true);
  });

  it('ignores tenants without a Marketplace license', () => {
    const { license: _none, ...withoutLicense } = context();
    expect(decideSaasusSignal(userCreated, withoutLicense)).toMatchObject({
      applied: false,
      actions: [],
      cursor: {},
    });
  });
});
