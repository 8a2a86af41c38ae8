import { describe, expect, it } from 'vitest';
import type { UsageBatch, UsageRecord } from '#shared/metering/batches';
import { usageRecordKey } from '#shared/metering/batches';
import { PartiallySentBatchError, sendWithBisection } from '#shared/metering/bisect';
import { InvalidSendResultError } from '#shared/metering/errors';
import type { SendOutcome } from '#shared/metering/outcomes';

const licenseArn = (n: number) =>
  `arn:aws:license-manager::123456789012:license:l-${String(n).padStart(8, '0')}`;

const batchOf = (size: number): UsageBatch => ({
  productCode: 'prodcodeA',
  identityMode: 'license',
  records: Array.from({ length: size }, (_, index) => ({
    productCode: 'prodcodeA',
    licenseKey: licenseArn(index),
    identity: { mode: 'license', licenseArn: licenseArn(index), customerAwsAccountId: '210987654321' },
    dimension: 'api_calls',
    usageHour: new Date('2026-11-22T13:00:00Z'),
    quantity: index,
  })),
});

class InvalidLicenseException extends Error {
  override readonly name = 'InvalidLicenseException';
}
class ThrottlingException extends Error {
  override readonly name = 'ThrottlingException';
}

const classify = (error: unknown) => (error instanceof ThrottlingException ? 'retryable' : 'poison');

/**
 * A fake BatchMeterUsage: a call holding a poison record fails as a whole (as AWS does), any
 * other call succeeds; it counts every call and every record AWS actually accepted.
 */
const fakeMetering = (poison: ReadonlySet<number>) => {
  const accepted = new Map<string, number>();
  const calls: number[] = [];
  const send = async (batch: UsageBatch): Promise<SendOutcome[]> => {
    calls.push(batch.records.length);
    expect(batch.records.length).toBeLessThanOrEqual(25);
    expect(batch.productCode).toBe('prodcodeA');
    const bad = batch.records.find((record) => poison.has(record.quantity));
    if (bad) throw new InvalidLicenseException(`usage of ${bad.licenseKey} is outside its license period`);
    return batch.records.map((record) => {
      accepted.set(usageRecordKey(record), (accepted.get(usageRecordKey(record)) ?? 0) + 1);
      return { record, status: 'Success', meteringRecordId: `mr-${record.quantity}` };
    });
  };
  return { send, accepted, calls };
};

describe('sendWithBisection', () => {
  it('sends a clean batch in one call and returns outcomes in batch order', async () => {
    const batch = batchOf(25);
    const aws = fakeMetering(new Set());
    const outcomes = await sendWithBisection(batch, aws.send, classify);
    expect(aws.calls).toEqual([25]);
    expect(outcomes.map((outcome) => outcome.record)).toEqual(batch.records);
    expect(outcomes.every((outcome) => outcome.status === 'Success')).toBe(true);
  });

  it.each([
    ['one poison record', [17]],
    ['two poison records far apart', [3, 21]],
    ['two adjacent poison records', [11, 12]],
  ])(
    'isolates %s in a 25-record batch and sends every other record exactly once',
    async (_, poisonIndexes) => {
      const batch = batchOf(25);
      const poison = new Set(poisonIndexes);
      const aws = fakeMetering(poison);
      const outcomes = await sendWithBisection(batch, aws.send, classify);

      expect(outcomes).toHaveLength(25);
      for (const outcome of outcomes) {
        if (poison.has(outcome.record.quantity)) {
          expect(outcome).toMatchObject({
            status: 'Rejected',
            reason: expect.stringContaining('InvalidLicenseException'),
          });
          expect(aws.accepted.has(usageRecordKey(outcome.record))).toBe(false);
        } else {
          expect(outcome.status).toBe('Success');
          expect(aws.accepted.get(usageRecordKey(outcome.record))).toBe(1);
        }
      }
      // Each poison record costs at most one failed call per level of a 25-record tree.
      expect(aws.calls.length).toBeLessThanOrEqual(1 + 2 * poison.size * Math.ceil(Math.log2(25)));
    },
  );

  it('rethrows a retryable failure untouched when nothing was settled', async () => {
    const throttled = new ThrottlingException('Rate exceeded');
    let calls = 0;
    const send = async (): Promise<SendOutcome[]> => {
      calls++;
      throw throttled;
    };
    await expect(sendWithBisection(batchOf(10), send, classify)).rejects.toBe(throttled);
    expect(calls).toBe(1);
  });

  it('hands back what was settled and what is left when throttled part-way through a bisection', async () => {
    const batch = batchOf(10);
    const throttled = new ThrottlingException('Rate exceeded');
    let call = 0;
    const send = async (part: UsageBatch): Promise<SendOutcome[]> => {
      call++;
      if (call === 1) throw new InvalidLicenseException('one record is bad');
      if (call === 3) throw throttled;
      return part.records.map((record) => ({ record, status: 'Success', meteringRecordId: 'mr' }));
    };
    const error = await sendWithBisection(batch, send, classify).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PartiallySentBatchError);
    const partial = error as PartiallySentBatchError;
    expect(partial.cause).toBe(throttled);
    expect(partial.settled.map((outcome) => outcome.record)).toEqual(batch.records.slice(0, 5));
    expect(partial.unsent).toEqual(batch.records.slice(5));
  });

  it('passes per-record statuses through and marks records without a result Unprocessed', async () => {
    const batch = batchOf(3);
    const [first, second] = batch.records as [UsageRecord, UsageRecord, UsageRecord];
    const send = async (): Promise<SendOutcome[]> => [
      { record: second, status: 'CustomerNotSubscribed' },
      { record: first, status: 'DuplicateRecord' },
    ];
    const outcomes = await sendWithBisection(batch, send, classify);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'DuplicateRecord',
      'CustomerNotSubscribed',
      'Unprocessed',
    ]);
  });

  it('refuses results that do not belong to the batch', async () => {
    const batch = batchOf(2);
    const stranger = batchOf(5).records[4] as UsageRecord;
    const foreign = async (): Promise<SendOutcome[]> => [
      { record: stranger, status: 'Success', meteringRecordId: 'x' },
    ];
    await expect(sendWithBisection(batch, foreign, classify)).rejects.toThrow(InvalidSendResultError);
    const [first] = batch.records as [UsageRecord];
    const twice = async (): Promise<SendOutcome[]> => [
      { record: first, status: 'Success', meteringRecordId: 'x' },
      { record: first, status: 'Success', meteringRecordId: 'x' },
    ];
    await expect(sendWithBisection(batch, twice, classify)).rejects.toThrow(/more than one outcome/);
  });

  it('sends nothing for an empty batch and refuses a batch with duplicate records', async () => {
    const aws = fakeMetering(new Set());
    expect(await sendWithBisection(batchOf(0), aws.send, classify)).toEqual([]);
    expect(aws.calls).toEqual([]);
    const [first] = batchOf(1).records as [UsageRecord];
    await expect(
      sendWithBisection(
        { productCode: 'prodcodeA', identityMode: 'license', records: [first, first] },
        aws.send,
        classify,
      ),
    ).rejects.toThrow(/more than one record/);
  });
});
