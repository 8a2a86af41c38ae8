import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEntitlementClient } from '#shared/marketplace/clients';
import {
  type CrashPoint,
  dryRunLicense,
  flushLicense,
  InjectedCrash,
  marketplaceEntitlements,
  meterLicenses,
  needsRedelivery,
  planningSlots,
} from '#shared/metering/pipeline';
import { meteringAttributes } from '#shared/metering/store';
import { at, type Harness, hoursAfter, startHarness } from './metering-harness.js';

/**
 * The metering pipeline against the Marketplace and SaaSus emulators and dynalite. Units of the
 * example config: api_calls (sum), storage_gb and active_users (gauges). Each test uses fresh
 * licenses on one shared harness whose clock the test sets.
 */

const DAY = '2026-11-22';
const t = (time: string) => at(`${DAY}T${time}:00.000Z`);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ prefix: 'pipeline', start: t('00:00') });
});
afterAll(() => h.close());
afterEach(() => {
  h.marketplace.faults.clear();
  h.saasusEmulator.faults.clear();
});

const crashOnce = (step: CrashPoint['step']) => {
  let crashed = false;
  return (point: CrashPoint) => {
    if (crashed || point.step !== step) return false;
    crashed = true;
    return true;
  };
};

const run = (licenseKeys: string[], now: Date, overrides: Parameters<Harness['deps']>[0] = {}) => {
  h.clock.now = now;
  return meterLicenses(h.deps(overrides), { licenseKeys, now });
};

/**
 * A license activated at `activeAt` and metered right away (as a pass requested at activation
 * does), so its baseline holds only usage from before the activation.
 */
const activate = async (activeAt: Date) => {
  const license = await h.addLicense({ activeAt });
  await run([license.licenseKey], new Date(activeAt.getTime() + 60_000));
  return license;
};

const billed = (licenseKey: string) =>
  h
    .billedFor(licenseKey)
    .map((record) => ({
      dimension: record.dimension,
      hour: record.hour.toISOString(),
      quantity: record.quantity,
    }))
    .sort((a, b) => (a.hour + a.dimension < b.hour + b.dimension ? -1 : 1));

const callsWith = (licenseKey: string) =>
  h.marketplace.calls('BatchMeterUsage').filter((call) => JSON.stringify(call.input).includes(licenseKey))
    .length;

