import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { now } from '#shared/clock';
import { deadLetterPermanentFailures, deadLetterQueueEnv, sqsDeadLetterQueue } from '#shared/dead-letters';
import { parseEnv } from '#shared/env';
import { MeteringMessageError, parseMeteringMessage } from '#shared/metering/fanout';
import { publishRunMetrics } from '#shared/metering/metrics';
import {
  type DryRunReport,
  dryRunLicense,
  flushLicense,
  type MeteringDeps,
  meteringDepsFromRuntime,
  meterLicenses,
  needsRedelivery,
} from '#shared/metering/pipeline';
import { logger, metrics } from '#shared/powertools';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';

/**
 * The metering worker: an SQS batch handler (partial batch failures) for `meter` messages from
 * the hourly fan-out and `flush` messages from the event processor. A malformed message
 * (MeteringMessageError: not JSON, or not a valid `meter`/`flush` message) can never succeed: it
 * goes to the dead-letter queue at once with its reason as message attributes and is acknowledged;
 * any other failure is a batch item failure, redelivered until the queue's receive limit. A direct invoke with
 * `{ "dryRun": true, "licenseKey": "...", "at": "<ISO time>" }` returns what a run would send.
 */
const env = parseEnv(
  runtimeEnvSchema.extend({
    /** How many workers may run at once (the event source's maximum concurrency). */
    METERING_WORKERS: z.coerce.number().int().min(1).default(1),
    ...deadLetterQueueEnv,
  }),
);
const runtime = createRuntime(env);

let deps: MeteringDeps | undefined;
const meteringDeps = (): MeteringDeps => {
  deps ??= meteringDepsFromRuntime(runtime, { workers: env.METERING_WORKERS, logger, now });
  return deps;
};

const processor = new BatchProcessor(EventType.SQS);

const meterRecord = async (record: SQSRecord): Promise<void> => {
  const message = parseMeteringMessage(record.body);
  const at = now();
  const report =
    message.kind === 'meter'
      ? await meterLicenses(meteringDeps(), { licenseKeys: message.licenseKeys, now: at })
      : await flushLicense(meteringDeps(), { licenseKey: message.licenseKey, now: at });
  publishRunMetrics(metrics, report);
  logger.info('Metering run', { kind: message.kind, messageId: record.messageId, ...report });
  if (needsRedelivery(report, message.kind)) {
    throw new Error(
      `metering ${message.kind} message needs another delivery: ${report.failures.map((failure) => failure.message).join('; ') || `${report.stillPending} record(s) unsent`}`,
    );
  }
};

const processRecord = deadLetterPermanentFailures(meterRecord, {
  deadLetters: sqsDeadLetterQueue(env.DEAD_LETTER_QUEUE_URL),
  isPermanent: (error): error is MeteringMessageError => error instanceof MeteringMessageError,
  logger,
});

const dryRunEventSchema = z.strictObject({
  dryRun: z.literal(true),
  licenseKey: z.string().min(1),
  /** The run's time; default now. */
  at: z.iso.datetime({ offset: true }).optional(),
});

const isSqsEvent = (event: unknown): event is SQSEvent =>
  typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records);

export const handler = middy(
  async (
    event: SQSEvent | z.input<typeof dryRunEventSchema>,
    context: Context,
  ): Promise<SQSBatchResponse | DryRunReport> => {
    // The batch's messages side by side: each license waits mostly on SaaSus and DynamoDB round
    // trips, so more licenses in flight per worker keep the shared quota busy (at D = 1 a call
    // needs 25 licenses planned). The account-wide limiter, not the worker, paces the calls.
    if (isSqsEvent(event)) {
      return processPartialResponse(event, processRecord, processor, { context, processInParallel: true });
    }
    const request = dryRunEventSchema.parse(event);
    return dryRunLicense(meteringDeps(), {
      licenseKey: request.licenseKey,
      now: request.at === undefined ? now() : new Date(request.at),
    });
  },
)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
