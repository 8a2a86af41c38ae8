import { now as businessNow } from '../clock.js';
import type { DeploymentConfig } from '../config.js';
import type { DomainEvent } from '../domain-events.js';
import { IdoperationConflictError } from '../idoperation/errors.js';
import {
  type DesiredEffects,
  desiredEffects,
  directoryServicesFor,
  tenantEffects,
} from '../license/effects.js';
import { parseLicenseRecord } from '../license/record.js';
import {
  decideSaasusSignal,
  type PlanDriftPolicy,
  type SaasusAction,
  type SaasusDecision,
} from '../license/saasus-decisions.js';
import { type SaasusSignal, saasusSignalTenantIds } from '../license/saasus-signal.js';
import { deriveStatus, type LicenseStatus } from '../license/status.js';
import type { DomainEventDraft } from '../license/transitions.js';
import type { LicenseItem } from '../store/licenses.js';
import {
  appendToOutbox,
  effectContextOf,
  eventAttributes,
  type MemberEntry,
  membersOf,
  outboxOf,
  provisionedOf,
  saasusCursorOf,
  subjectOf,
} from './license-item.js';
import { publishOutbox, updateLicense } from './license-writes.js';
import { createTenantSync, type TenantSyncDependencies } from './tenant-sync.js';

/**
 * What a SaaSus partner event (already parsed) does to the Marketplace license of its tenant:
 * `decideSaasusSignal` says what, against the per-subject cursor stored on the license item, and
 * this service carries it out. External changes (SaaSus, iDoperation, metrics) come first, each
 * safe to repeat; the local changes (registered users, the tenant-deleted flag, the cursor and the
 * domain events in the outbox) are written last, together, after deciding again on a fresh read.
 * A failure before that write leaves the cursor where it was, so the retry decides the same way.
 */

export interface SaasusEventDependencies extends TenantSyncDependencies {
  readonly config: DeploymentConfig;
  readonly publish: (events: DomainEvent[]) => Promise<unknown>;
  /** Adds one to a CloudWatch metric of the function (e.g. `TenantDeleted`, alarmed on). */
  readonly recordMetric: (name: string) => void;
  /** Default `correct`: a plan changed away from what the license allows is set back. */
  readonly onPlanDrift?: PlanDriftPolicy;
  readonly now?: () => Date;
}

export interface SaasusTenantOutcome {
  readonly tenantId: string;
  readonly licenseKey?: string;
  readonly applied: boolean;
  readonly reason: string;
  /** Action types carried out, e.g. `create-directory-user`. */
  readonly actions: readonly string[];
}

export interface SaasusEventOutcome {
  /** `applied` when the event changed anything for at least one Marketplace tenant. */
  readonly status: 'applied' | 'ignored';
  readonly tenants: readonly SaasusTenantOutcome[];
  readonly domainEvents: readonly string[];
}

/** Metric names this service emits. */
export const saasusEventMetrics = {
  tenantDeleted: 'TenantDeleted',
  planDrift: 'PlanDrift',
} as const;

const statusRank: Record<LicenseStatus, number> = { active: 0, ending: 1, pending: 2, failed: 3, ended: 4 };

/** The license a tenant currently stands for: the liveliest, then the most recently updated. */
const currentLicense = (items: readonly LicenseItem[]): LicenseItem | undefined =>
  [...items]
    .map((item) => ({ item, rank: statusRank[deriveStatus(parseLicenseRecord(item.lifecycle)).status] }))
    .sort((a, b) => a.rank - b.rank || String(b.item.updatedAt).localeCompare(String(a.item.updatedAt)))[0]
    ?.item;

/** Outbox ids of the domain events one signal decided for one tenant. */
const outboxPrefix = (signal: SaasusSignal, tenantId: string): string =>
  `${signal.time}|${signal.eventId}|${tenantId}`;

/** iDoperation names are 1-64 characters; the local part of the email stands in for the person's name. */
const directoryNameFor = (email: string): string => (email.split('@')[0] || email).slice(0, 64);

