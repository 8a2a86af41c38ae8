import {
  BatchMeterUsageCommand,
  type BatchMeterUsageCommandOutput,
  type MarketplaceMeteringClient,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import * as z from 'zod';
import { describeIssues } from '../config.js';
import { logger } from '../powertools.js';
import { withRetry } from '../retry.js';
import {
  MarketplaceError,
  MarketplaceInputError,
  meteringFailureKind,
  toMarketplaceError,
} from './errors.js';
import { type BuyerIdentity, buyerIdentitySchema, type IdentityMode, licenseKeyOf } from './identity.js';
import { MAX_QUANTITY, MAX_RECORDS_PER_BATCH } from './limits.js';

/** One usage record: a buyer's quantity of one dimension for one usage hour. */
export interface MeteringRecord {
  readonly identity: BuyerIdentity;
  readonly dimension: string;
  readonly quantity: number;
  /** The usage hour (not the send time), so a resend is byte-identical and AWS dedupes it. */
  readonly timestamp: Date;
}

/**
 * What happened to one record. `Success`, `CustomerNotSubscribed` and `DuplicateRecord` are AWS's
 * per-record statuses (a DuplicateRecord leaves the originally billed quantity in place).
 * `Unprocessed`: AWS still listed it in UnprocessedRecords after the bounded retries; send it
 * again later. `Failed`: the request carrying it was rejected as a whole; `error` says whether
 * that is retryable, poison (bisect the batch) or fatal, see `meteringFailureKind`.
 */
export type MeteringOutcome =
  | { readonly status: 'Success'; readonly record: MeteringRecord; readonly meteringRecordId: string }
  | {
      readonly status: 'CustomerNotSubscribed' | 'DuplicateRecord';
      readonly record: MeteringRecord;
      readonly meteringRecordId?: string;
    }
  | { readonly status: 'Unprocessed'; readonly record: MeteringRecord }
  | { readonly status: 'Failed'; readonly record: MeteringRecord; readonly error: MarketplaceError };

export type MeteringStatus = MeteringOutcome['status'];

export interface BatchMeterUsageInput {
  /** The listing's product code; sent at request level only in legacy mode. */
  readonly productCode: string;
  readonly identityMode: IdentityMode;
  readonly records: readonly MeteringRecord[];
  /** Further requests for records AWS returned in UnprocessedRecords (default 3). */
  readonly unprocessedRetries?: number;
  /** Backoff between those requests (default 200 ms base, 2 s cap, full jitter). */
  readonly retryDelay?: { readonly baseDelayMs: number; readonly maxDelayMs: number };
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface BatchMeterUsageResult {
  /** One outcome per input record, in input order. */
  readonly outcomes: MeteringOutcome[];
  /** BatchMeterUsage requests made (SDK-level retries of one request not counted). */
  readonly requests: number;
}

const meteringRecordSchema = z.object({
  identity: buyerIdentitySchema,
  dimension: z.string().trim().min(1, 'expected a dimension key, got an empty string'),
  quantity: z
    .number({ message: 'expected a quantity' })
    .int('expected a whole-number quantity')
    .min(0, 'expected a quantity of at least 0')
    .max(MAX_QUANTITY, `expected a quantity of at most ${MAX_QUANTITY}`),
  timestamp: z.date({ message: 'expected the usage hour as a valid Date' }),
});

const batchInputSchema = z
  .object({
    productCode: z.string().trim().min(1, 'expected the product code, got an empty string'),
    identityMode: z.enum(['license', 'legacy'], { message: 'expected "license" or "legacy"' }),
    records: z.array(meteringRecordSchema),
    unprocessedRetries: z.number().int().min(0).max(10).optional(),
  })
  .superRefine((input, ctx) => {
    input.records.forEach((record, index) => {
      if (record.identity.mode !== input.identityMode) {
        ctx.addIssue({
          code: 'custom',
          path: ['records', index, 'identity', 'mode'],
          message: `expected a ${input.identityMode}-mode identity, as the listing uses`,
        });
      }
    });
  });

const recordKey = (
  identityKey: string | undefined,
  dimension: string | undefined,
  timestamp: Date | undefined,
) =>
  // Whole seconds: AWS may echo the timestamp with less precision than was sent.
  `${identityKey}\u0000${dimension}\u0000${timestamp === undefined ? '' : Math.floor(timestamp.getTime() / 1000)}`;

const inputRecordKey = (record: MeteringRecord) =>
  recordKey(licenseKeyOf(record.identity), record.dimension, record.timestamp);

const echoedRecordKey = (record: UsageRecord | undefined, mode: IdentityMode) =>
  recordKey(
    mode === 'license' ? record?.LicenseArn : record?.CustomerIdentifier,
    record?.Dimension,
    record?.Timestamp,
  );

const toUsageRecord = (record: MeteringRecord): UsageRecord => {
  const base = { Timestamp: record.timestamp, Dimension: record.dimension, Quantity: record.quantity };
  return record.identity.mode === 'license'
    ? {
        ...base,
        LicenseArn: record.identity.licenseArn,
        CustomerAWSAccountId: record.identity.customerAwsAccountId,
      }
    : // CustomerIdentifier and CustomerAWSAccountId are mutually exclusive on a record.
      { ...base, CustomerIdentifier: record.identity.customerIdentifier };
};

/** Signals that records are still unprocessed, so `withRetry` sends them again. */
class RecordsStillUnprocessed extends Error {
  override readonly name = 'RecordsStillUnprocessed';
}

/**
 * Sends usage records with BatchMeterUsage: at most 25 per request and one product per call
 * (license mode: each record carries LicenseArn + CustomerAWSAccountId and the request has no
 * ProductCode; legacy mode: CustomerIdentifier + request-level ProductCode). Records AWS returns
 * as UnprocessedRecords are sent again a bounded number of times. A request rejected as a whole
 * marks its records `Failed`; after a retryable or fatal rejection the remaining requests are not
 * sent (their records are `Failed` with the same error), after a poison rejection they are.
 * Bad input throws a MarketplaceInputError before anything is sent.
 */
export const batchMeterUsage = async (
  client: MarketplaceMeteringClient,
  input: BatchMeterUsageInput,
): Promise<BatchMeterUsageResult> => {
  const parsed = batchInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new MarketplaceInputError(`Invalid BatchMeterUsage input:\n${describeIssues(parsed.error)}`, {
      operation: 'BatchMeterUsage',
    });
  }
  const { productCode, identityMode, records } = input;
  const retryDelay = input.retryDelay ?? { baseDelayMs: 200, maxDelayMs: 2_000 };
  const outcomes: Array<MeteringOutcome | undefined> = new Array(records.length);
  let requests = 0;

  const record = (index: number): MeteringRecord => {
    const value = records[index];
    if (value === undefined) throw new RangeError(`no record at index ${index}`);
    return value;
  };

  /** Stores the outcomes AWS reported and returns the indexes still to be sent. */
  const settle = (pending: readonly number[], output: BatchMeterUsageCommandOutput): number[] => {
    const byKey = new Map<string, number[]>();
    for (const index of pending) {
      const key = inputRecordKey(record(index));
      byKey.set(key, [...(byKey.get(key) ?? []), index]);
    }
    const take = (usageRecord: UsageRecord | undefined) =>
      byKey.get(echoedRecordKey(usageRecord, identityMode))?.shift();
    let unmatched = 0;
    for (const result of output.Results ?? []) {
      const index = take(result.UsageRecord);
      if (index === undefined) {
        unmatched++;
        continue;
      }
      const meteringRecordId = result.MeteringRecordId || undefined;
      const status = result.Status;
      if (status === 'Success' && meteringRecordId !== undefined) {
        outcomes[index] = { status, record: record(index), meteringRecordId };
      } else if (status === 'CustomerNotSubscribed' || status === 'DuplicateRecord') {
        outcomes[index] = {
          status,
          record: record(index),
          ...(meteringRecordId ? { meteringRecordId } : {}),
        };
      } else {
        outcomes[index] = {
          status: 'Failed',
          record: record(index),
          error: new MarketplaceError(
            `BatchMeterUsage returned status ${String(status)}${meteringRecordId ? '' : ' without a MeteringRecordId'}`,
            { operation: 'BatchMeterUsage', requestId: output.$metadata.requestId },
          ),
        };
      }
    }
    if (unmatched > 0) {
      logger.warn('BatchMeterUsage returned results that match no record sent', { productCode, unmatched });
    }
    // Records AWS listed as unprocessed, or did not mention at all, are sent again: resending
    // an identical record is idempotent.
    return pending.filter((index) => outcomes[index] === undefined);
  };

  const send = async (pending: readonly number[]) => {
    requests++;
    try {
      return await client.send(
        new BatchMeterUsageCommand({
          UsageRecords: pending.map((index) => toUsageRecord(record(index))),
          ...(identityMode === 'legacy' ? { ProductCode: productCode } : {}),
        }),
      );
    } catch (error) {
      throw toMarketplaceError(error, 'BatchMeterUsage');
    }
  };

  /** Meters one chunk; returns the request-level error that rejected it, if any. */
  const meterChunk = async (chunk: readonly number[]): Promise<MarketplaceError | undefined> => {
    let pending = chunk;
    try {
      await withRetry(
        async () => {
          pending = settle(pending, await send(pending));
          if (pending.length > 0)
            throw new RecordsStillUnprocessed(`${pending.length} record(s) unprocessed`);
        },
        {
          retries: input.unprocessedRetries ?? 3,
          ...retryDelay,
          isRetryable: (error) => error instanceof RecordsStillUnprocessed,
          onRetry: (_error, attempt, delayMs) =>
            logger.info('Resending unprocessed metering records', {
              productCode,
              records: pending.length,
              attempt,
              delayMs,
            }),
          ...(input.sleep === undefined ? {} : { sleep: input.sleep }),
        },
      );
      return undefined;
    } catch (error) {
      if (error instanceof RecordsStillUnprocessed) {
        logger.warn('Metering records still unprocessed after retries', {
          productCode,
          records: pending.length,
        });
        for (const index of pending) outcomes[index] = { status: 'Unprocessed', record: record(index) };
        return undefined;
      }
      const rejection = toMarketplaceError(error, 'BatchMeterUsage');
      logger.warn('BatchMeterUsage request rejected', {
        productCode,
        code: rejection.code,
        retryable: rejection.retryable,
        records: pending.length,
      });
      for (const index of pending)
        outcomes[index] = { status: 'Failed', record: record(index), error: rejection };
      return rejection;
    }
  };

  const indexes = records.map((_record, index) => index);
  let stoppedBy: MarketplaceError | undefined;
  for (let start = 0; start < indexes.length; start += MAX_RECORDS_PER_BATCH) {
    const chunk = indexes.slice(start, start + MAX_RECORDS_PER_BATCH);
    if (stoppedBy !== undefined) {
      for (const index of chunk)
        outcomes[index] = { status: 'Failed', record: record(index), error: stoppedBy };
      continue;
    }
    const rejection = await meterChunk(chunk);
    // A poison rejection concerns one chunk's records only; anything else would fail the rest too.
    if (rejection !== undefined && meteringFailureKind(rejection) !== 'poison') stoppedBy = rejection;
  }
  return {
    outcomes: outcomes.map((outcome, index) => outcome ?? { status: 'Unprocessed', record: record(index) }),
    requests,
  };
};
