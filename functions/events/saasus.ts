import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import {
  eventIdempotency,
  handleEvent,
  saasusEventDependencies,
  unwrapFailureRecord,
} from '#shared/events/handler-support';
import { parseSaasusEvent } from '#shared/events/saasus';
import { createSaasusEventProcessor } from '#shared/events/saasus-processor';
import { logger, metrics } from '#shared/powertools';
import { runtimeFromEnv } from '#shared/runtime';

/**
 * SaaSus partner events (`aws.partner/saasus.io/...`), invoked asynchronously by EventBridge from
 * the partner event bus. Idempotent on the event id; failures are thrown with their reason
 * (Lambda retries, then the dead-letter queue). Also accepts a failure record from that queue.
 */
const runtime = runtimeFromEnv();
const processor = createSaasusEventProcessor(saasusEventDependencies(runtime));
const idempotency = eventIdempotency(runtime, 'saasus-events', processor.process);

export const handler = middy((event: unknown, context: Context) => {
  idempotency.config.registerLambdaContext(context);
  const received = unwrapFailureRecord(event);
  return handleEvent(() => parseSaasusEvent(received), idempotency.run);
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
