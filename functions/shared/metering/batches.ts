import type { BuyerIdentity } from '../marketplace/identity.js';
import { ledgerUsageKey } from '../tables.js';
import { DuplicateUsageRecordError, MeteringInputError } from './errors.js';
import { assertHourStart, assertValidDate, HOUR_MS, hourStart } from './hours.js';
import { assertQuantity, MAX_RECORDS_PER_BATCH } from './limits.js';

/**
 * Usage records and how they are grouped into BatchMeterUsage calls. A record is one
 * (license, dimension, usage hour) with its quantity already fixed; records are never merged,
 * so every retry is the same record and AWS dedupes it. Out-of-window records are separated
 * before batching because one of them makes AWS reject the whole call.
 */

/**
 * Who is billed: the buyer identity of the sign-up and event code. `license` mode (listings
 * from June 2026) carries the LicenseArn and the buyer's account on every record; `legacy`
 * mode the CustomerIdentifier.
 */
export type MeteringIdentity = BuyerIdentity;

export interface UsageRecord {
  /** The product the license belongs to; a call carries one product only. */
  readonly productCode: string;
  /** The Licenses table key: the LicenseArn (`license` mode) or the CustomerIdentifier (`legacy`). */
  readonly licenseKey: string;
  readonly identity: MeteringIdentity;
  readonly dimension: string;
  /** The start of the usage hour, sent as the record's Timestamp (never the send time). */
  readonly usageHour: Date;
  readonly quantity: number;
}

/** One BatchMeterUsage call: one product, one identity mode, at most 25 records. */
export interface UsageBatch<T extends UsageRecord = UsageRecord> {
  readonly productCode: string;
  readonly identityMode: MeteringIdentity['mode'];
  readonly records: readonly T[];
}

/** What AWS dedupes on: license, dimension and hour (the ledger key of the record). */
export const usageRecordKey = (record: UsageRecord): string =>
  `${record.licenseKey}#${ledgerUsageKey(record.usageHour, record.dimension)}`;

const ACCOUNT_ID_PATTERN = /^\d{1,255}$/;

const requireText = (value: unknown, what: string): void => {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new MeteringInputError(`${what}: expected a non-empty string, got ${JSON.stringify(value)}`);
  }
};

/** Throws a MeteringInputError naming the first field a BatchMeterUsage record cannot carry. */
export const assertValidUsageRecord = <T extends UsageRecord>(record: T): T => {
  requireText(record.productCode, 'usage record productCode');
  requireText(record.licenseKey, 'usage record licenseKey');
  requireText(record.dimension, 'usage record dimension');
  const where = `usage record ${record.licenseKey}/${record.dimension}`;
  assertHourStart(record.usageHour, `${where} usageHour`);
  assertQuantity(record.quantity, `${where} quantity`);
  const identity = record.identity;
  if (identity?.mode === 'license') {
    requireText(identity.licenseArn, `${where} identity.licenseArn`);
    if (!ACCOUNT_ID_PATTERN.test(identity.customerAwsAccountId)) {
      throw new MeteringInputError(
        `${where} identity.customerAwsAccountId: expected digits, got ${JSON.stringify(identity.customerAwsAccountId)}`,
      );
    }
    if (identity.licenseArn !== record.licenseKey) {
      throw new MeteringInputError(`${where}: in license mode the licenseKey must be the LicenseArn`);
    }
  } else if (identity?.mode === 'legacy') {
    requireText(identity.customerIdentifier, `${where} identity.customerIdentifier`);
    if (identity.customerIdentifier !== record.licenseKey) {
      throw new MeteringInputError(`${where}: in legacy mode the licenseKey must be the CustomerIdentifier`);
    }
  } else {
    throw new MeteringInputError(`${where} identity: expected mode "license" or "legacy"`);
  }
  return record;
};

/**
 * Margin kept from the edge of the window: a record sent just before it closes could be out
 * of bounds by the time AWS (or a backoff retry) processes it, failing its whole batch.
 */
export const DEFAULT_WINDOW_MARGIN_MS = 10 * 60_000;

// Per the newest API model, the previous month's records are accepted until 06:00 UTC on the 1st.
const MONTH_END_GRACE_HOURS = 6;

