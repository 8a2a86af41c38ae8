import type { Logger } from '@aws-lambda-powertools/logger';
import { IdoperationNotFoundError } from '../idoperation/errors.js';
import type { ChangeUserInput, IdoperationClient } from '../idoperation/index.js';
import type { DesiredEffects, Registration } from '../license/effects.js';
import {
  type ObservedDirectoryUser,
  type ObservedState,
  type ReconcileAction,
  reconcile,
} from '../license/reconcile.js';
import type { SaasusClient } from '../saasus/client.js';
import { SaasusApiError } from '../saasus/errors.js';
import type { CreateTenantUserInput, TenantUser } from '../saasus/schemas.js';
import type { LicenseItem, LicenseStore } from '../store/licenses.js';
import { eventAttributes, type MemberEntry, membersOf, type RemovedMembership } from './license-item.js';
import { type ConflictRetryOptions, updateLicense } from './license-writes.js';

/**
 * Brings a license's SaaSus tenant and iDoperation users (enabled or not, and their services) to
 * what the state machine wants: reads what is there (`observe`), lists the actions (`reconcile`
 * plus finishing an interrupted reinstatement) and carries each out so that repeating it is
 * harmless: PUT/PATCH/DELETE are idempotent, and every POST is preceded by a look-up (a POST is
 * never repeated blindly).
 */

export type EventLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface TenantSyncDependencies {
  readonly store: LicenseStore;
  readonly saasus: SaasusClient;
  /** Absent when no iDoperation directory is configured. */
  readonly idoperation?: IdoperationClient | undefined;
  readonly logger: EventLogger;
  readonly conflictRetry?: ConflictRetryOptions;
}

type TenantReconcileAction = Exclude<ReconcileAction, { readonly type: 'flush-final-usage' }>;

export type TenantAction =
  | TenantReconcileAction
  /** A reinstated user is a member again but the roles recorded at removal are not all back. */
  | { readonly type: 'restore-roles'; readonly tenantId: string; readonly userId: string };

export const isSaasusNotFound = (error: unknown): boolean =>
  error instanceof SaasusApiError && error.status === 404;

const rolesOf = (member: TenantUser): Record<string, string[]> =>
  Object.fromEntries(
    member.envs.map((env) => [String(env.id), env.roles.map((role) => role.role_name).sort()]),
  );

const unionRoles = (
  a: Readonly<Record<string, readonly string[]>>,
  b: Readonly<Record<string, readonly string[]>>,
): Record<string, string[]> => {
  const merged: Record<string, string[]> = {};
  for (const envId of new Set([...Object.keys(a), ...Object.keys(b)])) {
    merged[envId] = [...new Set([...(a[envId] ?? []), ...(b[envId] ?? [])])].sort();
  }
  return merged;
};

const loginOf = (user: { email?: string; sign_in_id?: string }): CreateTenantUserInput | undefined => {
  if (user.email) return { email: user.email, attributes: {} };
  if (user.sign_in_id) return { sign_in_id: user.sign_in_id, attributes: {} };
  return undefined;
};

/**
 * The tenant still has a plan after an UpdateTenantPlan without `next_plan_id`. The spec documents
 * the field as the next plan and says nothing of leaving it out, so a removal is read back.
 */
export class PlanNotRemovedError extends Error {
  override readonly name = 'PlanNotRemovedError';
  readonly retryable = false;
}

