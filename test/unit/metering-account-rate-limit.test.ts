import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRate, SharedRateLimiter } from '#shared/metering/account-rate-limit';
import { MeteringInputError } from '#shared/metering/errors';
import { quotaItemKey } from '#shared/tables';
import { startDynalite } from '#test/support/dynalite';

/** The most slots inside any half-open window [t, t + windowMs), as the quota counts calls. */
const busiestWindow = (times: readonly number[], windowMs: number): number => {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; first < sorted.length; first++) {
    while (last < sorted.length && (sorted[last] ?? 0) < (sorted[first] ?? 0) + windowMs) last++;
    most = Math.max(most, last - first);
  }
  return most;
};

/** A clock that moves only when told; sleeps are recorded, not waited. */
const manualClock = (start = 1_795_000_000_000) => {
  const clock = {
    ms: start,
    sleeps: [] as number[],
    now: () => clock.ms,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
    },
  };
  return clock;
};

let dynamo: Awaited<ReturnType<typeof startDynalite>>;

beforeAll(async () => {
  dynamo = await startDynalite('rate-limit');
});
afterAll(async () => {
  dynamo.client.destroy();
  await dynamo.close();
});

/** Each test starts from a quota item that has never granted a slot. */
const freshTable = async () => {
  const documents = DynamoDBDocumentClient.from(dynamo.client);
  await documents.send(
    new PutCommand({ TableName: dynamo.tables.MeteringLedger, Item: { ...quotaItemKey } }),
  );
  return { tableName: dynamo.tables.MeteringLedger, documents };
};

const limiter = (
  clock: ReturnType<typeof manualClock>,
  tableName: string,
  ratePerSecond = accountRate({ quotaPerSecond: 10 }),
) =>
  new SharedRateLimiter({
    client: dynamo.client,
    tableName,
    ratePerSecond,
    maxAheadMs: 1e9,
    now: clock.now,
    sleep: clock.sleep,
  });

describe('accountRate', () => {
  it('grants 95 % of the quota by default, so any second holds at most the quota even when calls land 50 ms late', () => {
    expect(accountRate({ quotaPerSecond: 10 })).toBeCloseTo(9.5);
    expect(accountRate({ quotaPerSecond: 20, safety: 0.5 })).toBe(10);
    const interval = 1000 / accountRate({ quotaPerSecond: 10 });
    const slots = Array.from({ length: 200 }, (_, index) => index * interval);
    expect(busiestWindow(slots, 1000)).toBe(10);
    // Every other call lands 50 ms after its slot: still never 11 calls in one sliding second.
    const landed = slots.map((slot, index) => slot + (index % 2) * 50);
    expect(busiestWindow(landed, 1000)).toBe(10);
  });

  it('refuses a rate that is not a positive number or a safety outside (0, 1]', () => {
    expect(() => accountRate({ quotaPerSecond: 0 })).toThrow(MeteringInputError);
    expect(() => accountRate({ quotaPerSecond: Number.NaN })).toThrow(/quotaPerSecond/);
    expect(() => accountRate({ quotaPerSecond: 10, safety: 1.2 })).toThrow(/safety/);
    expect(() => accountRate({ quotaPerSecond: 10, safety: 0 })).toThrow(/safety/);
    expect(() => new SharedRateLimiter({ client: dynamo.client, tableName: 't', ratePerSecond: -1 })).toThrow(
      /ratePerSecond/,
    );
  });
});

