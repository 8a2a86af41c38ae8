import { idoperationServices } from '../idoperation/schemas.js';
import type { DesiredEffects, DirectoryServiceCode } from './effects.js';

/**
 * The smallest set of actions that brings the observed world to the desired effects. Nothing to
 * do returns an empty list, so running reconcile again after the actions succeeded is a no-op.
 */

/** What the handler read from SaaSus and iDoperation for the license's tenant. */
export interface ObservedState {
  /** The tenant's current plan; null when it has none. */
  readonly planId: string | null;
  /** SaaSus user ids currently in the tenant. */
  readonly tenantUserIds: readonly string[];
  /** Registered users' iDoperation accounts as found (missing ones are left to sign-up). */
  readonly directoryUsers: readonly ObservedDirectoryUser[];
}

export interface ObservedDirectoryUser {
  readonly directoryUserId: string;
  readonly disabled: boolean;
  /** Service codes as iDoperation returned them (any order; codes we do not know may appear). */
  readonly services: readonly number[];
}

export type ReconcileAction =
  /** Send the final usage of the episode starting at `endingSince`, then `recordFinalFlush`. */
  | { readonly type: 'flush-final-usage'; readonly endingSince: string }
  | { readonly type: 'set-plan'; readonly tenantId: string; readonly planId: string | null }
  | { readonly type: 'add-tenant-user'; readonly tenantId: string; readonly userId: string }
  | { readonly type: 'remove-tenant-user'; readonly tenantId: string; readonly userId: string }
  | { readonly type: 'enable-directory-user'; readonly directoryUserId: string }
  | { readonly type: 'disable-directory-user'; readonly directoryUserId: string }
  /** Replace the user's services (a PATCH of `services` alone: `is_disabled` is never part of it). */
  | {
      readonly type: 'set-directory-services';
      readonly directoryUserId: string;
      readonly services: readonly DirectoryServiceCode[];
    };

/** The service codes the bridge manages; others iDoperation may report are not compared. */
const managedServiceCodes: ReadonlySet<number> = new Set(Object.values(idoperationServices));

/** Whether the observed services hold exactly the wanted managed codes (order and repeats aside). */
const hasServices = (observed: readonly number[], wanted: readonly DirectoryServiceCode[]): boolean => {
  const held = new Set(observed.filter((code) => managedServiceCodes.has(code)));
  return held.size === new Set(wanted).size && wanted.every((code) => held.has(code));
};

/**
 * Actions, flush first (its window is the only deadline), then plan, tenant users, directory
 * (per user: enable/disable, then services). Without a registration only the flush can be due:
 * there is no tenant to change yet. Directory services are only set when the effects ask for
 * them (`directoryServices.kind === 'set'`, i.e. access is enabled), so a revoked license's
 * directory users get no services call.
 * On revocation with `tenantUsers: remove` every member is removed (of a linked tenant, only the
 * users the bridge added); a reinstated license gets
 * its registered users back (their SaaSus accounts survive removal from the tenant).
 */
export const reconcile = (effects: DesiredEffects, observed?: ObservedState): ReconcileAction[] => {
  const actions: ReconcileAction[] = [];
  const episode = effects.status.endingSince;
  if (effects.finalFlushDue && episode !== undefined) {
    actions.push({ type: 'flush-final-usage', endingSince: episode });
  }
  const registration = effects.registration;
  if (!registration || !observed) return actions;
  const { tenantId } = registration;

  if (effects.plan.kind === 'set' && effects.plan.planId !== observed.planId) {
    actions.push({ type: 'set-plan', tenantId, planId: effects.plan.planId });
  }

  const members = new Set(observed.tenantUserIds);
  if (effects.tenantUsers === 'removed') {
    // A linked tenant's own members are not ours to remove: only those the bridge added.
    const removable = registration.preexisting ? new Set(registration.preexisting.addedUserIds) : members;
    for (const userId of [...members].sort()) {
      if (removable.has(userId)) actions.push({ type: 'remove-tenant-user', tenantId, userId });
    }
  } else {
    for (const { userId } of registration.users) {
      if (!members.has(userId)) actions.push({ type: 'add-tenant-user', tenantId, userId });
    }
  }

  const directory = new Map(observed.directoryUsers.map((user) => [user.directoryUserId, user]));
  const disable = effects.directoryUsers === 'disabled';
  const services = effects.directoryServices;
  for (const { directoryUserId } of registration.users) {
    if (directoryUserId === undefined) continue;
    const user = directory.get(directoryUserId);
    if (user === undefined) continue;
    if (user.disabled !== disable) {
      actions.push(
        disable
          ? { type: 'disable-directory-user', directoryUserId }
          : { type: 'enable-directory-user', directoryUserId },
      );
    }
    if (services.kind === 'set' && !hasServices(user.services, services.services)) {
      actions.push({ type: 'set-directory-services', directoryUserId, services: [...services.services] });
    }
  }
  return actions;
};
