import * as z from 'zod';
import type { LicenseSignal, LicenseSignalBody } from '../license/signal.js';
import {
  accept,
  EventParseError,
  identifier,
  ignore,
  isoTime,
  isPlainObject,
  optionalIdentifier,
  type ParseOutcome,
  parseJsonText,
  parseWith,
} from './common.js';

/**
 * Legacy AWS Marketplace SNS notifications (subscription and entitlement topics) as they arrive in
 * SQS (NOTES §b2): normally a standard SNS `Notification` envelope whose `Message` is JSON text,
 * but `Message` may also be an object, and with raw message delivery the SQS body is the
 * Marketplace message itself (then the SQS message id and sent time stand in for the envelope's).
 */

const origin = 'marketplace-sns';

export const snsActions = [
  'subscribe-success',
  'subscribe-fail',
  'unsubscribe-pending',
  'unsubscribe-success',
  'entitlement-updated',
] as const;

export type SnsAction = (typeof snsActions)[number];

const envelopeSchema = z.looseObject({
  Type: z.string().optional(),
  MessageId: identifier('MessageId'),
  Timestamp: isoTime('Timestamp'),
  TopicArn: z.string().optional(),
  Message: z.union([z.string(), z.looseObject({})], {
    message: 'expected Message as JSON text or an object',
  }),
});

/** AWS documents the flag as the string "true"/"false"; a boolean is accepted too. */
const freeTrialFlag = z
  .union(
    [
      z.boolean(),
      z
        .string()
        .trim()
        .toLowerCase()
        .pipe(z.enum(['true', 'false'])),
    ],
    { message: 'expected isFreeTrialTermPresent as "true" or "false"' },
  )
  .transform((value) => value === true || value === 'true');

const messageSchema = z.looseObject({
  action: z.string({ message: 'expected action as a string' }).trim(),
  'customer-identifier': identifier('customer-identifier'),
  'product-code': identifier('product-code'),
  'offer-identifier': optionalIdentifier,
  isFreeTrialTermPresent: freeTrialFlag.optional(),
});

type Message = z.output<typeof messageSchema>;

export interface SnsDelivery {
  /** The SQS message id: the event id when raw delivery leaves no SNS MessageId. */
  readonly messageId: string;
  /** The SQS SentTimestamp (ms since epoch, as a string or number) or an ISO time. */
  readonly sentTimestamp: string | number;
}

export interface MarketplaceSnsOptions {
  /** The deployment's product codes: messages for another product are ignored. */
  readonly productCodes?: readonly string[];
  /** SQS metadata, needed only for raw message delivery. */
  readonly delivery?: SnsDelivery;
}

const deliveryTime = (sent: string | number): string => {
  const asNumber = typeof sent === 'number' ? sent : /^\d+$/.test(sent) ? Number(sent) : Number.NaN;
  const date = Number.isNaN(asNumber) ? new Date(String(sent)) : new Date(asNumber);
  if (Number.isNaN(date.getTime())) {
    throw new EventParseError(origin, `SQS SentTimestamp "${sent}" is not a time`);
  }
  return date.toISOString();
};

const bodyOf = (message: Message): LicenseSignalBody => {
  const action = message.action as SnsAction;
  switch (action) {
    case 'subscribe-success':
    case 'subscribe-fail':
      return {
        kind: action,
        ...(message['offer-identifier'] ? { offerId: message['offer-identifier'] } : {}),
        ...(message.isFreeTrialTermPresent === undefined
          ? {}
          : { freeTrial: message.isFreeTrialTermPresent }),
      };
    case 'unsubscribe-pending':
    case 'unsubscribe-success':
      return { kind: action };
    case 'entitlement-updated':
      return { kind: 'license-updated' };
  }
};

interface Unwrapped {
  readonly eventId: string;
  readonly time: string;
  readonly message: unknown;
}

const unwrap = (body: unknown, delivery: SnsDelivery | undefined): Unwrapped | ParseOutcome<never> => {
  const parsed = typeof body === 'string' ? parseJsonText(body, 'SQS message body', origin) : body;
  if (!isPlainObject(parsed)) throw new EventParseError(origin, 'SQS message body is not a JSON object');
  if ('Message' in parsed) {
    if (parsed.Type !== undefined && parsed.Type !== 'Notification') {
      return ignore(`SNS ${String(parsed.Type)} message, not a notification`);
    }
    const envelope = parseWith(envelopeSchema, parsed, 'SNS envelope', origin);
    const message =
      typeof envelope.Message === 'string'
        ? parseJsonText(envelope.Message, 'SNS Message', origin)
        : envelope.Message;
    return { eventId: envelope.MessageId, time: envelope.Timestamp, message };
  }
  if ('action' in parsed) {
    if (!delivery) {
      throw new EventParseError(
        origin,
        'raw SNS delivery (no envelope): the SQS message id and SentTimestamp are needed as event id and time',
      );
    }
    return { eventId: delivery.messageId, time: deliveryTime(delivery.sentTimestamp), message: parsed };
  }
  throw new EventParseError(origin, 'neither an SNS notification envelope nor a Marketplace message');
};

/**
 * Parses one SQS message body (text or already-parsed JSON) carrying a Marketplace SNS
 * notification. Identifiers are trimmed; unknown actions, missing identifiers and malformed JSON
 * throw EventParseError.
 */
export const parseMarketplaceSnsMessage = (
  body: unknown,
  options: MarketplaceSnsOptions = {},
): ParseOutcome<LicenseSignal> => {
  const unwrapped = unwrap(body, options.delivery);
  if ('ok' in unwrapped) return unwrapped;
  const message = parseWith(messageSchema, unwrapped.message, 'Marketplace SNS message', origin);
  if (!(snsActions as readonly string[]).includes(message.action)) {
    throw new EventParseError(
      origin,
      `unknown action "${message.action}" (expected one of ${snsActions.join(', ')})`,
    );
  }
  const productCode = message['product-code'];
  if (options.productCodes && !options.productCodes.includes(productCode)) {
    return ignore(
      `message for product code ${productCode}, not one of this deployment's listings`,
      unwrapped.eventId,
    );
  }
  return accept({
    eventId: unwrapped.eventId,
    time: unwrapped.time,
    origin: 'sns',
    sourceType: message.action,
    locator: { by: 'customerIdentifier', customerIdentifier: message['customer-identifier'] },
    productCode,
    ...bodyOf(message),
  });
};