describe('metering pipeline', () => {
  it('bills a normal hour: one record per dimension, stamped with the hour start, only usage after activation', async () => {
    const license = await h.addLicense({ activeAt: t('09:20') });
    await h.addUsage(license.tenantId, 'api_calls', t('09:05'), 3); // before activation: never billed
    // A pass right after activation (nothing due yet) captures the baseline.
    const early = await run([license.licenseKey], t('09:25'));
    expect(early).toMatchObject({ metered: 0, itemsWritten: 0, recordsSent: 0, skipped: { nothingDue: 1 } });
    expect((await h.licenses.get(license.licenseKey))?.[meteringAttributes.baseline]).toMatchObject({
      day: DAY,
      counts: { api_calls: 3 },
    });

    await h.addUsage(license.tenantId, 'api_calls', t('09:30'), 5);
    await h.saasus.updateMeteringCountAt(license.tenantId, 'storage_gb', t('09:40').getTime() / 1000, {
      method: 'direct',
      count: 40,
    });
    await h.addUsage(license.tenantId, 'active_users', t('09:41'), 2);
    const first = await run([license.licenseKey], t('10:05'));
    expect(first).toMatchObject({
      metered: 1,
      itemsWritten: 3,
      recordsSent: 3,
      requests: 1,
      stillPending: 0,
    });
    expect(first.outcomes.UsageRecordAccepted).toBe(3);
    expect(billed(license.licenseKey)).toEqual([
      { dimension: 'active_users', hour: '2026-11-22T09:00:00.000Z', quantity: 2 },
      { dimension: 'api_calls', hour: '2026-11-22T09:00:00.000Z', quantity: 5 },
      { dimension: 'storage_gb', hour: '2026-11-22T09:00:00.000Z', quantity: 40 },
    ]);
    const [call] = h.marketplace.calls('BatchMeterUsage').slice(-1);
    const records = (call?.input.UsageRecords ?? []) as Array<Record<string, unknown>>;
    expect(records.map((record) => record.Timestamp)).toEqual([
      t('09:00').getTime() / 1000,
      t('09:00').getTime() / 1000,
      t('09:00').getTime() / 1000,
    ]);
    expect(records[0]).toMatchObject({
      LicenseArn: license.licenseKey,
      CustomerAWSAccountId: license.account,
    });
    expect(call?.input.ProductCode).toBeUndefined();

    const items = await h.ledgerOf(license.licenseKey);
    expect(items.map((item) => [item.dimension, item.status, item.quantity])).toEqual([
      ['active_users', 'accepted', 2],
      ['api_calls', 'accepted', 5],
      ['storage_gb', 'accepted', 40],
    ]);
    const ids = new Map(
      h.billedFor(license.licenseKey).map((record) => [record.dimension, record.meteringRecordId]),
    );
    for (const item of items) expect(item.meteringRecordId).toBe(ids.get(item.dimension));

    // A second run in the same hour computes nothing and sends nothing.
    const calls = h.marketplace.callCount('BatchMeterUsage');
    const again = await run([license.licenseKey], t('10:40'));
    expect(again).toMatchObject({ itemsWritten: 0, recordsSent: 0, skipped: { nothingDue: 1 } });
    expect(h.marketplace.callCount('BatchMeterUsage')).toBe(calls);

    await h.addUsage(license.tenantId, 'api_calls', t('10:15'), 7);
    await run([license.licenseKey], t('11:05'));
    expect(billed(license.licenseKey).filter((record) => record.hour === '2026-11-22T10:00:00.000Z')).toEqual(
      [
        { dimension: 'active_users', hour: '2026-11-22T10:00:00.000Z', quantity: 2 },
        { dimension: 'api_calls', hour: '2026-11-22T10:00:00.000Z', quantity: 7 },
        { dimension: 'storage_gb', hour: '2026-11-22T10:00:00.000Z', quantity: 40 },
      ],
    );
  });

  it('sends zero-usage hours as 0 when configured, and nothing when not', async () => {
    const zeros = await h.addLicense({ activeAt: t('11:00') });
    await run([zeros.licenseKey], t('12:05'));
    expect(billed(zeros.licenseKey).map((record) => record.quantity)).toEqual([0, 0, 0]);

    const silent = await h.addLicense({ activeAt: t('11:00') });
    const config = { ...h.config, metering: { ...h.config.metering, sendZeroUsage: false } };
    const report = await run([silent.licenseKey], t('12:05'), { config });
    expect(report).toMatchObject({ metered: 1, itemsWritten: 0, recordsSent: 0 });
    expect(billed(silent.licenseKey)).toEqual([]);
    // The hour is done: the next run does not compute it again.
    await h.addUsage(silent.tenantId, 'api_calls', t('12:10'), 4);
    await run([silent.licenseKey], t('13:05'), { config });
    expect(billed(silent.licenseKey)).toEqual([
      { dimension: 'api_calls', hour: '2026-11-22T12:00:00.000Z', quantity: 4 },
    ]);
  });

  it('bills usage that reaches SaaSus late in a later hour, under its own day', async () => {
    const license = await activate(at('2026-11-21T21:00:00.000Z'));
    await run([license.licenseKey], at('2026-11-21T22:05:00.000Z'));
    await h.addUsage(license.tenantId, 'api_calls', at('2026-11-21T22:30:00.000Z'), 10);
    await run([license.licenseKey], at('2026-11-21T23:05:00.000Z'));
    // Usage of 22:xx that SaaSus only learns of after the 22:00 hour was reported.
    await h.addUsage(license.tenantId, 'api_calls', at('2026-11-21T22:50:00.000Z'), 6);
    await h.addUsage(license.tenantId, 'api_calls', at('2026-11-22T00:20:00.000Z'), 1);
    await run([license.licenseKey], at('2026-11-22T01:05:00.000Z'));

    const items = (await h.ledgerOf(license.licenseKey)).filter((item) => item.dimension === 'api_calls');
    expect(items.map((item) => [item.usageHour.toISOString(), item.quantity, item.usageByDay])).toEqual([
      ['2026-11-21T21:00:00.000Z', 0, {}],
      ['2026-11-21T22:00:00.000Z', 10, { '2026-11-21': 10 }],
      ['2026-11-21T23:00:00.000Z', 6, { '2026-11-21': 6 }],
      ['2026-11-22T00:00:00.000Z', 1, { '2026-11-22': 1 }],
    ]);
    const total = billed(license.licenseKey)
      .filter((record) => record.dimension === 'api_calls')
      .reduce((sum, record) => sum + record.quantity, 0);
    expect(total).toBe(
      h.saasusEmulator.state.meteringDateCount(license.tenantId, 'api_calls', '2026-11-21') + 1,
    );
  });

  it('bills each (license, dimension, hour) once when two runs overlap', async () => {
    const licenses = await Promise.all(Array.from({ length: 6 }, () => activate(t('12:00'))));
    for (const [index, license] of licenses.entries()) {
      await h.addUsage(license.tenantId, 'api_calls', t('12:30'), index + 1);
    }
    const keys = licenses.map((license) => license.licenseKey);
    h.clock.now = t('13:05');
    const [a, b] = await Promise.all([
      meterLicenses(h.deps(), { licenseKeys: keys, now: t('13:05') }),
      meterLicenses(h.deps({ planning: planningSlots(1) }), {
        licenseKeys: [...keys].reverse(),
        now: t('13:05'),
      }),
    ]);
    // Usage arrives while a third run overlaps a fourth for later hours.
    await Promise.all([
      h
        .addUsage(licenses[0]?.tenantId ?? '', 'api_calls', t('13:10'), 100)
        .then(() => meterLicenses(h.deps(), { licenseKeys: keys, now: t('14:05') })),
      meterLicenses(h.deps(), { licenseKeys: keys, now: t('14:05') }),
    ]);
    expect(a.itemsWritten + b.itemsWritten).toBe(6 * 3);
    for (const report of [a, b]) {
      expect(report.outcomes.UsageRecordDuplicate).toBe(0);
      expect(report.failures).toEqual([]);
    }
    for (const [index, license] of licenses.entries()) {
      const records = billed(license.licenseKey);
      const keysBilled = records.map((record) => `${record.dimension}@${record.hour}`);
      expect(new Set(keysBilled).size).toBe(keysBilled.length);
      expect(records).toHaveLength(6);
      const items = await h.ledgerOf(license.licenseKey);
      expect(items.every((item) => item.status === 'accepted')).toBe(true);
      const apiTotal = records
        .filter((record) => record.dimension === 'api_calls')
        .reduce((sum, record) => sum + record.quantity, 0);
      expect(apiTotal).toBe(h.saasusEmulator.state.meteringDateCount(license.tenantId, 'api_calls', DAY));
      expect(apiTotal).toBe(index === 0 ? 101 : index + 1);
    }
  });

  it('sends UnprocessedRecords again: within the call, then on the next run', async () => {
    const license = await h.addLicense({ activeAt: t('14:00') });
    await h.addUsage(license.tenantId, 'api_calls', t('14:10'), 9);
    h.marketplace.faults.unprocessNext(2);
    const retried = await run([license.licenseKey], t('15:05'));
    expect(retried).toMatchObject({ requests: 2, stillPending: 0 });
    expect(retried.outcomes.UsageRecordAccepted).toBe(3);

    // Unprocessed through every resend: the records stay pending and the next run sends them.
    h.marketplace.faults.unprocessNext(3 * 4);
    const left = await run([license.licenseKey], t('16:05'));
    expect(left).toMatchObject({ stillPending: 3 });
    expect(left.outcomes.UsageRecordUnprocessed).toBe(3);
    const pending = (await h.ledgerOf(license.licenseKey)).filter((item) => item.status === 'pending');
    expect(pending.map((item) => [item.usageHour.toISOString(), item.attempts])).toEqual([
      ['2026-11-22T15:00:00.000Z', 1],
      ['2026-11-22T15:00:00.000Z', 1],
      ['2026-11-22T15:00:00.000Z', 1],
    ]);
    const next = await run([license.licenseKey], t('17:05'));
    expect(next).toMatchObject({ recordsSent: 6, stillPending: 0 });
    expect(
      billed(license.licenseKey).filter((record) => record.hour === '2026-11-22T15:00:00.000Z'),
    ).toHaveLength(3);
    expect((await h.ledgerOf(license.licenseKey)).every((item) => item.status === 'accepted')).toBe(true);
  });

  it('isolates a poison record by bisection, bills the rest, and bills its usage once the cause is fixed', async () => {
    const licenses = await Promise.all(Array.from({ length: 4 }, () => activate(t('15:00'))));
    for (const license of licenses) await h.addUsage(license.tenantId, 'api_calls', t('15:30'), 5);
    h.marketplace.faults.rejectDimension('api_calls');
    const report = await run(
      licenses.map((license) => license.licenseKey),
      t('16:05'),
    );
    expect(report.outcomes).toMatchObject({ UsageRecordAccepted: 8, UsageRecordRejected: 4 });
    for (const license of licenses) {
      expect(billed(license.licenseKey).map((record) => record.dimension)).toEqual([
        'active_users',
        'storage_gb',
      ]);
      const rejected = (await h.ledgerOf(license.licenseKey)).find((item) => item.status === 'rejected');
      expect(rejected).toMatchObject({ dimension: 'api_calls', quantity: 5 });
      expect(rejected?.reason).toMatch(/InvalidUsageDimensionException/);
    }

    h.marketplace.faults.clear();
    const [first] = licenses;
    if (!first) throw new Error('no license');
    await h.addUsage(first.tenantId, 'api_calls', t('16:30'), 2);
    await run([first.licenseKey], t('17:05'));
    // The rejected hour's usage comes back in the next record of the dimension.
    expect(billed(first.licenseKey).filter((record) => record.dimension === 'api_calls')).toEqual([
      { dimension: 'api_calls', hour: '2026-11-22T16:00:00.000Z', quantity: 7 },
    ]);
  });

  it('marks a record that left the window expired, never sends it, and counts it', async () => {
    const license = await h.addLicense({ activeAt: t('01:00') });
    await h.addUsage(license.tenantId, 'api_calls', t('01:10'), 3);
    // The run dies after fixing the quantities, before sending.
    await expect(
      run([license.licenseKey], t('02:05'), { crashAt: crashOnce('cursorAdvanced') }),
    ).rejects.toBeInstanceOf(InjectedCrash);
    expect((await h.ledgerOf(license.licenseKey)).map((item) => item.status)).toEqual([
      'pending',
      'pending',
      'pending',
    ]);
    // Seven hours later (window: 6 h) the 01:00 hour is out of the window.
    const late = await run([license.licenseKey], t('09:05'));
    expect(late.outcomes.UsageRecordExpired).toBe(3);
    const items = await h.ledgerOf(license.licenseKey);
    expect(
      items.filter((item) => item.usageHour.getTime() === t('01:00').getTime()).map((item) => item.status),
    ).toEqual(['expiredUnconfirmed', 'expiredUnconfirmed', 'expiredUnconfirmed']);
    const sentHours = h.marketplace
      .calls('BatchMeterUsage')
      .flatMap((call) => (call.input.UsageRecords as Array<{ LicenseArn: string; Timestamp: number }>) ?? [])
      .filter((record) => record.LicenseArn === license.licenseKey)
      .map((record) => new Date(record.Timestamp * 1000).toISOString());
    expect(sentHours).not.toContain('2026-11-22T01:00:00.000Z');
    // The catch-up reports at most window - 1 hours, all still inside the window.
    expect([...new Set(sentHours)].sort()).toEqual([
      '2026-11-22T04:00:00.000Z',
      '2026-11-22T05:00:00.000Z',
      '2026-11-22T06:00:00.000Z',
      '2026-11-22T07:00:00.000Z',
      '2026-11-22T08:00:00.000Z',
    ]);
  });

  it('final flush: reports the partial hour in which the license ended and everything pending, at once', async () => {
    const license = await activate(t('17:00'));
    await h.addUsage(license.tenantId, 'api_calls', t('17:10'), 1);
    await run([license.licenseKey], t('18:05'));
    await h.addUsage(license.tenantId, 'api_calls', t('18:10'), 2);
    // The 19:05 run dies after fixing the 18:00 quantities: they stay pending.
    await expect(
      run([license.licenseKey], t('19:05'), { crashAt: crashOnce('cursorAdvanced') }),
    ).rejects.toBeInstanceOf(InjectedCrash);
    await h.addUsage(license.tenantId, 'api_calls', t('19:10'), 4);
    await h.setLifecycle(license.licenseKey, { activeAt: t('17:00'), endingAt: t('19:20') });
    h.clock.now = t('19:25');
    const calls = h.marketplace.callCount('BatchMeterUsage');
    const report = await flushLicense(h.deps(), { licenseKey: license.licenseKey, now: t('19:25') });
    expect(report).toMatchObject({ itemsWritten: 3, recordsSent: 6, requests: 1, stillPending: 0 });
    expect(h.marketplace.callCount('BatchMeterUsage')).toBe(calls + 1);
    expect(billed(license.licenseKey).filter((record) => record.dimension === 'api_calls')).toEqual([
      { dimension: 'api_calls', hour: '2026-11-22T17:00:00.000Z', quantity: 1 },
      { dimension: 'api_calls', hour: '2026-11-22T18:00:00.000Z', quantity: 2 },
      { dimension: 'api_calls', hour: '2026-11-22T19:00:00.000Z', quantity: 4 },
    ]);
    // Nothing is due after the hour in which the license ended.
    const after = await run([license.licenseKey], t('20:05'));
    expect(after).toMatchObject({ itemsWritten: 0, recordsSent: 0 });
  });

  it('a license ending mid-hour: after AWS deprovisions it, CustomerNotSubscribed stops its metering', async () => {
    const license = await h.addLicense({ activeAt: t('18:00') });
    await h.addUsage(license.tenantId, 'api_calls', t('19:40'), 5);
    await run([license.licenseKey], t('19:05'));
    await h.setLifecycle(license.licenseKey, { activeAt: t('18:00'), endingAt: t('19:50') });
    // The flush meets a throttling storm: everything stays pending and the message is redelivered.
    h.marketplace.faults.failNextBatch('ThrottlingException', 5);
    h.clock.now = t('19:52');
    const flush = await flushLicense(h.deps(), { licenseKey: license.licenseKey, now: t('19:52') });
    expect(flush).toMatchObject({ stillPending: 3, retries: 4 });
    expect(needsRedelivery(flush, 'flush')).toBe(true);

    h.marketplace.endLicense(license.licenseKey);
    h.clock.now = t('20:00');
    const redelivered = await flushLicense(h.deps(), { licenseKey: license.licenseKey, now: t('20:00') });
    expect(redelivered.outcomes.CustomerNotSubscribed).toBe(3);
    expect(redelivered.stoppedLicenses).toEqual([license.licenseKey]);
    expect(needsRedelivery(redelivered, 'flush')).toBe(false);
    const stored = await h.licenses.get(license.licenseKey);
    expect(stored?.[meteringAttributes.stopped]).toMatchObject({ episode: t('18:00').toISOString() });
    const hour19 = (await h.ledgerOf(license.licenseKey)).filter(
      (item) => item.usageHour.getTime() === t('19:00').getTime(),
    );
    expect(hour19.map((item) => item.status)).toEqual(['notSubscribed', 'notSubscribed', 'notSubscribed']);
    expect(billed(license.licenseKey).map((record) => record.hour)).toEqual([
      '2026-11-22T18:00:00.000Z',
      '2026-11-22T18:00:00.000Z',
      '2026-11-22T18:00:00.000Z',
    ]);

    // Metering stays stopped: later runs send nothing for the license.
    const calls = callsWith(license.licenseKey);
    const later = await run([license.licenseKey], t('21:05'));
    expect(later).toMatchObject({ itemsWritten: 0, recordsSent: 0, skipped: { stopped: 1 } });
    expect(callsWith(license.licenseKey)).toBe(calls);
  });

  it('dry run: shows what would be sent and changes nothing', async () => {
    const license = await h.addLicense({ activeAt: t('20:00') });
    await h.addUsage(license.tenantId, 'api_calls', t('20:30'), 12);
    const calls = h.marketplace.callCount('BatchMeterUsage');
    const plan = await dryRunLicense(h.deps(), { licenseKey: license.licenseKey, now: t('21:05') });
    expect(plan).toMatchObject({
      licenseKey: license.licenseKey,
      status: 'active',
      hours: ['2026-11-22T20:00:00.000Z'],
      days: [DAY],
      baseline: { day: DAY, counts: { api_calls: 12 } },
    });
    expect(plan.records).toContainEqual(
      expect.objectContaining({ dimension: 'api_calls', quantity: 0, source: 'new', action: 'send' }),
    );
    expect(h.marketplace.callCount('BatchMeterUsage')).toBe(calls);
    expect(await h.ledgerOf(license.licenseKey)).toEqual([]);
    const item = await h.licenses.get(license.licenseKey);
    expect(item?.[meteringAttributes.baseline]).toBeUndefined();
    expect(item?.[meteringAttributes.cursor]).toBeUndefined();
  });

  it('meters a license without a tenant as zero usage and captures no baseline', async () => {
    const license = await h.addLicense({ activeAt: t('21:00'), withTenant: false });
    await run([license.licenseKey], t('22:05'));
    expect(billed(license.licenseKey).map((record) => record.quantity)).toEqual([0, 0, 0]);
    expect((await h.licenses.get(license.licenseKey))?.[meteringAttributes.baseline]).toBeUndefined();
    expect(hoursAfter(t('21:00'), 1)).toEqual(t('22:00'));
  });

  it('reports a license it cannot meter as a failure and still meters the others', async () => {
    const good = await h.addLicense({ activeAt: t('21:00') });
    const report = await run(
      [good.licenseKey, 'arn:aws:license-manager::123456789012:license:l-missing'],
      t('22:05'),
    );
    expect(report.skipped.unknownLicense).toBe(1);
    expect(billed(good.licenseKey)).toHaveLength(3);
    h.saasusEmulator.faults.failNext(10, { status: 500 });
    const broken = await h.addLicense({ activeAt: t('21:00') });
    const failed = await run([broken.licenseKey], t('22:05'));
    h.saasusEmulator.faults.clear();
    expect(failed.failures).toEqual([
      expect.objectContaining({ licenseKey: broken.licenseKey, fatal: false }),
    ]);
    expect(needsRedelivery(failed, 'meter')).toBe(true);
  });
});

