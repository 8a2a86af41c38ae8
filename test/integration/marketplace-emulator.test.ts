import {
  GetEntitlementsCommand,
  MarketplaceEntitlementServiceClient,
} from '@aws-sdk/client-marketplace-entitlement-service';
import {
  BatchMeterUsageCommand,
  type BatchMeterUsageCommandInput,
  MarketplaceMeteringClient,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type MarketplaceEmulator,
  MarketplaceEmulatorError,
  type MarketplaceEmulatorOptions,
  startMarketplaceEmulator,
} from '#sandbox/emulators/marketplace';

/**
 * The emulator's service rules, checked with raw SDK commands (not the project's client
 * wrappers), so the emulator and the clients are not only tested against each other.
 */

const productCode = 'prodcode123';
const account = '111122223333';
const now = new Date('2026-11-22T13:05:00.000Z');
const oneHourAgo = new Date('2026-11-22T12:00:00.000Z');

const running: MarketplaceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

const setUp = async (options: Partial<MarketplaceEmulatorOptions> = {}) => {
  const emulator = await startMarketplaceEmulator({
    productCode,
    identityMode: 'license',
    now: () => now,
    ...options,
  });
  running.push(emulator);
  const config = { region: 'us-east-1', endpoint: emulator.url, maxAttempts: 1 };
  return {
    emulator,
    metering: new MarketplaceMeteringClient(config),
    entitlements: new MarketplaceEntitlementServiceClient(config),
  };
};

const meter = (client: MarketplaceMeteringClient, input: BatchMeterUsageCommandInput) =>
  client.send(new BatchMeterUsageCommand(input));

const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: unknown) => (error as Error).name,
  );

const licenseRecord = (emulator: MarketplaceEmulator, overrides: Partial<UsageRecord> = {}): UsageRecord => {
  const license = emulator.licenses()[0] ?? emulator.addLicense({ customerAwsAccountId: account });
  return {
    LicenseArn: license.licenseArn,
    CustomerAWSAccountId: license.customerAwsAccountId,
    Dimension: 'api_calls',
    Quantity: 1,
    Timestamp: oneHourAgo,
    ...overrides,
  };
};

