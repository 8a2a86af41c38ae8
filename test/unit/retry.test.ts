import { describe, expect, it } from 'vitest';
import { backoffDelay, withRetry } from '#shared/retry';

describe('withRetry', () => {
  const noSleep = async () => {};

  it('retries retryable errors until success', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new Error('transient');
        return 'ok';
      },
      { retries: 5, baseDelayMs: 10, maxDelayMs: 100, isRetryable: () => true, sleep: noSleep },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('does not retry a non-retryable error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('fatal');
        },
        { retries: 5, baseDelayMs: 10, maxDelayMs: 100, isRetryable: () => false, sleep: noSleep },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('gives up after the configured retries and reports each wait', async () => {
    const waits: number[] = [];
    await expect(
      withRetry(
        async () => {
          throw new Error('still failing');
        },
        {
          retries: 3,
          baseDelayMs: 100,
          maxDelayMs: 250,
          isRetryable: () => true,
          sleep: noSleep,
          random: () => 0.999,
          onRetry: (_error, _attempt, delay) => waits.push(delay),
        },
      ),
    ).rejects.toThrow('still failing');
    expect(waits).toEqual([99, 199, 249]);
  });

  it('draws the delay with full jitter under the cap', () => {
    expect(backoffDelay(0, { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 })).toBe(0);
    expect(backoffDelay(10, { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 })).toBe(500);
  });
});
