import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import {
  eventIdempotency,
  handleEvent,
  licenseEventDependencies,
  unwrapFailureRecord,
} from '#shared/events/handler-support';
import { parseMarketplaceEvent } from '#shared/events/marketplace-eventbridge';
import { createLicenseEventProcessor } from '#shared/events/processor';
import { logger } from '#shared/powertools';
import { runtimeFromEnv } from '#shared/runtime';

/**
 * AWS Marketplace agreement and license events (`aws.agreement-marketplace`, default bus),
 * invoked asynchronously by EventBridge. Idempotent on the event id; a failure is thrown with its
 * reason, so Lambda retries it and then sends it to the dead-letter queue. Also accepts a failure
 * record from that queue (a redrive).
 */
const runtime = runtimeFromEnv();
const products = runtime.config.products.map(({ productId, productCode }) => ({ productId, productCode }));
const processor = createLicenseEventProcessor(licenseEventDependencies(runtime));
const idempotency = eventIdempotency(runtime, 'marketplace-events', processor.process);

export const handler = middy((event: unknown, context: Context) => {
  idempotency.config.registerLambdaContext(context);
  const received = unwrapFailureRecord(event);
  return handleEvent(() => parseMarketplaceEvent(received, { products }), idempotency.run);
}).use(injectLambdaContext(logger, { resetKeys: true }));
