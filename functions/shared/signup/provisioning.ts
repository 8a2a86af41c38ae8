import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type DeploymentConfig, productFor } from '../config.js';
import { type DomainEvent, domainEventTypes } from '../domain-events.js';
import { IdoperationConflictError, IdoperationError } from '../idoperation/errors.js';
import type { IdoperationClient } from '../idoperation/index.js';
import { directoryServicesFor } from '../license/effects.js';
import { sleep } from '../retry.js';
import type { SaasusClient } from '../saasus/client.js';
import { SaasusApiError } from '../saasus/errors.js';
import type { Tenant, TenantUser } from '../saasus/schemas.js';
import { LicenseConflictError, type LicenseItem, type LicenseStore } from '../store/licenses.js';
import type { SignUpClaims } from '../store/sign-up-claims.js';
import type { RegistrationForm } from './pages.js';

/**
 * Provisioning a buyer as a resumable, idempotent saga keyed by the license. Each step first
 * looks at what exists (in our license record and in SaaSus) and only then creates, and records
 * its result on the license once. A crash at any point is finished by the next submit (or a
 * retry): no second tenant, user or role is ever created, and SaaSus POSTs are never repeated
 * blindly.
 *
 * Steps: registration → saasUser → tenant (ensuring the tenant attributes) → plan → tenantUser →
 * role → directoryUser (optional) → completed.
 *
 * Runs for one license never overlap (a double-clicked submit reaches two Lambdas at once): each
 * run first takes a short lease on the license item, written with the item's optimistic version,
 * and a second run waits for it, then resumes whatever the first left. The lease locks the
 * license; the tenant claim (`SignUpClaims`) locks the tenant: linking takes it before any SaaSus
 * write, so two licenses linking one tenant at once cannot both attach it.
 */

/** Tenant attributes that tie a SaaSus tenant to its Marketplace license. */
export const LICENSE_ATTRIBUTE = 'aws_marketplace_license';
export const ACCOUNT_ATTRIBUTE = 'aws_marketplace_account_id';

/** License attribute: when `License Registered` was published for the license. */
const REGISTERED_EVENT_ATTRIBUTE = 'registeredEventPublishedAt';

export const provisioningSteps = [
  'registration',
  'saasUser',
  'tenant',
  'plan',
  'tenantUser',
  'role',
  'directoryUser',
  'completed',
] as const;
export type ProvisioningStep = (typeof provisioningSteps)[number];

export interface ProvisioningDependencies {
  config: DeploymentConfig;
  store: LicenseStore;
  /** The tenant claims: one tenant, one license per product. */
  claims: SignUpClaims;
  saasus: SaasusClient;
  idoperation?: IdoperationClient | undefined;
  publish: (events: DomainEvent[]) => Promise<unknown>;
  /**
   * The SaaSus plan the license should have now, or undefined when no paid plan may be applied
   * yet (the license is not active). Shared with the event processor so both decide alike: given
   * the tenant, its licenses of other products take part (plan precedence).
   */
  planFor: (license: LicenseItem, tenantId?: string) => Promise<string | undefined>;
  logger: Pick<Logger, 'info' | 'warn'>;
  now?: () => Date;
  /** Test hook: called after each recorded step (crash injection). */
  afterStep?: (step: ProvisioningStep) => void | Promise<void>;
  /** How long a run's lease lasts unless released: longer than the function timeout. Default 60 s. */
  leaseMs?: number;
  /** How long a run waits for another run's lease before answering "busy". Default 8 s. */
  leaseWaitMs?: number;
  /**
   * Runs in a row a step may fail on a remote call (SaaSus, iDoperation) before the license needs
   * attention. Default 3. Each run already retries idempotent calls; this bounds the runs.
   */
  maxStepAttempts?: number;
  /** Counts a metric (`provisioningMetrics`); the sign-up function alarms on it. */
  recordMetric?: (name: string) => void;
}

export const provisioningMetrics = {
  /** A step kept failing: the license needs a person. */
  needsAttention: 'ProvisioningNeedsAttention',
} as const;

