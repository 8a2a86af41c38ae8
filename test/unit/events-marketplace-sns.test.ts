import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventParseError } from '#shared/events/common';
import {
  type MarketplaceSnsOptions,
  parseMarketplaceSnsMessage,
  type snsActions,
} from '#shared/events/marketplace-sns';
import { applySignal, initialRecord } from '#shared/license/record';
import type { LicenseSignal, LicenseSignalKind } from '#shared/license/signal';
import { deriveStatus, type LicenseStatus } from '#shared/license/status';

const snsDir = new URL('../../../shared/reference/aws-marketplace/events/sns/', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, snsDir), 'utf8');

const subscriptionTemplate = () =>
  JSON.parse(text('subscription-notification.template.json')) as Record<string, unknown>;

/** The published entitlement template minus its trailing comma, with the action it always has. */
const entitlementMessage = () => ({
  action: 'entitlement-updated',
  'customer-identifier': ' X01EXAMPLEX',
  'product-code': 'n0123EXAMPLEXXXXXXXXXXXX',
});

/** A standard SNS Notification envelope as SQS delivers it. */
const envelope = (message: unknown, overrides: Record<string, unknown> = {}) => ({
  Type: 'Notification',
  MessageId: 'b3f1a3a0-1111-4c4c-9d9d-000000000001',
  TopicArn: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-n0123EXAMPLEXXXXXXXXXXXX',
  Message: typeof message === 'string' ? message : JSON.stringify(message),
  Timestamp: '2026-07-01T10:00:00.123Z',
  SignatureVersion: '1',
  ...overrides,
});

const accepted = (body: unknown, options = {}): LicenseSignal => {
  const outcome = parseMarketplaceSnsMessage(body, options);
  if (!outcome.ok) throw new Error(`expected a signal, got ignored: ${outcome.ignored}`);
  return outcome.signal;
};

const rejection = (body: unknown, options: MarketplaceSnsOptions = {}): string => {
  try {
    parseMarketplaceSnsMessage(body, options);
  } catch (error) {
    expect(error).toBeInstanceOf(EventParseError);
    return (error as EventParseError).reason;
  }
  throw new Error('expected the message to be rejected');
};

const statusOf = (signal: LicenseSignal): LicenseStatus =>
  deriveStatus(applySignal(initialRecord(), signal)).status;

describe('parseMarketplaceSnsMessage on the published payloads', () => {
  it('covers every published SNS file', () => {
    expect(readdirSync(snsDir).sort()).toEqual([
      'entitlement-notification.template.verbatim.txt',
      'subscribe-success.json',
      'subscription-notification.template.json',
    ]);
  });

  it('subscribe-success.json, wrapped in an SNS envelope, activates the license', () => {
    const signal = accepted(JSON.stringify(envelope(text('subscribe-success.json'))));
    expect(signal).toMatchObject({
      kind: 'subscribe-success',
      origin: 'sns',
      eventId: 'b3f1a3a0-1111-4c4c-9d9d-000000000001',
      time: '2026-07-01T10:00:00.123Z',
      productCode: '72EXAMPLE2dgb8dfEXAMPLEmn',
      locator: {
        by: 'customerIdentifier',
        customerIdentifier: 'T1EXAMPLEjM0MTIzNDEyMzQtNTY3ODU2ODc1EXAMPLENj',
      },
    });
    expect(statusOf(signal)).toBe('active');
  });

  it('rejects the subscription template as published: its action is a placeholder', () => {
    expect(rejection(envelope(subscriptionTemplate()))).toMatch(/unknown action "<action-name>"/);
  });

  const transitions: Record<(typeof snsActions)[number], { kind: LicenseSignalKind; status: LicenseStatus }> =
    {
      'subscribe-success': { kind: 'subscribe-success', status: 'active' },
      'subscribe-fail': { kind: 'subscribe-fail', status: 'failed' },
      'unsubscribe-pending': { kind: 'unsubscribe-pending', status: 'ending' },
      'unsubscribe-success': { kind: 'unsubscribe-success', status: 'ended' },
      'entitlement-updated': { kind: 'license-updated', status: 'active' },
    };

  it.each(Object.entries(transitions))('the subscription template with %s', (action, expected) => {
    const signal = accepted(envelope({ ...subscriptionTemplate(), action }));
    expect(signal.kind).toBe(expected.kind);
    expect(signal.sourceType).toBe(action);
    // The template's leading space is trimmed from the identifier.
    expect(signal.locator).toEqual({ by: 'customerIdentifier', customerIdentifier: 'X01EXAMPLEX' });
    expect(statusOf(signal)).toBe(expected.status);
  });

  it('keeps the offer and reads the free-trial string flag of subscribe-success', () => {
    expect(accepted(envelope({ ...subscriptionTemplate(), action: 'subscribe-success' }))).toMatchObject({
      offerId: 'offer-abcexample123',
      freeTrial: true,
    });
    expect(
      accepted(
        envelope({ ...subscriptionTemplate(), action: 'subscribe-fail', isFreeTrialTermPresent: 'false' }),
      ),
    ).toMatchObject({ freeTrial: false });
  });

  it('the entitlement template is not valid JSON as published, and is rejected with a reason', () => {
    expect(() => JSON.parse(text('entitlement-notification.template.verbatim.txt'))).toThrow();
    expect(rejection(envelope(text('entitlement-notification.template.verbatim.txt')))).toMatch(
      /SNS Message is not valid JSON/,
    );
  });

  it('a valid entitlement-updated message becomes a license update', () => {
    const signal = accepted(envelope(entitlementMessage()));
    expect(signal).toMatchObject({
      kind: 'license-updated',
      locator: { by: 'customerIdentifier', customerIdentifier: 'X01EXAMPLEX' },
      productCode: 'n0123EXAMPLEXXXXXXXXXXXX',
    });
    expect(statusOf(signal)).toBe('active');
  });
});