export interface WindowPartition<T extends UsageRecord> {
  readonly sendable: T[];
  /** Records AWS would no longer accept: they must never be put in a batch. */
  readonly expired: T[];
}

/**
 * Splits records into those AWS still accepts at `now` and those it would reject as too old:
 * usage hours `allowedWindowHours` or more in the past (minus a safety margin), and hours of a
 * previous UTC month once the month-end grace has passed.
 */
export const partitionByWindow = <T extends UsageRecord>(
  records: readonly T[],
  now: Date,
  allowedWindowHours: number,
  options: { readonly marginMs?: number } = {},
): WindowPartition<T> => {
  assertValidDate(now, 'now');
  if (!Number.isInteger(allowedWindowHours) || allowedWindowHours < 1 || allowedWindowHours > 24) {
    throw new MeteringInputError(
      `allowedWindowHours: expected a whole number 1-24, got ${allowedWindowHours}`,
    );
  }
  const marginMs = options.marginMs ?? DEFAULT_WINDOW_MARGIN_MS;
  if (!Number.isInteger(marginMs) || marginMs < 0 || marginMs >= allowedWindowHours * HOUR_MS) {
    throw new MeteringInputError(
      `marginMs: expected whole milliseconds shorter than the window, got ${marginMs}`,
    );
  }
  const latestSendAt = now.getTime() + marginMs;
  const currentHour = hourStart(now).getTime();
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const previousMonthCutoff = monthStart + MONTH_END_GRACE_HOURS * HOUR_MS;
  const sendable: T[] = [];
  const expired: T[] = [];
  for (const record of records) {
    const hour = assertHourStart(record.usageHour, 'usage record usageHour').getTime();
    if (hour > currentHour) {
      throw new MeteringInputError(
        `usage record ${usageRecordKey(record)} is for an hour that has not started at ${now.toISOString()}`,
      );
    }
    const tooOld = latestSendAt - hour >= allowedWindowHours * HOUR_MS;
    const pastMonthEndGrace = hour < monthStart && latestSendAt >= previousMonthCutoff;
    (tooOld || pastMonthEndGrace ? expired : sendable).push(record);
  }
  return { sendable, expired };
};

/**
 * Groups records into BatchMeterUsage calls: one product and one identity mode per call, at
 * most `maxRecords` each, oldest hours first (they are closest to leaving the window). Each
 * record stays one record; two records for the same license, dimension and hour are an error,
 * because AWS would bill the first and answer DuplicateRecord for the second.
 */
export const toBatches = <T extends UsageRecord>(
  records: readonly T[],
  maxRecords: number = MAX_RECORDS_PER_BATCH,
): UsageBatch<T>[] => {
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > MAX_RECORDS_PER_BATCH) {
    throw new MeteringInputError(
      `maxRecords: expected a whole number 1-${MAX_RECORDS_PER_BATCH}, got ${maxRecords}`,
    );
  }
  const seen = new Set<string>();
  const groups = new Map<
    string,
    { productCode: string; identityMode: MeteringIdentity['mode']; records: T[] }
  >();
  for (const record of records) {
    assertValidUsageRecord(record);
    const key = usageRecordKey(record);
    if (seen.has(key)) {
      throw new DuplicateUsageRecordError(`more than one usage record for ${key}; aggregate before batching`);
    }
    seen.add(key);
    const groupKey = `${record.productCode}\u0000${record.identity.mode}`;
    let group = groups.get(groupKey);
    if (!group) {
      group = { productCode: record.productCode, identityMode: record.identity.mode, records: [] };
      groups.set(groupKey, group);
    }
    group.records.push(record);
  }
  const batches: UsageBatch<T>[] = [];
  for (const group of groups.values()) {
    const ordered = [...group.records].sort((a, b) => a.usageHour.getTime() - b.usageHour.getTime());
    for (let start = 0; start < ordered.length; start += maxRecords) {
      batches.push({
        productCode: group.productCode,
        identityMode: group.identityMode,
        records: ordered.slice(start, start + maxRecords),
      });
    }
  }
  return batches;
};