/** License attribute: the failing step's run count and last reason, `{ step, attempts, reason }`. */
export const FAILURES_ATTRIBUTE = 'provisioningFailures';
/**
 * License attribute set once a step has failed `maxStepAttempts` runs in a row:
 * `{ step, attempts, reason, since }`. A later run that gets through removes it.
 */
export const NEEDS_ATTENTION_ATTRIBUTE = 'needsAttention';

/** A step failed too many runs in a row: the seller has been alerted; retrying alone will not help. */
export class ProvisioningNeedsAttentionError extends Error {
  override readonly name = 'ProvisioningNeedsAttentionError';
  readonly retryable = false;
  constructor(
    readonly step: ProvisioningStep,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`Provisioning step ${step} kept failing and needs attention: ${reason}`, options);
  }
}

const MAX_REASON_LENGTH = 500;

export type ProvisioningOutcome = {
  tenantId: string;
  /** `ready`: the plan is applied; `preparing`: waiting for AWS Marketplace to activate the license. */
  status: 'ready' | 'preparing';
};

type Provisioned = {
  registration?: RegistrationForm;
  saasUser?: { userId: string };
  /**
   * `linked`: the tenant existed before the license (link flow); `previousPlanId` is the plan it had
   * then (null: none), which revocation gives back. The bridge adds no users to a linked tenant.
   */
  tenant?: { tenantId: string; linked?: boolean; previousPlanId?: string | null };
  tenantUser?: { userId: string };
  role?: { envId: number; roleNames: string[] };
  plan?: { planId: string };
  directoryUser?: { userId?: string; unresolved?: string };
  completed?: { at: string };
};

const provisioned = (license: LicenseItem): Provisioned => (license.provisioning ?? {}) as Provisioned;

export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
}

/** The tenant already belongs to another license of the product: nothing was changed. */
export class TenantClaimedError extends Error {
  override readonly name = 'TenantClaimedError';
}

/** Another run is provisioning the license and did not finish in time: try again shortly. */
export class ProvisioningBusyError extends Error {
  override readonly name = 'ProvisioningBusyError';
  readonly retryable = true;
}

/** License attribute holding the lease of the run in progress: `{ owner, until }` (until: epoch ms). */
const LEASE_ATTRIBUTE = 'provisioningLease';
const LEASE_POLL_MS = 100;

const leaseOf = (license: LicenseItem): { owner: string; until: number } | undefined => {
  const lease = license[LEASE_ATTRIBUTE] as { owner?: unknown; until?: unknown } | null | undefined;
  return lease && typeof lease.owner === 'string' && typeof lease.until === 'number'
    ? { owner: lease.owner, until: lease.until }
    : undefined;
};

/**
 * Promise.all for steps that run side by side, except that it waits for every branch before
 * failing: no step is left running (and writing) after the submit has answered.
 */
