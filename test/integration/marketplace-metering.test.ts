import { afterEach, describe, expect, it } from 'vitest';
import { type MarketplaceEmulator, startMarketplaceEmulator } from '#sandbox/emulators/marketplace';
import { createMeteringClient } from '#shared/marketplace/clients';
import {
  MarketplaceUnavailableError,
  MeteringRejectedError,
  meteringFailureKind,
} from '#shared/marketplace/errors';
import type { BuyerIdentity, LicenseIdentity } from '#shared/marketplace/identity';
import { batchMeterUsage, type MeteringOutcome, type MeteringRecord } from '#shared/marketplace/metering';

const productCode = 'prodcode123';
const startOfHour = new Date('2026-11-22T13:00:00.000Z');
const hoursBefore = (hours: number) => new Date(startOfHour.getTime() - hours * 3_600_000);
const noSleep = async () => {};

const running: MarketplaceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

/** An emulator whose clock stands at 13:05 on the metering day, and a client for it. */
const setUp = async (
  options: { identityMode?: 'license' | 'legacy'; maxAttempts?: number; throttlePerSecond?: number } = {},
) => {
  const emulator = await startMarketplaceEmulator({
    productCode,
    identityMode: options.identityMode ?? 'license',
    now: () => new Date(startOfHour.getTime() + 5 * 60_000),
    ...(options.throttlePerSecond === undefined
      ? {}
      : { throttle: { callsPerSecond: options.throttlePerSecond, clock: () => 0 } }),
  });
  running.push(emulator);
  const client = createMeteringClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    maxAttempts: options.maxAttempts ?? 1,
  });
  return { emulator, client };
};

const licenseBuyer = (emulator: MarketplaceEmulator, account = '111122223333'): LicenseIdentity => {
  const license = emulator.addLicense({ customerAwsAccountId: account });
  return { mode: 'license', licenseArn: license.licenseArn, customerAwsAccountId: account };
};

const usage = (
  identity: BuyerIdentity,
  quantity: number,
  dimension = 'api_calls',
  hoursAgo = 1,
): MeteringRecord => ({
  identity,
  dimension,
  quantity,
  timestamp: hoursBefore(hoursAgo),
});

const statuses = (outcomes: MeteringOutcome[]) => outcomes.map((outcome) => outcome.status);