export const createTenantSync = (deps: TenantSyncDependencies) => {
  const { store, saasus, idoperation, logger } = deps;

  const setMember = (
    licenseKey: string,
    userId: string,
    change: (entry: MemberEntry) => MemberEntry | undefined,
  ) =>
    updateLicense(
      store,
      licenseKey,
      (item) => {
        const members = membersOf(item);
        const next = change(members[userId] ?? {});
        return next === undefined
          ? { result: undefined }
          : { attributes: { [eventAttributes.members]: { ...members, [userId]: next } }, result: undefined };
      },
      deps.conflictRetry,
    );

  const memberOf = async (tenantId: string, userId: string) =>
    (await saasus.listTenantUsers(tenantId)).find((member) => member.id === userId);

  /** Adds the roles recorded at removal that the member lacks, then forgets the record. */
  const restoreRoles = async (licenseKey: string, tenantId: string, userId: string) => {
    const item = await store.get(licenseKey);
    const removed = item ? membersOf(item)[userId]?.removed : undefined;
    if (!removed) return;
    const member = await memberOf(tenantId, userId);
    if (!member) return;
    const held = rolesOf(member);
    for (const [envId, roles] of Object.entries(removed.roles)) {
      const missing = roles.filter((role) => !(held[envId] ?? []).includes(role));
      if (missing.length > 0) await saasus.addTenantUserRoles(tenantId, userId, Number(envId), missing);
    }
    await setMember(licenseKey, userId, (entry) => {
      if (!entry.removed) return undefined;
      const { removed: _restored, ...rest } = entry;
      return rest;
    });
  };

  /** Records the membership (login and roles), then removes the user from the tenant. */
  const removeTenantUser = async (licenseKey: string, tenantId: string, userId: string) => {
    const member = await memberOf(tenantId, userId);
    if (!member) return;
    const removed: RemovedMembership = {
      ...(member.email ? { email: member.email } : {}),
      ...(member.sign_in_id ? { signInId: member.sign_in_id } : {}),
      roles: rolesOf(member),
    };
    await setMember(licenseKey, userId, (entry) => ({
      ...entry,
      removed: entry.removed
        ? { ...removed, roles: unionRoles(entry.removed.roles, removed.roles) }
        : removed,
    }));
    try {
      await saasus.deleteTenantUser(tenantId, userId);
    } catch (error) {
      if (!isSaasusNotFound(error)) throw error;
    }
  };

  /** Adds a registered user back to the tenant (with the roles recorded at removal). */
  const addTenantUser = async (licenseKey: string, tenantId: string, userId: string) => {
    const item = await store.get(licenseKey);
    const removed = item ? membersOf(item)[userId]?.removed : undefined;
    let login = removed ? loginOf({ email: removed.email, sign_in_id: removed.signInId }) : undefined;
    if (!login) {
      const user = (await saasus.listSaasUsers()).find((candidate) => candidate.id === userId);
      login = user ? loginOf(user) : undefined;
    }
    if (!login) {
      // The SaaS user itself is gone: there is nobody to add back.
      logger.warn('Registered tenant user no longer exists in SaaSus; unregistering it', {
        licenseKey,
        userId,
      });
      await setMember(licenseKey, userId, (entry) => ({ ...entry, registered: false }));
      return;
    }
    try {
      await saasus.createTenantUser(tenantId, login);
    } catch (error) {
      // A lost answer (or a concurrent handler) may have added the user already: look before failing.
      if (!(error instanceof SaasusApiError) || !(await memberOf(tenantId, userId))) throw error;
    }
    await restoreRoles(licenseKey, tenantId, userId);
  };

  /** One PATCH of the given fields only; a user that no longer exists is left alone. */
  const changeDirectoryUser = async (directoryUserId: string, changes: ChangeUserInput) => {
    if (!idoperation) return;
    try {
      await idoperation.changeUser(directoryUserId, changes);
    } catch (error) {
      if (!(error instanceof IdoperationNotFoundError)) throw error;
      logger.warn('Directory user not found; nothing to change', { directoryUserId });
    }
  };

  return {
    /**
     * The tenant's plan and members and the registered users' directory accounts; undefined when
     * the tenant no longer exists (nothing in SaaSus can be changed then). A pending plan
     * reservation counts as a plan of its own, so setting the wanted plan replaces it.
     */
    async observe(registration: Registration): Promise<ObservedState | undefined> {
      let planId: string | null;
      try {
        const tenant = await saasus.getTenant(registration.tenantId);
        const current = tenant.plan_id ?? null;
        const reserved =
          tenant.using_next_plan_from !== undefined && (tenant.next_plan_id ?? null) !== current;
        planId = reserved ? `${current ?? 'none'} (reserved: ${tenant.next_plan_id ?? 'none'})` : current;
      } catch (error) {
        if (isSaasusNotFound(error)) return undefined;
        throw error;
      }
      const members = await saasus.listTenantUsers(registration.tenantId);
      const directoryUsers: ObservedDirectoryUser[] = [];
      if (idoperation) {
        for (const { directoryUserId } of registration.users) {
          if (directoryUserId === undefined) continue;
          try {
            const user = await idoperation.getUser(directoryUserId);
            directoryUsers.push({
              directoryUserId,
              disabled: user.is_disabled === 1,
              services: user.services,
            });
          } catch (error) {
            if (!(error instanceof IdoperationNotFoundError)) throw error;
          }
        }
      }
      return { planId, tenantUserIds: members.map((member) => member.id), directoryUsers };
    },

    /** The actions for `effects` against `observed` (no flush: the processor sends it first). */
    plan(effects: DesiredEffects, item: LicenseItem, observed: ObservedState): TenantAction[] {
      const actions: TenantAction[] = reconcile(effects, observed).filter(
        (action): action is TenantReconcileAction => action.type !== 'flush-final-usage',
      );
      const registration = effects.registration;
      if (!registration || effects.tenantUsers !== 'present') return actions;
      const members = membersOf(item);
      const adding = new Set(
        actions.flatMap((action) => (action.type === 'add-tenant-user' ? [action.userId] : [])),
      );
      for (const { userId } of registration.users) {
        if (members[userId]?.removed && observed.tenantUserIds.includes(userId) && !adding.has(userId)) {
          actions.push({ type: 'restore-roles', tenantId: registration.tenantId, userId });
        }
      }
      return actions;
    },

    async execute(licenseKey: string, action: TenantAction): Promise<void> {
      switch (action.type) {
        case 'set-plan':
          if (action.planId !== null) {
            await saasus.updateTenantPlan(action.tenantId, { next_plan_id: action.planId });
            return;
          }
          // Removing the plan relies on an undocumented reading of UpdateTenantPlan: check it took.
          await saasus.updateTenantPlan(action.tenantId, {});
          if ((await saasus.getTenant(action.tenantId)).plan_id) {
            throw new PlanNotRemovedError(
              `SaaSus kept the plan of tenant ${action.tenantId} after an UpdateTenantPlan without next_plan_id; set plans.revokedPlanId to a plan to switch to instead`,
            );
          }
          return;
        case 'remove-tenant-user':
          await removeTenantUser(licenseKey, action.tenantId, action.userId);
          return;
        case 'add-tenant-user':
          await addTenantUser(licenseKey, action.tenantId, action.userId);
          return;
        case 'restore-roles':
          await restoreRoles(licenseKey, action.tenantId, action.userId);
          return;
        case 'enable-directory-user':
          await changeDirectoryUser(action.directoryUserId, { is_disabled: 0 });
          return;
        case 'disable-directory-user':
          await changeDirectoryUser(action.directoryUserId, { is_disabled: 1 });
          return;
        case 'set-directory-services':
          await changeDirectoryUser(action.directoryUserId, { services: [...action.services] });
          return;
      }
    },

    setMember,
    removeTenantUser,
  };
};

export type TenantSync = ReturnType<typeof createTenantSync>;
