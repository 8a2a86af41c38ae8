import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import * as z from 'zod';
import { now } from '#shared/clock';
import { parseEnv } from '#shared/env';
import { type FanoutReport, runFanout, sqsEnqueue } from '#shared/metering/fanout';
import { hourStart } from '#shared/metering/hours';
import { publishFanoutMetrics } from '#shared/metering/metrics';
import { backfillMeterableIndex, createLedgerStore, meterableLicenses } from '#shared/metering/store';
import { logger, metrics } from '#shared/powertools';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';

/**
 * The EventBridge Scheduler target, a few minutes past every hour: queues the licenses with
 * hours to report for the metering workers, sweeps expired pending records, and reports the lag
 * of the oldest unreported hour.
 */
const env = parseEnv(runtimeEnvSchema.extend({ METERING_QUEUE_URL: z.url() }));
const runtime = createRuntime(env);
const sqs = new SQSClient({});

/** The Scheduler input: `{ "scheduledTime": "<aws.scheduler.scheduled-time>" }`. */
const scheduleEventSchema = z.looseObject({ scheduledTime: z.iso.datetime({ offset: true }).optional() });

export const handler = middy(async (event: unknown): Promise<FanoutReport> => {
  const input = scheduleEventSchema.parse(event ?? {});
  const at = now();
  const report = await runFanout(
    {
      config: runtime.config,
      licensePages: () => meterableLicenses({ client: runtime.dynamo(), tableName: env.LICENSES_TABLE }),
      ledger: createLedgerStore({ client: runtime.dynamo(), tableName: env.METERING_LEDGER_TABLE }),
      enqueue: sqsEnqueue(sqs, env.METERING_QUEUE_URL),
      backfillMeterableIndex: () =>
        backfillMeterableIndex({
          client: runtime.dynamo(),
          licensesTableName: env.LICENSES_TABLE,
          ledgerTableName: env.METERING_LEDGER_TABLE,
        }),
      logger,
    },
    { now: at, runHour: hourStart(input.scheduledTime === undefined ? at : new Date(input.scheduledTime)) },
  );
  publishFanoutMetrics(metrics, report);
  logger.info('Metering fan-out', { ...report });
  return report;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
