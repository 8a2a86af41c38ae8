import type { Logger } from '@aws-lambda-powertools/logger';
import { type MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import * as z from 'zod';

/**
 * Dead-lettering of SQS records that can never succeed. An SQS-triggered handler wraps its record
 * handler with `deadLetterPermanentFailures`: when a record fails with an error the handler
 * declares permanent (its body does not parse), the record's body is sent to the function's
 * dead-letter queue with the reason as message attributes and the record counts as processed, so
 * SQS neither redelivers it nor moves it there a second time. Every other failure stays a batch
 * item failure (redelivery, then the queue's redrive policy), and so does a permanent one whose
 * send fails: nothing is lost.
 */

/** The function's environment: its dead-letter queue (set by `sendPermanentFailuresTo` in the CDK app). */
export const deadLetterQueueEnv = { DEAD_LETTER_QUEUE_URL: z.url() };

/** The message attributes of a dead-lettered record (read them with `--message-attribute-names All`). */
export const deadLetterAttributes = {
  /** The error message, cleaned to what SQS accepts and cut to `MAX_REASON_LENGTH` characters. */
  reason: 'reason',
  /** The error class, e.g. `EventParseError`, `MeteringMessageError`. */
  errorType: 'errorType',
  /** The SQS message id the record had on its source queue (what the function's logs name). */
  sourceMessageId: 'sourceMessageId',
  /** The ARN of the queue the record came from (redrive it there). */
  sourceQueueArn: 'sourceQueueArn',
  /** When the record was first sent to the source queue (ms since the epoch). */
  sourceSentTimestamp: 'sourceSentTimestamp',
} as const;

/** Characters of a reason kept; error messages name a field or two, never a whole payload. */
export const MAX_REASON_LENGTH = 1000;

/** What SQS refuses in a string attribute: everything outside XML's characters (lone surrogates too). */
const NOT_SQS_TEXT = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** A string attribute value SQS accepts: valid characters only, at most `max` code points. */
export const attributeText = (value: string, max = MAX_REASON_LENGTH): string => {
  const characters = Array.from(value.replace(NOT_SQS_TEXT, '\uFFFD'));
  return characters.length <= max ? characters.join('') : `${characters.slice(0, max - 1).join('')}…`;
};

/** The attributes that say why a record was dead-lettered. Only the error message, never the body. */
export const deadLetterMessageAttributes = (
  record: Pick<SQSRecord, 'messageId' | 'eventSourceARN' | 'attributes'>,
  error: Error,
): Record<string, MessageAttributeValue> => {
  const entries: [string, MessageAttributeValue][] = [
    [deadLetterAttributes.reason, { DataType: 'String', StringValue: attributeText(error.message) }],
    [deadLetterAttributes.errorType, { DataType: 'String', StringValue: attributeText(error.name, 100) }],
    [
      deadLetterAttributes.sourceMessageId,
      { DataType: 'String', StringValue: attributeText(record.messageId) },
    ],
    [
      deadLetterAttributes.sourceQueueArn,
      { DataType: 'String', StringValue: attributeText(record.eventSourceARN ?? '') },
    ],
  ];
  const sent = record.attributes?.SentTimestamp;
  if (typeof sent === 'string' && /^\d+$/.test(sent)) {
    entries.push([deadLetterAttributes.sourceSentTimestamp, { DataType: 'Number', StringValue: sent }]);
  }
  // SQS refuses empty attribute values.
  return Object.fromEntries(entries.filter(([, value]) => value.StringValue !== ''));
};

/** Where permanent failures go. */
export interface DeadLetterQueue {
  /** Sends the record's body unchanged, with `deadLetterMessageAttributes`; throws when SQS does not take it. */
  send(record: SQSRecord, error: Error): Promise<void>;
}

let sharedClient: SQSClient | undefined;
const defaultClient = (): SQSClient => {
  sharedClient ??= new SQSClient({});
  return sharedClient;
};

/** The dead-letter queue at `queueUrl`; the SQS client is built on the first send (most invocations never send). */
export const sqsDeadLetterQueue = (
  queueUrl: string,
  client: () => Pick<SQSClient, 'send'> = defaultClient,
): DeadLetterQueue => ({
  async send(record, error) {
    await client().send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: record.body,
        MessageAttributes: deadLetterMessageAttributes(record, error),
      }),
    );
  },
});

export interface DeadLetterOptions {
  readonly deadLetters: DeadLetterQueue;
  /** Whether redelivering the record can never help: the handler's parse/validation errors, nothing else. */
  readonly isPermanent: (error: unknown) => error is Error;
  readonly logger: Pick<Logger, 'warn' | 'error'>;
}

/**
 * Wraps an SQS record handler: a permanent failure is sent to the dead-letter queue and the record
 * reported as processed (resolves `undefined`); any other failure, or a permanent one the
 * dead-letter queue did not take, is thrown again and becomes a batch item failure.
 */
export const deadLetterPermanentFailures =
  <R>(processRecord: (record: SQSRecord) => Promise<R>, options: DeadLetterOptions) =>
  async (record: SQSRecord): Promise<R | undefined> => {
    try {
      return await processRecord(record);
    } catch (error) {
      if (!options.isPermanent(error)) throw error;
      const context = { messageId: record.messageId, errorType: error.name, reason: error.message };
      try {
        await options.deadLetters.send(record, error);
      } catch (sendError) {
        options.logger.error('Record not dead-lettered; left to SQS redelivery', {
          ...context,
          sendError:
            sendError instanceof Error ? `${sendError.name}: ${sendError.message}` : String(sendError),
        });
        throw error;
      }
      options.logger.warn('Record can never succeed: sent to the dead-letter queue, not retried', context);
      return undefined;
    }
  };
