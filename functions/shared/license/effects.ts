import { type DeploymentConfig, type Product, productFor } from '../config.js';
import { type EntitlementSnapshot, mappedDimensions, newerSnapshot } from './entitlements.js';
import type { LicenseRecord } from './record.js';
import { type DerivedStatus, deriveStatus } from './status.js';

/**
 * What the outside world should look like for a license: the SaaSus plan, tenant users,
 * directory users and metering. Pure: reconcile.ts turns it into actions against observed state.
 */

type DirectoryConfig = NonNullable<DeploymentConfig['idoperation']>;

/** An iDoperation service code as the config maps plans to them (1 = PAM, 2 = EPM). */
export type DirectoryServiceCode = DirectoryConfig['servicesByPlan'][string][number];

/** The parts of the deployment config the effects depend on (a whole DeploymentConfig fits). */
export interface EffectConfig {
  /** The license's product (`productFor(config, license.productCode)`). */
  readonly product: Pick<Product, 'pricingModel' | 'plans'>;
  readonly revocation: DeploymentConfig['revocation'];
  /** Absent when no iDoperation directory is configured. */
  readonly idoperation?: Pick<DirectoryConfig, 'servicesByPlan'> | undefined;
}

/** The effect config of a license of `productCode`: that product's plans with the shared settings. */
export const effectConfigFor = (
  config: Pick<DeploymentConfig, 'products' | 'revocation' | 'idoperation'>,
  productCode: string,
): EffectConfig => ({
  product: productFor(config, productCode),
  revocation: config.revocation,
  idoperation: config.idoperation,
});

/** What iDoperation gives a user registered without `services`: PAM only. */
export const defaultDirectoryServices: readonly DirectoryServiceCode[] = [1];

/**
 * The iDoperation services of a directory user on `planId`: its `servicesByPlan` entry, or
 * iDoperation's default (PAM only) for a plan without one or no plan. Sorted and without
 * repeats, so two answers compare as lists. Registration and reconciliation both use it, so a
 * user moved to a plan ends with what a fresh registration on that plan would have given.
 */
export const directoryServicesFor = (
  servicesByPlan: Readonly<Record<string, readonly DirectoryServiceCode[]>>,
  planId: string | null | undefined,
): DirectoryServiceCode[] => {
  const mapped = planId ? servicesByPlan[planId] : undefined;
  return [...new Set(mapped ?? defaultDirectoryServices)].sort((a, b) => a - b);
};

export interface RegisteredUser {
  /** SaaSus user id. */
  readonly userId: string;
  /** iDoperation user id, when the user was registered there. */
  readonly directoryUserId?: string;
}

/** The SaaSus tenant of a license and its users, as sign-up and SaaSus events recorded them. */
export interface Registration {
  readonly tenantId: string;
  readonly users: readonly RegisteredUser[];
  /**
   * Set when the license was linked to a tenant that existed before it: what the bridge may undo.
   * Without access the tenant gets `planId` back (the plan it had before the link; null: none;
   * undefined: not recorded, as by releases before it was), and revocation removes only the users
   * in `addedUserIds` (the bridge adds none when it links), never the tenant's own members.
   */
  readonly preexisting?: {
    readonly planId?: string | null;
    readonly addedUserIds: readonly string[];
  };
}

export interface EffectContext {
  readonly config: EffectConfig;
  /** Absent until sign-up created the tenant: then nothing in SaaSus can be changed yet. */
  readonly registration?: Registration;
  /** A fresher entitlement read than the record's (the newer of the two is used). */
  readonly entitlements?: EntitlementSnapshot;
}

export type AccessState = 'pending' | 'enabled' | 'revoked';

export type RevocationReason = 'license-ending' | 'license-ended' | 'activation-failed' | 'no-entitlement';

export type PlanDecision =
  | { readonly kind: 'set'; readonly planId: string | null; readonly reason: string }
  /** Leave the tenant's plan as it is (nothing to decide it from yet). */
  | { readonly kind: 'keep'; readonly reason: string };

export type DirectoryServicesDecision =
  /** The registered users' directory accounts should have exactly these services (sorted). */
  | { readonly kind: 'set'; readonly services: readonly DirectoryServiceCode[]; readonly reason: string }
  /** Leave the directory accounts' services as they are. */
  | { readonly kind: 'keep'; readonly reason: string };