export const createSaasusEventProcessor = (deps: SaasusEventDependencies) => {
  const { config, store, saasus, idoperation, logger } = deps;
  const now = deps.now ?? businessNow;
  const sync = createTenantSync(deps);
  const directoryConfigured = config.idoperation !== undefined && idoperation !== undefined;

  const ownEffectsOf = (item: LicenseItem): DesiredEffects =>
    desiredEffects(parseLicenseRecord(item.lifecycle), effectContextOf(config, item));

  /** The tenant as the license sees it, with the tenant's licenses of other products (plan precedence). */
  const effectsOf = (item: LicenseItem, tenantItems: readonly LicenseItem[]): DesiredEffects =>
    tenantEffects(
      { productCode: item.productCode, effects: ownEffectsOf(item) },
      tenantItems
        .filter((other) => other.licenseKey !== item.licenseKey && other.productCode !== item.productCode)
        .map((other) => ({ productCode: other.productCode, effects: ownEffectsOf(other) })),
      config.products.map((product) => product.productCode),
    );

  const decide = (
    signal: SaasusSignal,
    tenantId: string,
    item: LicenseItem,
    tenantItems: readonly LicenseItem[],
  ): SaasusDecision =>
    decideSaasusSignal(signal, {
      tenantId,
      license: effectsOf(item, tenantItems),
      cursor: saasusCursorOf(item),
      directoryConfigured,
      onPlanDrift: deps.onPlanDrift ?? 'correct',
    });

  /** Registers the user in iDoperation once: a marker before the POST tells a lost answer from a clash. */
  const createDirectoryUser = async (
    licenseKey: string,
    action: Extract<SaasusAction, { type: 'create-directory-user' }>,
    effects: DesiredEffects,
  ) => {
    const directory = config.idoperation;
    if (!directory || !idoperation) return;
    const item = await store.get(licenseKey);
    const entry: MemberEntry = (item ? membersOf(item)[action.userId] : undefined) ?? {};
    if (entry.directoryUserId !== undefined || entry.directoryUnresolved !== undefined) return;
    const email =
      action.email ??
      (await saasus.listTenantUsers(action.tenantId)).find((user) => user.id === action.userId)?.email;
    if (!email) {
      await sync.setMember(licenseKey, action.userId, (current) => ({
        ...current,
        directoryUnresolved: 'the user has no email address, and iDoperation login ids are email addresses',
      }));
      return;
    }
    const triedBefore = entry.directoryAttemptedAt !== undefined;
    if (!triedBefore) {
      await sync.setMember(licenseKey, action.userId, (current) => ({
        ...current,
        directoryAttemptedAt: now().toISOString(),
      }));
    }
    const planId = effects.plan.kind === 'set' ? effects.plan.planId : null;
    const services = directoryServicesFor(directory.servicesByPlan, planId);
    try {
      const user = await idoperation.registerUser({
        login_id: email,
        name: directoryNameFor(email),
        // Users sign in through SaaSus: the directory user is federated and gets no password.
        is_external: 1,
        services,
        locale: directory.locale,
        is_notified: 0,
        ...(action.disabled ? { is_disabled: 1 as const } : {}),
      });
      await sync.setMember(licenseKey, action.userId, (current) => ({
        ...current,
        email,
        directoryUserId: user.id,
      }));
    } catch (error) {
      if (!(error instanceof IdoperationConflictError)) throw error;
      const unresolved = triedBefore
        ? 'registered by an earlier attempt whose answer was lost; link the directory user id by hand'
        : 'the login id already belonged to a directory user; link the directory user id by hand';
      logger.warn('Directory user could not be registered', {
        licenseKey,
        userId: action.userId,
        unresolved,
      });
      await sync.setMember(licenseKey, action.userId, (current) => ({
        ...current,
        email,
        directoryUnresolved: unresolved,
      }));
    }
  };

  /** The external part of an action; local actions are written with the cursor afterwards. */
  const executeExternal = async (
    licenseKey: string,
    action: SaasusAction,
    effects: DesiredEffects,
  ): Promise<boolean> => {
    switch (action.type) {
      case 'set-plan':
      case 'disable-directory-user':
        await sync.execute(licenseKey, action);
        return true;
      case 'remove-tenant-user':
        await sync.removeTenantUser(licenseKey, action.tenantId, action.userId);
        return true;
      case 'create-directory-user':
        await createDirectoryUser(licenseKey, action, effects);
        return true;
      case 'alert-plan-drift':
        logger.warn('Tenant plan differs from what the license allows', { licenseKey, ...action });
        deps.recordMetric(saasusEventMetrics.planDrift);
        return true;
      case 'put-alarm-metric':
        deps.recordMetric(action.metricName);
        return true;
      case 'register-tenant-user':
      case 'unregister-tenant-user':
      case 'flag-license':
      case 'publish':
        return false;
    }
  };

  /** The local attributes of a decision, applied to a fresh read of the item. */
  const localChanges = (
    signal: SaasusSignal,
    tenantId: string,
    item: LicenseItem,
    decision: SaasusDecision,
  ) => {
    const members: Record<string, MemberEntry> = { ...membersOf(item) };
    let membersChanged = false;
    const drafts: DomainEventDraft[] = [];
    const attributes: Record<string, unknown> = { [eventAttributes.saasusCursor]: decision.cursor };
    for (const action of decision.actions) {
      switch (action.type) {
        case 'register-tenant-user':
        case 'unregister-tenant-user': {
          const registered = action.type === 'register-tenant-user';
          const email = action.type === 'register-tenant-user' ? action.email : undefined;
          members[action.userId] = { ...members[action.userId], registered, ...(email ? { email } : {}) };
          membersChanged = true;
          break;
        }
        case 'flag-license':
          attributes[eventAttributes.tenantDeleted] = { at: signal.time, eventId: signal.eventId };
          break;
        case 'publish':
          drafts.push(action.event);
          break;
        default:
          break;
      }
    }
    if (membersChanged) attributes[eventAttributes.members] = members;
    if (drafts.length > 0) {
      attributes[eventAttributes.outbox] = appendToOutbox(
        outboxOf(item),
        drafts,
        outboxPrefix(signal, tenantId),
        subjectOf(item),
      );
    }
    return attributes;
  };

  const processTenant = async (
    signal: SaasusSignal,
    tenantId: string,
  ): Promise<{ outcome: SaasusTenantOutcome; published: string[] }> => {
    const tenantItems = await store.findByTenant(tenantId);
    const item = currentLicense(tenantItems);
    if (!item) {
      return {
        outcome: {
          tenantId,
          applied: false,
          reason: `tenant ${tenantId} has no Marketplace license`,
          actions: [],
        },
        published: [],
      };
    }
    const { licenseKey } = item;
    const ignored = (reason: string) => ({
      outcome: { tenantId, licenseKey, applied: false, reason, actions: [] },
      published: [],
    });
    if (signal.kind === 'tenant-user-created' && signal.userId === provisionedOf(item).saasUser?.userId) {
      return ignored('the sign-up admin: sign-up registers it');
    }
    const decision = decide(signal, tenantId, item, tenantItems);
    if (!decision.applied) return ignored(decision.reason);

    const effects = effectsOf(item, tenantItems);
    const actions: string[] = [];
    for (const action of decision.actions) {
      if (await executeExternal(licenseKey, action, effects)) actions.push(action.type);
    }
    const written = await updateLicense(
      store,
      licenseKey,
      (current) => {
        const again = decide(signal, tenantId, current, tenantItems);
        // A newer event about the same subject was applied meanwhile: it decides.
        if (!again.applied) return { result: false };
        for (const action of again.actions) {
          if (!actions.includes(action.type) && action.type !== 'publish') actions.push(action.type);
        }
        return { attributes: localChanges(signal, tenantId, current, again), result: true };
      },
      deps.conflictRetry,
    );
    const published = await publishOutbox(
      store,
      written.item,
      outboxPrefix(signal, tenantId),
      deps.publish,
      deps.conflictRetry,
    );
    return {
      outcome: {
        tenantId,
        licenseKey,
        applied: written.result,
        reason: written.result
          ? decision.reason
          : 'a newer event about the same subject was applied meanwhile',
        actions,
      },
      published,
    };
  };

  return {
    async process(signal: SaasusSignal): Promise<SaasusEventOutcome> {
      const tenants: SaasusTenantOutcome[] = [];
      const domainEvents: string[] = [];
      for (const tenantId of saasusSignalTenantIds(signal)) {
        const { outcome, published } = await processTenant(signal, tenantId);
        tenants.push(outcome);
        domainEvents.push(...published);
      }
      const result: SaasusEventOutcome = {
        status: tenants.some((tenant) => tenant.applied) ? 'applied' : 'ignored',
        tenants,
        domainEvents,
      };
      logger.info('SaaSus event processed', { eventId: signal.eventId, kind: signal.kind, ...result });
      return result;
    },
  };
};

export type SaasusEventProcessor = ReturnType<typeof createSaasusEventProcessor>;
