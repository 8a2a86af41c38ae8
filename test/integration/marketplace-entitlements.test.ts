import { afterEach, describe, expect, it } from 'vitest';
import { type MarketplaceEmulator, startMarketplaceEmulator } from '#sandbox/emulators/marketplace';
import { createEntitlementClient } from '#shared/marketplace/clients';
import { entitlementFilterFor, getAllEntitlements } from '#shared/marketplace/entitlements';
import { MarketplaceError, MarketplaceUnavailableError } from '#shared/marketplace/errors';

const productCode = 'prodcode123';
const account = '111122223333';

const running: MarketplaceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

const setUp = async (identityMode: 'license' | 'legacy' = 'license') => {
  const emulator = await startMarketplaceEmulator({ productCode, identityMode });
  running.push(emulator);
  const client = createEntitlementClient({ region: 'us-east-1', endpoint: emulator.url, maxAttempts: 1 });
  return { emulator, client };
};

const seats = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ dimension: `seat_${index}`, value: index }));

describe('getAllEntitlements against the Marketplace emulator', () => {
  it('pages through every entitlement, across empty pages that still carry a NextToken', async () => {
    const { emulator, client } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    emulator.setEntitlements(license.licenseArn, seats(60));
    emulator.faults.emptyPagesNext(3);

    const entitlements = await getAllEntitlements(client, {
      productCode,
      filter: { licenseArn: license.licenseArn },
    });

    expect(entitlements.map((entitlement) => entitlement.value)).toEqual(seats(60).map((seat) => seat.value));
    const pages = emulator.calls('GetEntitlements');
    // 3 empty pages, then 25 + 25 + 10.
    expect(pages).toHaveLength(6);
    expect(pages.every((call) => call.input.MaxResults === 25)).toBe(true);
  });

  it('keeps paging when the only page so far is empty', async () => {
    const { emulator, client } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    emulator.setEntitlements(license.licenseArn, seats(2));
    emulator.faults.emptyPagesNext(1);

    const entitlements = await getAllEntitlements(client, {
      productCode,
      filter: { licenseArn: license.licenseArn },
      pageSize: 1,
    });

    expect(entitlements.map((entitlement) => entitlement.dimension)).toEqual(['seat_0', 'seat_1']);
    expect(emulator.calls('GetEntitlements').map((call) => call.input.NextToken === undefined)).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('pages randomly interspersed empty pages to the end', async () => {
    let draws = 0;
    const emulator = await startMarketplaceEmulator({
      productCode,
      identityMode: 'license',
      emptyPageProbability: 0.5,
      // Every other page is empty.
      random: () => (draws++ % 2 === 0 ? 0 : 0.9),
    });
    running.push(emulator);
    const client = createEntitlementClient({ region: 'us-east-1', endpoint: emulator.url, maxAttempts: 1 });
    const license = emulator.addLicense({ customerAwsAccountId: account });
    emulator.setEntitlements(license.licenseArn, seats(30));

    const entitlements = await getAllEntitlements(client, {
      productCode,
      filter: { licenseArn: license.licenseArn },
    });

    expect(entitlements).toHaveLength(30);
    expect(emulator.callCount('GetEntitlements')).toBe(4);
  });

  it('filters on LICENSE_ARN in license mode, so a second license of the same account stays apart', async () => {
    const { emulator, client } = await setUp();
    const first = emulator.addLicense({ customerAwsAccountId: account });
    const second = emulator.addLicense({ customerAwsAccountId: account });
    emulator.setEntitlements(first.licenseArn, [{ dimension: 'users', value: 10 }]);
    emulator.setEntitlements(second.licenseArn, [{ dimension: 'users', value: 50 }]);
    const identity = {
      mode: 'license',
      licenseArn: second.licenseArn,
      customerAwsAccountId: account,
    } as const;

    const entitlements = await getAllEntitlements(client, {
      productCode,
      filter: entitlementFilterFor(identity),
    });

    expect(entitlements).toEqual([
      {
        productCode,
        dimension: 'users',
        value: 50,
        licenseArn: second.licenseArn,
        customerAwsAccountId: account,
      },
    ]);
    expect(emulator.calls('GetEntitlements')[0]?.input.Filter).toEqual({ LICENSE_ARN: [second.licenseArn] });
  });

  it('filters on CUSTOMER_IDENTIFIER in legacy mode', async () => {
    const { emulator, client } = await setUp('legacy');
    emulator.addLicense({ customerAwsAccountId: account, customerIdentifier: 'CUSTOMER1' });
    emulator.addLicense({ customerAwsAccountId: '444455556666', customerIdentifier: 'CUSTOMER2' });
    emulator.setEntitlements('CUSTOMER1', [{ dimension: 'users', value: 10 }]);
    emulator.setEntitlements('CUSTOMER2', [{ dimension: 'users', value: 20 }]);

    const entitlements = await getAllEntitlements(client, {
      productCode,
      filter: entitlementFilterFor({ mode: 'legacy', customerIdentifier: 'CUSTOMER2' }),
    });

    expect(entitlements).toEqual([
      {
        productCode,
        dimension: 'users',
        value: 20,
        customerIdentifier: 'CUSTOMER2',
        customerAwsAccountId: '444455556666',
      },
    ]);
    expect(emulator.calls('GetEntitlements')[0]?.input.Filter).toEqual({
      CUSTOMER_IDENTIFIER: ['CUSTOMER2'],
    });
  });

  it('combines a buyer filter with dimensions and returns every value type', async () => {
    const { emulator, client } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    const expires = new Date('2027-11-22T00:00:00.000Z');
    emulator.setEntitlements(license.licenseArn, [
      { dimension: 'users', value: 25, expirationDate: expires },
      { dimension: 'storage_tb', value: 1.5 },
      { dimension: 'premium', value: false },
      { dimension: 'tier', value: 'gold' },
      { dimension: 'other', value: 1 },
    ]);

    const entitlements = await getAllEntitlements(client, {
      productCode,
      filter: { licenseArn: license.licenseArn, dimensions: ['users', 'storage_tb', 'premium', 'tier'] },
    });

    expect(
      entitlements.map(({ dimension, value, expirationDate }) => ({ dimension, value, expirationDate })),
    ).toEqual([
      { dimension: 'users', value: 25, expirationDate: expires },
      { dimension: 'storage_tb', value: 1.5, expirationDate: undefined },
      { dimension: 'premium', value: false, expirationDate: undefined },
      { dimension: 'tier', value: 'gold', expirationDate: undefined },
    ]);
  });

  it('returns nothing for a deprovisioned license', async () => {
    const { emulator, client } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    emulator.setEntitlements(license.licenseArn, seats(3));
    emulator.endLicense(license.licenseArn);

    await expect(
      getAllEntitlements(client, { productCode, filter: { licenseArn: license.licenseArn } }),
    ).resolves.toEqual([]);
  });

  it('gives up on a NextToken chain longer than maxPages', async () => {
    const { emulator, client } = await setUp();
    emulator.faults.emptyPagesNext(10);

    await expect(
      getAllEntitlements(client, { productCode, filter: { customerAwsAccountId: account }, maxPages: 3 }),
    ).rejects.toThrow(/NextToken after 3 pages/);
    expect(emulator.callCount('GetEntitlements')).toBe(3);
  });

  it('maps throttling to a retryable error and a rejected parameter to a MarketplaceError', async () => {
    const { emulator, client } = await setUp();
    emulator.faults.failNext('GetEntitlements', 'ThrottlingException');
    emulator.faults.failNext('GetEntitlements', 'InvalidParameterException');
    const fetchAll = () =>
      getAllEntitlements(client, { productCode, filter: { customerAwsAccountId: account } });

    const throttled = await fetchAll().catch((error: unknown) => error);
    const invalid = await fetchAll().catch((error: unknown) => error);

    expect(throttled).toBeInstanceOf(MarketplaceUnavailableError);
    expect(throttled).toMatchObject({
      code: 'ThrottlingException',
      retryable: true,
      operation: 'GetEntitlements',
    });
    expect(invalid).toBeInstanceOf(MarketplaceError);
    expect(invalid).toMatchObject({ code: 'InvalidParameterException', retryable: false });
  });

  it('rejects mutually exclusive buyer filters before calling AWS', async () => {
    const { emulator, client } = await setUp();

    await expect(
      getAllEntitlements(client, {
        productCode,
        filter: { customerIdentifier: 'C', customerAwsAccountId: account },
      }),
    ).rejects.toMatchObject({
      name: 'MarketplaceInputError',
      message: expect.stringMatching(/mutually exclusive/),
    });
    expect(emulator.callCount()).toBe(0);
  });
});