describe('batchMeterUsage against the Marketplace emulator', () => {
  it('sends 60 records as 3 requests of at most 25 and bills each once', async () => {
    const { emulator, client } = await setUp();
    const buyers = Array.from({ length: 20 }, (_, index) =>
      licenseBuyer(emulator, `1000000000${String(index).padStart(2, '0')}`),
    );
    const records = buyers.flatMap((buyer, index) =>
      ['api_calls', 'storage_gb', 'users'].map((dimension) => usage(buyer, index, dimension)),
    );

    const result = await batchMeterUsage(client, { productCode, identityMode: 'license', records });

    expect(records).toHaveLength(60);
    expect(result.requests).toBe(3);
    expect(statuses(result.outcomes)).toEqual(records.map(() => 'Success'));
    const sizes = emulator
      .calls('BatchMeterUsage')
      .map((call) => (call.input.UsageRecords as unknown[]).length);
    expect(sizes).toEqual([25, 25, 10]);
    const billed = emulator.billedRecords();
    expect(billed).toHaveLength(60);
    // Outcomes are matched back to their own records: the id each got is the one the ledger holds.
    result.outcomes.forEach((outcome, index) => {
      const record = records[index];
      const entry = billed.find(
        (item) =>
          item.licenseArn === buyers[Math.floor(index / 3)]?.licenseArn &&
          item.dimension === record?.dimension,
      );
      expect(outcome.status === 'Success' && outcome.meteringRecordId).toBe(entry?.meteringRecordId);
      expect(entry?.quantity).toBe(record?.quantity);
    });
  });

  it('puts LicenseArn and CustomerAWSAccountId on each record and no ProductCode on a license-mode request', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);

    await batchMeterUsage(client, { productCode, identityMode: 'license', records: [usage(buyer, 7)] });

    const [call] = emulator.calls('BatchMeterUsage');
    expect(call?.input).not.toHaveProperty('ProductCode');
    expect(call?.input.UsageRecords).toEqual([
      {
        LicenseArn: buyer.licenseArn,
        CustomerAWSAccountId: '111122223333',
        Dimension: 'api_calls',
        Quantity: 7,
        Timestamp: hoursBefore(1).getTime() / 1000,
      },
    ]);
  });

  it('sends a request-level ProductCode and CustomerIdentifier records in legacy mode', async () => {
    const { emulator, client } = await setUp({ identityMode: 'legacy' });
    const license = emulator.addLicense({
      customerAwsAccountId: '444455556666',
      customerIdentifier: 'CUSTOMER1',
    });
    const buyer: BuyerIdentity = {
      mode: 'legacy',
      customerIdentifier: license.customerIdentifier,
      customerAwsAccountId: '444455556666',
    };

    const result = await batchMeterUsage(client, {
      productCode,
      identityMode: 'legacy',
      records: [usage(buyer, 3)],
    });

    expect(statuses(result.outcomes)).toEqual(['Success']);
    const [call] = emulator.calls('BatchMeterUsage');
    expect(call?.input.ProductCode).toBe(productCode);
    expect(call?.input.UsageRecords).toEqual([
      {
        CustomerIdentifier: 'CUSTOMER1',
        Dimension: 'api_calls',
        Quantity: 3,
        Timestamp: hoursBefore(1).getTime() / 1000,
      },
    ]);
    expect(emulator.billedRecords()).toMatchObject([
      { customerIdentifier: 'CUSTOMER1', customerAwsAccountId: '444455556666', quantity: 3 },
    ]);
  });

  it('classifies Success, an idempotent resend, DuplicateRecord and CustomerNotSubscribed', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);
    const ended = licenseBuyer(emulator, '222233334444');
    const notStarted = emulator.addLicense({ customerAwsAccountId: '333344445555', status: 'pending' });
    const pendingBuyer: BuyerIdentity = {
      mode: 'license',
      licenseArn: notStarted.licenseArn,
      customerAwsAccountId: '333344445555',
    };
    emulator.endLicense(ended.licenseArn);

    const first = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records: [usage(buyer, 10), usage(ended, 4), usage(pendingBuyer, 2)],
    });
    const second = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records: [usage(buyer, 10), usage(buyer, 11, 'api_calls', 1), usage(buyer, 5, 'api_calls', 2)],
    });

    expect(statuses(first.outcomes)).toEqual(['Success', 'CustomerNotSubscribed', 'CustomerNotSubscribed']);
    expect(statuses(second.outcomes)).toEqual(['Success', 'DuplicateRecord', 'Success']);
    const [original] = first.outcomes;
    const [resend] = second.outcomes;
    expect(resend?.status === 'Success' && resend.meteringRecordId).toBe(
      original?.status === 'Success' && original.meteringRecordId,
    );
    // The duplicate did not change what was billed for that hour.
    expect(emulator.billedRecords().map((item) => [item.hour.toISOString(), item.quantity])).toEqual([
      [hoursBefore(1).toISOString(), 10],
      [hoursBefore(2).toISOString(), 5],
    ]);
  });

  it('meters a license once it is activated', async () => {
    const { emulator, client } = await setUp();
    const license = emulator.addLicense({ customerAwsAccountId: '333344445555', status: 'pending' });
    const buyer: BuyerIdentity = {
      mode: 'license',
      licenseArn: license.licenseArn,
      customerAwsAccountId: '333344445555',
    };
    const send = () =>
      batchMeterUsage(client, { productCode, identityMode: 'license', records: [usage(buyer, 1)] });

    const before = await send();
    emulator.activateLicense(license.licenseArn);
    const after = await send();

    expect(statuses(before.outcomes)).toEqual(['CustomerNotSubscribed']);
    expect(statuses(after.outcomes)).toEqual(['Success']);
    expect(emulator.billedRecords()).toHaveLength(1);
  });

  it('resends UnprocessedRecords until they are processed', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);
    const records = ['a', 'b', 'c', 'd'].map((dimension) => usage(buyer, 1, dimension));
    emulator.faults.unprocessNext(5);

    const result = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records,
      sleep: noSleep,
    });

    expect(statuses(result.outcomes)).toEqual(['Success', 'Success', 'Success', 'Success']);
    // 4 unprocessed, then 1 of the 4 resent, then the last one.
    expect(result.requests).toBe(3);
    expect(
      emulator.calls('BatchMeterUsage').map((call) => (call.input.UsageRecords as unknown[]).length),
    ).toEqual([4, 4, 1]);
    expect(
      emulator
        .billedRecords()
        .map((item) => item.dimension)
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reports records still unprocessed after the bounded retries as Unprocessed', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);
    emulator.faults.unprocessNext(100);

    const result = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records: [usage(buyer, 1), usage(buyer, 2, 'users')],
      unprocessedRetries: 2,
      sleep: noSleep,
    });

    expect(statuses(result.outcomes)).toEqual(['Unprocessed', 'Unprocessed']);
    expect(result.requests).toBe(3);
    expect(emulator.billedRecords()).toEqual([]);
  });

  it('fails the whole batch as poison when one record is outside the metering window', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);
    const records = [usage(buyer, 1, 'a'), usage(buyer, 1, 'b', 25), usage(buyer, 1, 'c')];

    const result = await batchMeterUsage(client, { productCode, identityMode: 'license', records });

    expect(statuses(result.outcomes)).toEqual(['Failed', 'Failed', 'Failed']);
    const [outcome] = result.outcomes;
    const error = outcome?.status === 'Failed' ? outcome.error : undefined;
    expect(error).toBeInstanceOf(MeteringRejectedError);
    expect(error?.code).toBe('TimestampOutOfBoundsException');
    expect(meteringFailureKind(error)).toBe('poison');
    expect(emulator.billedRecords()).toEqual([]);
  });

  it('rejects a batch with a record from the future', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);

    const result = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records: [usage(buyer, 1, 'api_calls', -1)],
    });

    const [outcome] = result.outcomes;
    expect(outcome?.status === 'Failed' && outcome.error.code).toBe('TimestampOutOfBoundsException');
  });

  it('keeps sending the other chunks after a poison rejection', async () => {
    const { emulator, client } = await setUp();
    emulator.faults.rejectDimension('broken');
    const buyer = licenseBuyer(emulator);
    const records = Array.from({ length: 30 }, (_, index) =>
      usage(buyer, 1, index === 3 ? 'broken' : `d${index}`),
    );

    const result = await batchMeterUsage(client, { productCode, identityMode: 'license', records });

    const failed = result.outcomes.filter((outcome) => outcome.status === 'Failed');
    expect(failed).toHaveLength(25);
    expect(
      failed.every(
        (outcome) => outcome.status === 'Failed' && outcome.error.code === 'InvalidUsageDimensionException',
      ),
    ).toBe(true);
    expect(statuses(result.outcomes.slice(25))).toEqual([
      'Success',
      'Success',
      'Success',
      'Success',
      'Success',
    ]);
    expect(emulator.billedRecords()).toHaveLength(5);
  });

  it('treats an unknown license as poison', async () => {
    const { client } = await setUp();
    const stranger: BuyerIdentity = {
      mode: 'license',
      licenseArn: 'arn:aws:license-manager::999988887777:license:l-unknown',
      customerAwsAccountId: '999988887777',
    };

    const result = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records: [usage(stranger, 1)],
    });

    const [outcome] = result.outcomes;
    expect(outcome?.status === 'Failed' && outcome.error.code).toBe('InvalidLicenseException');
    expect(outcome?.status === 'Failed' && meteringFailureKind(outcome.error)).toBe('poison');
  });

  it('surfaces throttling as retryable and sends no further chunks', async () => {
    const { emulator, client } = await setUp({ throttlePerSecond: 1 });
    const buyer = licenseBuyer(emulator);
    const records = Array.from({ length: 75 }, (_, index) => usage(buyer, 1, `d${index}`));

    const result = await batchMeterUsage(client, { productCode, identityMode: 'license', records });

    expect(statuses(result.outcomes.slice(0, 25))).toEqual(records.slice(0, 25).map(() => 'Success'));
    const rest = result.outcomes.slice(25);
    expect(rest.every((outcome) => outcome.status === 'Failed')).toBe(true);
    const [throttled] = rest;
    const error = throttled?.status === 'Failed' ? throttled.error : undefined;
    expect(error).toBeInstanceOf(MarketplaceUnavailableError);
    expect(error?.code).toBe('ThrottlingException');
    expect(error?.retryable).toBe(true);
    expect(meteringFailureKind(error)).toBe('retryable');
    expect(emulator.calls('BatchMeterUsage').map((call) => call.outcome)).toEqual([
      'Success',
      'ThrottlingException',
    ]);
  });

  it('stops after a fatal rejection such as a disabled API', async () => {
    const { emulator, client } = await setUp();
    const buyer = licenseBuyer(emulator);
    emulator.faults.failNextBatch('DisabledApiException');
    const records = Array.from({ length: 30 }, (_, index) => usage(buyer, 1, `d${index}`));

    const result = await batchMeterUsage(client, { productCode, identityMode: 'license', records });

    expect(result.outcomes.every((outcome) => outcome.status === 'Failed')).toBe(true);
    const [outcome] = result.outcomes;
    expect(outcome?.status === 'Failed' && meteringFailureKind(outcome.error)).toBe('fatal');
    expect(emulator.callCount('BatchMeterUsage')).toBe(1);
  });

  it('lets the SDK retry a server fault within maxAttempts', async () => {
    const { emulator, client } = await setUp({ maxAttempts: 2 });
    const buyer = licenseBuyer(emulator);
    emulator.faults.failNextBatch('InternalServiceErrorException');

    const result = await batchMeterUsage(client, {
      productCode,
      identityMode: 'license',
      records: [usage(buyer, 9)],
    });

    expect(statuses(result.outcomes)).toEqual(['Success']);
    expect(result.requests).toBe(1);
    expect(emulator.calls('BatchMeterUsage').map((call) => call.outcome)).toEqual([
      'InternalServiceErrorException',
      'Success',
    ]);
    expect(emulator.billedRecords()).toMatchObject([{ quantity: 9 }]);
  });
});
