import { isDeepStrictEqual } from 'node:util';
import { type DeploymentConfig, productFor } from '../config.js';
import type { DomainEvent } from '../domain-events.js';
import type { IdoperationClient } from '../idoperation/index.js';
import { type DesiredEffects, desiredEffects, tenantEffects } from '../license/effects.js';
import { type EntitlementLike, snapshotFromEntitlements } from '../license/entitlements.js';
import { licenseLookupFor, pickLicense } from '../license/locate.js';
import {
  applySignal,
  initialRecord,
  type LicenseRecord,
  mergeRecords,
  parseLicenseRecord,
  recordEntitlements,
  recordFinalFlush,
} from '../license/record.js';
import type { LicenseSignal } from '../license/signal.js';
import { deriveStatus, type LicenseStatus } from '../license/status.js';
import { domainEventsFor, licenseDomainEventTypes } from '../license/transitions.js';
import type { EntitlementFilter } from '../marketplace/entitlements.js';
import type { SaasusClient } from '../saasus/client.js';
import type { LicenseItem, LicenseStore } from '../store/licenses.js';
import {
  appendToOutbox,
  effectContextOf,
  entitlementFilterOf,
  eventAttributes,
  outboxOf,
  subjectOf,
} from './license-item.js';
import { type ConflictRetryOptions, publishOutbox, updateLicense } from './license-writes.js';
import { createTenantSync, type EventLogger, type TenantAction } from './tenant-sync.js';

/**
 * The event processor: what one AWS Marketplace signal (EventBridge or legacy SNS, already parsed)
 * does to a license, in steps that can each be repeated safely:
 *
 * 1. Locate the license (`licenseLookupFor` / `pickLicense`); a license event for an unknown
 *    license creates its item (events may arrive before sign-up), an agreement event that cannot
 *    be located yet fails with the reason, to be retried.
 * 2. Read the entitlements (all pages) when the signal calls for it: License Updated, and an
 *    activation, for listings with contracts. The snapshot is tagged with the event's time.
 * 3. Merge the signal (and snapshot) into the `lifecycle` record with a conditional write (on a
 *    concurrent change: read again, merge again), together with `status` and the transition's
 *    domain events in an outbox on the item.
 * 4. Request the final metering flush when the record says it is due (first: its window is the
 *    only deadline), then record it.
 * 5. Publish the domain events this signal put into the outbox.
 * 6. Reconcile the SaaSus tenant and iDoperation users with the record's desired effects, reading
 *    what is there first; repeated until nothing is left to do (a concurrent handler may have
 *    changed the license meanwhile).
 *
 * A failure at any step throws; the retry (Lambda, SQS) finds the record already merged and
 * finishes the remaining steps, so a retried event ends in the state a clean run gives.
 */