describe('Marketplace emulator: BatchMeterUsage rules', () => {
  it('rejects more than 25 records with a ValidationException', async () => {
    const { emulator, metering } = await setUp();
    const records = Array.from({ length: 26 }, (_, index) =>
      licenseRecord(emulator, { Dimension: `d${index}` }),
    );

    await expect(errorName(meter(metering, { UsageRecords: records }))).resolves.toBe('ValidationException');
    expect(emulator.billedRecords()).toEqual([]);
  });

  it('accepts a request-level ProductCode beside LicenseArn records and bills that customer twice in the hour', async () => {
    const { emulator, metering } = await setUp();
    const record = licenseRecord(emulator, { Quantity: 7 });

    await expect(
      meter(metering, { ProductCode: productCode, UsageRecords: [record] }),
    ).resolves.toMatchObject({
      Results: [{ Status: 'Success' }],
    });
    // AWS's migration note: the LicenseArn record and a customer record of the ProductCode are both billed.
    expect(emulator.billedRecords().reduce((total, entry) => total + entry.quantity, 0)).toBe(14);
    // A resend (with or without ProductCode) bills nothing more.
    await meter(metering, { ProductCode: productCode, UsageRecords: [record] });
    await meter(metering, { UsageRecords: [record] });
    expect(emulator.billedRecords()).toHaveLength(2);
    await expect(
      errorName(meter(metering, { ProductCode: 'otherproduct', UsageRecords: [record] })),
    ).resolves.toBe('InvalidProductCodeException');
  });

  it("applies the SDK model's window by default: 24 hours, and the previous month only until 06:00 UTC on the 1st", async () => {
    const hour = 3_600_000;
    let clock = new Date('2026-11-22T13:05:00.000Z');
    const { emulator, metering } = await setUp({ now: () => clock });
    const at = (timestamp: Date, dimension: string) =>
      errorName(
        meter(metering, {
          UsageRecords: [licenseRecord(emulator, { Timestamp: timestamp, Dimension: dimension })],
        }),
      );
    await expect(at(new Date(clock.getTime() - 23 * hour), 'a')).resolves.toBe('no error');
    await expect(at(new Date(clock.getTime() - 24 * hour), 'b')).resolves.toBe(
      'TimestampOutOfBoundsException',
    );

    const lastEvening = new Date('2026-11-30T23:30:00.000Z');
    clock = new Date('2026-12-01T05:59:00.000Z');
    await expect(at(lastEvening, 'c')).resolves.toBe('no error');
    clock = new Date('2026-12-01T06:00:00.000Z');
    await expect(at(lastEvening, 'd')).resolves.toBe('TimestampOutOfBoundsException');
    await expect(at(new Date('2026-12-01T00:30:00.000Z'), 'e')).resolves.toBe('no error');
  });

  it("applies a plain window of hours when one is chosen (the older documents' 6 hours)", async () => {
    const { emulator, metering } = await setUp({ meteringWindowHours: 6 });
    const timestamp = new Date(now.getTime() - 6 * 3_600_000);
    await expect(
      errorName(meter(metering, { UsageRecords: [licenseRecord(emulator, { Timestamp: timestamp })] })),
    ).resolves.toBe('TimestampOutOfBoundsException');
  });

  it('mints base64 registration tokens with +, / and = and license ARNs in the License Manager form', async () => {
    const { emulator } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    expect(license.licenseArn).toMatch(/^arn:aws:license-manager::\d{12}:license:l-[0-9a-f]{32}$/);
    const token = emulator.mintToken({ customerAwsAccountId: account, licenseArn: license.licenseArn });
    expect(token).toMatch(/\+/);
    expect(token).toMatch(/\//);
    expect(token).toMatch(/=$/);
  });

  it('refuses a CustomerIdentifier from a license-mode product', async () => {
    const { emulator, metering } = await setUp();
    const record = licenseRecord(emulator);

    await expect(
      errorName(
        meter(metering, {
          UsageRecords: [
            { Dimension: 'api_calls', Quantity: 1, Timestamp: oneHourAgo, CustomerIdentifier: 'X' },
            record,
          ],
        }),
      ),
    ).resolves.toBe('InvalidCustomerIdentifierException');
  });

  it('rejects the whole request when a license does not belong to the account named', async () => {
    const { emulator, metering } = await setUp();
    const good = licenseRecord(emulator);

    await expect(
      errorName(
        meter(metering, {
          UsageRecords: [good, { ...good, Dimension: 'x', CustomerAWSAccountId: '999988887777' }],
        }),
      ),
    ).resolves.toBe('InvalidLicenseException');
    expect(emulator.billedRecords()).toEqual([]);
  });

  it('rejects a license of another product', async () => {
    const { emulator, metering } = await setUp();
    const other = emulator.addLicense({ customerAwsAccountId: account, productCode: 'otherproduct' });

    await expect(
      errorName(
        meter(metering, { UsageRecords: [licenseRecord(emulator, { LicenseArn: other.licenseArn })] }),
      ),
    ).resolves.toBe('InvalidLicenseException');
  });

  it('rejects a dimension the listing does not have', async () => {
    const { emulator, metering } = await setUp({ dimensions: ['api_calls'] });

    await expect(
      errorName(meter(metering, { UsageRecords: [licenseRecord(emulator, { Dimension: 'gpu_hours' })] })),
    ).resolves.toBe('InvalidUsageDimensionException');
    await expect(meter(metering, { UsageRecords: [licenseRecord(emulator)] })).resolves.toMatchObject({
      Results: [{ Status: 'Success' }],
    });
  });

  it('accepts a record just inside the window and rejects one at its edge', async () => {
    const { emulator, metering } = await setUp({ meteringWindowHours: 2 });
    const inside = new Date(now.getTime() - 2 * 3_600_000 + 1_000);
    const edge = new Date(now.getTime() - 2 * 3_600_000);

    await expect(
      meter(metering, { UsageRecords: [licenseRecord(emulator, { Timestamp: inside })] }),
    ).resolves.toMatchObject({
      Results: [{ Status: 'Success' }],
    });
    await expect(
      errorName(
        meter(metering, { UsageRecords: [licenseRecord(emulator, { Timestamp: edge, Dimension: 'b' })] }),
      ),
    ).resolves.toBe('TimestampOutOfBoundsException');
  });

  it('rejects a fractional or negative quantity', async () => {
    const { emulator, metering } = await setUp();

    await expect(
      errorName(meter(metering, { UsageRecords: [licenseRecord(emulator, { Quantity: 1.5 })] })),
    ).resolves.toBe('ValidationException');
    await expect(
      errorName(meter(metering, { UsageRecords: [licenseRecord(emulator, { Quantity: -1 })] })),
    ).resolves.toBe('ValidationException');
  });

  it('requires the listing ProductCode in legacy mode and answers with the records it received', async () => {
    const { emulator, metering } = await setUp({ identityMode: 'legacy' });
    emulator.addLicense({ customerAwsAccountId: account, customerIdentifier: 'CUSTOMER1' });
    expect(() =>
      emulator.addLicense({ customerAwsAccountId: account, customerIdentifier: 'CUSTOMER1' }),
    ).toThrow(/already in use/);
    const record = {
      CustomerIdentifier: 'CUSTOMER1',
      Dimension: 'api_calls',
      Quantity: 2,
      Timestamp: oneHourAgo,
    };

    await expect(errorName(meter(metering, { UsageRecords: [record] }))).resolves.toBe(
      'InvalidProductCodeException',
    );
    await expect(errorName(meter(metering, { ProductCode: 'wrong', UsageRecords: [record] }))).resolves.toBe(
      'InvalidProductCodeException',
    );
    await expect(
      errorName(
        meter(metering, {
          ProductCode: productCode,
          UsageRecords: [{ ...record, CustomerIdentifier: 'NOBODY' }],
        }),
      ),
    ).resolves.toBe('InvalidCustomerIdentifierException');
    const output = await meter(metering, { ProductCode: productCode, UsageRecords: [record] });
    expect(output.Results).toEqual([
      {
        UsageRecord: record,
        Status: 'Success',
        MeteringRecordId: emulator.billedRecords()[0]?.meteringRecordId,
      },
    ]);
    expect(output.UnprocessedRecords).toEqual([]);
  });

  it('returns injected UnprocessedRecords without billing them', async () => {
    const { emulator, metering } = await setUp();
    emulator.faults.unprocessNext(1);
    const records = [licenseRecord(emulator), licenseRecord(emulator, { Dimension: 'users' })];

    const output = await meter(metering, { UsageRecords: records });

    expect(output.UnprocessedRecords?.map((record) => record.Dimension)).toEqual(['api_calls']);
    expect(output.Results?.map((result) => result.UsageRecord?.Dimension)).toEqual(['users']);
    expect(emulator.billedRecords().map((record) => record.dimension)).toEqual(['users']);
  });
});

describe('Marketplace emulator: GetEntitlements rules', () => {
  it('validates ProductCode, MaxResults, filter names and exclusive filters', async () => {
    const { entitlements } = await setUp();
    const get = (input: ConstructorParameters<typeof GetEntitlementsCommand>[0]) =>
      errorName(entitlements.send(new GetEntitlementsCommand(input)));

    await expect(get({ ProductCode: '' })).resolves.toBe('InvalidParameterException');
    await expect(get({ ProductCode: productCode, MaxResults: 26 })).resolves.toBe(
      'InvalidParameterException',
    );
    await expect(get({ ProductCode: productCode, Filter: { DIMENSION: [] } })).resolves.toBe(
      'InvalidParameterException',
    );
    await expect(
      get({
        ProductCode: productCode,
        Filter: { CUSTOMER_IDENTIFIER: ['a'], CUSTOMER_AWS_ACCOUNT_ID: [account] },
      }),
    ).resolves.toBe('InvalidParameterException');
    await expect(get({ ProductCode: productCode, NextToken: 'made-up' })).resolves.toBe(
      'InvalidParameterException',
    );
    await expect(get({ ProductCode: productCode })).resolves.toBe('no error');
  });

  it('ORs values within a filter key and ANDs the keys', async () => {
    const { emulator, entitlements } = await setUp();
    const first = emulator.addLicense({ customerAwsAccountId: account });
    const second = emulator.addLicense({ customerAwsAccountId: '444455556666' });
    const third = emulator.addLicense({ customerAwsAccountId: '777788889999' });
    for (const license of [first, second, third]) {
      emulator.setEntitlements(license.licenseArn, [
        { dimension: 'users', value: 1 },
        { dimension: 'admins', value: 2 },
      ]);
    }

    const output = await entitlements.send(
      new GetEntitlementsCommand({
        ProductCode: productCode,
        Filter: { LICENSE_ARN: [first.licenseArn, third.licenseArn], DIMENSION: ['admins'] },
      }),
    );

    expect(output.Entitlements?.map((item) => [item.LicenseArn, item.Dimension])).toEqual([
      [first.licenseArn, 'admins'],
      [third.licenseArn, 'admins'],
    ]);
  });

  it('refuses a NextToken reused for a different query', async () => {
    const { emulator, entitlements } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: account });
    emulator.setEntitlements(license.licenseArn, [
      { dimension: 'a', value: 1 },
      { dimension: 'b', value: 1 },
    ]);
    const first = await entitlements.send(
      new GetEntitlementsCommand({ ProductCode: productCode, MaxResults: 1 }),
    );

    await expect(
      errorName(
        entitlements.send(
          new GetEntitlementsCommand({
            ProductCode: productCode,
            MaxResults: 1,
            NextToken: first.NextToken,
            Filter: { DIMENSION: ['b'] },
          }),
        ),
      ),
    ).resolves.toBe('InvalidParameterException');
  });
});

