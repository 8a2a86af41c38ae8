import { afterEach, describe, expect, it } from 'vitest';
import { type MarketplaceEmulator, startMarketplaceEmulator } from '#sandbox/emulators/marketplace';
import { createMeteringClient, meteringEndpointEnvVar } from '#shared/marketplace/clients';
import {
  MarketplaceError,
  MarketplaceUnavailableError,
  RegistrationTokenError,
} from '#shared/marketplace/errors';
import { licenseKeyOf } from '#shared/marketplace/identity';
import { buyerIdentityOf, resolveCustomer } from '#shared/marketplace/resolve-customer';

const productCode = 'prodcode123';
const account = '111122223333';

const running: MarketplaceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

/** An emulator on a hand-driven clock, and a client for it that does not retry. */
const setUp = async (identityMode: 'license' | 'legacy' = 'license', maxAttempts = 1) => {
  let now = new Date('2026-11-22T10:00:00.000Z');
  const emulator = await startMarketplaceEmulator({ productCode, identityMode, now: () => now });
  running.push(emulator);
  const client = createMeteringClient({ region: 'us-east-1', endpoint: emulator.url, maxAttempts });
  const advance = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };
  return { emulator, client, advance };
};

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
};

describe('resolveCustomer against the Marketplace emulator', () => {
  it('resolves a token to the buyer license, and again to the same values within its lifetime', async () => {
    const { emulator, client, advance } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    const token = emulator.mintToken({ customerAwsAccountId: account, licenseArn: license.licenseArn });

    const first = await resolveCustomer(client, token);
    advance(3 * 3_600_000);
    const again = await resolveCustomer(client, token);

    expect(first).toEqual({ productCode, customerAwsAccountId: account, licenseArn: license.licenseArn });
    expect(again).toEqual(first);
    const identity = buyerIdentityOf(first, 'license');
    expect(identity).toEqual({
      mode: 'license',
      licenseArn: license.licenseArn,
      customerAwsAccountId: account,
    });
    expect(licenseKeyOf(identity)).toBe(license.licenseArn);
    expect(emulator.calls('ResolveCustomer').map((call) => call.input)).toEqual([
      { RegistrationToken: token },
      { RegistrationToken: token },
    ]);
  });

  it('resolves base64 tokens with +, / and =, a new license per token when none is named', async () => {
    const { emulator, client } = await setUp();

    const tokens = [
      emulator.mintToken({ customerAwsAccountId: account }),
      emulator.mintToken({ customerAwsAccountId: account }),
    ];
    const resolved = await Promise.all(tokens.map((token) => resolveCustomer(client, token)));

    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    for (const { licenseArn } of resolved) {
      expect(licenseArn).toMatch(/^arn:aws:license-manager::\d{12}:license:l-[0-9a-f]{32}$/);
    }
    expect(new Set(resolved.map((customer) => customer.licenseArn)).size).toBe(2);
    expect(emulator.licenses().map((license) => license.customerAwsAccountId)).toEqual([account, account]);
  });

  it('returns the CustomerIdentifier in legacy mode', async () => {
    const { emulator, client } = await setUp('legacy');
    const license = emulator.addLicense({ customerAwsAccountId: account, customerIdentifier: 'CUSTOMER1' });
    const token = emulator.mintToken({ customerAwsAccountId: account, licenseArn: license.licenseArn });

    const customer = await resolveCustomer(client, token);

    expect(customer.customerIdentifier).toBe('CUSTOMER1');
    expect(buyerIdentityOf(customer, 'legacy')).toEqual({
      mode: 'legacy',
      customerIdentifier: 'CUSTOMER1',
      customerAwsAccountId: account,
    });
  });

  it('refuses an identity the configured mode cannot use', async () => {
    const { emulator, client } = await setUp('license');
    const customer = await resolveCustomer(client, emulator.mintToken({ customerAwsAccountId: account }));

    expect(() => buyerIdentityOf(customer, 'legacy')).toThrow(/identityMode to "license"/);
  });

  it('maps an unknown token to an invalid RegistrationTokenError without echoing the token', async () => {
    const { client } = await setUp();
    const token = 'not-a-token-from-aws-marketplace';

    const error = await rejection(resolveCustomer(client, token));

    expect(error).toBeInstanceOf(RegistrationTokenError);
    expect(error).toMatchObject({ kind: 'invalid', code: 'InvalidTokenException', retryable: false });
    expect((error as Error).message).toMatch(/Set up your account/);
    expect(JSON.stringify(error)).not.toContain(token);
    expect((error as Error).message).not.toContain(token);
    expect((error as Error).cause).toBeUndefined();
  });

  it('rejects an empty token without calling AWS', async () => {
    const { emulator, client } = await setUp();

    await expect(resolveCustomer(client, '  ')).rejects.toMatchObject({
      name: 'RegistrationTokenError',
      kind: 'invalid',
    });
    expect(emulator.callCount()).toBe(0);
  });

  it('maps a token older than its lifetime to an expired RegistrationTokenError', async () => {
    const { emulator, client, advance } = await setUp();
    const token = emulator.mintToken({ customerAwsAccountId: account });
    advance(4 * 3_600_000);

    const error = await rejection(resolveCustomer(client, token));

    expect(error).toBeInstanceOf(RegistrationTokenError);
    expect(error).toMatchObject({ kind: 'expired', code: 'ExpiredTokenException' });
    expect((error as Error).message).toMatch(/has expired.*Set up your account/);
    expect((error as Error).message).not.toContain(token);
  });

  it('maps throttling to a retryable MarketplaceUnavailableError', async () => {
    const { emulator, client } = await setUp();
    const token = emulator.mintToken({ customerAwsAccountId: account });
    emulator.faults.failNext('ResolveCustomer', 'ThrottlingException');

    const error = await rejection(resolveCustomer(client, token));

    expect(error).toBeInstanceOf(MarketplaceUnavailableError);
    expect(error).toMatchObject({
      code: 'ThrottlingException',
      retryable: true,
      operation: 'ResolveCustomer',
    });
    expect((error as Error).message).not.toContain(token);
  });

  it('lets the SDK retry a server fault and then resolves', async () => {
    const { emulator, client } = await setUp('license', 3);
    const token = emulator.mintToken({ customerAwsAccountId: account });
    emulator.faults.failNext('ResolveCustomer', 'InternalServiceErrorException', 2);

    const customer = await resolveCustomer(client, token);

    expect(customer.customerAwsAccountId).toBe(account);
    expect(emulator.calls('ResolveCustomer').map((call) => call.outcome)).toEqual([
      'InternalServiceErrorException',
      'InternalServiceErrorException',
      'Success',
    ]);
  });

  it('maps other exceptions to a non-retryable MarketplaceError', async () => {
    const { emulator, client } = await setUp();
    const token = emulator.mintToken({ customerAwsAccountId: account });
    emulator.faults.failNext('ResolveCustomer', 'DisabledApiException');

    const error = await rejection(resolveCustomer(client, token));

    expect(error).toBeInstanceOf(MarketplaceError);
    expect(error).not.toBeInstanceOf(MarketplaceUnavailableError);
    expect(error).toMatchObject({ code: 'DisabledApiException', retryable: false });
  });

  it('finds the emulator through the endpoint environment variable the SDK reads', async () => {
    const { emulator } = await setUp();
    const token = emulator.mintToken({ customerAwsAccountId: account });
    const previous = process.env[meteringEndpointEnvVar];
    process.env[meteringEndpointEnvVar] = emulator.url;
    try {
      const client = createMeteringClient({ region: 'us-east-1', maxAttempts: 1 });
      await expect(resolveCustomer(client, token)).resolves.toMatchObject({ customerAwsAccountId: account });
    } finally {
      if (previous === undefined) delete process.env[meteringEndpointEnvVar];
      else process.env[meteringEndpointEnvVar] = previous;
    }
    expect(emulator.callCount('ResolveCustomer')).toBe(1);
  });
});
