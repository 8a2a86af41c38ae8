import { afterEach, describe, expect, it } from 'vitest';
import { createMeteringClient } from '#shared/marketplace/clients';
import { accountRate, SharedRateLimiter } from '#shared/metering/account-rate-limit';
import { createUsageSender, limitRate, meterLicenses, type RunReport } from '#shared/metering/pipeline';
import { at, type Harness, startHarness, type TestLicense } from './metering-harness.js';

/**
 * Several workers draining the queue against a Marketplace that allows 10 BatchMeterUsage calls
 * per second (real time), each worker with its own client and its own limiter over the one quota
 * item in the ledger table, as deployed.
 */

const t = (time: string) => at(`2026-11-22T${time}:00.000Z`);
const WORKERS = 4;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const setUp = async (prefix: string, licenseCount: number) => {
  h = await startHarness({ prefix, start: t('10:05'), throttlePerSecond: 10 });
  const harness = h;
  const licenses: TestLicense[] = [];
  for (let index = 0; index < licenseCount; index++) {
    const license = await harness.addLicense({ activeAt: t('09:00'), baseline: {} });
    await harness.addUsage(license.tenantId, 'api_calls', t('09:30'), index + 1);
    licenses.push(license);
  }
  return { harness, licenses };
};

/** Runs the workers over messages of two licenses each (6 records): many small calls. */
const drain = async (
  harness: Harness,
  licenses: readonly TestLicense[],
  now: Date,
  worker: (index: number) => { ratePerSecond: number; retries: number },
) => {
  const keys = licenses.map((license) => license.licenseKey);
  const queue = Array.from({ length: Math.ceil(keys.length / 2) }, (_, index) =>
    keys.slice(index * 2, index * 2 + 2),
  );
  const reports: RunReport[] = [];
  let acquired = 0;
  const clients = Array.from({ length: WORKERS }, () =>
    createMeteringClient({
      region: 'us-east-1',
      endpoint: harness.marketplace.url,
      maxAttempts: 1,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
  );
  try {
    await Promise.all(
      clients.map(async (client, index) => {
        const settings = worker(index);
        const limiter = new SharedRateLimiter({
          client: harness.local.client,
          tableName: harness.local.tables.MeteringLedger,
          ratePerSecond: settings.ratePerSecond,
        });
        const counting = {
          acquire: () => {
            acquired++;
            return limiter.acquire();
          },
        };
        const sender = createUsageSender({
          client: limitRate(client, counting),
          retries: settings.retries,
          baseDelayMs: 50,
          maxDelayMs: 1_000,
        });
        for (let licenseKeys = queue.shift(); licenseKeys; licenseKeys = queue.shift()) {
          reports.push(await meterLicenses(harness.deps({ sender }), { licenseKeys, now }));
        }
      }),
    );
  } finally {
    for (const client of clients) client.destroy();
  }
  return { reports, acquired };
};

/** Every license billed once per dimension and hour, with the ledger agreeing with AWS. */
const expectBilledOnce = async (harness: Harness, licenses: readonly TestLicense[]) => {
  for (const [index, license] of licenses.entries()) {
    const billed = harness.billedFor(license.licenseKey);
    expect(billed.map((record) => `${record.dimension}@${record.hour.toISOString()}`).sort()).toEqual([
      'active_users@2026-11-22T09:00:00.000Z',
      'api_calls@2026-11-22T09:00:00.000Z',
      'storage_gb@2026-11-22T09:00:00.000Z',
    ]);
    expect(billed.find((record) => record.dimension === 'api_calls')?.quantity).toBe(index + 1);
    const items = await harness.ledgerOf(license.licenseKey);
    expect(items.map((item) => item.status)).toEqual(['accepted', 'accepted', 'accepted']);
  }
};

describe('metering under the account quota', () => {
  it('workers sharing the quota through the shared limiter bill everything once', async () => {
    const { harness, licenses } = await setUp('quota', 40);
    const started = Date.now();
    const { reports, acquired } = await drain(harness, licenses, t('10:05'), () => ({
      ratePerSecond: accountRate({ quotaPerSecond: 10 }),
      retries: 6,
    }));
    expect(reports).toHaveLength(20);
    await expectBilledOnce(harness, licenses);
    // Every HTTP attempt waited for a slot of the shared limiter.
    const calls = harness.marketplace.calls('BatchMeterUsage');
    expect(acquired).toBe(calls.length);
    // Calls started at least one interval apart account-wide (a late wake-up may bunch two).
    const starts = calls.map((call) => call.wallClockMs - started).sort((a, b) => a - b);
    const spanMs = (starts.at(-1) ?? 0) - (starts[0] ?? 0);
    expect(spanMs).toBeGreaterThanOrEqual(((calls.length - 1) * 1000) / 9.7 - 50);
  }, 60_000);

  it('a throttling storm: backoff and the next run get everything billed, nothing twice', async () => {
    const { harness, licenses } = await setUp('storm', 40);
    // A limiter at the full quota (no safety) and a burst of injected throttling.
    harness.marketplace.faults.failNextBatch('ThrottlingException', 12);
    const first = await drain(harness, licenses, t('10:05'), () => ({ ratePerSecond: 10, retries: 3 }));
    const throttled = harness.marketplace
      .calls('BatchMeterUsage')
      .filter((call) => call.outcome === 'ThrottlingException').length;
    expect(throttled).toBeGreaterThanOrEqual(12);
    // Backed off and retried (a batch that stays throttled through its retries waits for a later run).
    expect(first.reports.some((report) => report.retries > 0)).toBe(true);
    // Whatever is still pending is sent again by a later run (here: redelivered messages).
    const leftover = first.reports.reduce((sum, report) => sum + report.stillPending, 0);
    if (leftover > 0) {
      harness.clock.now = t('10:40');
      await drain(harness, licenses, t('10:40'), () => ({
        ratePerSecond: accountRate({ quotaPerSecond: 10 }),
        retries: 6,
      }));
    }
    await expectBilledOnce(harness, licenses);
  }, 60_000);
});
