import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { meteringFailureKind } from '../marketplace/errors.js';
import { batchMeterUsage, type MeteringOutcome } from '../marketplace/metering.js';
import { withRetry } from '../retry.js';
import { assertValidUsageRecord, toBatches, type UsageBatch, type UsageRecord } from './batches.js';
import { type ErrorClass, PartiallySentBatchError, sendWithBisection } from './bisect.js';
import { describeError, MeteringInputError } from './errors.js';
import type { LicenseWork } from './ledger-writes.js';
import { MAX_RECORDS_PER_BATCH } from './limits.js';
import type { SendOutcome } from './outcomes.js';
import { recordOutcome } from './record.js';
import type { RunContext } from './run-context.js';
import { expiryOutcome, type LedgerItem } from './store.js';

/**
 * Step 5 of the run (see pipeline.ts): BatchMeterUsage itself. A batch is ≤ 25 records of one
 * product; a poison record is isolated by bisection, throttling and transient failures are
 * backed off, and every HTTP attempt waits for the account-wide limiter (`limitRate`).
 */

export interface BatchSendResult<T extends UsageRecord> {
  /** One outcome per record of the batch. */
  readonly outcomes: SendOutcome<T>[];
  /** BatchMeterUsage requests made. */
  readonly requests: number;
  /** Backoff retries after throttling or another transient failure. */
  readonly retries: number;
  /** The request-level failure that left records unsent; `fatal` when retrying cannot help. */
  readonly failure?: { readonly error: unknown; readonly fatal: boolean };
}

export interface UsageSender {
  sendBatch<T extends UsageRecord>(batch: UsageBatch<T>): Promise<BatchSendResult<T>>;
}

