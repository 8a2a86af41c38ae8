import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dayOf } from '../../functions/shared/metering/hours.js';
import { meteringAttributes } from '../../functions/shared/metering/store.js';
import { meteringShardOf } from '../../functions/shared/tables.js';
import { lifecycleFor } from '../../test/integration/metering-harness.js';
import { mapConcurrent } from './stats.js';
import type { World } from './world.js';

/**
 * Licenses for metering, written the way a metering pass at activation leaves them: active since
 * `activeAt` (lifecycle record), a SaaSus tenant, the activation baseline captured, and a buyer
 * license in the Marketplace emulator. Every `usageEvery`-th tenant gets some API calls after the
 * activation, so quantities differ; the others report 0 (sent, as `sendZeroUsage` says).
 */

export interface MeteringLicense {
  readonly licenseKey: string;
  readonly tenantId: string;
  readonly account: string;
  readonly productCode: string;
  /** API calls recorded after activation (0 for most). */
  readonly apiCalls: number;
}

export interface SeedOptions {
  readonly count: number;
  readonly activeAt: Date;
  /** Usage is recorded at this time (after activation, in the same hour). */
  readonly usageAt: Date;
  readonly usageEvery?: number;
  /** Distinguishes the accounts of several seedings in one world. */
  readonly accountBase?: number;
}

export const seedMeteringLicenses = async (
  world: World,
  options: SeedOptions,
): Promise<MeteringLicense[]> => {
  const { config } = world;
  const activeAt = options.activeAt.toISOString();
  const usageEvery = options.usageEvery ?? 10;
  const licenses: MeteringLicense[] = [];
  for (let index = 0; index < options.count; index++) {
    const account = String((options.accountBase ?? 200_000_000_000) + index);
    // Several listings share the licenses in turn.
    const product = world.products[index % world.products.length] ?? world.product;
    const emulated = world.marketplace.addLicense({
      customerAwsAccountId: account,
      productCode: product.productCode,
    });
    const tenant = world.saasus.seedTenant({
      name: `metered ${index}`,
      back_office_staff_email: 'ops@seller.example',
    });
    licenses.push({
      licenseKey: emulated.licenseArn,
      tenantId: String(tenant.id),
      account,
      productCode: product.productCode,
      apiCalls: index % usageEvery === 0 ? (index % 97) + 1 : 0,
    });
  }
  const items = licenses.map((license) => ({
    licenseKey: license.licenseKey,
    identityMode: 'license',
    licenseArn: license.licenseKey,
    customerAwsAccountId: license.account,
    productCode: license.productCode,
    status: 'active',
    meteringShard: meteringShardOf(license.licenseKey),
    createdAt: activeAt,
    updatedAt: activeAt,
    version: 0,
    tenantId: license.tenantId,
    lifecycle: lifecycleFor({ activeAt: options.activeAt }),
    [meteringAttributes.baseline]: {
      episode: activeAt,
      day: dayOf(options.activeAt, config.metering.saasusDayTimeZone),
      counts: {},
      capturedAt: activeAt,
    },
  }));
  const chunks: (typeof items)[] = [];
  for (let start = 0; start < items.length; start += 25) chunks.push(items.slice(start, start + 25));
  const tableName = world.tables.Licenses as string;
  await mapConcurrent(chunks, 4, async (chunk) => {
    let requests: Record<string, unknown>[] = chunk.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const result = await world.dynamo.documents.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: requests as never } }),
      );
      requests = (result.UnprocessedItems?.[tableName] ?? []) as Record<string, unknown>[];
    }
  });
  const unitOf = (productCode: string) =>
    (
      world.products.find((candidate) => candidate.productCode === productCode) ?? world.product
    ).meteringUnits.find((candidate) => candidate.aggregation === 'sum')?.saasusUnit ?? 'api_calls';
  const usageSeconds = Math.floor(options.usageAt.getTime() / 1000);
  await mapConcurrent(
    licenses.filter((license) => license.apiCalls > 0),
    32,
    (license) =>
      world.saasusClient.updateMeteringCountAt(license.tenantId, unitOf(license.productCode), usageSeconds, {
        method: 'add',
        count: license.apiCalls,
      }),
  );
  return licenses;
};

/** An SQS event as Lambda's event source mapping delivers it. */
export const sqsEvent = (messages: readonly { messageId: string; body: string }[], queueArn: string) => ({
  Records: messages.map((message) => ({
    messageId: message.messageId,
    receiptHandle: `bench-${message.messageId}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDABENCH',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  })),
});
