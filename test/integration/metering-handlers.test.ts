import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SimulatedClock, SimulatedTimers } from '#sandbox/clock';
import { AwsJsonError } from '#sandbox/emulators/http';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from '#sandbox/emulators/secrets-manager';
import { LocalSqs, type QueuedMessage } from '#sandbox/sqs';
import { installClock } from '#shared/clock';
import type { FanoutReport } from '#shared/metering/fanout';
import type { DryRunReport } from '#shared/metering/pipeline';
import { at, type Harness, saasusCredentials, startHarness } from './metering-harness.js';

/**
 * The two Lambda handlers as deployed: environment from the stack, clients from the runtime,
 * every AWS service and SaaSus behind an emulator (SQS: the sandbox's local SQS, with the work
 * queue and its dead-letter queue). The schedule handler queues the due licenses, the worker
 * handler meters them from an SQS batch, sends malformed messages to the dead-letter queue with
 * their reasons and reports transient failures as batch item failures.
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
let sqs: LocalSqs;
const workQueue = 'MeteringWorkQueue';
const workDeadLetters = 'MeteringWorkDeadLetters';
/** Bodies the schedule handler queued. */
const queued = () => sqs.messages(workQueue).map((message) => message.body);
const deadLetters = () => sqs.messages(workDeadLetters);
/** A dead-lettered message's attributes, name → value. */
const attributesOf = (message: QueuedMessage | undefined): Record<string, string | undefined> =>
  Object.fromEntries(
    Object.entries(message?.messageAttributes ?? {}).map(([name, value]) => [
      name,
      (value as { StringValue?: string }).StringValue,
    ]),
  );
let restoreClock: () => void;
let schedule: (event: unknown, context: Context) => Promise<FanoutReport>;
let worker: (event: unknown, context: Context) => Promise<SQSBatchResponse | DryRunReport>;

beforeAll(async () => {
  h = await startHarness({ prefix: 'handlers', start: t('00:00') });
  secrets = await startSecretsManagerEmulator({
    secrets: { [h.config.saasus.secretName]: saasusCredentials },
  });
  const queueModel = { queueName: undefined, fifo: false, contentBasedDeduplication: false };
  sqs = new LocalSqs(
    [
      {
        ...queueModel,
        logicalId: workQueue,
        visibilityTimeoutSeconds: 720,
        redrive: { deadLetterQueue: { kind: 'queue', logicalId: workDeadLetters }, maxReceiveCount: 5 },
      },
      { ...queueModel, logicalId: workDeadLetters, visibilityTimeoutSeconds: 30, redrive: undefined },
    ],
    {
      account: '000000000000',
      region: 'us-east-1',
      namePrefix: 'metering-handlers',
      now: () => h.clock.now.getTime(),
      timers: new SimulatedTimers(SimulatedClock.create()),
    },
  );
  const sqsUrl = await sqs.start();
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
    METERING_QUEUE_URL: sqs.queue(workQueue).url,
    DEAD_LETTER_QUEUE_URL: sqs.queue(workDeadLetters).url,
    METERING_WORKERS: '2',
    AWS_ENDPOINT_URL_DYNAMODB: h.local.endpoint,
    AWS_ENDPOINT_URL_MARKETPLACE_METERING: h.marketplace.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ENDPOINT_URL_SQS: sqsUrl,
  });
  schedule = (await import('../../functions/metering/schedule.js')).handler as never;
  worker = (await import('../../functions/metering/worker.js')).handler as never;
});
afterAll(async () => {
  restoreClock();
  await Promise.all([h.close(), secrets.close(), sqs.close()]);
});

/** One SQS batch; record `i` has the message id `message-<i>`. */
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
  it('schedule queues the due licenses; the worker meters them and dead-letters a malformed message with its reason', async () => {
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
    expect(queued()).toHaveLength(1);

    const event = sqsEvent([...queued(), '{"kind":"meter"}']);
    const response = (await worker(event, context)) as SQSBatchResponse;
    // The malformed message can never succeed: it is in the dead-letter queue, not redelivered.
    expect(response.batchItemFailures).toEqual([]);
    expect(deadLetters().map((message) => message.body)).toEqual(['{"kind":"meter"}']);
    expect(attributesOf(deadLetters()[0])).toEqual({
      reason: expect.stringMatching(/^Invalid metering message:\n.*licenseKeys/s),
      errorType: 'MeteringMessageError',
      sourceMessageId: 'message-1',
      sourceQueueArn: event.Records[1]?.eventSourceARN,
      sourceSentTimestamp: '0',
    });
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

  it('the worker leaves a transient failure to SQS redelivery; only the malformed message is dead-lettered', async () => {
    const broken = await h.addLicense({ activeAt: t('12:00') });
    const flushed = await h.addLicense({ activeAt: t('11:00'), endingAt: t('12:20') });
    h.clock.now = t('13:05');
    const before = deadLetters().length;
    // SaaSus fails every usage read of one tenant, past the client's retries.
    h.saasusEmulator.faults.failNext(
      20,
      { status: 500 },
      { path: new RegExp(`/tenants/${broken.tenantId}/`) },
    );
    try {
      const response = (await worker(
        sqsEvent([
          JSON.stringify({
            kind: 'meter',
            licenseKeys: [broken.licenseKey],
            runHour: '2026-11-22T13:00:00.000Z',
          }),
          JSON.stringify({ kind: 'flush', licenseKey: flushed.licenseKey }),
          'not json',
        ]),
        context,
      )) as SQSBatchResponse;

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'message-0' }]);
      expect(h.billedFor(broken.licenseKey)).toEqual([]);
      expect(h.billedFor(flushed.licenseKey).length).toBeGreaterThan(0);
      expect(
        deadLetters()
          .slice(before)
          .map((message) => [message.body, attributesOf(message).errorType]),
      ).toEqual([['not json', 'MeteringMessageError']]);
    } finally {
      h.saasusEmulator.faults.clear();
    }
  });

  it('the worker reports a malformed message as a batch item failure when the dead-letter queue does not take it', async () => {
    const license = await h.addLicense({ activeAt: t('12:00'), endingAt: t('13:20') });
    h.clock.now = t('13:25');
    const before = deadLetters().length;
    const refuse = vi.spyOn(sqs, 'send').mockImplementation(() => {
      throw new AwsJsonError('AccessDenied', 'not authorized to perform sqs:SendMessage', 403);
    });
    try {
      const response = (await worker(
        sqsEvent(['{"kind":"purge"}', JSON.stringify({ kind: 'flush', licenseKey: license.licenseKey })]),
        context,
      )) as SQSBatchResponse;

      expect(refuse).toHaveBeenCalled();
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'message-0' }]);
      expect(deadLetters()).toHaveLength(before);
      expect(h.billedFor(license.licenseKey).length).toBeGreaterThan(0);
    } finally {
      refuse.mockRestore();
    }
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