export interface FinalFlushRequest {
  readonly endingSince: string;
  readonly finalUsageWindowEndsAt: string;
  /** The `License Ending` detail: licenseKey, tenantId, status, plan, dimensions and the window. */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface LicenseEventDependencies {
  readonly config: DeploymentConfig;
  readonly store: LicenseStore;
  readonly saasus: SaasusClient;
  /** Absent when no iDoperation directory is configured. */
  readonly idoperation?: IdoperationClient | undefined;
  /** GetEntitlements, every page, for one buyer. */
  readonly readEntitlements: (
    productCode: string,
    filter: EntitlementFilter,
  ) => Promise<readonly EntitlementLike[]>;
  readonly publish: (events: DomainEvent[]) => Promise<unknown>;
  /**
   * Asks metering to send the final usage of the license now (the handler publishes `License
   * Ending`, which a rule on the domain bus turns into a flush message). Called at least once per
   * ending episode of a metered license; the flush is recorded on the license after it returns.
   */
  readonly requestFinalFlush: (licenseKey: string, request: FinalFlushRequest) => Promise<void>;
  readonly logger: EventLogger;
  readonly conflictRetry?: ConflictRetryOptions;
  /** Reconcile passes before giving up (a retry continues). Default 3. */
  readonly maxSyncPasses?: number;
}

export interface LicenseEventOutcome {
  /** `applied`: the record changed; `already-applied`: it held the event (a repeat or a retry). */
  readonly status: 'applied' | 'already-applied';
  readonly licenseKey: string;
  readonly licenseStatus: LicenseStatus;
  /** Detail-types published by this run (the outbox and the flush request). */
  readonly domainEvents: readonly string[];
  /** Actions carried out by this run, e.g. `set-plan`, `disable-directory-user`. */
  readonly actions: readonly string[];
}

/** No license can be found for the signal yet; the message is the reason (it ends up in the DLQ). */
export class LicenseNotLocatedError extends Error {
  override readonly name = 'LicenseNotLocatedError';
}

/**
 * The event's acceptor (the buyer's AWS account) is not the account the license belongs to:
 * acting on it could change someone else's subscription, so it goes to the dead-letter queue.
 */
export class LicenseAccountMismatchError extends Error {
  override readonly name = 'LicenseAccountMismatchError';
}

/** The reconcile passes kept finding work: something keeps changing the tenant. */
export class LicenseSyncError extends Error {
  override readonly name = 'LicenseSyncError';
}

const recordOf = (item: LicenseItem): LicenseRecord => parseLicenseRecord(item.lifecycle);

/** Outbox ids of the domain events one signal decided. */
const outboxPrefix = (signal: LicenseSignal): string => `${signal.time}|${signal.eventId}`;

const episodeDetail = (effects: DesiredEffects, item: LicenseItem): Record<string, unknown> => {
  const planId = effects.plan.kind === 'set' ? effects.plan.planId : undefined;
  return {
    ...subjectOf(item),
    status: effects.status.status,
    ...(planId === undefined ? {} : { planId }),
    entitledDimensions: [...effects.entitledDimensions],
    endingSince: effects.status.endingSince,
    finalUsageWindowEndsAt: effects.status.finalUsageWindowEndsAt,
  };
};

export const createLicenseEventProcessor = (deps: LicenseEventDependencies) => {
  const { config, store, logger } = deps;
  /** The identity mode of the signal's product; a signal naming none is judged by its locator. */
  const identityModeOf = (signal: LicenseSignal) => {
    if (signal.productCode !== undefined) return productFor(config, signal.productCode).identityMode;
    const modes = new Set(config.products.map((product) => product.identityMode));
    if (modes.size === 1) return [...modes][0] ?? 'license';
    return signal.locator.by === 'customerIdentifier' ? 'legacy' : 'license';
  };
  const sync = createTenantSync(deps);
  const effectsOf = (record: LicenseRecord, item: LicenseItem) =>
    desiredEffects(record, effectContextOf(config, item));

  /** Creates the item of a license first heard of through an event, where the event names its key. */
  const createFromSignal = async (signal: LicenseSignal): Promise<LicenseItem | undefined> => {
    const { locator } = signal;
    const identityMode = identityModeOf(signal);
    const [onlyProduct, ...others] = config.products;
    // An event that names no product can only create a license when the deployment has one product.
    const productCode = signal.productCode ?? (others.length === 0 ? onlyProduct?.productCode : undefined);
    if (productCode === undefined) return undefined;
    if (locator.by === 'licenseArn' && identityMode === 'license') {
      return store.upsertIdentity({
        licenseKey: locator.licenseArn,
        identityMode,
        licenseArn: locator.licenseArn,
        ...(locator.customerAwsAccountId ? { customerAwsAccountId: locator.customerAwsAccountId } : {}),
        productCode,
      });
    }
    if (locator.by === 'customerIdentifier' && identityMode === 'legacy') {
      return store.upsertIdentity({
        licenseKey: locator.customerIdentifier,
        identityMode,
        customerIdentifier: locator.customerIdentifier,
        productCode,
      });
    }
    return undefined;
  };

  const locate = async (signal: LicenseSignal): Promise<LicenseItem> => {
    const lookup = licenseLookupFor(signal.locator, identityModeOf(signal));
    if (lookup.kind === 'get') {
      const item = (await store.get(lookup.licenseKey)) ?? (await createFromSignal(signal));
      if (!item) throw new LicenseNotLocatedError(`no license ${lookup.licenseKey} yet`);
      const acceptor = signal.locator.by === 'licenseArn' ? signal.locator.customerAwsAccountId : undefined;
      if (
        acceptor !== undefined &&
        item.customerAwsAccountId !== undefined &&
        acceptor !== item.customerAwsAccountId
      ) {
        throw new LicenseAccountMismatchError(
          `event acceptor account ${acceptor} is not license ${lookup.licenseKey}'s account ${item.customerAwsAccountId}`,
        );
      }
      return item;
    }
    const candidates =
      lookup.indexName === 'byAccount'
        ? await store.findByAccount(lookup.value)
        : await store.findByCustomerIdentifier(lookup.value);
    const match = pickLicense(
      signal.locator,
      candidates.map((item) => ({
        licenseKey: item.licenseKey,
        ...(item.licenseArn ? { licenseArn: item.licenseArn } : {}),
        ...(item.customerIdentifier ? { customerIdentifier: item.customerIdentifier } : {}),
        ...(item.lifecycle === undefined ? {} : { lifecycle: recordOf(item) }),
      })),
    );
    if (!match.found) {
      const created = await createFromSignal(signal);
      if (created) return created;
      throw new LicenseNotLocatedError(match.reason);
    }
    const item = candidates.find((candidate) => candidate.licenseKey === match.licenseKey);
    return item ?? (await locateByKey(match.licenseKey));
  };

  const locateByKey = async (licenseKey: string): Promise<LicenseItem> => {
    const item = await store.get(licenseKey);
    if (!item) throw new LicenseNotLocatedError(`no license ${licenseKey} yet`);
    return item;
  };

  /** Whether the signal calls for a GetEntitlements read: contracts, on License Updated or activation. */
  const wantsEntitlements = (signal: LicenseSignal, item: LicenseItem): boolean => {
    if (productFor(config, item.productCode).pricingModel === 'subscription') return false;
    if (signal.kind === 'license-updated') return true;
    const before = recordOf(item);
    const after = applySignal(before, signal);
    if (after === before) return false;
    return effectsOf(before, item).access !== 'enabled' && effectsOf(after, item).access === 'enabled';
  };

  /** Step 3: merge and persist, with the transition's domain events in the outbox. */
  const persist = (licenseKey: string, signal: LicenseSignal, contribution: LicenseRecord) =>
    updateLicense(
      store,
      licenseKey,
      (item) => {
        const before = recordOf(item);
        const after = mergeRecords(before, contribution);
        if (isDeepStrictEqual(after, before)) return { result: { changed: false } };
        const effectsBefore = effectsOf(before, item);
        const effectsAfter = effectsOf(after, item);
        // A metered license's `License Ending` is the flush request itself (step 4), sent once per
        // ending episode; only unmetered licenses get it here, as a plain transition event.
        const drafts = domainEventsFor(effectsBefore, effectsAfter).filter(
          (draft) =>
            !(draft.detailType === licenseDomainEventTypes.licenseEnding && effectsAfter.finalFlushDue),
        );
        return {
          attributes: {
            [eventAttributes.lifecycle]: after,
            [eventAttributes.status]: deriveStatus(after).status,
            ...(drafts.length > 0
              ? {
                  [eventAttributes.outbox]: appendToOutbox(
                    outboxOf(item),
                    drafts,
                    outboxPrefix(signal),
                    subjectOf(item),
                  ),
                }
              : {}),
          },
          result: { changed: true },
        };
      },
      deps.conflictRetry,
    );

  /** Step 4: the final flush, when due; returns whether it was requested. */
  const flushIfDue = async (licenseKey: string): Promise<boolean> => {
    const item = await locateByKey(licenseKey);
    const effects = effectsOf(recordOf(item), item);
    const episode = effects.status.endingSince;
    if (!effects.finalFlushDue || episode === undefined) return false;
    await deps.requestFinalFlush(licenseKey, {
      endingSince: episode,
      finalUsageWindowEndsAt: effects.status.finalUsageWindowEndsAt ?? episode,
      detail: episodeDetail(effects, item),
    });
    await updateLicense(
      store,
      licenseKey,
      (current) => {
        const before = recordOf(current);
        const after = recordFinalFlush(before, episode);
        return after === before
          ? { result: undefined }
          : { attributes: { [eventAttributes.lifecycle]: after }, result: undefined };
      },
      deps.conflictRetry,
    );
    return true;
  };

  /** The license's effects as its tenant sees them, with the tenant's licenses of other products. */
  const withOtherProducts = async (item: LicenseItem, effects: DesiredEffects): Promise<DesiredEffects> => {
    if (!effects.registration || config.products.length < 2) return effects;
    const others = (await store.findByTenant(effects.registration.tenantId)).filter(
      (other) => other.licenseKey !== item.licenseKey && other.productCode !== item.productCode,
    );
    return tenantEffects(
      { productCode: item.productCode, effects },
      others.map((other) => ({ productCode: other.productCode, effects: effectsOf(recordOf(other), other) })),
      config.products.map((product) => product.productCode),
    );
  };

  /** Step 6: reconcile until nothing is left; returns the actions carried out. */
  const syncTenant = async (licenseKey: string): Promise<TenantAction[]> => {
    const done: TenantAction[] = [];
    const passes = deps.maxSyncPasses ?? 3;
    for (let pass = 0; pass < passes; pass++) {
      const item = await locateByKey(licenseKey);
      const effects = await withOtherProducts(item, effectsOf(recordOf(item), item));
      if (!effects.registration) return done;
      const observed = await sync.observe(effects.registration);
      if (!observed) {
        logger.warn('The SaaSus tenant of the license no longer exists; nothing to reconcile', {
          licenseKey,
          tenantId: effects.registration.tenantId,
        });
        return done;
      }
      const actions = sync.plan(effects, item, observed);
      if (actions.length === 0) return done;
      for (const action of actions) {
        await sync.execute(licenseKey, action);
        logger.info('Reconcile action done', { licenseKey, ...action });
        done.push(action);
      }
    }
    throw new LicenseSyncError(
      `license ${licenseKey}: the tenant still differs from the license after ${passes} reconcile passes`,
    );
  };

  return {
    /** Applies one Marketplace signal end to end (see the module comment). */
    async process(signal: LicenseSignal): Promise<LicenseEventOutcome> {
      const located = await locate(signal);
      const { licenseKey } = located;
      let contribution = applySignal(initialRecord(), signal);
      if (wantsEntitlements(signal, located)) {
        const read = await deps.readEntitlements(located.productCode, entitlementFilterOf(located));
        contribution = recordEntitlements(contribution, snapshotFromEntitlements(read, signal.time));
      }
      const persisted = await persist(licenseKey, signal, contribution);
      const flushed = await flushIfDue(licenseKey);
      const published = await publishOutbox(
        store,
        await locateByKey(licenseKey),
        outboxPrefix(signal),
        deps.publish,
        deps.conflictRetry,
      );
      const actions = await syncTenant(licenseKey);
      const final = await locateByKey(licenseKey);
      const outcome: LicenseEventOutcome = {
        status: persisted.result.changed ? 'applied' : 'already-applied',
        licenseKey,
        licenseStatus: deriveStatus(recordOf(final)).status,
        domainEvents: [...(flushed ? [licenseDomainEventTypes.licenseEnding] : []), ...published],
        actions: [...(flushed ? ['flush-final-usage'] : []), ...actions.map((action) => action.type)],
      };
      logger.info('Marketplace event processed', {
        eventId: signal.eventId,
        sourceType: signal.sourceType,
        ...outcome,
      });
      return outcome;
    },
  };
};

export type LicenseEventProcessor = ReturnType<typeof createLicenseEventProcessor>;