const allSteps = async <T extends readonly unknown[] | []>(
  steps: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> => {
  const results = await Promise.allSettled(steps);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
};

/** Which step an error came from, for steps that run side by side (the first to see it wins). */
const failedSteps = new WeakMap<object, ProvisioningStep>();

const inStep = async <T>(step: ProvisioningStep, work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (error) {
    if (typeof error === 'object' && error !== null && !failedSteps.has(error)) failedSteps.set(error, step);
    throw error;
  }
};

export const createProvisioning = (deps: ProvisioningDependencies) => {
  const { config, store, saasus, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const leaseMs = deps.leaseMs ?? 60_000;
  const leaseWaitMs = deps.leaseWaitMs ?? 8_000;
  const maxStepAttempts = deps.maxStepAttempts ?? 3;

  /**
   * Runs provisioning and keeps score of remote failures per step: each run that fails on the same
   * step counts one attempt; at `maxStepAttempts` the license is marked as needing attention (with
   * the reason), a metric is counted and the buyer is told the seller knows. Any run that gets
   * through clears both marks. Steps look before they act, so repeating a run is always safe.
   */
  const counted = async (
    license: LicenseItem,
    run: (enter: (step: ProvisioningStep) => void) => Promise<ProvisioningOutcome>,
  ): Promise<ProvisioningOutcome> => {
    const { licenseKey } = license;
    let step: ProvisioningStep = 'registration';
    try {
      const outcome = await run((next) => {
        step = next;
      });
      if (license[FAILURES_ATTRIBUTE] || license[NEEDS_ATTENTION_ATTRIBUTE]) {
        await store.setAttributes(licenseKey, {
          [FAILURES_ATTRIBUTE]: null,
          [NEEDS_ATTENTION_ATTRIBUTE]: null,
        });
        logger.info('Provisioning got through; the license no longer needs attention', { licenseKey });
      }
      return outcome;
    } catch (error) {
      if (!(error instanceof SaasusApiError || error instanceof IdoperationError)) throw error;
      step = failedSteps.get(error) ?? step;
      const previous = license[FAILURES_ATTRIBUTE] as
        | { step?: unknown; attempts?: unknown }
        | null
        | undefined;
      const attempts =
        previous?.step === step && typeof previous.attempts === 'number' ? previous.attempts + 1 : 1;
      const reason = `${error.name}: ${error.message}`.slice(0, MAX_REASON_LENGTH);
      const failures = { step, attempts, reason };
      if (attempts < maxStepAttempts) {
        await store.setAttributes(licenseKey, { [FAILURES_ATTRIBUTE]: failures });
        throw error;
      }
      const earlier = license[NEEDS_ATTENTION_ATTRIBUTE] as { since?: unknown } | null | undefined;
      const since = typeof earlier?.since === 'string' ? earlier.since : now().toISOString();
      await store.setAttributes(licenseKey, {
        [FAILURES_ATTRIBUTE]: failures,
        [NEEDS_ATTENTION_ATTRIBUTE]: { ...failures, since },
      });
      deps.recordMetric?.(provisioningMetrics.needsAttention);
      logger.warn('Provisioning needs attention', { licenseKey, step, attempts, reason });
      throw new ProvisioningNeedsAttentionError(step, reason, { cause: error });
    }
  };

  /**
   * Runs `work` holding the license's lease. The lease is taken with a conditional write on the
   * item's version, so of two runs that read the same version only one gets it; the other waits
   * (polling) until the lease is released or expires. Lease times are real time (a duration),
   * not the business clock.
   */
  const withLease = async <T>(licenseKey: string, work: (license: LicenseItem) => Promise<T>): Promise<T> => {
    const owner = randomUUID();
    const giveUpAt = Date.now() + leaseWaitMs;
    for (;;) {
      const license = await store.get(licenseKey);
      if (!license) throw new ProvisioningError(`License ${licenseKey} does not exist`);
      const lease = leaseOf(license);
      if (!lease || lease.until <= Date.now()) {
        let held: LicenseItem | undefined;
        try {
          held = await store.setAttributes(
            licenseKey,
            { [LEASE_ATTRIBUTE]: { owner, until: Date.now() + leaseMs } },
            { expectedVersion: license.version },
          );
        } catch (error) {
          // Someone wrote the item since we read it (another run, or the event processor): look again.
          if (!(error instanceof LicenseConflictError)) throw error;
        }
        if (held) {
          try {
            return await work(held);
          } finally {
            await store.setAttributes(licenseKey, { [LEASE_ATTRIBUTE]: null }).catch((error: unknown) => {
              logger.warn('Provisioning lease not released; it expires by itself', {
                licenseKey,
                error: error instanceof Error ? error.name : 'unknown',
              });
            });
          }
        }
      } else if (Date.now() >= giveUpAt) {
        throw new ProvisioningBusyError(`License ${licenseKey} is being provisioned by another request`);
      }
      await sleep(LEASE_POLL_MS);
    }
  };

  const record = async <K extends ProvisioningStep>(
    license: LicenseItem,
    step: K,
    value: NonNullable<Provisioned[K]>,
  ): Promise<NonNullable<Provisioned[K]>> => {
    const stored = await store.recordProvisioningStep(license.licenseKey, step, value);
    license.provisioning = { ...license.provisioning, [step]: stored };
    await deps.afterStep?.(step);
    return stored as NonNullable<Provisioned[K]>;
  };

  const ensureTenantAttributes = async () => {
    const existing = new Set(
      (await saasus.listTenantAttributes()).map((attribute) => attribute.attribute_name),
    );
    const create = async (name: string, display: string) => {
      try {
        await saasus.createTenantAttribute({
          attribute_name: name,
          display_name: display,
          attribute_type: 'string',
        });
      } catch (error) {
        // Two first sign-ups in a fresh SaaSus environment race to create it (SaaSus answers
        // `attribute_already_exists`, with the 500 its spec declares): look again before failing;
        // if it is there now, theirs is as good as ours.
        const created =
          error instanceof SaasusApiError &&
          (await saasus.listTenantAttributes()).some((a) => a.attribute_name === name);
        if (!created) throw error;
      }
    };
    await allSteps(
      (
        [
          [LICENSE_ATTRIBUTE, 'AWS Marketplace license'],
          [ACCOUNT_ATTRIBUTE, 'AWS Marketplace buyer account'],
        ] as const
      )
        .filter(([name]) => !existing.has(name))
        .map(([name, display]) => create(name, display)),
    );
  };

  /**
   * Claims the tenant for the license before anything in SaaSus changes for it. A claim held by a
   * license that no longer holds the tenant (ended, gone, or attached elsewhere) is taken over; any
   * other holder means the tenant is taken: the seller hears of it on the domain bus.
   */
  const claimTenant = async (
    license: LicenseItem,
    tenantId: string,
    { existedBefore }: { existedBefore: boolean },
  ): Promise<void> => {
    const { productCode } = license;
    const claim = await deps.claims.claimTenant({
      productCode,
      tenantId,
      licenseKey: license.licenseKey,
      canTakeOver: async (holder) => {
        const held = await store.get(holder);
        const heldTenant = held ? provisioned(held).tenant : undefined;
        return (
          !held || held.status === 'ended' || (heldTenant !== undefined && heldTenant.tenantId !== tenantId)
        );
      },
    });
    // A license attached to an older tenant before claims existed is only found through the index
    // (a license of another product may share the tenant: the claim is per product).
    const attachedBeforeClaims = async () =>
      (await store.findByTenant(tenantId)).find(
        (other) =>
          other.licenseKey !== license.licenseKey &&
          other.productCode === productCode &&
          other.status !== 'ended',
      )?.licenseKey;
    const heldBy = claim.claimed ? (existedBefore ? await attachedBeforeClaims() : undefined) : claim.heldBy;
    if (heldBy === undefined) return;
    if (claim.claimed) await deps.claims.releaseTenant(productCode, tenantId, license.licenseKey);
    logger.warn('Tenant already attached to another license', { licenseKey: license.licenseKey, tenantId });
    await deps.publish([
      {
        detailType: domainEventTypes.tenantClaimRefused,
        detail: {
          licenseKey: license.licenseKey,
          customerAwsAccountId: license.customerAwsAccountId,
          tenantId,
          heldByLicenseKey: heldBy,
        },
        resources: license.licenseArn ? [license.licenseArn] : [],
      },
    ]);
    throw new TenantClaimedError(`Tenant ${tenantId} is already attached to another license`);
  };

  const tenantAttributes = (license: LicenseItem) => ({
    [LICENSE_ATTRIBUTE]: license.licenseKey,
    [ACCOUNT_ATTRIBUTE]: license.customerAwsAccountId ?? '',
  });

  const stepSaasUser = async (license: LicenseItem, form: RegistrationForm) => {
    const done = provisioned(license).saasUser;
    if (done) return done;
    const existing = await saasus.findSaasUserByEmail(form.adminEmail);
    const userId = existing?.id ?? (await saasus.createSaasUser({ email: form.adminEmail })).id;
    return record(license, 'saasUser', { userId });
  };

  /** `seen`: the tenant as SaaSus answered in this run; `created`: this run created it (so it has no members yet). */
  const stepTenant = async (
    license: LicenseItem,
    form: RegistrationForm,
  ): Promise<{ tenantId: string; seen?: Tenant; created?: boolean }> => {
    const done = provisioned(license).tenant;
    if (done) return done;
    const [, tenants] = await allSteps([ensureTenantAttributes(), saasus.listTenants()]);
    // A tenant created by a run that crashed before recording it carries our license attribute.
    const earlier = tenants.find((tenant) => tenant.attributes[LICENSE_ATTRIBUTE] === license.licenseKey);
    const seen =
      earlier ??
      (await saasus.createTenant({
        name: form.tenantName,
        attributes: tenantAttributes(license),
        back_office_staff_email: config.saasus.backOfficeStaffEmail,
      }));
    const tenantId = seen.id;
    // A tenant we just created cannot be someone else's, but the claim makes that a fact others see.
    await claimTenant(license, tenantId, { existedBefore: false });
    await store.setAttributes(license.licenseKey, { tenantId });
    license.tenantId = tenantId;
    return { ...(await record(license, 'tenant', { tenantId })), seen, created: !earlier };
  };

  /**
   * `member`: the tenant user as SaaSus answered in this run, roles included. A tenant this run
   * created has no members, so it is not listed.
   */
  const stepTenantUser = async (
    license: LicenseItem,
    tenant: { tenantId: string; created?: boolean },
    form: RegistrationForm,
  ): Promise<{ userId: string; member?: TenantUser }> => {
    const done = provisioned(license).tenantUser;
    if (done) return done;
    const email = form.adminEmail.toLowerCase();
    const listed = tenant.created
      ? undefined
      : (await saasus.listTenantUsers(tenant.tenantId)).find((user) => user.email.toLowerCase() === email);
    const member =
      listed ?? (await saasus.createTenantUser(tenant.tenantId, { email: form.adminEmail, attributes: {} }));
    return { ...(await record(license, 'tenantUser', { userId: member.id })), member };
  };

  const stepRole = async (
    license: LicenseItem,
    tenantId: string,
    user: { userId: string; member?: TenantUser },
  ) => {
    if (provisioned(license).role) return;
    const { envId, adminRoleNames } = config.saasus;
    const { userId } = user;
    const member =
      user.member ?? (await saasus.listTenantUsers(tenantId)).find((listed) => listed.id === userId);
    const held = new Set(
      member?.envs.find((env) => env.id === envId)?.roles.map((role) => role.role_name) ?? [],
    );
    const missing = adminRoleNames.filter((role) => !held.has(role));
    if (missing.length > 0) await saasus.addTenantUserRoles(tenantId, userId, envId, missing);
    await record(license, 'role', { envId, roleNames: [...adminRoleNames] });
  };

  /**
   * Applies the plan the license should have; a pending license gets no paid plan yet. `planned`:
   * the plan looked up ahead (side by side with other steps); `seen`: the tenant as this run saw it.
   */
  const stepPlan = async (
    license: LicenseItem,
    tenantId: string,
    planned?: Promise<string | undefined>,
    seen?: Tenant,
  ): Promise<boolean> => {
    if (provisioned(license).plan) return true;
    const planId = await (planned ?? deps.planFor(license, tenantId));
    if (!planId) return false;
    const tenant = seen ?? (await saasus.getTenant(tenantId));
    if (tenant.plan_id !== planId) await saasus.updateTenantPlan(tenantId, { next_plan_id: planId });
    await record(license, 'plan', { planId });
    return true;
  };

  const stepDirectoryUser = async (
    license: LicenseItem,
    form: RegistrationForm,
    planned?: Promise<string | undefined>,
  ) => {
    const directory = config.idoperation;
    if (!directory || !deps.idoperation) return;
    if (provisioned(license).directoryUser) return;
    const planId =
      provisioned(license).plan?.planId ??
      (planned ? await planned : undefined) ??
      productFor(config, license.productCode).plans.defaultPlanId;
    const services = directoryServicesFor(directory.servicesByPlan, planId);
    // iDoperation has no lookup by email: remember that we tried, so a 409 after a crash can be
    // told apart from an account that existed before us.
    const triedBefore = license.directoryRegistrationAttemptedAt !== undefined;
    if (!triedBefore) {
      await store.setAttributes(license.licenseKey, {
        directoryRegistrationAttemptedAt: now().toISOString(),
      });
    }
    try {
      const user = await deps.idoperation.registerUser({
        login_id: form.adminEmail,
        name: form.adminName,
        // Buyers sign in through SaaSus, so the directory user is federated: no password is made.
        is_external: 1,
        services,
        locale: directory.locale,
        is_notified: 0,
      });
      await record(license, 'directoryUser', { userId: user.id });
    } catch (error) {
      if (!(error instanceof IdoperationConflictError)) throw error;
      const unresolved = triedBefore
        ? 'registered by an earlier attempt whose answer was lost; link the user id by hand'
        : 'login_id already belonged to a directory user; link the user id by hand';
      logger.warn('Directory user could not be registered', { licenseKey: license.licenseKey, unresolved });
      await record(license, 'directoryUser', { unresolved });
    }
  };

  const provisionHeld = async (
    license: LicenseItem,
    submitted: RegistrationForm,
    enter: (step: ProvisioningStep) => void,
  ): Promise<ProvisioningOutcome> => {
    const { licenseKey } = license;
    const attached = provisioned(license).tenant;
    if (attached?.linked) {
      enter('plan');
      // Linked to an account that existed before: who belongs to it (and as what) is that account's
      // business, so a registration submitted afterwards adds nobody to it.
      const planApplied = await stepPlan(license, attached.tenantId);
      return { tenantId: attached.tenantId, status: planApplied ? 'ready' : 'preparing' };
    }
    const form = provisioned(license).registration ?? (await record(license, 'registration', submitted));
    // Published after the registration is recorded and remembered apart from it, so a crash in
    // between publishes it on the retry (at least once; a crash right after publishing repeats it).
    const publishRegistered = async () => {
      if (license[REGISTERED_EVENT_ATTRIBUTE] !== undefined) return;
      await deps.publish([
        {
          detailType: domainEventTypes.licenseRegistered,
          detail: {
            licenseKey,
            customerAwsAccountId: license.customerAwsAccountId,
            tenantName: form.tenantName,
          },
          resources: license.licenseArn ? [license.licenseArn] : [],
        },
      ]);
      const publishedAt = now().toISOString();
      await store.setAttributes(licenseKey, { [REGISTERED_EVENT_ATTRIBUTE]: publishedAt });
      license[REGISTERED_EVENT_ATTRIBUTE] = publishedAt;
    };

    // Each SaaSus round trip is paid by a waiting buyer, so steps that do not need each other run
    // side by side: the SaaS user, the tenant and the plan look-up; then, once the tenant exists,
    // the plan, the tenant user (once the SaaS user exists too) with its role, and the directory user.
    const planned = provisioned(license).plan ? undefined : deps.planFor(license);
    // Settled at once so a failed look-up is not an unhandled rejection while the steps run.
    planned?.catch(() => {});
    const [, , tenant] = await allSteps([
      publishRegistered(),
      inStep('saasUser', () => stepSaasUser(license, form)),
      inStep('tenant', () => stepTenant(license, form)),
    ]);
    const { tenantId } = tenant;
    const [planApplied] = await allSteps([
      inStep('plan', () => stepPlan(license, tenantId, planned, tenant.seen)),
      inStep('tenantUser', () => stepTenantUser(license, tenant, form)).then((user) =>
        inStep('role', () => stepRole(license, tenantId, user)),
      ),
      inStep('directoryUser', () => stepDirectoryUser(license, form, planned)),
    ]);
    enter('completed');

    if (!provisioned(license).completed) {
      await deps.publish([
        {
          detailType: domainEventTypes.tenantProvisioned,
          detail: { licenseKey, tenantId, planId: provisioned(license).plan?.planId ?? null },
          resources: license.licenseArn ? [license.licenseArn] : [],
        },
      ]);
      await record(license, 'completed', { at: now().toISOString() });
    }
    return { tenantId, status: planApplied ? 'ready' : 'preparing' };
  };

  const linkHeld = async (
    license: LicenseItem,
    tenantId: string,
    enter: (step: ProvisioningStep) => void,
  ): Promise<ProvisioningOutcome> => {
    const { licenseKey } = license;
    enter('tenant');
    const done = provisioned(license).tenant;
    if (done && done.tenantId !== tenantId) {
      throw new ProvisioningError('This license is already attached to another tenant');
    }
    if (!done) {
      // The claim comes first: of two licenses linking one tenant at once, the loser writes nothing.
      await claimTenant(license, tenantId, { existedBefore: true });
      try {
        await ensureTenantAttributes();
        const tenant = await saasus.getTenant(tenantId);
        // The buyer's license of another product keeps the attribute: this one is found through its
        // record's tenant (the `byTenant` index), as every license is.
        const holder = tenant.attributes[LICENSE_ATTRIBUTE];
        const heldByOtherProduct =
          typeof holder === 'string' &&
          holder !== '' &&
          holder !== licenseKey &&
          (await store
            .get(holder)
            .then(
              (held) =>
                held !== undefined && held.productCode !== license.productCode && held.status !== 'ended',
            ));
        await saasus.updateTenant(tenantId, {
          name: tenant.name,
          attributes: {
            ...tenant.attributes,
            ...tenantAttributes(license),
            ...(heldByOtherProduct ? { [LICENSE_ATTRIBUTE]: holder } : {}),
          },
          back_office_staff_email: tenant.back_office_staff_email,
        });
        await store.setAttributes(licenseKey, { tenantId });
        license.tenantId = tenantId;
        // What the tenant had before us, so revocation can give it back.
        await record(license, 'tenant', { tenantId, linked: true, previousPlanId: tenant.plan_id ?? null });
      } catch (error) {
        // Not attached: free the tenant (a retry claims it again).
        if (!provisioned(license).tenant) {
          await deps.claims
            .releaseTenant(license.productCode, tenantId, licenseKey)
            .catch(() => logger.warn('Tenant claim not released', { licenseKey, tenantId }));
        }
        throw error;
      }
    }
    enter('plan');
    const planApplied = await stepPlan(license, tenantId);
    enter('completed');
    if (!provisioned(license).completed) {
      await deps.publish([
        {
          detailType: domainEventTypes.tenantProvisioned,
          detail: { licenseKey, tenantId, linked: true, planId: provisioned(license).plan?.planId ?? null },
          resources: license.licenseArn ? [license.licenseArn] : [],
        },
      ]);
      await record(license, 'completed', { at: now().toISOString() });
    }
    return { tenantId, status: planApplied ? 'ready' : 'preparing' };
  };

  return {
    /**
     * Runs (or resumes) provisioning for a license with the buyer's registration. The first
     * registration recorded wins, so a resubmit after a crash cannot fork the account.
     */
    provision: (licenseKey: string, submitted: RegistrationForm): Promise<ProvisioningOutcome> =>
      withLease(licenseKey, (license) =>
        counted(license, (enter) => provisionHeld(license, submitted, enter)),
      ),

    /**
     * Attaches a license to a tenant the buyer already administers (proven through SaaSus).
     * `allowedTenantIds` are the tenants SaaSus says the signed-in user holds an admin role in
     * (`saasus.adminRoleNames` in `saasus.envId`); any other tenant is refused before anything is written.
     */
    async linkExistingTenant(
      licenseKey: string,
      tenantId: string,
      allowedTenantIds: readonly string[],
    ): Promise<ProvisioningOutcome> {
      if (!allowedTenantIds.includes(tenantId)) {
        throw new ProvisioningError('The signed-in user does not administer that tenant');
      }
      return withLease(licenseKey, (license) =>
        counted(license, (enter) => linkHeld(license, tenantId, enter)),
      );
    },
  };
};

export type Provisioning = ReturnType<typeof createProvisioning>;
