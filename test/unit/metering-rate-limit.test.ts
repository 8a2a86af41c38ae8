import { afterEach, describe, expect, it, vi } from 'vitest';
import { MeteringInputError } from '#shared/metering/errors';
import { TokenBucket, workerRate } from '#shared/metering/rate-limit';

/** A clock that only moves when someone sleeps. */
const fakeClock = (start = 1_795_000_000_000) => {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
    elapsed: () => now - start,
  };
};

/** The most calls inside any half-open window [t, t + windowMs). */
const busiestWindow = (times: readonly number[], windowMs: number): number => {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; first < sorted.length; first++) {
    while (last < sorted.length && (sorted[last] ?? 0) < (sorted[first] ?? 0) + windowMs) last++;
    most = Math.max(most, last - first);
  }
  return most;
};

const acquireTimes = async (bucket: TokenBucket, clock: ReturnType<typeof fakeClock>, count: number) => {
  const times: number[] = [];
  for (let call = 0; call < count; call++) {
    await bucket.acquire();
    times.push(clock.now());
  }
  return times;
};

describe('TokenBucket', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never lets more than its rate through in any simulated second', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, now: clock.now, sleep: clock.sleep });
    const times = await acquireTimes(bucket, clock, 50);
    expect(busiestWindow(times, 1000)).toBe(10);
    expect(clock.elapsed()).toBe(4900);
  });

  it('keeps a fractional worker rate over short and long windows', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({
      ratePerSecond: workerRate({ workers: 4 }),
      now: clock.now,
      sleep: clock.sleep,
    });
    const times = await acquireTimes(bucket, clock, 40);
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(3);
    expect(busiestWindow(times, 10_000)).toBeLessThanOrEqual(23);
  });

  it('allows a burst of its capacity, then spaces calls at the rate', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, capacity: 3, now: clock.now, sleep: clock.sleep });
    const times = await acquireTimes(bucket, clock, 5);
    expect(times.map((time) => time - (times[0] ?? 0))).toEqual([0, 0, 0, 1000, 2000]);
  });

  it('does not bank more than its capacity while idle', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, now: clock.now, sleep: clock.sleep });
    await bucket.acquire();
    clock.advance(60_000);
    const times = await acquireTimes(bucket, clock, 2);
    expect(times.map((time) => time - (times[0] ?? 0))).toEqual([0, 1000]);
  });

  it('serves concurrent callers in call order', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 5, now: clock.now, sleep: clock.sleep });
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4, 5].map((caller) => bucket.acquire().then(() => order.push(caller))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(clock.elapsed()).toBe(1000);
  });

  it('keeps workers at workerRate under the account quota together', async () => {
    vi.useFakeTimers({ now: 1_795_000_000_000 });
    const workers = 3;
    const times: number[] = [];
    const worker = async () => {
      const bucket = new TokenBucket({ ratePerSecond: workerRate({ workers }) });
      for (let call = 0; call < 20; call++) {
        await bucket.acquire();
        times.push(Date.now());
      }
    };
    const all = Promise.all(Array.from({ length: workers }, worker));
    await vi.runAllTimersAsync();
    await all;
    expect(times).toHaveLength(60);
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(10);
  });

  it('rejects a rate or capacity it cannot honour', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0 })).toThrow(MeteringInputError);
    expect(() => new TokenBucket({ ratePerSecond: Number.POSITIVE_INFINITY })).toThrow(/ratePerSecond/);
    expect(() => new TokenBucket({ ratePerSecond: 1, capacity: 0.5 })).toThrow(/capacity/);
  });
});

describe('workerRate', () => {
  it('shares the safe part of the account quota between the workers', () => {
    expect(workerRate({ workers: 1 })).toBe(9);
    expect(workerRate({ workers: 4 })).toBe(2.25);
    expect(workerRate({ workers: 2, accountQuotaPerSecond: 20, safety: 0.5 })).toBe(5);
    for (const workers of [1, 2, 3, 5, 7, 10, 25]) {
      expect(workerRate({ workers }) * workers).toBeLessThanOrEqual(10 * 0.9 + 1e-9);
    }
  });

  it('rejects nonsense inputs', () => {
    expect(() => workerRate({ workers: 0 })).toThrow(/workers/);
    expect(() => workerRate({ workers: 1.5 })).toThrow(/workers/);
    expect(() => workerRate({ workers: 2, safety: 1.2 })).toThrow(/safety/);
    expect(() => workerRate({ workers: 2, accountQuotaPerSecond: -1 })).toThrow(/accountQuotaPerSecond/);
  });
});
