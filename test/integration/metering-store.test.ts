import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transitionFor } from '#shared/metering/outcomes';
import {
  createLedgerStore,
  createMeteringStateStore,
  expiryOutcome,
  type LedgerItem,
  LedgerItemError,
  meteringAttributes,
  meteringStateOf,
  pendingShardOf,
} from '#shared/metering/store';
import { createLicenseStore } from '#shared/store/licenses';
import { startDynalite } from '../support/dynalite.js';

const hour = (iso: string) => new Date(iso);
const licenseKey = (n: number) => `arn:aws:license-manager::111122223333:license:l-store-${n}`;

const item = (n: number, usageHour: Date, extra: Partial<LedgerItem> = {}): LedgerItem => ({
  productCode: 'prod',
  licenseKey: licenseKey(n),
  identity: { mode: 'license', licenseArn: licenseKey(n), customerAwsAccountId: '111122223333' },
  dimension: 'api_calls',
  usageHour,
  quantity: 5,
  usageByDay: { '2026-11-22': 5 },
  status: 'pending',
  createdAt: new Date(usageHour.getTime() + 3_900_000),
  attempts: 0,
  ...extra,
});

describe('metering ledger store', () => {
  let local: Awaited<ReturnType<typeof startDynalite>>;
  let ledger: ReturnType<typeof createLedgerStore>;
  beforeAll(async () => {
    local = await startDynalite('ledger');
    ledger = createLedgerStore({ client: local.client, tableName: local.tables.MeteringLedger });
  });
  afterAll(() => local.close());

  it('keeps the first quantity of an hour: a second put returns the stored item', async () => {
    const first = await ledger.putIfAbsent(item(1, hour('2026-11-22T10:00:00.000Z')));
    expect(first.created).toBe(true);
    const second = await ledger.putIfAbsent(item(1, hour('2026-11-22T10:00:00.000Z'), { quantity: 9 }));
    expect(second).toEqual({ created: false, item: expect.objectContaining({ quantity: 5 }) });
    const [stored] = await ledger.read(licenseKey(1), hour('2026-11-22T00:00:00.000Z'));
    expect(stored).toEqual(item(1, hour('2026-11-22T10:00:00.000Z')));
  });

  it('moves an item out of pending once; a later different answer changes nothing', async () => {
    const pending = item(2, hour('2026-11-22T10:00:00.000Z'));
    await ledger.putIfAbsent(pending);
    const shard = pendingShardOf(licenseKey(2));
    const inIndex = async () => {
      const found: LedgerItem[] = [];
      for await (const page of ledger.pending(shard)) found.push(...page);
      return found.filter((entry) => entry.licenseKey === licenseKey(2));
    };
    expect(await inIndex()).toHaveLength(1);
    await ledger.recordAttempt(pending, 'ThrottlingException', hour('2026-11-22T11:05:00.000Z'));
    const accepted = transitionFor({ record: pending, status: 'Success', meteringRecordId: 'mr-1' });
    expect(await ledger.recordOutcome(pending, accepted, hour('2026-11-22T11:06:00.000Z'))).toEqual({
      result: 'recorded',
    });
    const rejected = transitionFor({ record: pending, status: 'Rejected', reason: 'late answer' });
    expect(await ledger.recordOutcome(pending, rejected, hour('2026-11-22T11:07:00.000Z'))).toEqual({
      result: 'alreadyFinal',
      status: 'accepted',
    });
    const [stored] = await ledger.read(licenseKey(2), hour('2026-11-22T10:00:00.000Z'));
    expect(stored).toMatchObject({ status: 'accepted', meteringRecordId: 'mr-1', attempts: 1 });
    expect(await inIndex()).toEqual([]);
  });

  it('pages through the pending index oldest hour first, optionally only before an hour', async () => {
    const key = 3;
    const hours = Array.from({ length: 30 }, (_, index) => new Date(Date.UTC(2026, 10, 20, index)));
    for (const usageHour of [...hours].reverse()) await ledger.putIfAbsent(item(key, usageHour));
    const shard = pendingShardOf(licenseKey(key));
    const pages: LedgerItem[][] = [];
    for await (const page of ledger.pending(shard, { pageSize: 7 })) pages.push(page);
    expect(pages.length).toBeGreaterThanOrEqual(5);
    const mine = pages.flat().filter((entry) => entry.licenseKey === licenseKey(key));
    expect(mine.map((entry) => entry.usageHour.toISOString())).toEqual(
      hours.map((value) => value.toISOString()),
    );
    const before: LedgerItem[] = [];
    for await (const page of ledger.pending(shard, { before: hours[10] as Date, pageSize: 4 }))
      before.push(...page);
    expect(before.filter((entry) => entry.licenseKey === licenseKey(key))).toHaveLength(10);
    expect((await ledger.oldestPending(shard))?.usageHour.getTime()).toBeLessThanOrEqual(
      (hours[0] as Date).getTime(),
    );
  });

  it('reads a license from an hour on, in hour order', async () => {
    const key = 4;
    for (const iso of ['2026-11-22T09:00:00.000Z', '2026-11-22T11:00:00.000Z', '2026-11-22T10:00:00.000Z']) {
      await ledger.putIfAbsent(item(key, hour(iso)));
    }
    const items = await ledger.read(licenseKey(key), hour('2026-11-22T10:00:00.000Z'));
    expect(items.map((entry) => entry.usageHour.toISOString())).toEqual([
      '2026-11-22T10:00:00.000Z',
      '2026-11-22T11:00:00.000Z',
    ]);
  });

  it('refuses a corrupted item with the reason', async () => {
    await local.client.send(
      new PutCommand({
        TableName: local.tables.MeteringLedger,
        Item: { licenseKey: licenseKey(5), usageKey: '2026-11-22T10:00:00.000Z#api_calls', status: 'sent' },
      }),
    );
    await expect(ledger.read(licenseKey(5), hour('2026-11-22T00:00:00.000Z'))).rejects.toThrow(
      LedgerItemError,
    );
  });

  it('decides whether an expiring item may have been billed', () => {
    const usageHour = hour('2026-11-22T10:00:00.000Z');
    expect(expiryOutcome(item(6, usageHour), 6)).toMatchObject({
      status: 'Expired',
      mayHaveReachedAws: true,
    });
    expect(
      expiryOutcome(item(6, usageHour, { createdAt: hour('2026-11-22T17:00:00.000Z') }), 6),
    ).toMatchObject({
      mayHaveReachedAws: false,
    });
    expect(
      expiryOutcome(item(6, usageHour, { createdAt: hour('2026-11-22T17:00:00.000Z'), attempts: 1 }), 6),
    ).toMatchObject({ mayHaveReachedAws: true });
  });
});

