import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { logger as defaultLogger } from './powertools.js';
import { type RetryOptions, withRetry } from './retry.js';

/**
 * Publishes the bridge's own domain events to its EventBridge bus, so every capability emits the
 * same detail-types and other systems can follow a license's life without reading our tables.
 */

/** Every detail-type the bridge publishes. Use these constants, never ad-hoc strings. */
export const domainEventTypes = {
  licenseRegistered: 'License Registered',
  tenantProvisioned: 'Tenant Provisioned',
  licenseActivated: 'License Activated',
  entitlementsChanged: 'Entitlements Changed',
  licenseEnding: 'License Ending',
  licenseRevoked: 'License Revoked',
  licenseReinstated: 'License Reinstated',
  tenantDeleted: 'Tenant Deleted',
  meteringStopped: 'Metering Stopped',
  /** A license tried to attach a tenant that another license of the product holds; nothing changed. */
  tenantClaimRefused: 'Tenant Claim Refused',
} as const;

export type DomainEventType = (typeof domainEventTypes)[keyof typeof domainEventTypes];

export const defaultDomainEventSource = 'marketplace-bridge';

export interface DomainEvent {
  /** One of `domainEventTypes`. */
  readonly detailType: string;
  /** A JSON object; it must serialize (no cycles, no BigInt). */
  readonly detail: object;
  /** When it happened; default: when EventBridge receives it. */
  readonly time?: Date;
  /** ARNs the event is about, e.g. the license ARN. */
  readonly resources?: readonly string[];
}

export interface PublishResult {
  /** EventBridge event ids, in the order of the published events. */
  readonly eventIds: string[];
}

export interface DomainEventFailure {
  readonly detailType: string;
  readonly errorCode: string;
  readonly errorMessage?: string;
}

/** An event could not be built into a PutEvents entry (bad detail-type, detail, time or size). */
export class DomainEventValidationError extends Error {
  override readonly name = 'DomainEventValidationError';
}

/**
 * Some events were not delivered, even after retries. The message lists detail-types and error
 * codes only: details may carry customer data and are never put into errors.
 */
export class DomainEventPublishError extends Error {
  override readonly name = 'DomainEventPublishError';

  constructor(
    readonly failures: readonly DomainEventFailure[],
    readonly publishedCount: number,
    options?: ErrorOptions,
  ) {
    const counts = new Map<string, number>();
    for (const failure of failures) {
      const key = `${failure.detailType} (${failure.errorCode})`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const listed = [...counts].map(([key, count]) => (count > 1 ? `${key} x${count}` : key)).join(', ');
    super(
      `${failures.length} of ${failures.length + publishedCount} domain event(s) were not published: ${listed}`,
      options,
    );
  }
}

/** PutEvents accepts at most 10 entries and 256 KiB per call. */
export const putEventsMaxEntries = 10;
export const putEventsMaxBytes = 256 * 1024;

/** The entry codes AWS documents as retryable; every other code fails for good. */
const retryableErrorCodes: ReadonlySet<string> = new Set(['InternalFailure', 'ThrottlingException']);

export type DomainEventPublisherRetryOptions = Partial<
  Pick<RetryOptions, 'retries' | 'baseDelayMs' | 'maxDelayMs' | 'sleep' | 'random'>
>;

export interface DomainEventPublisherOptions {
  readonly client: EventBridgeClient;
  readonly eventBusName: string;
  readonly source?: string;
  /** Backoff for entries that come back failed; default 3 retries, 100 ms base, 2 s cap. */
  readonly retry?: DomainEventPublisherRetryOptions;
  readonly logger?: Pick<Logger, 'warn'>;
}

export interface DomainEventPublisher {
  publish(events: readonly DomainEvent[]): Promise<PublishResult>;
}

/** Entry size as EventBridge counts it: 14 bytes for a time, plus the UTF-8 size of each string. */
const entrySize = (entry: PutEventsRequestEntry): number => {
  const bytes = (value: string | undefined) => (value === undefined ? 0 : Buffer.byteLength(value, 'utf8'));
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + bytes(resource), 0)
  );
};