describe('metering a contract with consumption', () => {
  let c: Harness;
  beforeAll(async () => {
    c = await startHarness({
      prefix: 'consumption',
      start: t('00:00'),
      pricingModel: 'contract-with-consumption',
    });
  });
  afterAll(() => c.close());

  it('bills only the usage above the entitled quantity, read with GetEntitlements', async () => {
    const client = createEntitlementClient({
      region: 'us-east-1',
      endpoint: c.marketplace.url,
      maxAttempts: 1,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const deps = c.deps({
        readEntitlements: marketplaceEntitlements(client),
      });
      const license = await c.addLicense({ activeAt: t('09:00'), baseline: {} });
      c.marketplace.setEntitlements(license.licenseKey, [
        { dimension: 'api_calls', value: 10 },
        { dimension: 'storage_gb', value: 50 },
      ]);
      await c.addUsage(license.tenantId, 'api_calls', t('09:10'), 15);
      await c.saasus.updateMeteringCountAt(license.tenantId, 'storage_gb', t('09:20').getTime() / 1000, {
        method: 'direct',
        count: 70,
      });
      c.clock.now = t('10:05');
      await meterLicenses(deps, { licenseKeys: [license.licenseKey], now: t('10:05') });
      await c.addUsage(license.tenantId, 'api_calls', t('10:10'), 4);
      c.clock.now = t('11:05');
      await meterLicenses(deps, { licenseKeys: [license.licenseKey], now: t('11:05') });
      const billed = c
        .billedFor(license.licenseKey)
        .map((record) => [record.hour.toISOString().slice(11, 16), record.dimension, record.quantity])
        .sort();
      expect(billed).toEqual([
        ['09:00', 'active_users', 0],
        ['09:00', 'api_calls', 5],
        ['09:00', 'storage_gb', 20],
        ['10:00', 'active_users', 0],
        ['10:00', 'api_calls', 4],
        ['10:00', 'storage_gb', 20],
      ]);
    } finally {
      client.destroy();
    }
  });

  it('refuses to meter without an entitlement reader rather than bill the allowance', async () => {
    const license = await c.addLicense({ activeAt: t('09:00'), baseline: {} });
    c.clock.now = t('10:05');
    const report = await meterLicenses(c.deps(), { licenseKeys: [license.licenseKey], now: t('10:05') });
    expect(report.failures).toEqual([
      expect.objectContaining({
        licenseKey: license.licenseKey,
        message: expect.stringMatching(/entitlement reader/),
      }),
    ]);
    expect(c.billedFor(license.licenseKey)).toEqual([]);
  });
});