describe('parseMarketplaceSnsMessage envelopes', () => {
  it('accepts Message as an object', () => {
    const signal = accepted(envelope(undefined, { Message: entitlementMessage() }));
    expect(signal.kind).toBe('license-updated');
  });

  it('accepts raw message delivery with the SQS message id and sent time', () => {
    const signal = accepted(text('subscribe-success.json'), {
      delivery: { messageId: 'sqs-message-1', sentTimestamp: '1782900000000' },
    });
    expect(signal).toMatchObject({ eventId: 'sqs-message-1', time: new Date(1782900000000).toISOString() });
  });

  it('rejects raw delivery without SQS metadata', () => {
    expect(rejection(text('subscribe-success.json'))).toMatch(/SQS message id and SentTimestamp/);
  });

  it('ignores subscription confirmations and other products', () => {
    expect(parseMarketplaceSnsMessage(envelope({}, { Type: 'SubscriptionConfirmation' }))).toMatchObject({
      ok: false,
      ignored: expect.stringMatching(/SubscriptionConfirmation/),
    });
    expect(
      parseMarketplaceSnsMessage(envelope(entitlementMessage()), { productCodes: ['other'] }),
    ).toMatchObject({
      ok: false,
      ignored: expect.stringMatching(/not one of this deployment's listings/),
      eventId: 'b3f1a3a0-1111-4c4c-9d9d-000000000001',
    });
  });

  it.each([
    ['a body that is not JSON', '{"Type": "Notification",', /SQS message body is not valid JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['neither envelope nor message', { hello: 'world' }, /neither an SNS notification envelope/],
    ['an envelope without MessageId', envelope(entitlementMessage(), { MessageId: undefined }), /MessageId/],
    ['an envelope with a bad Timestamp', envelope(entitlementMessage(), { Timestamp: 'now' }), /Timestamp/],
    [
      'a blank customer identifier',
      envelope({ ...entitlementMessage(), 'customer-identifier': '   ' }),
      /customer-identifier/,
    ],
    [
      'a missing product code',
      envelope({ action: 'subscribe-success', 'customer-identifier': 'c' }),
      /product-code/,
    ],
    [
      'a free-trial flag that is neither true nor false',
      envelope({ ...subscriptionTemplate(), action: 'subscribe-success', isFreeTrialTermPresent: 'maybe' }),
      /isFreeTrialTermPresent/,
    ],
    [
      'a bad SQS sent time on raw delivery',
      { ...entitlementMessage() },
      /SentTimestamp "soon"/,
      { delivery: { messageId: 'm', sentTimestamp: 'soon' } },
    ],
  ] as [string, unknown, RegExp, MarketplaceSnsOptions?][])('rejects %s', (_what, body, reason, options) => {
    expect(rejection(body, options)).toMatch(reason);
  });
});
