import { type UsageBatch, type UsageRecord, usageRecordKey } from './batches.js';
import { DuplicateUsageRecordError, InvalidSendResultError } from './errors.js';
import type { SendOutcome } from './outcomes.js';

/**
 * Sending one batch so that a bad record cannot block the others. BatchMeterUsage fails the
 * whole call when one record is bad (an unknown dimension, a license outside its activation
 * period, a timestamp out of bounds): such a "poison" failure splits the batch in halves,
 * recursively, until each poison record is alone and comes back Rejected while every other
 * record is sent. A retryable failure (throttling) is handed back to the caller's backoff.
 * The error classification is an argument, so this stays independent of the AWS SDK.
 */

export type ErrorClass = 'retryable' | 'poison';

/** Sends one batch: per-record outcomes, or throws for a failure of the whole request. */
export type SendBatch<T extends UsageRecord> = (batch: UsageBatch<T>) => Promise<readonly SendOutcome<T>[]>;

/**
 * A retryable failure after part of the batch was already settled by earlier sub-batches:
 * record `settled`, then retry only `unsent` after backing off.
 */
export class PartiallySentBatchError<T extends UsageRecord = UsageRecord> extends Error {
  override readonly name = 'PartiallySentBatchError';
  constructor(
    readonly settled: readonly SendOutcome<T>[],
    readonly unsent: readonly T[],
    cause: unknown,
  ) {
    super(`a retryable failure interrupted a bisected batch after ${settled.length} record(s) were settled`, {
      cause,
    });
  }
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : `non-error thrown: ${String(error)}`;

/** Matches a send's outcomes to the batch's records; a record without one is Unprocessed. */
const outcomesInOrder = <T extends UsageRecord>(
  batch: UsageBatch<T>,
  outcomes: readonly SendOutcome<T>[],
): SendOutcome<T>[] => {
  const byKey = new Map<string, SendOutcome<T>>();
  const expected = new Set(batch.records.map(usageRecordKey));
  for (const outcome of outcomes) {
    const key = usageRecordKey(outcome.record);
    if (!expected.has(key))
      throw new InvalidSendResultError(`send returned an outcome for ${key}, not in the batch`);
    if (byKey.has(key)) throw new InvalidSendResultError(`send returned more than one outcome for ${key}`);
    byKey.set(key, outcome);
  }
  return batch.records.map(
    (record) =>
      byKey.get(usageRecordKey(record)) ?? {
        record,
        status: 'Unprocessed',
        reason: 'no result returned for the record',
      },
  );
};

/**
 * Sends `batch`, bisecting on poison failures. Returns one outcome per record, in batch order.
 * A retryable failure is rethrown as is when nothing was settled yet, and as a
 * PartiallySentBatchError when earlier sub-batches already were.
 */
export const sendWithBisection = async <T extends UsageRecord>(
  batch: UsageBatch<T>,
  send: SendBatch<T>,
  classifyError: (error: unknown) => ErrorClass,
): Promise<SendOutcome<T>[]> => {
  const keys = new Set(batch.records.map(usageRecordKey));
  if (keys.size !== batch.records.length) {
    throw new DuplicateUsageRecordError(
      'a batch holds more than one record for the same license, dimension and hour',
    );
  }
  const settled = new Map<string, SendOutcome<T>>();

  const sendPart = async (part: UsageBatch<T>): Promise<void> => {
    if (part.records.length === 0) return;
    let outcomes: readonly SendOutcome<T>[];
    try {
      outcomes = await send(part);
    } catch (error) {
      if (classifyError(error) === 'retryable') throw error;
      const [only] = part.records;
      if (part.records.length === 1 && only) {
        settled.set(usageRecordKey(only), { record: only, status: 'Rejected', reason: describeError(error) });
        return;
      }
      const middle = Math.ceil(part.records.length / 2);
      await sendPart({ ...part, records: part.records.slice(0, middle) });
      await sendPart({ ...part, records: part.records.slice(middle) });
      return;
    }
    for (const outcome of outcomesInOrder(part, outcomes))
      settled.set(usageRecordKey(outcome.record), outcome);
  };

  try {
    await sendPart(batch);
  } catch (error) {
    if (settled.size === 0 || error instanceof InvalidSendResultError) throw error;
    const done = batch.records.flatMap((record) => settled.get(usageRecordKey(record)) ?? []);
    const unsent = batch.records.filter((record) => !settled.has(usageRecordKey(record)));
    throw new PartiallySentBatchError(done, unsent, error);
  }
  return batch.records.flatMap((record) => settled.get(usageRecordKey(record)) ?? []);
};
