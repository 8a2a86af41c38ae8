import * as z from 'zod';
import { describeIssues } from '../config.js';
import { type EntitlementSnapshot, newerSnapshot } from './entitlements.js';
import type { LicenseSignal } from './signal.js';

/**
 * The license record: a compact account of what has been seen about one license, stored as the
 * `lifecycle` attribute of its Licenses item. Applying a signal is a merge where every field is
 * a max, a min or a union, so the record after a set of signals is the same whatever the order
 * and however often each arrives. The status is never stored here: `deriveStatus` computes it
 * from the record, so order-independence of the record carries over to the status.
 */

export interface AgreementFacts {
  /** Earliest event time that mentioned the agreement. */
  readonly firstSeenAt: string;
  readonly created?: {
    readonly at: string;
    readonly intent?: string;
    readonly previousAgreementId?: string;
  };
  /** Latest amendment. */
  readonly amendedAt?: string;
  readonly ended?: { readonly at: string; readonly status?: string };
}

export interface OfferFacts {
  readonly at: string;
  readonly offerId?: string;
  readonly freeTrial?: boolean;
}

export interface LicenseRecord {
  readonly version: 1;
  /** Per agreement id. */
  readonly agreements: Readonly<Record<string, AgreementFacts>>;
  /** Latest License Updated / entitlement-updated. */
  readonly licenseUpdatedAt?: string;
  /** Latest License Deprovisioned. */
  readonly deprovisionedAt?: string;
  /** Latest of each legacy SNS subscription action. */
  readonly subscribeSuccessAt?: string;
  readonly subscribeFailAt?: string;
  readonly unsubscribePendingAt?: string;
  readonly unsubscribeSuccessAt?: string;
  /** The offer of the latest subscribe-success / subscribe-fail. */
  readonly latestOffer?: OfferFacts;
  /** Latest entitlements read (see `recordEntitlements`). */
  readonly entitlements?: EntitlementSnapshot;
  /** `endingSince` of the latest ending episode whose final usage was flushed. */
  readonly finalFlushFor?: string;
  /**
   * `<time>|<eventId>` of the newest applied events, newest first, at most `recentEventLimit`.
   * Only a shortcut for duplicates: re-applying an event that fell out of this list is harmless,
   * because the merge is idempotent.
   */
  readonly recentEvents: readonly string[];
}

export const recentEventLimit = 50;

export const initialRecord = (): LicenseRecord => ({ version: 1, agreements: {}, recentEvents: [] });

/** JSON with sorted keys: a total order for tie-breaks that ignores how the record was stored. */
const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );

const maxTime = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined || a >= b ? a : b;
const minTime = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined || a <= b ? a : b;

/** The fact with the later (or, with `earliest`, earlier) `at`; ties go to the larger JSON. */
const pick = <T extends { at: string }>(
  a: T | undefined,
  b: T | undefined,
  earliest = false,
): T | undefined => {
  if (!a) return b;
  if (!b) return a;
  if (a.at !== b.at) return a.at < b.at === earliest ? a : b;
  return stableJson(a) >= stableJson(b) ? a : b;
};

/** Builds an object without undefined-valued keys (DynamoDB and deep equality both prefer that). */
const compact = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;

const mergeAgreement = (a: AgreementFacts | undefined, b: AgreementFacts | undefined): AgreementFacts => {
  if (!a || !b) return (a ?? b) as AgreementFacts;
  return compact({
    firstSeenAt: minTime(a.firstSeenAt, b.firstSeenAt) as string,
    created: pick(a.created, b.created, true),
    amendedAt: maxTime(a.amendedAt, b.amendedAt),
    ended: pick(a.ended, b.ended),
  });
};

/** Merges two records: commutative, associative and idempotent. */
export const mergeRecords = (a: LicenseRecord, b: LicenseRecord): LicenseRecord => {
  const agreements: Record<string, AgreementFacts> = {};
  for (const id of new Set([...Object.keys(a.agreements), ...Object.keys(b.agreements)])) {
    agreements[id] = mergeAgreement(a.agreements[id], b.agreements[id]);
  }
  const recentEvents = [...new Set([...a.recentEvents, ...b.recentEvents])]
    .sort((x, y) => (x < y ? 1 : x > y ? -1 : 0))
    .slice(0, recentEventLimit);
  return compact({
    version: 1,
    agreements,
    licenseUpdatedAt: maxTime(a.licenseUpdatedAt, b.licenseUpdatedAt),
    deprovisionedAt: maxTime(a.deprovisionedAt, b.deprovisionedAt),
    subscribeSuccessAt: maxTime(a.subscribeSuccessAt, b.subscribeSuccessAt),
    subscribeFailAt: maxTime(a.subscribeFailAt, b.subscribeFailAt),
    unsubscribePendingAt: maxTime(a.unsubscribePendingAt, b.unsubscribePendingAt),
    unsubscribeSuccessAt: maxTime(a.unsubscribeSuccessAt, b.unsubscribeSuccessAt),
    latestOffer: pick(a.latestOffer, b.latestOffer),
    entitlements: newerSnapshot(a.entitlements, b.entitlements),
    finalFlushFor: maxTime(a.finalFlushFor, b.finalFlushFor),
    recentEvents,
  });
};

