import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { domainEventTypes } from '../domain-events.js';
import { getAllEntitlements } from '../marketplace/entitlements.js';
import { logger, metrics } from '../powertools.js';
import type { Runtime } from '../runtime.js';
import { EventParseError, isPlainObject, type ParseOutcome } from './common.js';
import type { LicenseEventDependencies } from './processor.js';
import type { SaasusEventDependencies } from './saasus-processor.js';

/**
 * What the three event handlers share: the clients wired from the runtime, Powertools
 * idempotency on the events table, the outcome of one event (processed, ignored or failed with a
 * reason) and accepting a failure record from a dead-letter queue for a redrive.
 */

/** How long a processed event id is remembered; a later repeat is re-applied, which converges. */
export const idempotencyWindowSeconds = 24 * 60 * 60;

/** The dependencies of the Marketplace event processor, from the function's runtime. */
export const licenseEventDependencies = (runtime: Runtime): LicenseEventDependencies => {
  const publish: LicenseEventDependencies['publish'] = (events) => runtime.publisher().publish(events);
  return {
    config: runtime.config,
    store: runtime.licenses(),
    saasus: runtime.saasus(),
    idoperation: runtime.idoperation(),
    readEntitlements: (productCode, filter) =>
      getAllEntitlements(runtime.entitlementClient(), { productCode, filter }),
    publish,
    // The `License Ending` event is the flush request: a rule on the domain bus sends it to metering.
    requestFinalFlush: async (_licenseKey, request) => {
      await publish([{ detailType: domainEventTypes.licenseEnding, detail: request.detail }]);
    },
    logger,
  };
};

/** The dependencies of the SaaSus event processor, from the function's runtime. */
export const saasusEventDependencies = (runtime: Runtime): SaasusEventDependencies => ({
  config: runtime.config,
  store: runtime.licenses(),
  saasus: runtime.saasus(),
  idoperation: runtime.idoperation(),
  publish: (events) => runtime.publisher().publish(events),
  recordMetric: (name) => metrics.addMetric(name, MetricUnit.Count, 1),
  onPlanDrift: runtime.config.saasusEvents?.onPlanDrift ?? 'correct',
  logger,
});

/**
 * Makes `process(payload)` idempotent on `payload.eventId` (the EventBridge event id or the SNS
 * MessageId), with the Powertools DynamoDB persistence layer on the idempotency table. A repeat
 * returns the stored outcome without running again; a failed run leaves no record, so the retry
 * runs. Call `config.registerLambdaContext(context)` at the start of each invocation.
 */
export const eventIdempotency = <P extends { readonly eventId: string }, R>(
  runtime: Runtime,
  keyPrefix: string,
  process: (payload: P) => Promise<R>,
) => {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'eventId',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: idempotencyWindowSeconds,
  });
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: runtime.env.IDEMPOTENCY_TABLE,
    awsSdkV3Client: runtime.dynamo(),
  });
  const run = makeIdempotent(process, { persistenceStore, config, keyPrefix });
  return { config, run: (payload: P): Promise<R> => run(payload) };
};

/**
 * The original event inside a Lambda on-failure destination record (what the EventBridge-invoked
 * functions' dead-letter queues hold), so a DLQ message body can be handed back to the function
 * as it is; any other event is returned unchanged.
 */
export const unwrapFailureRecord = (event: unknown): unknown => {
  if (
    isPlainObject(event) &&
    'requestPayload' in event &&
    isPlainObject(event.requestContext) &&
    typeof event.requestContext.functionArn === 'string'
  ) {
    return event.requestPayload;
  }
  return event;
};

export type EventResult<R> =
  | { readonly status: 'ignored'; readonly reason: string; readonly eventId?: string }
  | { readonly status: 'processed'; readonly outcome: R };

/** The one-line reason an event failed: what the DLQ message and the log carry. */
export const failureReason = (error: unknown): string =>
  error instanceof EventParseError
    ? error.message
    : error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error);

/**
 * Parses and processes one event. An ignored event is logged and acknowledged; a rejected or
 * failed one is logged with its reason and thrown again (Lambda retries it, then sends it to the
 * dead-letter queue with the error message as the reason). The legacy SNS handler sends a rejected
 * one (EventParseError) to its dead-letter queue at once, with the reason as message attributes
 * (`#shared/dead-letters`); SQS redelivers any other failure, then redrives it.
 */
export const handleEvent = async <S, R>(
  parse: () => ParseOutcome<S>,
  process: (signal: S) => Promise<R>,
  context: Readonly<Record<string, unknown>> = {},
): Promise<EventResult<R>> => {
  try {
    const parsed = parse();
    if (!parsed.ok) {
      logger.info('Event ignored', { ...context, eventId: parsed.eventId, reason: parsed.ignored });
      return {
        status: 'ignored',
        reason: parsed.ignored,
        ...(parsed.eventId === undefined ? {} : { eventId: parsed.eventId }),
      };
    }
    return { status: 'processed', outcome: await process(parsed.signal) };
  } catch (error) {
    logger.error('Event not processed', { ...context, reason: failureReason(error) });
    throw error;
  }
};