describe('Marketplace emulator: quotas, call log and helpers', () => {
  it('throttles calls beyond the per-second quota of each operation', async () => {
    let clockMs = 0;
    const { emulator, metering, entitlements } = await setUp({
      throttle: { callsPerSecond: 2, clock: () => clockMs },
    });
    const send = () => errorName(meter(metering, { UsageRecords: [] }));

    const firstSecond = [await send(), await send(), await send()];
    const otherOperation = await errorName(
      entitlements.send(new GetEntitlementsCommand({ ProductCode: productCode })),
    );
    clockMs = 1_000;
    const nextSecond = await send();

    expect(firstSecond).toEqual(['no error', 'no error', 'ThrottlingException']);
    expect(otherOperation).toBe('no error');
    expect(nextSecond).toBe('no error');
    expect(emulator.calls().map((call) => [call.operation, call.outcome])).toEqual([
      ['BatchMeterUsage', 'Success'],
      ['BatchMeterUsage', 'Success'],
      ['BatchMeterUsage', 'ThrottlingException'],
      ['GetEntitlements', 'Success'],
      ['BatchMeterUsage', 'Success'],
    ]);
  });

  it('logs calls with their emulated time and can forget them', async () => {
    const { emulator, metering } = await setUp();

    await meter(metering, { UsageRecords: [] });

    expect(emulator.calls()).toMatchObject([
      {
        service: 'metering',
        operation: 'BatchMeterUsage',
        at: now,
        input: { UsageRecords: [] },
        outcome: 'Success',
      },
    ]);
    emulator.clearCalls();
    expect(emulator.callCount()).toBe(0);
  });

  it('rejects bad options and misuse of its helpers with clear errors', async () => {
    await expect(
      startMarketplaceEmulator({ productCode: 'bad code!', identityMode: 'license' }),
    ).rejects.toThrow(MarketplaceEmulatorError);
    await expect(
      startMarketplaceEmulator({ productCode, identityMode: 'license', emptyPageProbability: 1 }),
    ).rejects.toThrow(/emptyPageProbability/);
    const { emulator } = await setUp();
    expect(() => emulator.addLicense({ customerAwsAccountId: '12' })).toThrow(/12-digit/);
    expect(() => emulator.endLicense('arn:aws:license-manager::1:license:none')).toThrow(/no license/);
    const license = emulator.addLicense({ customerAwsAccountId: account });
    expect(() =>
      emulator.mintToken({ customerAwsAccountId: '999988887777', licenseArn: license.licenseArn }),
    ).toThrow(/belongs to account/);
  });
});