const toEntry = (
  event: DomainEvent,
  index: number,
  eventBusName: string,
  source: string,
): PutEventsRequestEntry => {
  const where = `domain event #${index}`;
  if (typeof event.detailType !== 'string' || event.detailType.trim() === '') {
    throw new DomainEventValidationError(`${where}: detailType must be a non-empty string`);
  }
  const named = `${where} (${event.detailType})`;
  if (typeof event.detail !== 'object' || event.detail === null || Array.isArray(event.detail)) {
    throw new DomainEventValidationError(`${named}: detail must be a JSON object`);
  }
  let detail: string;
  try {
    detail = JSON.stringify(event.detail);
  } catch {
    throw new DomainEventValidationError(`${named}: detail does not serialize to JSON`);
  }
  if (event.time !== undefined && (!(event.time instanceof Date) || Number.isNaN(event.time.getTime()))) {
    throw new DomainEventValidationError(`${named}: time must be a valid Date`);
  }
  if (event.resources?.some((resource) => typeof resource !== 'string' || resource === '')) {
    throw new DomainEventValidationError(`${named}: resources must be non-empty strings`);
  }
  const entry: PutEventsRequestEntry = {
    EventBusName: eventBusName,
    Source: source,
    DetailType: event.detailType,
    Detail: detail,
    ...(event.time ? { Time: event.time } : {}),
    ...(event.resources ? { Resources: [...event.resources] } : {}),
  };
  if (entrySize(entry) > putEventsMaxBytes) {
    throw new DomainEventValidationError(
      `${named}: larger than the ${putEventsMaxBytes}-byte PutEvents limit`,
    );
  }
  return entry;
};

/** Splits entries into PutEvents calls: at most 10 entries and 256 KiB each, order kept. */
const toBatches = (entries: readonly { index: number; entry: PutEventsRequestEntry }[]) => {
  const batches: { index: number; entry: PutEventsRequestEntry }[][] = [];
  let current: (typeof batches)[number] = [];
  let currentBytes = 0;
  for (const item of entries) {
    const size = entrySize(item.entry);
    if (current.length === putEventsMaxEntries || currentBytes + size > putEventsMaxBytes) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
};

/** The exception name of a failed call (`ResourceNotFoundException`), or a network error code. */
const callErrorCode = (error: unknown): string => {
  if (!(error instanceof Error)) return 'UnknownError';
  const code = (error as { code?: unknown }).code;
  return error.name === 'Error' && typeof code === 'string' ? code : error.name;
};

/** Thrown inside the retry loop while some entries of a batch are still failing retryably. */
class RetryableEntriesFailed extends Error {}

export const createDomainEventPublisher = (options: DomainEventPublisherOptions): DomainEventPublisher => {
  if (options.eventBusName.trim() === '') {
    throw new DomainEventValidationError('eventBusName must be a non-empty bus name or ARN');
  }
  const source = options.source ?? defaultDomainEventSource;
  if (source.trim() === '') throw new DomainEventValidationError('source must be a non-empty string');
  const retry = { retries: 3, baseDelayMs: 100, maxDelayMs: 2_000, ...options.retry };
  const log = options.logger ?? defaultLogger;

  return {
    async publish(events) {
      const entries = events.map((event, index) => ({
        index,
        entry: toEntry(event, index, options.eventBusName, source),
      }));
      const eventIds: string[] = new Array(events.length);
      const failures = new Map<number, DomainEventFailure>();
      let wholeCallError: unknown;

      for (const batch of toBatches(entries)) {
        let pending = batch;
        try {
          await withRetry(
            async () => {
              const output = await options.client.send(
                new PutEventsCommand({ Entries: pending.map((item) => item.entry) }),
              );
              const stillFailing: typeof pending = [];
              pending.forEach((item, position) => {
                const result = output.Entries?.[position];
                if (result?.EventId && !result.ErrorCode) {
                  eventIds[item.index] = result.EventId;
                  failures.delete(item.index);
                  return;
                }
                const errorCode = result?.ErrorCode ?? 'MissingResult';
                failures.set(item.index, {
                  detailType: item.entry.DetailType ?? '',
                  errorCode,
                  ...(result?.ErrorMessage ? { errorMessage: result.ErrorMessage } : {}),
                });
                if (retryableErrorCodes.has(errorCode) || errorCode === 'MissingResult') {
                  stillFailing.push(item);
                }
              });
              pending = stillFailing;
              if (pending.length > 0) throw new RetryableEntriesFailed();
            },
            {
              ...retry,
              isRetryable: (error) => error instanceof RetryableEntriesFailed,
              onRetry: (_error, attempt, delayMs) =>
                log.warn('Retrying failed domain events', {
                  attempt,
                  delayMs,
                  detailTypes: pending.map((item) => item.entry.DetailType),
                }),
            },
          );
        } catch (error) {
          if (!(error instanceof RetryableEntriesFailed)) {
            // The whole call failed (after the SDK's own retries): every pending entry failed with it.
            const errorCode = callErrorCode(error);
            wholeCallError ??= error;
            for (const item of pending) {
              failures.set(item.index, { detailType: item.entry.DetailType ?? '', errorCode });
            }
          }
        }
      }

      if (failures.size > 0) {
        const failed = [...failures.entries()].sort(([a], [b]) => a - b).map(([, failure]) => failure);
        throw new DomainEventPublishError(failed, events.length - failures.size, { cause: wholeCallError });
      }
      return { eventIds };
    },
  };
};
