import { describe, expect, it } from 'vitest';
import { createEntitlementClient, createMeteringClient } from '#shared/marketplace/clients';
import { entitlementFilterFor } from '#shared/marketplace/entitlements';
import { MarketplaceInputError } from '#shared/marketplace/errors';
import { buyerIdentitySchema, licenseKeyOf } from '#shared/marketplace/identity';
import { batchMeterUsage, type MeteringRecord } from '#shared/marketplace/metering';
import { buyerIdentityOf } from '#shared/marketplace/resolve-customer';

const licenseArn = 'arn:aws:license-manager::111122223333:license:l-0123456789abcdef';
const licenseBuyer = { mode: 'license', licenseArn, customerAwsAccountId: '111122223333' } as const;
const legacyBuyer = { mode: 'legacy', customerIdentifier: 'CUSTOMER1' } as const;

describe('buyer identity', () => {
  it('keys licenses by LicenseArn in license mode and by CustomerIdentifier in legacy mode', () => {
    expect(licenseKeyOf(licenseBuyer)).toBe(licenseArn);
    expect(licenseKeyOf(legacyBuyer)).toBe('CUSTOMER1');
  });

  it('validates identities, naming the bad field', () => {
    expect(buyerIdentitySchema.safeParse(licenseBuyer).success).toBe(true);
    expect(buyerIdentitySchema.safeParse(legacyBuyer).success).toBe(true);
    const badAccount = buyerIdentitySchema.safeParse({ ...licenseBuyer, customerAwsAccountId: '1111-2222' });
    expect(badAccount.error?.issues[0]).toMatchObject({ path: ['customerAwsAccountId'] });
    expect(buyerIdentitySchema.safeParse({ mode: 'license', customerAwsAccountId: '1' }).success).toBe(false);
    expect(buyerIdentitySchema.safeParse({ mode: 'other' }).success).toBe(false);
  });

  it('filters entitlements by license in license mode and by customer identifier in legacy mode', () => {
    expect(entitlementFilterFor(licenseBuyer)).toEqual({ licenseArn });
    expect(entitlementFilterFor(legacyBuyer)).toEqual({ customerIdentifier: 'CUSTOMER1' });
  });

  it('derives the identity a resolved customer has in each mode', () => {
    const resolved = { productCode: 'p', customerAwsAccountId: '111122223333', licenseArn };

    expect(buyerIdentityOf(resolved, 'license')).toEqual(licenseBuyer);
    expect(() => buyerIdentityOf(resolved, 'legacy')).toThrow(/no CustomerIdentifier/);
    expect(() => buyerIdentityOf({ productCode: 'p', customerAwsAccountId: '1' }, 'license')).toThrow(
      /no LicenseArn.*"legacy"/,
    );
  });
});

describe('client factories', () => {
  it('reject bad options with MarketplaceInputErrors', () => {
    expect(() => createMeteringClient({ region: 'nowhere' })).toThrow(MarketplaceInputError);
    expect(() => createMeteringClient({ region: 'us-east-1', endpoint: 'not a url' })).toThrow(/endpoint/);
    expect(() => createEntitlementClient({ region: 'us-east-1', maxAttempts: 0 })).toThrow(/maxAttempts/);
  });

  it('configure the SDK retry strategy', async () => {
    const client = createMeteringClient({ region: 'us-east-1', maxAttempts: 5, retryMode: 'adaptive' });

    await expect(client.config.maxAttempts()).resolves.toBe(5);
    const strategy = (await client.config.retryStrategy()) as { mode?: string };
    expect(strategy.mode).toBe('adaptive');
  });
});

describe('batchMeterUsage input validation', () => {
  // Never contacted: bad input is refused before any request.
  const client = createMeteringClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    maxAttempts: 1,
  });
  const record: MeteringRecord = {
    identity: licenseBuyer,
    dimension: 'api_calls',
    quantity: 1,
    timestamp: new Date('2026-11-22T12:00:00.000Z'),
  };
  const send = (records: MeteringRecord[], identityMode: 'license' | 'legacy' = 'license') =>
    batchMeterUsage(client, { productCode: 'prodcode123', identityMode, records });

  it('names each bad record field', async () => {
    await expect(
      send([
        record,
        { ...record, quantity: 1.5 },
        { ...record, dimension: ' ' },
        { ...record, quantity: 2 ** 31 },
      ]),
    ).rejects.toThrow(
      /records\.1\.quantity: expected a whole-number quantity[\s\S]*records\.2\.dimension[\s\S]*records\.3\.quantity: expected a quantity of at most 2147483647/,
    );
    await expect(send([{ ...record, timestamp: new Date(Number.NaN) }])).rejects.toThrow(
      /records\.0\.timestamp/,
    );
  });

  it('refuses records whose identity mode differs from the listing', async () => {
    await expect(send([record], 'legacy')).rejects.toMatchObject({
      name: 'MarketplaceInputError',
      message: expect.stringMatching(/records\.0\.identity\.mode: expected a legacy-mode identity/),
    });
  });

  it('makes no request for no records', async () => {
    await expect(send([])).resolves.toEqual({ outcomes: [], requests: 0 });
  });
});
