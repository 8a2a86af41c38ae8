import type { UsageRecord } from './batches.js';
import { InvalidLedgerTransitionError } from './errors.js';

/**
 * What happens to a ledger item after a send. The ledger item (one per license, dimension and
 * hour) is written `pending` with its quantity fixed before the first send, so every retry is
 * the identical record and AWS answers it idempotently.
 *
 * - Success: final, billed.
 * - Unprocessed (AWS's UnprocessedRecords, a missing result, a transient failure): stays
 *   pending and is sent again next run, until it leaves the window.
 * - CustomerNotSubscribed: final and not billed; metering stops for the license (AWS rejects
 *   every later record until the buyer subscribes again, which the event processor sees).
 *   The usage counts as accounted for, so it is never billed in a later hour either.
 * - DuplicateRecord: final, alarm. The ledger only ever resends the exact record it wrote,
 *   and an identical resend is idempotent, so AWS can only answer this when it already holds a
 *   record for this license, dimension and hour with a *different* quantity: something other
 *   than this ledger metered the hour (a second deployment or tool for the same product), or
 *   the item was lost or rewritten (table restored or recreated, hand edit). AWS keeps billing
 *   its first quantity, so our ledger now disagrees with the invoice and needs reconciling
 *   (CloudTrail keeps every BatchMeterUsage call). The usage counts as accounted for: billing
 *   it again in another hour could charge the buyer twice.
 * - Rejected (a poison record isolated by bisection): final, alarm, not billed. Its usage is
 *   not accounted for, so once the cause is fixed a later record of the same dimension bills
 *   it (while its day is still re-read, see quantities.ts).
 * - Expired (left the window before it was sent): final, alarm. If no request carrying it can
 *   have reached AWS it was certainly not billed and its usage is billed in a later record like
 *   a rejected one; if a request may have reached AWS without a recorded answer it might have
 *   been billed, so its usage counts as accounted for (under-billing beats double billing).
 */

/** The result of one record: from a send (AWS's Results/UnprocessedRecords, bisection) or the window. */
export type RecordOutcome<T extends UsageRecord = UsageRecord> =
  | { readonly record: T; readonly status: 'Success'; readonly meteringRecordId: string }
  | { readonly record: T; readonly status: 'DuplicateRecord'; readonly meteringRecordId?: string }
  | { readonly record: T; readonly status: 'CustomerNotSubscribed'; readonly meteringRecordId?: string }
  | { readonly record: T; readonly status: 'Unprocessed'; readonly reason: string }
  | { readonly record: T; readonly status: 'Rejected'; readonly reason: string }
  | {
      readonly record: T;
      readonly status: 'Expired';
      /** Whether an earlier request carrying the record may have reached AWS unanswered. */
      readonly mayHaveReachedAws: boolean;
    };

/** The outcomes a send function (and bisection) can report. */
export type SendOutcome<T extends UsageRecord = UsageRecord> = Exclude<
  RecordOutcome<T>,
  { status: 'Expired' }
>;

export type LedgerStatus =
  /** Quantity fixed, to be sent (again). */
  | 'pending'
  | 'accepted'
  | 'duplicate'
  | 'notSubscribed'
  | 'rejected'
  /** Never reached AWS before the window closed. */
  | 'expired'
  /** Left the window after a request that may have reached AWS; billing unknown. */
  | 'expiredUnconfirmed'
  /** A zero-quantity hour kept only in the ledger (`sendZeroUsage` off) to remember the usage it covers. */
  | 'unsentZero';

export const ledgerStatuses: readonly LedgerStatus[] = [
  'pending',
  'accepted',
  'duplicate',
  'notSubscribed',
  'rejected',
  'expired',
  'expiredUnconfirmed',
  'unsentZero',
];

const statusesAccountingForUsage: ReadonlySet<LedgerStatus> = new Set<LedgerStatus>([
  'pending',
  'accepted',
  'duplicate',
  'notSubscribed',
  'expiredUnconfirmed',
  'unsentZero',
]);