describe('SharedRateLimiter (one DynamoDB item shared by every worker)', () => {
  it('spaces the slots of concurrent workers one interval apart account-wide', async () => {
    const { tableName } = await freshTable();
    const clock = manualClock();
    const workers = Array.from({ length: 5 }, () => limiter(clock, tableName));
    const slots = (
      await Promise.all(
        workers.map(async (worker) => {
          const granted: number[] = [];
          for (let call = 0; call < 20; call++) granted.push(await worker.acquire());
          return granted;
        }),
      )
    ).flat();
    // Compared in whole microseconds, the unit the shared item stores.
    const sorted = slots.map((slot) => Math.round(slot * 1000)).sort((a, b) => a - b);
    const intervalMicros = Math.ceil(1_000_000 / 9.5);
    expect(sorted).toHaveLength(100);
    for (let index = 1; index < sorted.length; index++) {
      expect((sorted[index] ?? 0) - (sorted[index - 1] ?? 0)).toBeGreaterThanOrEqual(intervalMicros);
    }
    expect(busiestWindow(sorted, 1_000_000)).toBeLessThanOrEqual(10);
    // All 100 slots are back to back: no worker's share was left unused.
    expect((sorted.at(-1) ?? 0) - (sorted[0] ?? 0)).toBe(99 * intervalMicros);
  });

  it('a worker whose guess of the item was stale takes the next free slot after one failed write', async () => {
    const { tableName } = await freshTable();
    const clock = manualClock();
    const a = limiter(clock, tableName);
    const b = limiter(clock, tableName);
    const first = await a.acquire();
    const second = await b.acquire();
    const third = await a.acquire();
    expect(first).toBe(clock.ms);
    expect(second - first).toBeCloseTo(1000 / 9.5, 2);
    expect(third - second).toBeCloseTo(1000 / 9.5, 2);
    expect(a.conflicts + b.conflicts).toBe(1);
  });

  it('waits until its slot, and grants no burst after an idle period', async () => {
    const { tableName } = await freshTable();
    const clock = manualClock();
    const worker = limiter(clock, tableName);
    await worker.acquire();
    await worker.acquire();
    expect(clock.sleeps).toEqual([Math.ceil(1000 / 9.5)]);
    clock.ms += 60_000;
    clock.sleeps.length = 0;
    const afterIdle = await worker.acquire();
    const next = await worker.acquire();
    expect(afterIdle).toBe(clock.ms);
    expect(next - afterIdle).toBeCloseTo(1000 / 9.5, 2);
    expect(clock.sleeps).toEqual([Math.ceil(1000 / 9.5)]);
  });

  it('gives up a slot it can no longer start on time and takes a new one, so late calls never bunch', async () => {
    const { tableName } = await freshTable();
    const clock = manualClock();
    const worker = limiter(clock, tableName);
    const first = await worker.acquire();
    // The next timer fires 80 ms after the slot (a busy event loop): that slot is given up.
    let overshoot = 80;
    const lateSleep = async (ms: number) => {
      clock.sleeps.push(ms);
      clock.ms += ms + overshoot;
      overshoot = 0;
    };
    const late = new SharedRateLimiter({
      client: dynamo.client,
      tableName,
      ratePerSecond: accountRate({ quotaPerSecond: 10 }),
      maxAheadMs: 1e9,
      now: clock.now,
      sleep: lateSleep,
    });
    const second = await late.acquire();
    expect(late.lateSlots).toBe(1);
    // The call starts on its (new) slot, never 80 ms after one, and the two slots stay an interval apart.
    expect(clock.ms - second).toBeLessThanOrEqual(25);
    expect(second - first).toBeGreaterThanOrEqual(2 * (1000 / 9.5) - 0.001);
    // Within the tolerance a slot is used as it is.
    overshoot = 10;
    const third = await late.acquire();
    expect(late.lateSlots).toBe(1);
    expect(clock.ms - third).toBeGreaterThanOrEqual(10);
    expect(clock.ms - third).toBeLessThanOrEqual(25);
  });

  it('replaces a reservation further ahead than any live worker could hold', async () => {
    const { tableName, documents } = await freshTable();
    const clock = manualClock();
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...quotaItemKey, nextSlotAtMicros: (clock.ms + 3_600_000) * 1000 },
      }),
    );
    const worker = new SharedRateLimiter({
      client: dynamo.client,
      tableName,
      ratePerSecond: 10,
      maxAheadMs: 60_000,
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(await worker.acquire()).toBe(clock.ms);
    const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: quotaItemKey }));
    expect(Item?.nextSlotAtMicros).toBe((clock.ms + 100) * 1000);
  });

  it('spends at most 1.5 DynamoDB requests per granted call while five workers queue calls', async () => {
    const { tableName } = await freshTable();
    const clock = manualClock();
    let requests = 0;
    // Every request any limiter sends goes through the one client they share.
    dynamo.client.middlewareStack.add(
      (next) => (args) => {
        requests++;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    try {
      const workers = Array.from({ length: 5 }, () => limiter(clock, tableName));
      await Promise.all(
        workers.map(async (worker) => {
          for (let call = 0; call < 40; call++) await worker.acquire();
        }),
      );
    } finally {
      dynamo.client.middlewareStack.remove('countRequests');
    }
    expect(requests / 200).toBeLessThanOrEqual(1.5);
  });

  it('fails the call when the quota item cannot be read or written', async () => {
    const clock = manualClock();
    const worker = limiter(clock, 'no-such-table');
    await expect(worker.acquire()).rejects.toThrow(/non-existent table|not found/i);
    // The failed turn does not block the callers queued behind it.
    await expect(worker.acquire()).rejects.toThrow(/non-existent table|not found/i);
  });
});