export const eventKey = (signal: Pick<LicenseSignal, 'time' | 'eventId'>): string =>
  `${signal.time}|${signal.eventId}`;

/** Whether the signal's event is among the recently applied ones (a duplicate delivery). */
export const hasApplied = (record: LicenseRecord, signal: LicenseSignal): boolean =>
  record.recentEvents.includes(eventKey(signal));

/** The record holding only what one signal says. */
const factsOf = (signal: LicenseSignal): LicenseRecord => {
  const at = signal.time;
  const base = { version: 1 as const, recentEvents: [eventKey(signal)] };
  const agreement = (id: string | undefined, facts: Omit<AgreementFacts, 'firstSeenAt'> = {}) =>
    id === undefined ? {} : { [id]: compact({ firstSeenAt: at, ...facts }) };
  switch (signal.kind) {
    case 'agreement-created':
      return {
        ...base,
        agreements: agreement(signal.agreementId, {
          created: compact({ at, intent: signal.intent, previousAgreementId: signal.previousAgreementId }),
        }),
      };
    case 'agreement-amended':
      return { ...base, agreements: agreement(signal.agreementId, { amendedAt: at }) };
    case 'agreement-ended':
      return {
        ...base,
        agreements: agreement(signal.agreementId, { ended: compact({ at, status: signal.agreementStatus }) }),
      };
    case 'license-updated':
      return { ...base, agreements: agreement(signal.agreementId), licenseUpdatedAt: at };
    case 'license-deprovisioned':
      return { ...base, agreements: agreement(signal.agreementId), deprovisionedAt: at };
    case 'subscribe-success':
    case 'subscribe-fail':
      return {
        ...base,
        agreements: {},
        ...(signal.kind === 'subscribe-success' ? { subscribeSuccessAt: at } : { subscribeFailAt: at }),
        latestOffer: compact({ at, offerId: signal.offerId, freeTrial: signal.freeTrial }),
      };
    case 'unsubscribe-pending':
      return { ...base, agreements: {}, unsubscribePendingAt: at };
    case 'unsubscribe-success':
      return { ...base, agreements: {}, unsubscribeSuccessAt: at };
  }
};

/**
 * Applies one signal. A duplicate of a recently applied event returns the same record object,
 * so `after === before` tells the handler there is nothing to write.
 */
export const applySignal = (record: LicenseRecord, signal: LicenseSignal): LicenseRecord =>
  hasApplied(record, signal) ? record : mergeRecords(record, factsOf(signal));

/** Records a GetEntitlements read; an older snapshot than the stored one changes nothing. */
export const recordEntitlements = (record: LicenseRecord, snapshot: EntitlementSnapshot): LicenseRecord => {
  const entitlements = newerSnapshot(record.entitlements, snapshot);
  return entitlements === record.entitlements ? record : { ...record, entitlements };
};

/** Records that the final usage of the episode starting at `endingSince` was flushed. */
export const recordFinalFlush = (record: LicenseRecord, endingSince: string): LicenseRecord => {
  const finalFlushFor = maxTime(record.finalFlushFor, endingSince);
  return finalFlushFor === record.finalFlushFor ? record : { ...record, finalFlushFor };
};

export class LicenseRecordError extends Error {
  override readonly name = 'LicenseRecordError';
}

const time = z.string().min(1);

const licenseRecordSchema = z.object({
  version: z.literal(1, { message: 'expected record version 1' }),
  agreements: z.record(
    z.string(),
    z.object({
      firstSeenAt: time,
      created: z
        .object({ at: time, intent: z.string().optional(), previousAgreementId: z.string().optional() })
        .optional(),
      amendedAt: time.optional(),
      ended: z.object({ at: time, status: z.string().optional() }).optional(),
    }),
  ),
  licenseUpdatedAt: time.optional(),
  deprovisionedAt: time.optional(),
  subscribeSuccessAt: time.optional(),
  subscribeFailAt: time.optional(),
  unsubscribePendingAt: time.optional(),
  unsubscribeSuccessAt: time.optional(),
  latestOffer: z
    .object({ at: time, offerId: z.string().optional(), freeTrial: z.boolean().optional() })
    .optional(),
  entitlements: z.object({ observedAt: time, dimensions: z.array(z.string()) }).optional(),
  finalFlushFor: time.optional(),
  recentEvents: z.array(z.string()),
});

/** Reads a stored record back (e.g. the `lifecycle` attribute); absent means a new license. */
export const parseLicenseRecord = (value: unknown): LicenseRecord => {
  if (value === undefined || value === null) return initialRecord();
  const result = licenseRecordSchema.safeParse(value);
  if (!result.success) {
    throw new LicenseRecordError(`Invalid license record:\n${describeIssues(result.error)}`);
  }
  return compact(result.data) as LicenseRecord;
};