/**
 * Whether an item's usage is accounted for: billed, about to be, possibly billed, or
 * deliberately not billed. Usage of items that are not (rejected, expired unsent) is billed
 * again in a later record.
 */
export const accountsForUsage = (status: LedgerStatus): boolean => statusesAccountingForUsage.has(status);

export const isFinalStatus = (status: LedgerStatus): boolean => status !== 'pending';

/** The status a newly computed hour is written with. */
export const initialLedgerStatus = (disposition: 'send' | 'recordOnly'): LedgerStatus =>
  disposition === 'send' ? 'pending' : 'unsentZero';

export type MeteringMetric =
  | 'UsageRecordAccepted'
  | 'UsageRecordUnprocessed'
  | 'CustomerNotSubscribed'
  | 'UsageRecordDuplicate'
  | 'UsageRecordRejected'
  | 'UsageRecordExpired';

export interface LedgerTransition {
  readonly status: LedgerStatus;
  /** No further send: the item keeps this status for good. */
  readonly final: boolean;
  /** Sent again by the next run (while it is inside the window). */
  readonly retryNextRun: boolean;
  /** See `accountsForUsage`. */
  readonly accountsForUsage: boolean;
  /** Stop metering the whole license (mark it on the license item). */
  readonly stopMeteringLicense: boolean;
  /** Metric to count the outcome under; `alarm` ones need a human. */
  readonly metric: MeteringMetric;
  readonly alarm: boolean;
  readonly meteringRecordId?: string;
  readonly reason?: string;
}

const transition = (
  status: LedgerStatus,
  metric: MeteringMetric,
  extra: { alarm?: boolean; stopMeteringLicense?: boolean; meteringRecordId?: string; reason?: string } = {},
): LedgerTransition => ({
  status,
  final: isFinalStatus(status),
  retryNextRun: !isFinalStatus(status),
  accountsForUsage: accountsForUsage(status),
  stopMeteringLicense: extra.stopMeteringLicense ?? false,
  metric,
  alarm: extra.alarm ?? false,
  ...(extra.meteringRecordId !== undefined ? { meteringRecordId: extra.meteringRecordId } : {}),
  ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
});

/** The ledger transition for one record's outcome. */
export const transitionFor = (outcome: RecordOutcome): LedgerTransition => {
  switch (outcome.status) {
    case 'Success':
      return transition('accepted', 'UsageRecordAccepted', { meteringRecordId: outcome.meteringRecordId });
    case 'Unprocessed':
      return transition('pending', 'UsageRecordUnprocessed', { reason: outcome.reason });
    case 'CustomerNotSubscribed':
      return transition('notSubscribed', 'CustomerNotSubscribed', {
        stopMeteringLicense: true,
        reason: 'AWS reports the customer is not subscribed',
      });
    case 'DuplicateRecord':
      return transition('duplicate', 'UsageRecordDuplicate', {
        alarm: true,
        reason: 'AWS already holds a different quantity for this license, dimension and hour',
      });
    case 'Rejected':
      return transition('rejected', 'UsageRecordRejected', { alarm: true, reason: outcome.reason });
    case 'Expired':
      return outcome.mayHaveReachedAws
        ? transition('expiredUnconfirmed', 'UsageRecordExpired', {
            alarm: true,
            reason: 'left the metering window after a request that may have reached AWS unanswered',
          })
        : transition('expired', 'UsageRecordExpired', {
            alarm: true,
            reason: 'left the metering window before it could be sent',
          });
  }
};

/**
 * Guards a ledger write: only a pending item changes status; replaying the same final status
 * (a retried run recording the same answer) is allowed, anything else is a bug.
 */
export const assertTransitionAllowed = (current: LedgerStatus, next: LedgerStatus): void => {
  if (current !== 'pending' && current !== next) {
    throw new InvalidLedgerTransitionError(
      `a ledger item in final status "${current}" cannot become "${next}"`,
    );
  }
};
