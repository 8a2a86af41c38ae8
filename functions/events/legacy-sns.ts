import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { deadLetterPermanentFailures, deadLetterQueueEnv, sqsDeadLetterQueue } from '#shared/dead-letters';
import { parseEnv } from '#shared/env';
import { EventParseError } from '#shared/events/common';
import { eventIdempotency, handleEvent, licenseEventDependencies } from '#shared/events/handler-support';
import { parseMarketplaceSnsMessage } from '#shared/events/marketplace-sns';
import { createLicenseEventProcessor } from '#shared/events/processor';
import { logger } from '#shared/powertools';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';

/**
 * Legacy AWS Marketplace SNS notifications, delivered through an SQS queue. Each record is
 * processed on its own, in batch order (idempotent on the SNS MessageId). A record that does not
 * parse (EventParseError: malformed JSON, not an SNS notification, an unknown action, a missing
 * identifier) can never succeed: it is sent to the dead-letter queue at once with its reason as
 * message attributes and acknowledged. Any other failure is reported as a batch item failure with
 * its reason logged, so SQS redelivers only that record and, after the queue's receive limit,
 * moves it to the same dead-letter queue.
 */
const env = parseEnv(runtimeEnvSchema.extend(deadLetterQueueEnv));
const runtime = createRuntime(env);
const productCodes = runtime.config.products.map((product) => product.productCode);
const processor = createLicenseEventProcessor(licenseEventDependencies(runtime));
const idempotency = eventIdempotency(runtime, 'legacy-sns-events', processor.process);
const batch = new BatchProcessor(EventType.SQS);

const processRecord = deadLetterPermanentFailures(
  (record: SQSRecord) =>
    handleEvent(
      () =>
        parseMarketplaceSnsMessage(record.body, {
          productCodes,
          delivery: { messageId: record.messageId, sentTimestamp: record.attributes.SentTimestamp },
        }),
      idempotency.run,
      { messageId: record.messageId },
    ),
  {
    deadLetters: sqsDeadLetterQueue(env.DEAD_LETTER_QUEUE_URL),
    isPermanent: (error): error is EventParseError => error instanceof EventParseError,
    logger,
  },
);

export const handler = middy((event: SQSEvent, context: Context) => {
  idempotency.config.registerLambdaContext(context);
  // In order: notifications of one license in a batch then apply as sent, without write conflicts.
  return processPartialResponse(event, processRecord, batch, { context, processInParallel: false });
}).use(injectLambdaContext(logger, { resetKeys: true }));
