import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MeteringMessage, parseMeteringMessage, runFanout, sqsEnqueue } from '#shared/metering/fanout';
import { type CrashPoint, InjectedCrash, meterLicenses } from '#shared/metering/pipeline';
import { backfillMeterableIndex, meterableLicenses, meteringAttributes } from '#shared/metering/store';
import { onlyProduct } from '../support/config.js';
import { at, type Harness, startHarness, startQueue } from './metering-harness.js';

const t = (time: string) => at(`2026-11-22T${time}:00.000Z`);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ prefix: 'fanout', start: t('00:00') });
});
afterAll(() => h.close());

const run = async (keys: string[], now: Date, crashAt?: (point: CrashPoint) => boolean) => {
  h.clock.now = now;
  return meterLicenses(h.deps(crashAt ? { crashAt } : {}), { licenseKeys: keys, now });
};

describe('hourly fan-out', () => {
  it('queues due licenses and licenses with pending records, sweeps expired ones, reports the lag, and is idempotent', async () => {
    const due = await h.addLicense({ activeAt: t('09:20') });
    const current = await h.addLicense({ activeAt: t('09:20') });
    await run([current.licenseKey], t('13:05'));
    const stopped = await h.addLicense({ activeAt: t('09:20') });
    await h.licenses.setAttributes(stopped.licenseKey, {
      [meteringAttributes.stopped]: {
        episode: t('09:20').toISOString(),
        at: t('12:00').toISOString(),
        reason: 'x',
      },
    });
    const flushed = await h.addLicense({ activeAt: t('09:20'), endingAt: t('11:30') });
    await run([flushed.licenseKey], t('11:35'));
    const pendingOnly = await h.addLicense({ activeAt: t('12:00') });
    await expect(
      run([pendingOnly.licenseKey], t('13:05'), (point) => point.step === 'cursorAdvanced'),
    ).rejects.toBeInstanceOf(InjectedCrash);
    const gone = await h.addLicense({ activeAt: t('04:00') });
    await expect(
      run([gone.licenseKey], t('05:05'), (point) => point.step === 'cursorAdvanced'),
    ).rejects.toBeInstanceOf(InjectedCrash);
    await h.setLifecycle(gone.licenseKey, {
      activeAt: t('04:00'),
      endingAt: t('05:30'),
      deprovisionedAt: t('06:00'),
    });

    const queued: MeteringMessage[] = [];
    // What the fan-out did, in order, and how many expiry writes were in flight at once.
    const steps: string[] = [];
    let writing = 0;
    let mostWriting = 0;
    const ledger = {
      ...h.ledger,
      recordOutcome: async (...args: Parameters<typeof h.ledger.recordOutcome>) => {
        steps.push('expire');
        mostWriting = Math.max(mostWriting, ++writing);
        try {
          return await h.ledger.recordOutcome(...args);
        } finally {
          writing--;
        }
      },
    };
    const fanout = () =>
      runFanout(
        {
          config: h.config,
          licensePages: () =>
            meterableLicenses({ client: h.local.client, tableName: h.local.tables.Licenses, pageSize: 2 }),
          ledger,
          enqueue: async (messages) => {
            steps.push(`queue ${messages.length}`);
            queued.push(...messages);
          },
        },
        { now: t('13:35'), runHour: t('13:00') },
      );
    const report = await fanout();
    expect(report).toMatchObject({
      runHour: '2026-11-22T13:00:00.000Z',
      dueLicenses: 1,
      pendingOnlyLicenses: 1,
      stoppedLicenses: 1,
      messages: 2,
      expired: 3,
      // The due license was never metered: its activation hour 09:00 is the oldest unreported.
      oldestUnreportedHourLagSeconds: 4 * 3600 + 35 * 60,
    });
    // The due license is queued before the sweep; the pending-only one alongside the expiries.
    expect(queued).toEqual([
      { kind: 'meter', licenseKeys: [due.licenseKey], runHour: '2026-11-22T13:00:00.000Z' },
      { kind: 'meter', licenseKeys: [pendingOnly.licenseKey], runHour: '2026-11-22T13:00:00.000Z' },
    ]);
    expect(steps[0]).toBe('queue 1');
    // The three expiries were written at once, not one after another.
    expect(mostWriting).toBe(3);
    expect((await h.ledgerOf(gone.licenseKey)).map((item) => item.status)).toEqual([
      'expiredUnconfirmed',
      'expiredUnconfirmed',
      'expiredUnconfirmed',
    ]);

    // The workers process the messages; repeating the fan-out then queues nothing.
    for (const message of queued) {
      if (message.kind === 'meter') await run(message.licenseKeys, t('13:36'));
    }
    expect(h.billedFor(pendingOnly.licenseKey)).toHaveLength(3);
    queued.length = 0;
    const again = await fanout();
    expect(again).toMatchObject({ dueLicenses: 0, pendingOnlyLicenses: 0, messages: 0, expired: 0 });
    expect(queued).toEqual([]);
  });

  it('reads only meterable licenses: a license is in the sparse index while active or ending, and leaves it when it ends', async () => {
    const keysInIndex = async () => {
      const keys: string[] = [];
      for await (const page of meterableLicenses({
        client: h.local.client,
        tableName: h.local.tables.Licenses,
      })) {
        for (const item of page) if (item.licenseKey) keys.push(item.licenseKey);
      }
      return keys;
    };
    const active = await h.addLicense({ activeAt: t('09:20') });
    const ending = await h.addLicense({ activeAt: t('09:20'), endingAt: t('11:30') });
    const ended = await h.addLicense({
      activeAt: t('04:00'),
      endingAt: t('05:30'),
      deprovisionedAt: t('06:00'),
    });
    const pending = `arn:aws:license-manager::123456789012:license:never-activated`;
    await h.licenses.upsertIdentity({
      licenseKey: pending,
      identityMode: 'license',
      licenseArn: pending,
      customerAwsAccountId: '123456789012',
      productCode: onlyProduct(h.config).productCode,
    });
    const before = await keysInIndex();
    expect(before).toEqual(expect.arrayContaining([active.licenseKey, ending.licenseKey]));
    expect(before).not.toContain(ended.licenseKey);
    expect(before).not.toContain(pending);
    await h.setLifecycle(active.licenseKey, {
      activeAt: t('09:20'),
      endingAt: t('12:30'),
      deprovisionedAt: t('13:00'),
    });
    expect(await keysInIndex()).not.toContain(active.licenseKey);
  });

  it('gives licenses stored before the meterable index their shard once, on the first fan-out', async () => {
    const old = await h.addLicense({ activeAt: t('09:20') });
    // As stored before the index existed: active, without meteringShard.
    await DynamoDBDocumentClient.from(h.local.client).send(
      new UpdateCommand({
        TableName: h.local.tables.Licenses,
        Key: { licenseKey: old.licenseKey },
        UpdateExpression: 'REMOVE meteringShard',
      }),
    );
    const backfill = () =>
      backfillMeterableIndex({
        client: h.local.client,
        licensesTableName: h.local.tables.Licenses,
        ledgerTableName: h.local.tables.MeteringLedger,
      });
    const keys = async () => {
      const found: string[] = [];
      for await (const page of meterableLicenses({
        client: h.local.client,
        tableName: h.local.tables.Licenses,
      })) {
        for (const item of page) if (item.licenseKey) found.push(item.licenseKey);
      }
      return found;
    };
    expect(await keys()).not.toContain(old.licenseKey);
    expect(await backfill()).toBeGreaterThanOrEqual(1);
    expect(await keys()).toContain(old.licenseKey);
    // Done once: a later run only reads the marker.
    await DynamoDBDocumentClient.from(h.local.client).send(
      new UpdateCommand({
        TableName: h.local.tables.Licenses,
        Key: { licenseKey: old.licenseKey },
        UpdateExpression: 'REMOVE meteringShard',
      }),
    );
    expect(await backfill()).toBe(0);
  });

  it('queues with SendMessageBatch, ten per call, sending refused entries again', async () => {
    const queue = await startQueue();
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: queue.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const messages: MeteringMessage[] = Array.from({ length: 23 }, (_, index) => ({
        kind: 'flush',
        licenseKey: `license-${index}`,
      }));
      queue.refuseNext(3);
      await sqsEnqueue(client, queue.queueUrl, { sleep: async () => {} })(messages);
      expect(queue.received.map(parseMeteringMessage)).toEqual(
        expect.arrayContaining(messages.map((message) => expect.objectContaining(message))),
      );
      expect(queue.received).toHaveLength(23);
    } finally {
      client.destroy();
      await queue.close();
    }
  });
});
