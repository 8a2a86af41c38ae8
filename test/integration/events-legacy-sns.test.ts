import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AwsJsonError } from '#sandbox/emulators/http';
import type { QueuedMessage } from '#sandbox/sqs';
import { onlyProduct } from '../support/config.js';
import {
  type EventsHarness,
  minute,
  type ProvisionedLicense,
  rawSqsRecord,
  snsRecord,
  startEventsHarness,
} from '../support/events-harness.js';

// The logger reads its level when its module loads; this file checks the reasons it logs.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

/**
 * Legacy SNS notifications through SQS, end to end with the real handler: partial batch
 * failures, poison records sent to the dead-letter queue (the sandbox's local SQS) with their
 * reasons, idempotency on the SNS MessageId, and the subscription lifecycle of an older listing
 * (legacy identity: licenses keyed by CustomerIdentifier; contract with consumption).
 */

let h: EventsHarness;
beforeAll(async () => {
  h = await startEventsHarness({
    configure: (input) => {
      input.marketplace.identityMode = 'legacy';
      input.marketplace.pricingModel = 'contract-with-consumption';
      input.legacySns = {
        subscriptionTopicArn: `arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-${input.marketplace.productCode}`,
      };
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const notification = (
  license: Pick<ProvisionedLicense, 'customerIdentifier'>,
  action: string,
  time: string,
  messageId?: string,
) =>
  snsRecord({
    action,
    customerIdentifier: license.customerIdentifier,
    productCode: onlyProduct(h.config).productCode,
    time,
    ...(messageId ? { messageId } : {}),
    ...(action.startsWith('subscribe')
      ? { extra: { 'offer-identifier': 'offer-1', isFreeTrialTermPresent: 'false' } }
      : {}),
  });

/** A dead-lettered message's attributes, name → value. */
const attributesOf = (message: QueuedMessage | undefined): Record<string, string | undefined> =>
  Object.fromEntries(
    Object.entries(message?.messageAttributes ?? {}).map(([name, value]) => [
      name,
      (value as { StringValue?: string }).StringValue,
    ]),
  );

const detailTypes = (license: ProvisionedLicense) =>
  h.domainEvents(license.licenseKey).map((event) => event.detailType);

describe('a batch', () => {
  it('sends the records that can never succeed to the dead-letter queue with their reasons, and processes the others', async () => {
    const subscribed = await h.provisionLicense({ entitlements: ['basic'] });
    const updated = await h.provisionLicense({ entitlements: ['pro'] });
    const malformed = rawSqsRecord('{"Type":"Notification","MessageId":');
    const unknownAction = notification(subscribed, 'frobnicate', minute(1));
    const confirmation = rawSqsRecord(
      JSON.stringify({
        Type: 'SubscriptionConfirmation',
        MessageId: randomUUID(),
        Message: 'confirm',
        Timestamp: minute(0),
      }),
    );
    const records = [
      notification(subscribed, 'subscribe-success', minute(1)),
      malformed,
      notification(updated, 'subscribe-success', minute(1)),
      unknownAction,
      confirmation,
    ];
    const before = h.deadLetters().length;

    const response = await h.deliverBatch(records);

    // Nothing is left to SQS redelivery: the two poison records are in the dead-letter queue.
    expect(response.batchItemFailures).toEqual([]);
    expect(h.tenantPlan(subscribed.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.basic);
    expect(h.tenantPlan(updated.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.pro);
    expect((await h.license(subscribed.licenseKey)).status).toBe('active');
    const deadLettered = h.deadLetters().slice(before);
    expect(deadLettered.map((message) => message.body)).toEqual([malformed.body, unknownAction.body]);
    expect(attributesOf(deadLettered[0])).toEqual({
      reason: 'marketplace-sns event rejected: SQS message body is not valid JSON',
      errorType: 'EventParseError',
      sourceMessageId: malformed.messageId,
      sourceQueueArn: malformed.eventSourceARN,
      sourceSentTimestamp: malformed.attributes.SentTimestamp,
    });
    expect(attributesOf(deadLettered[1])).toMatchObject({
      reason: expect.stringContaining('unknown action "frobnicate"'),
      errorType: 'EventParseError',
      sourceMessageId: unknownAction.messageId,
    });
    expect(deadLettered[1]?.messageAttributes.sourceSentTimestamp).toMatchObject({ DataType: 'Number' });
    const failures = h.logs.filter((line) => line.includes('Event not processed'));
    expect(
      failures.some(
        (line) => line.includes(malformed.messageId) && line.includes('SQS message body is not valid JSON'),
      ),
    ).toBe(true);
    expect(
      h.logs.some(
        (line) => line.includes('sent to the dead-letter queue') && line.includes(unknownAction.messageId),
      ),
    ).toBe(true);
    // The subscription confirmation is acknowledged, not retried and not dead-lettered.
    expect(
      h.logs.some((line) => line.includes('Event ignored') && line.includes('SubscriptionConfirmation')),
    ).toBe(true);
  });

  it('leaves a transient failure to SQS redelivery, without dead-lettering it', async () => {
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    const other = await h.provisionLicense({ entitlements: ['basic'] });
    const record = notification(license, 'subscribe-success', minute(1));
    const before = h.deadLetters().length;
    // SaaSus stays down past the client's retries while the plan is set.
    h.saasus.faults.failNext(4, { status: 503 }, { operation: 'UpdateTenantPlan' });

    const response = await h.deliverBatch([record, notification(other, 'subscribe-success', minute(1))]);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(h.saasus.faults.pending()).toBe(0);
    expect(h.deadLetters()).toHaveLength(before);
    expect(h.tenantPlan(other.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.basic);
    // The redelivery succeeds.
    expect((await h.deliverBatch([record])).batchItemFailures).toEqual([]);
    expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.pro);
  });

  it('reports a poison record as a batch item failure when the dead-letter queue does not take it', async () => {
    const malformed = rawSqsRecord('not json');
    const license = await h.provisionLicense({ entitlements: ['basic'] });
    const before = h.deadLetters().length;
    const refuse = vi.spyOn(h.sqs, 'send').mockImplementation(() => {
      throw new AwsJsonError('AccessDenied', 'not authorized to perform sqs:SendMessage', 403);
    });
    try {
      const response = await h.deliverBatch([
        malformed,
        notification(license, 'subscribe-success', minute(1)),
      ]);

      expect(refuse).toHaveBeenCalled();
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: malformed.messageId }]);
      expect(h.deadLetters()).toHaveLength(before);
      expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.basic);
      expect(
        h.logs.some(
          (line) =>
            line.includes('Record not dead-lettered') &&
            line.includes(malformed.messageId) &&
            line.includes('AccessDenied'),
        ),
      ).toBe(true);
    } finally {
      refuse.mockRestore();
    }
    // Once SQS takes it again, the next delivery dead-letters it.
    expect((await h.deliverBatch([malformed])).batchItemFailures).toEqual([]);
    expect(
      h
        .deadLetters()
        .slice(before)
        .map((message) => attributesOf(message).sourceMessageId),
    ).toEqual([malformed.messageId]);
  });

  it('applies an SNS message delivered twice (same MessageId) once', async () => {
    const license = await h.provisionLicense({ entitlements: ['basic'] });
    await h.deliverBatch([notification(license, 'subscribe-success', minute(1))]);
    const messageId = randomUUID();
    h.marketplace.setEntitlements(license.customerIdentifier, [{ dimension: 'pro', value: 1 }]);

    const first = await h.deliverBatch([notification(license, 'entitlement-updated', minute(2), messageId)]);
    const reads = h.marketplace.callCount('GetEntitlements');
    const second = await h.deliverBatch([notification(license, 'entitlement-updated', minute(2), messageId)]);

    expect([first.batchItemFailures, second.batchItemFailures]).toEqual([[], []]);
    expect(h.marketplace.callCount('GetEntitlements')).toBe(reads);
    expect(h.marketplace.calls('GetEntitlements').at(-1)?.input.Filter).toEqual({
      CUSTOMER_IDENTIFIER: [license.customerIdentifier],
    });
    expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.pro);
    expect(detailTypes(license)).toEqual(['License Activated', 'Entitlements Changed']);
  });
});

describe('the subscription lifecycle', () => {
  it('unsubscribe-pending revokes and requests the final flush; a re-subscription before the end reinstates', async () => {
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    await h.deliverBatch([notification(license, 'subscribe-success', minute(1))]);

    const pending = await h.deliverBatch([notification(license, 'unsubscribe-pending', minute(10))]);
    expect(pending.batchItemFailures).toEqual([]);
    expect(h.tenantPlan(license.tenantId)).toBeNull();
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(1);
    expect(
      h.domainEvents(license.licenseKey).find((event) => event.detailType === 'License Ending')?.detail,
    ).toMatchObject({
      licenseKey: license.customerIdentifier,
      endingSince: minute(10),
    });

    await h.deliverBatch([notification(license, 'subscribe-success', minute(20))]);

    expect((await h.license(license.licenseKey)).status).toBe('active');
    expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.pro);
    expect(h.directoryUser(license.directoryUserId)?.is_disabled).toBe(0);
    expect(detailTypes(license)).toEqual(['License Activated', 'License Ending', 'License Reinstated']);
  });

  it('unsubscribe-success ends the license and stops metering', async () => {
    const license = await h.provisionLicense({ entitlements: ['basic'] });
    await h.deliverBatch([
      notification(license, 'subscribe-success', minute(1)),
      notification(license, 'unsubscribe-pending', minute(10)),
    ]);
    await h.deliverBatch([notification(license, 'unsubscribe-success', minute(70))]);

    expect((await h.license(license.licenseKey)).status).toBe('ended');
    expect(detailTypes(license)).toEqual([
      'License Activated',
      'License Ending',
      'License Revoked',
      'Metering Stopped',
    ]);
  });

  it('records a notification that arrives before sign-up under the customer identifier', async () => {
    const customerIdentifier = randomBytes(5).toString('hex').toUpperCase();
    h.marketplace.addLicense({ customerAwsAccountId: '210987654321', customerIdentifier });

    const response = await h.deliverBatch([
      notification({ customerIdentifier }, 'subscribe-success', minute(1)),
    ]);

    expect(response.batchItemFailures).toEqual([]);
    expect(await h.license(customerIdentifier)).toMatchObject({
      identityMode: 'legacy',
      customerIdentifier,
      status: 'active',
    });
  });
});
