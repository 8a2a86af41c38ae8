import type { DomainEvent } from '../domain-events.js';
import { type RetryOptions, withRetry } from '../retry.js';
import { LicenseConflictError, type LicenseItem, type LicenseStore } from '../store/licenses.js';
import { eventAttributes, type OutboxEntry, outboxOf } from './license-item.js';

/**
 * Writes of the event processors. Every write reads the item, decides from what it read and
 * writes with the item's version; when someone else wrote in between (`LicenseConflictError`) it
 * reads again and decides again, so a concurrent change is merged, never overwritten.
 */

export type ConflictRetryOptions = Partial<Pick<RetryOptions, 'retries' | 'baseDelayMs' | 'maxDelayMs'>>;

/** The item to update does not exist (anymore). */
export class LicenseMissingError extends Error {
  override readonly name = 'LicenseMissingError';
}

export interface LicenseChange<T> {
  /** Attributes to set; omitted or empty: nothing to write. */
  readonly attributes?: Record<string, unknown>;
  readonly result: T;
}

export interface LicenseUpdate<T> {
  /** The item after the write (or as read, when nothing was written). */
  readonly item: LicenseItem;
  readonly written: boolean;
  readonly result: T;
}

/** Read → decide → conditional write, repeated on a concurrent change (jittered backoff). */
export const updateLicense = async <T>(
  store: LicenseStore,
  licenseKey: string,
  decide: (item: LicenseItem) => LicenseChange<T>,
  retry: ConflictRetryOptions = {},
): Promise<LicenseUpdate<T>> =>
  withRetry(
    async () => {
      const item = await store.get(licenseKey);
      if (!item) throw new LicenseMissingError(`License ${licenseKey} does not exist`);
      const change = decide(item);
      if (!change.attributes || Object.keys(change.attributes).length === 0) {
        return { item, written: false, result: change.result };
      }
      const written = await store.setAttributes(licenseKey, change.attributes, {
        expectedVersion: item.version,
      });
      return { item: written, written: true, result: change.result };
    },
    {
      retries: 8,
      baseDelayMs: 20,
      maxDelayMs: 500,
      ...retry,
      isRetryable: (error) => error instanceof LicenseConflictError,
    },
  );

/**
 * Publishes the domain events an event put into the license's outbox (entries whose id starts
 * with `idPrefix`, see `appendToOutbox`), then removes them from it. A crash in between publishes
 * them again on the retry or redrive of that event (at least once, as EventBridge delivers); a
 * run never publishes another event's entries, so two events processed at once do not both
 * publish the same entry. Returns the detail-types published.
 */
export const publishOutbox = async (
  store: LicenseStore,
  item: LicenseItem,
  idPrefix: string,
  publish: (events: DomainEvent[]) => Promise<unknown>,
  retry?: ConflictRetryOptions,
): Promise<string[]> => {
  const pending = outboxOf(item).filter((entry) => entry.id.startsWith(`${idPrefix}#`));
  if (pending.length === 0) return [];
  const resources = typeof item.licenseArn === 'string' ? [item.licenseArn] : [];
  await publish(
    pending.map((entry: OutboxEntry) => ({ detailType: entry.detailType, detail: entry.detail, resources })),
  );
  const published = new Set(pending.map((entry) => entry.id));
  await updateLicense(
    store,
    item.licenseKey,
    (current) => {
      const outbox = outboxOf(current);
      const remaining = outbox.filter((entry) => !published.has(entry.id));
      return remaining.length === outbox.length
        ? { result: undefined }
        : { attributes: { [eventAttributes.outbox]: remaining }, result: undefined };
    },
    retry,
  );
  return pending.map((entry) => entry.detailType);
};