export interface DesiredEffects {
  readonly status: DerivedStatus;
  readonly access: AccessState;
  readonly revocationReason?: RevocationReason;
  readonly plan: PlanDecision;
  /** Entitled dimensions of the snapshot used (sorted). */
  readonly entitledDimensions: readonly string[];
  /** Tenant membership: the registered users are members, or every member is removed. */
  readonly tenantUsers: 'present' | 'removed';
  readonly directoryUsers: 'enabled' | 'disabled';
  /** The iDoperation services of the registered users' directory accounts, from the plan. */
  readonly directoryServices: DirectoryServicesDecision;
  /** Whether hourly metering may send records for the license. */
  readonly metering: 'open' | 'closed';
  /** The final usage of the current ending episode still has to be sent. */
  readonly finalFlushDue: boolean;
  readonly registration?: Registration;
}

const accessOf = (
  derived: DerivedStatus,
  config: EffectConfig,
  snapshot: EntitlementSnapshot | undefined,
): { access: AccessState; revocationReason?: RevocationReason } => {
  switch (derived.status) {
    case 'pending':
      return { access: 'pending' };
    case 'active':
      // Contracts are defined by their entitlements: an empty read means the contract lapsed
      // (the only revocation signal legacy contract listings get).
      return config.product.pricingModel !== 'subscription' && snapshot?.dimensions.length === 0
        ? { access: 'revoked', revocationReason: 'no-entitlement' }
        : { access: 'enabled' };
    case 'ending':
      return { access: 'revoked', revocationReason: 'license-ending' };
    case 'ended':
      return { access: 'revoked', revocationReason: 'license-ended' };
    case 'failed':
      return { access: 'revoked', revocationReason: 'activation-failed' };
  }
};

const enabledPlan = (config: EffectConfig, snapshot: EntitlementSnapshot | undefined): PlanDecision => {
  const [dimension] = mappedDimensions(snapshot?.dimensions ?? [], config.product.plans.byDimension);
  const mapped = dimension === undefined ? undefined : config.product.plans.byDimension[dimension];
  if (dimension !== undefined && mapped !== undefined) {
    return { kind: 'set', planId: mapped, reason: `entitled to dimension "${dimension}"` };
  }
  if (config.product.plans.defaultPlanId !== undefined) {
    return {
      kind: 'set',
      planId: config.product.plans.defaultPlanId,
      reason:
        config.product.pricingModel === 'subscription'
          ? 'subscription: the default plan'
          : 'no entitled dimension maps to a plan: the default plan',
    };
  }
  return {
    kind: 'keep',
    reason: snapshot
      ? 'no entitled dimension maps to a plan and no defaultPlanId is configured'
      : 'waiting for the entitlements',
  };
};

const planOf = (
  derived: DerivedStatus,
  access: AccessState,
  config: EffectConfig,
  snapshot: EntitlementSnapshot | undefined,
  preexisting: Registration['preexisting'],
): PlanDecision => {
  // A linked tenant without access goes back to what it had before the link, not to "no plan".
  if (access !== 'enabled' && preexisting?.planId !== undefined) {
    return {
      kind: 'set',
      planId: preexisting.planId,
      reason: `${derived.status}: the plan the linked tenant had before the link`,
    };
  }
  if (derived.status === 'pending') {
    return { kind: 'set', planId: null, reason: 'no plan until the license is active' };
  }
  if (derived.status === 'failed') return { kind: 'set', planId: null, reason: 'the subscription failed' };
  if (access === 'revoked') {
    const planId = config.product.plans.revokedPlanId ?? null;
    return { kind: 'set', planId, reason: planId ? 'revoked: the revoked plan' : 'revoked: no plan' };
  }
  return enabledPlan(config, snapshot);
};

/**
 * The directory services follow the plan only while the license grants access: a pending license
 * has no plan yet, and a revoked license's directory users are left exactly as they are (whether
 * disabled or, with `disableDirectoryUsers: false`, kept enabled); reinstatement brings them in
 * step again. A plan without a `servicesByPlan` entry gets iDoperation's default (PAM only).
 */
