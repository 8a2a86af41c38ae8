import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { ThrottlingException } from '@aws-sdk/client-marketplace-metering';
import { describe, expect, it } from 'vitest';
import {
  IdoperationConflictError,
  IdoperationTimeoutError,
  IdoperationUnavailableError,
} from '#shared/idoperation/errors';
import { MarketplaceError, MarketplaceUnavailableError } from '#shared/marketplace/errors';
import { backoffDelay, isRetryable, withRetry } from '#shared/retry';
import { SaasusApiError } from '#shared/saasus/errors';
import { ProvisioningBusyError, ProvisioningError } from '#shared/signup/provisioning';

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

describe('isRetryable', () => {
  const saasus = (retryable: boolean) =>
    new SaasusApiError({
      status: 503,
      type: 't',
      detail: 'd',
      traceId: 'x',
      method: 'GET',
      path: '/',
      retryable,
    });
  const metadata = { $metadata: {}, message: 'm' };

  it('reads the retryable field every client error base carries', () => {
    expect(isRetryable(saasus(true))).toBe(true);
    expect(isRetryable(saasus(false))).toBe(false);
    expect(isRetryable(new IdoperationUnavailableError('get', 'down', 503))).toBe(true);
    expect(isRetryable(new IdoperationTimeoutError('register', 'slow'))).toBe(true);
    expect(isRetryable(new IdoperationConflictError('register', 'taken', 409))).toBe(false);
    expect(isRetryable(new MarketplaceUnavailableError('down', { operation: 'ResolveCustomer' }))).toBe(true);
    expect(isRetryable(new MarketplaceError('bad', { operation: 'ResolveCustomer' }))).toBe(false);
    expect(isRetryable(new ProvisioningBusyError('busy'))).toBe(true);
    expect(isRetryable(new ProvisioningError('broken'))).toBe(false);
  });

  it('treats raw AWS SDK errors as retryable when marked, server-side or throttled', () => {
    expect(isRetryable(new ThrottlingException(metadata))).toBe(true);
    expect(isRetryable(new ProvisionedThroughputExceededException(metadata))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { $fault: 'server' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { $fault: 'client' }))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
  });
});
