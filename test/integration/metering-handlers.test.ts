import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from '#sandbox/emulators/secrets-manager';
import { installClock } from '#shared/clock';
import type { FanoutReport } from '#shared/metering/fanout';
import type { DryRunReport } from '#shared/metering/pipeline';
import { at, type Harness, saasusCredentials, startHarness, startQueue } from './metering-harness.js';

/**
 * The two Lambda handlers as deployed: environment from the stack, clients from the runtime,
 * every AWS service and SaaSus behind an emulator. The schedule handler queues the due licenses,
 * the worker handler meters them from an SQS batch and reports bad messages as item failures.
 */

const t = (time: string) => at(`2026-11-22T${time}:00.000Z`);
const context = {
  functionName: 'metering',
  functionVersion: '$LATEST',
  awsRequestId: 'request-1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:metering',
  memoryLimitInMB: '512',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

let h: Harness;
let secrets: SecretsManagerEmulator;
let queue: Awaited<ReturnType<typeof startQueue>>;
let restoreClock: () => void;
let schedule: (event: unknown, context: Context) => Promise<FanoutReport>;
let worker: (event: unknown, context: Context) => Promise<SQSBatchResponse | DryRunReport>;

beforeAll(async () => {
  h = await startHarness({ prefix: 'handlers', start: t('00:00') });
  secrets = await startSecretsManagerEmulator({
    secrets: { [h.config.saasus.secretName]: saasusCredentials },
  });
  queue = await startQueue();
  restoreClock = installClock(() => h.clock.now.getTime());
  Object.assign(process.env, {
    BRIDGE_CONFIG: JSON.stringify({
      ...h.config,
      saasus: { ...h.config.saasus, apiBaseUrl: h.saasusEmulator.url },
    }),
    LICENSES_TABLE: h.local.tables.Licenses,
    METERING_LEDGER_TABLE: h.local.tables.MeteringLedger,
    IDEMPOTENCY_TABLE: h.local.tables.Idempotency,
    DOMAIN_EVENT_BUS: 'marketplace-bridge-test',
    METERING_QUEUE_URL: queue.queueUrl,
    METERING_WORKERS: '2',
    AWS_ENDPOINT_URL_DYNAMODB: h.local.endpoint,
    AWS_ENDPOINT_URL_MARKETPLACE_METERING: h.marketplace.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ENDPOINT_URL_SQS: queue.url,
  });
  schedule = (await import('../../functions/metering/schedule.js')).handler as never;
  worker = (await import('../../functions/metering/worker.js')).handler as never;
});
afterAll(async () => {
  restoreClock();
  await Promise.all([h.close(), secrets.close(), queue.close()]);
});

const sqsEvent = (bodies: string[]): SQSEvent => ({
  Records: bodies.map((body, index) => ({
    messageId: `message-${index}`,
    receiptHandle: `receipt-${index}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'scheduler',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:metering-work',
    awsRegion: 'us-east-1',
  })),
});

describe('metering handlers', () => {
  it('schedule queues the due licenses; the worker meters them and reports malformed messages', async () => {
    const licenses = await Promise.all(
      Array.from({ length: 10 }, () => h.addLicense({ activeAt: t('09:20') })),
    );
    // The pass the event processor requests at activation captures the baseline.
    h.clock.now = t('09:21');
    const keys = licenses.map((license) => license.licenseKey);
    const activation = JSON.stringify({
      kind: 'meter',
      licenseKeys: keys,
      runHour: '2026-11-22T09:00:00.000Z',
    });
    expect(await worker(sqsEvent([activation]), context)).toEqual({ batchItemFailures: [] });
    await h.addUsage(licenses[0]?.tenantId ?? '', 'api_calls', t('10:30'), 4);

    h.clock.now = t('11:05');
    const report = await schedule({ scheduledTime: '2026-11-22T11:05:00Z' }, context);
    expect(report).toMatchObject({ runHour: '2026-11-22T11:00:00.000Z', dueLicenses: 10, messages: 1 });
    expect(queue.received).toHaveLength(1);

    const response = (await worker(
      sqsEvent([...queue.received, '{"kind":"meter"}']),
      context,
    )) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'message-1' }]);
    for (const license of licenses) {
      const billed = h.billedFor(license.licenseKey);
      expect(billed.map((record) => record.hour.toISOString()).sort()).toEqual([
        ...Array(3).fill('2026-11-22T09:00:00.000Z'),
        ...Array(3).fill('2026-11-22T10:00:00.000Z'),
      ]);
    }
    const [first] = licenses;
    const apiCalls = h
      .billedFor(first?.licenseKey ?? '')
      .filter((record) => record.dimension === 'api_calls')
      .map((record) => record.quantity);
    expect(apiCalls.reduce((sum, quantity) => sum + quantity, 0)).toBe(4);
  });

  it('the worker runs a final flush request', async () => {
    const license = await h.addLicense({ activeAt: t('11:00'), endingAt: t('12:20') });
    h.clock.now = t('12:25');
    const response = (await worker(
      sqsEvent([JSON.stringify({ kind: 'flush', licenseKey: license.licenseKey })]),
      context,
    )) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([]);
    expect(h.billedFor(license.licenseKey).map((record) => record.hour.toISOString())).toContain(
      '2026-11-22T12:00:00.000Z',
    );
  });

  it('answers a dry-run invoke without sending', async () => {
    const license = await h.addLicense({ activeAt: t('12:00') });
    const calls = h.marketplace.callCount('BatchMeterUsage');
    const plan = (await worker(
      { dryRun: true, licenseKey: license.licenseKey, at: '2026-11-22T13:05:00Z' },
      context,
    )) as DryRunReport;
    expect(plan.hours).toEqual(['2026-11-22T12:00:00.000Z']);
    expect(plan.records).toHaveLength(3);
    expect(h.marketplace.callCount('BatchMeterUsage')).toBe(calls);
    await expect(worker({ dryRun: true }, context)).rejects.toThrow(/licenseKey/);
  });
});