describe('metering state on the license item', () => {
  let local: Awaited<ReturnType<typeof startDynalite>>;
  let licenses: ReturnType<typeof createLicenseStore>;
  beforeAll(async () => {
    local = await startDynalite('state');
    licenses = createLicenseStore({ client: local.client, tableName: local.tables.Licenses });
  });
  afterAll(() => local.close());

  const episode = '2026-11-22T09:20:00.000Z';
  const create = async (n: number) => {
    await licenses.upsertIdentity({
      licenseKey: licenseKey(n),
      identityMode: 'license',
      licenseArn: licenseKey(n),
      customerAwsAccountId: '111122223333',
      productCode: 'prod',
    });
    return (await licenses.get(licenseKey(n))) ?? Promise.reject(new Error('missing'));
  };

  it('stores one baseline when two first runs capture it at once', async () => {
    const read = await create(10);
    const state = createMeteringStateStore(licenses);
    const baseline = (count: number) => ({
      day: '2026-11-22',
      counts: { api_calls: count },
      capturedAt: '2026-11-22T10:05:00.000Z',
    });
    const [a, b] = await Promise.all([
      state.captureBaseline(licenseKey(10), episode, baseline(3), read),
      state.captureBaseline(licenseKey(10), episode, baseline(8), read),
    ]);
    expect(a).toEqual(b);
    const stored = meteringStateOf((await licenses.get(licenseKey(10))) ?? {}, episode);
    expect(stored.baseline).toEqual(a);
  });

  it('keeps the cursor moving forward and scopes everything to the activation episode', async () => {
    await create(11);
    const state = createMeteringStateStore(licenses);
    await state.advanceCursor(licenseKey(11), episode, hour('2026-11-22T11:00:00.000Z'));
    await state.advanceCursor(
      licenseKey(11),
      episode,
      hour('2026-11-22T10:00:00.000Z'),
      hour('2026-11-22T11:00:00.000Z'),
    );
    await state.stop(licenseKey(11), episode, hour('2026-11-22T12:00:00.000Z'), 'CustomerNotSubscribed');
    const item = (await licenses.get(licenseKey(11))) ?? {};
    expect(meteringStateOf(item, episode)).toEqual({
      cursor: hour('2026-11-22T11:00:00.000Z'),
      stopped: { at: '2026-11-22T12:00:00.000Z', reason: 'CustomerNotSubscribed' },
    });
    // A later activation (re-subscription) starts afresh.
    expect(meteringStateOf(item, '2026-12-01T00:00:00.000Z')).toEqual({});
    expect(meteringStateOf({ [meteringAttributes.cursor]: 'garbage' }, episode)).toEqual({});
  });
});
