import type { DesiredEffects } from './effects.js';
import type { SaasusSignal } from './saasus-signal.js';
import type { DomainEventDraft } from './transitions.js';

/**
 * What to do about a SaaSus partner event that concerns a Marketplace tenant. SaaSus delivers
 * asynchronously and out of order, so each tenant keeps a cursor of the last applied event time
 * per subject (the tenant, its plan, each user): an event not newer than its subject's cursor is
 * stale and changes nothing. Per subject rather than one time per tenant, so that events about two
 * different users in the same second do not shadow each other.
 */

/** Subject → time of the last applied event (ISO), stored per tenant. */
export type SaasusCursor = Readonly<Record<string, string>>;

/** What to do when a tenant's plan is changed away from what the license allows. */
export type PlanDriftPolicy = 'correct' | 'alert';

export interface SaasusDecisionContext {
  /** The tenant this decision is for (one of `saasusSignalTenantIds(signal)`). */
  readonly tenantId: string;
  /** The desired effects of the tenant's license, with its registration; absent: not a Marketplace tenant. */
  readonly license?: DesiredEffects;
  readonly cursor: SaasusCursor;
  /** Whether an iDoperation directory is configured. */
  readonly directoryConfigured: boolean;
  /** Default `correct`: set the plan back. */
  readonly onPlanDrift?: PlanDriftPolicy;
}

export type SaasusAction =
  | {
      readonly type: 'register-tenant-user';
      readonly tenantId: string;
      readonly userId: string;
      readonly email?: string;
    }
  | {
      readonly type: 'create-directory-user';
      readonly tenantId: string;
      readonly userId: string;
      readonly email?: string;
      /** Created disabled when the license is revoked. */
      readonly disabled: boolean;
    }
  | { readonly type: 'remove-tenant-user'; readonly tenantId: string; readonly userId: string }
  | { readonly type: 'unregister-tenant-user'; readonly tenantId: string; readonly userId: string }
  | { readonly type: 'disable-directory-user'; readonly directoryUserId: string }
  | { readonly type: 'set-plan'; readonly tenantId: string; readonly planId: string | null }
  | {
      readonly type: 'alert-plan-drift';
      readonly tenantId: string;
      readonly planId: string | null;
      readonly expectedPlanId: string | null;
    }
  | { readonly type: 'flag-license'; readonly tenantId: string; readonly reason: 'tenant-deleted' }
  | { readonly type: 'put-alarm-metric'; readonly metricName: 'TenantDeleted' }
  | { readonly type: 'publish'; readonly event: DomainEventDraft };

export interface SaasusDecision {
  /** False for stale events and tenants without a license: nothing to do and the cursor is unchanged. */
  readonly applied: boolean;
  readonly reason: string;
  readonly actions: readonly SaasusAction[];
  readonly cursor: SaasusCursor;
}

/** The cursor key an event orders against. */
export const saasusSubjectOf = (signal: SaasusSignal): string => {
  switch (signal.kind) {
    case 'tenant-user-created':
    case 'tenant-user-deleted':
      return `user:${signal.userId}`;
    case 'tenant-plan-changed':
      return 'plan';
    case 'tenant-deleted':
      return 'tenant';
  }
};

const actionsFor = (
  signal: SaasusSignal,
  tenantId: string,
  license: DesiredEffects,
  context: SaasusDecisionContext,
): { reason: string; actions: SaasusAction[] } => {
  const registered = license.registration?.users ?? [];
  switch (signal.kind) {
    case 'tenant-user-created': {
      if (registered.some((user) => user.userId === signal.userId)) {
        return { reason: 'user already registered', actions: [] };
      }
      const email = signal.email ? { email: signal.email } : {};
      const actions: SaasusAction[] = [
        { type: 'register-tenant-user', tenantId, userId: signal.userId, ...email },
      ];
      if (context.directoryConfigured) {
        actions.push({
          type: 'create-directory-user',
          tenantId,
          userId: signal.userId,
          ...email,
          disabled: license.directoryUsers === 'disabled',
        });
      }
      if (license.tenantUsers === 'removed') {
        // Registered for a later reinstatement, but a revoked license's tenant keeps no users.
        actions.push({ type: 'remove-tenant-user', tenantId, userId: signal.userId });
      }
      return { reason: 'new tenant user', actions };
    }
    case 'tenant-user-deleted': {
      if (license.tenantUsers === 'removed') {
        return { reason: 'expected: the bridge removes the users of a revoked license', actions: [] };
      }
      const user = registered.find((candidate) => candidate.userId === signal.userId);
      if (!user) return { reason: 'not a registered user', actions: [] };
      const actions: SaasusAction[] = [{ type: 'unregister-tenant-user', tenantId, userId: user.userId }];
      if (context.directoryConfigured && user.directoryUserId !== undefined) {
        actions.push({ type: 'disable-directory-user', directoryUserId: user.directoryUserId });
      }
      return { reason: 'tenant user deleted', actions };
    }
    case 'tenant-plan-changed': {
      if (license.plan.kind === 'keep')
        return { reason: `no plan enforced: ${license.plan.reason}`, actions: [] };
      const expectedPlanId = license.plan.planId;
      if (signal.planId === expectedPlanId) return { reason: 'plan matches the license', actions: [] };
      return (context.onPlanDrift ?? 'correct') === 'correct'
        ? {
            reason: 'plan drift corrected',
            actions: [{ type: 'set-plan', tenantId, planId: expectedPlanId }],
          }
        : {
            reason: 'plan drift reported',
            actions: [{ type: 'alert-plan-drift', tenantId, planId: signal.planId, expectedPlanId }],
          };
    }
    case 'tenant-deleted':
      return {
        reason: 'the tenant of a Marketplace license was deleted',
        actions: [
          { type: 'flag-license', tenantId, reason: 'tenant-deleted' },
          { type: 'put-alarm-metric', metricName: 'TenantDeleted' },
          {
            type: 'publish',
            event: {
              detailType: 'Tenant Deleted',
              detail: { tenantId, status: license.status.status, deletedAt: signal.time },
            },
          },
        ],
      };
  }
};

/** Decides what a SaaSus signal means for one Marketplace tenant. Pure. */
export const decideSaasusSignal = (signal: SaasusSignal, context: SaasusDecisionContext): SaasusDecision => {
  const { tenantId, license, cursor } = context;
  if (!license) {
    return { applied: false, reason: `tenant ${tenantId} has no Marketplace license`, actions: [], cursor };
  }
  const subject = saasusSubjectOf(signal);
  const last = cursor[subject];
  if (last !== undefined && signal.time <= last) {
    return { applied: false, reason: `stale: ${subject} already applied up to ${last}`, actions: [], cursor };
  }
  const { reason, actions } = actionsFor(signal, tenantId, license, context);
  return { applied: true, reason, actions, cursor: { ...cursor, [subject]: signal.time } };
};