export interface UsageSenderOptions {
  readonly client: MarketplaceMeteringClient;
  /** Backoff retries of a whole batch after throttling or a transient failure. @default 4 */
  readonly retries?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Further requests for records AWS returned unprocessed (see batchMeterUsage). */
  readonly unprocessedRetries?: number;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** For bisection: only a poison rejection is split; anything else is handed to the backoff. */
const classifyForBisection = (error: unknown): ErrorClass =>
  meteringFailureKind(error) === 'poison' ? 'poison' : 'retryable';

const toSendOutcome = <T extends UsageRecord>(outcome: MeteringOutcome, record: T): SendOutcome<T> => {
  switch (outcome.status) {
    case 'Success':
      return { record, status: 'Success', meteringRecordId: outcome.meteringRecordId };
    case 'CustomerNotSubscribed':
    case 'DuplicateRecord':
      return {
        record,
        status: outcome.status,
        ...(outcome.meteringRecordId === undefined ? {} : { meteringRecordId: outcome.meteringRecordId }),
      };
    case 'Unprocessed':
      return { record, status: 'Unprocessed', reason: 'still in UnprocessedRecords after the retries' };
    case 'Failed':
      return { record, status: 'Unprocessed', reason: describeError(outcome.error) };
  }
};

/**
 * BatchMeterUsage for the pipeline: each batch goes through `batchMeterUsage` (which resends
 * UnprocessedRecords a few times), a request-level rejection is thrown so `sendWithBisection`
 * can isolate a poison record, and throttling or a transient failure is retried with jittered
 * backoff (`withRetry`). Add the client-side rate limit with `limitRate`.
 */
export const createUsageSender = (options: UsageSenderOptions): UsageSender => ({
  async sendBatch<T extends UsageRecord>(batch: UsageBatch<T>): Promise<BatchSendResult<T>> {
    let requests = 0;
    let retries = 0;
    const outcomes: SendOutcome<T>[] = [];
    let remaining: readonly T[] = batch.records;

    const send = async (part: UsageBatch<T>): Promise<SendOutcome<T>[]> => {
      const result = await batchMeterUsage(options.client, {
        productCode: part.productCode,
        identityMode: part.identityMode,
        records: part.records.map((record) => ({
          identity: record.identity,
          dimension: record.dimension,
          quantity: record.quantity,
          timestamp: record.usageHour,
        })),
        ...(options.unprocessedRetries === undefined
          ? {}
          : { unprocessedRetries: options.unprocessedRetries }),
        ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      });
      requests += result.requests;
      const failed = result.outcomes.find((outcome) => outcome.status === 'Failed');
      if (failed?.status === 'Failed') throw failed.error;
      return result.outcomes.map((outcome, index) => {
        const record = part.records[index];
        if (record === undefined)
          throw new MeteringInputError('batchMeterUsage returned more outcomes than records');
        return toSendOutcome(outcome, record);
      });
    };

    try {
      await withRetry(
        async () => {
          try {
            outcomes.push(
              ...(await sendWithBisection({ ...batch, records: remaining }, send, classifyForBisection)),
            );
            remaining = [];
          } catch (error) {
            if (!(error instanceof PartiallySentBatchError)) throw error;
            outcomes.push(...(error.settled as SendOutcome<T>[]));
            remaining = error.unsent as T[];
            throw error.cause;
          }
        },
        {
          retries: options.retries ?? 4,
          baseDelayMs: options.baseDelayMs ?? 200,
          maxDelayMs: options.maxDelayMs ?? 5_000,
          isRetryable: (error) => meteringFailureKind(error) === 'retryable',
          onRetry: (error, attempt, delayMs) => {
            retries++;
            options.onRetry?.(error, attempt, delayMs);
          },
          ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
          ...(options.random === undefined ? {} : { random: options.random }),
        },
      );
      return { outcomes, requests, retries };
    } catch (error) {
      const reason = describeError(error);
      for (const record of remaining) outcomes.push({ record, status: 'Unprocessed', reason });
      return {
        outcomes,
        requests,
        retries,
        failure: { error, fatal: meteringFailureKind(error) !== 'retryable' },
      };
    }
  },
});

const rateLimitMiddleware = 'marketplaceBridgeMeteringRateLimit';

/**
 * Makes every HTTP attempt of `client` (the SDK's own retries included) wait for a slot of
 * `limiter`, so all workers together stay under the account's BatchMeterUsage quota.
 */
export const limitRate = <C extends Pick<MarketplaceMeteringClient, 'middlewareStack'>>(
  client: C,
  limiter: { acquire(): Promise<unknown> },
): C => {
  client.middlewareStack.remove(rateLimitMiddleware);
  client.middlewareStack.add(
    (next) => async (args) => {
      await limiter.acquire();
      return next(args);
    },
    // Inside the SDK's retry middleware (priority high in the same step): one token per attempt.
    { step: 'finalizeRequest', priority: 'low', name: rateLimitMiddleware },
  );
  return client;
};

// --- within a run: filling calls ------------------------------------------------------------------

/**
 * A run's calls: planned licenses' records wait until they fill a 25-record call, which goes out
 * at once (so the shared limit is not left idle while the rest is planned); `finish` sends the
 * remainder and waits for every call and its recorded outcomes.
 */
export const createCallQueue = (run: RunContext) => {
  const { deps, state } = run;
  /** Valid records waiting until they fill a call (or the planning ends). */
  let waiting: LedgerItem[] = [];
  const sends: Promise<void>[] = [];

  const send = async (batch: UsageBatch<LedgerItem>) => {
    state.recordsSent += batch.records.length;
    const result = await deps.sender.sendBatch(batch);
    state.requests += result.requests;
    state.retries += result.retries;
    run.checkpoint('batchSent');
    for (const outcome of result.outcomes) if (outcome.status === 'Unprocessed') state.stillPending++;
    // One write per record, all at once: the next call's slot should not wait for them.
    await Promise.all(result.outcomes.map((outcome) => recordOutcome(run, outcome)));
    if (result.failure) {
      const message = describeError(result.failure.error);
      deps.logger?.[result.failure.fatal ? 'error' : 'warn']('BatchMeterUsage failed; records stay pending', {
        error: message,
        records: batch.records.length,
      });
      state.failures.push({ message, fatal: result.failure.fatal });
    }
  };

  /** Sends the full calls now (or everything, at the end); the rest waits for more licenses. */
  const dispatch = (final: boolean) => {
    const batches = toBatches(waiting);
    waiting = [];
    for (const batch of batches) {
      if (final || batch.records.length === MAX_RECORDS_PER_BATCH) sends.push(send(batch));
      else waiting.push(...batch.records);
    }
  };

  return {
    /** A planned license's records: expired ones marked, invalid ones rejected, the rest queued. */
    async enqueue(work: LicenseWork): Promise<void> {
      for (const item of work.expired) await recordOutcome(run, expiryOutcome(item, run.window));
      for (const item of work.toSend) {
        try {
          waiting.push(assertValidUsageRecord(item));
        } catch (error) {
          await recordOutcome(run, { record: item, status: 'Rejected', reason: describeError(error) });
        }
      }
      dispatch(false);
    },
    /** Sends what is left (unless the run crashed) and waits for every call; a failed call throws. */
    async finish(): Promise<void> {
      if (!state.crashed) dispatch(true);
      const sent = await Promise.allSettled(sends);
      if (state.crashed) throw state.crashed;
      const sendError = sent.find((result) => result.status === 'rejected');
      if (sendError) throw sendError.reason;
    },
  };
};
