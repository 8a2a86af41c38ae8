import type { AgreementFacts, LicenseRecord } from './record.js';

/**
 * The license status, derived from the record (never stored in it):
 * - `pending`: nothing says the license is live yet (e.g. sign-up ran before any event).
 * - `active`: the newest evidence is an activation.
 * - `ending`: the agreement ended or unsubscribe-pending arrived: access is revoked and the
 *   final-usage window (one hour, NOTES §b1) is open.
 * - `ended`: License Deprovisioned or unsubscribe-success: AWS accepts no more usage.
 * - `failed`: subscribe-fail and never activated.
 */
export type LicenseStatus = 'pending' | 'active' | 'ending' | 'ended' | 'failed';

export interface DerivedStatus {
  readonly status: LicenseStatus;
  /** Time of the newest activation evidence. */
  readonly activeSince?: string;
  /** The agreement behind `activeSince`, when it was an agreement. */
  readonly currentAgreementId?: string;
  /** Start of the current ending episode (`ending` and `ended`). */
  readonly endingSince?: string;
  /** End of the final-usage window: `endingSince` + 1 h. */
  readonly finalUsageWindowEndsAt?: string;
  /** When usage stopped being accepted (`ended`). */
  readonly endedAt?: string;
  readonly failedAt?: string;
}

export const finalUsageWindowMs = 60 * 60 * 1000;

/**
 * Agreement statuses that mean "continued by another agreement": the Ended event of such an
 * agreement does not end the license (AWS Agreement API AgreementStatus; both spellings of
 * SUPERSEDED appear in AWS documentation).
 */
export const succeededAgreementStatuses: ReadonlySet<string> = new Set([
  'RENEWED',
  'REPLACED',
  'SUPERSEDED',
  'SUPERCEDED',
  'ROLLED_BACK',
]);

const earliest = (times: readonly string[]): string | undefined =>
  times.reduce<string | undefined>((min, time) => (min === undefined || time < min ? time : min), undefined);

interface Evidence {
  /** Newest agreement-based or subscribe-success activation. */
  readonly activation?: { readonly at: string; readonly agreementId?: string };
  /** Ended agreements that nothing continues, and unsubscribe-pending. */
  readonly endings: readonly string[];
  /** License Deprovisioned and unsubscribe-success. */
  readonly ends: readonly string[];
}

/** When an agreement began, as far as the record knows. */
const startOf = (agreement: AgreementFacts): string =>
  agreement.created?.at ?? agreement.amendedAt ?? agreement.firstSeenAt;

/** Created or amended: only then is an agreement evidence that the license is live. */
const isAgreed = (agreement: AgreementFacts): boolean =>
  agreement.created !== undefined || agreement.amendedAt !== undefined;

const evidenceOf = (record: LicenseRecord): Evidence => {
  const agreements = Object.entries(record.agreements).sort(([a], [b]) => (a < b ? -1 : 1));
  const named = new Set(
    agreements.flatMap(([, agreement]) =>
      agreement.created?.previousAgreementId ? [agreement.created.previousAgreementId] : [],
    ),
  );
  const continuedByStatusOrLink = (id: string, agreement: AgreementFacts) =>
    named.has(id) ||
    (agreement.ended?.status !== undefined && succeededAgreementStatuses.has(agreement.ended.status));
  // Agreements the license currently stands on: agreed and not ended (or continued by another).
  const liveStarts = agreements
    .filter(
      ([id, agreement]) =>
        isAgreed(agreement) && (!agreement.ended || continuedByStatusOrLink(id, agreement)),
    )
    .map(([, agreement]) => startOf(agreement));

  const endings: string[] = [];
  let activation: Evidence['activation'];
  const consider = (at: string, agreementId?: string) => {
    if (
      !activation ||
      at > activation.at ||
      (at === activation.at && agreementId && !activation.agreementId)
    ) {
      activation = agreementId ? { at, agreementId } : { at };
    }
  };
  for (const [id, agreement] of agreements) {
    const start = startOf(agreement);
    // An ended agreement does not end the license when a renewal/replacement continues it, or
    // when a newer agreement is live (the old agreement's End may arrive after the new Created).
    const superseded = continuedByStatusOrLink(id, agreement) || liveStarts.some((live) => live > start);
    if (agreement.ended && !superseded) {
      endings.push(agreement.ended.at);
      // It was active until it ended.
      if (isAgreed(agreement) && start < agreement.ended.at) consider(start, id);
    } else if (isAgreed(agreement) || agreement.ended) {
      consider(start, id);
    }
  }
  if (record.subscribeSuccessAt !== undefined) consider(record.subscribeSuccessAt);
  if (record.unsubscribePendingAt !== undefined) endings.push(record.unsubscribePendingAt);
  const ends = [record.deprovisionedAt, record.unsubscribeSuccessAt].filter(
    (at): at is string => at !== undefined,
  );
  return { ...(activation ? { activation } : {}), endings, ends };
};

const hourAfter = (time: string): string => new Date(Date.parse(time) + finalUsageWindowMs).toISOString();

/**
 * Derives the status. Rules (all on event times, so stale events change nothing):
 * - An ending or end at or after the newest activation wins over it; an activation strictly
 *   newer than every ending/end reinstates the license (re-subscription, new agreement).
 * - A renewal or replacement continues the license: the old agreement's Ended event counts as
 *   an ending only if no agreement names it as `previousAgreementId`, its status is not a
 *   succession status (RENEWED, REPLACED, ...) and no agreement that started after it is live.
 * - License Updated alone (no agreement or subscription evidence) activates a license only while
 *   nothing has ended it: AWS also sends it when entitlements shrink or expire, so it never
 *   reinstates.
 * - subscribe-fail matters only for a license with no sign of life at all: a failed upgrade
 *   payment does not end a running subscription (AWS sends unsubscribe-* when it ends). So once
 *   a license was active it never returns to `pending` or `failed`.
 */
export const deriveStatus = (record: LicenseRecord): DerivedStatus => {
  const { activation: strong, endings, ends } = evidenceOf(record);
  const terminated = endings.length > 0 || ends.length > 0;
  const weak =
    !strong && !terminated && record.licenseUpdatedAt !== undefined
      ? { at: record.licenseUpdatedAt }
      : undefined;
  const activation = strong ?? weak;
  const notOlder = (at: string) => activation === undefined || at >= activation.at;
  const endsAfter = ends.filter(notOlder);
  const endingsAfter = endings.filter(notOlder);
  const agreement =
    activation && 'agreementId' in activation ? { currentAgreementId: activation.agreementId } : {};
  const active = activation ? { activeSince: activation.at, ...agreement } : {};
  if (endsAfter.length > 0 || endingsAfter.length > 0) {
    const endingSince = earliest([...endsAfter, ...endingsAfter]) as string;
    const endedAt = earliest(endsAfter);
    return {
      status: endedAt === undefined ? 'ending' : 'ended',
      ...active,
      endingSince,
      finalUsageWindowEndsAt: hourAfter(endingSince),
      ...(endedAt === undefined ? {} : { endedAt }),
    };
  }
  if (activation) return { status: 'active', ...active };
  if (record.subscribeFailAt !== undefined) return { status: 'failed', failedAt: record.subscribeFailAt };
  return { status: 'pending' };
};