const directoryServicesOf = (
  access: AccessState,
  plan: PlanDecision,
  config: EffectConfig,
): DirectoryServicesDecision => {
  const directory = config.idoperation;
  if (!directory) return { kind: 'keep', reason: 'no iDoperation directory is configured' };
  if (access === 'pending') return { kind: 'keep', reason: 'no services change until the license is active' };
  if (access === 'revoked') return { kind: 'keep', reason: 'revoked: directory users are left as they are' };
  if (plan.kind === 'keep' || plan.planId === null) {
    return { kind: 'keep', reason: `no plan to take the services from (${plan.reason})` };
  }
  const { planId } = plan;
  return {
    kind: 'set',
    services: directoryServicesFor(directory.servicesByPlan, planId),
    reason:
      directory.servicesByPlan[planId] === undefined
        ? `plan "${planId}" has no servicesByPlan entry: iDoperation's default (PAM only)`
        : `the services of plan "${planId}"`,
  };
};

/**
 * Desired effects of a license record. Choices the task left open:
 * - Several entitled dimensions: the first in `plans.byDimension` order decides the plan.
 * - Access is revoked from `ending` on (the agreement is over); metering stays open until
 *   `ended` so the final usage can still be sent.
 * - `pending` and `failed` licenses get no plan, so a paid plan waits for activation.
 * - Directory users' services follow the plan while access is enabled (`directoryServicesOf`).
 * - The final flush is due once per ending episode (`ending`, or `ended` with none recorded), for
 *   metered pricing models. A flush recorded for a later episode start covers an earlier one:
 *   it ran after the earlier episode had begun.
 */
export const desiredEffects = (record: LicenseRecord, context: EffectContext): DesiredEffects => {
  const { config } = context;
  const derived = deriveStatus(record);
  const snapshot = newerSnapshot(record.entitlements, context.entitlements);
  const { access, revocationReason } = accessOf(derived, config, snapshot);
  const revoked = access === 'revoked';
  const metered = config.product.pricingModel !== 'contract';
  const episode = derived.endingSince;
  const finalFlushDue =
    metered &&
    episode !== undefined &&
    (record.finalFlushFor === undefined || record.finalFlushFor < episode);
  const plan = planOf(derived, access, config, snapshot, context.registration?.preexisting);
  return {
    status: derived,
    access,
    ...(revocationReason ? { revocationReason } : {}),
    plan,
    entitledDimensions: snapshot?.dimensions ?? [],
    tenantUsers: revoked && config.revocation.tenantUsers === 'remove' ? 'removed' : 'present',
    directoryUsers: revoked && config.revocation.disableDirectoryUsers ? 'disabled' : 'enabled',
    directoryServices: directoryServicesOf(access, plan, config),
    metering: metered && (derived.status === 'active' || derived.status === 'ending') ? 'open' : 'closed',
    finalFlushDue,
    ...(context.registration ? { registration: context.registration } : {}),
  };
};

/** One license's desired effects with its product, as a tenant holding several products sees them. */
export interface ProductEffects {
  readonly productCode: string;
  readonly effects: DesiredEffects;
}

/**
 * What the tenant should be, from one license's effects and those of the tenant's licenses of
 * other products. While another product's license gives access, the tenant keeps its users and
 * directory accounts (ending one product leaves the other alone). The plan is that of the enabled
 * license whose product comes first in the config's `products` (`productOrder`): an ordered precedence.
 */
export const tenantEffects = (
  own: ProductEffects,
  others: readonly ProductEffects[],
  productOrder: readonly string[],
): DesiredEffects => {
  const enabledOthers = others.filter((other) => other.effects.access === 'enabled');
  if (enabledOthers.length === 0) return own.effects;
  const rank = (entry: ProductEffects) => {
    const index = productOrder.indexOf(entry.productCode);
    return index < 0 ? productOrder.length : index;
  };
  const candidates = own.effects.access === 'enabled' ? [own, ...enabledOthers] : enabledOthers;
  const winner = candidates.reduce((best, entry) => (rank(entry) < rank(best) ? entry : best));
  return {
    ...own.effects,
    plan: winner.effects.plan,
    tenantUsers: 'present',
    directoryUsers: 'enabled',
    directoryServices: winner.effects.directoryServices,
  };
};
