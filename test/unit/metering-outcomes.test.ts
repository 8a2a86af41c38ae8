import { describe, expect, it } from 'vitest';
import type { UsageRecord } from '#shared/metering/batches';
import { InvalidLedgerTransitionError } from '#shared/metering/errors';
import {
  accountsForUsage,
  assertTransitionAllowed,
  initialLedgerStatus,
  type LedgerStatus,
  type RecordOutcome,
  transitionFor,
} from '#shared/metering/outcomes';

const licenseArn = 'arn:aws:license-manager::123456789012:license:l-00000001';
const record: UsageRecord = {
  productCode: 'prodcodeA',
  licenseKey: licenseArn,
  identity: { mode: 'license', licenseArn, customerAwsAccountId: '210987654321' },
  dimension: 'api_calls',
  usageHour: new Date('2026-11-22T13:00:00Z'),
  quantity: 7,
};

const expectations: [RecordOutcome, Record<string, unknown>][] = [
  [
    { record, status: 'Success', meteringRecordId: 'mr-1' },
    {
      status: 'accepted',
      final: true,
      retryNextRun: false,
      accountsForUsage: true,
      stopMeteringLicense: false,
      alarm: false,
      meteringRecordId: 'mr-1',
    },
  ],
  [
    { record, status: 'Unprocessed', reason: 'InternalServiceErrorException' },
    { status: 'pending', final: false, retryNextRun: true, accountsForUsage: true, alarm: false },
  ],
  [
    { record, status: 'CustomerNotSubscribed' },
    { status: 'notSubscribed', final: true, retryNextRun: false, stopMeteringLicense: true, alarm: false },
  ],
  [
    { record, status: 'DuplicateRecord' },
    { status: 'duplicate', final: true, accountsForUsage: true, alarm: true, metric: 'UsageRecordDuplicate' },
  ],
  [
    { record, status: 'Rejected', reason: 'InvalidUsageDimensionException: unknown dimension' },
    {
      status: 'rejected',
      final: true,
      accountsForUsage: false,
      alarm: true,
      reason: 'InvalidUsageDimensionException: unknown dimension',
    },
  ],
  [
    { record, status: 'Expired', mayHaveReachedAws: false },
    { status: 'expired', final: true, accountsForUsage: false, alarm: true, metric: 'UsageRecordExpired' },
  ],
  [
    { record, status: 'Expired', mayHaveReachedAws: true },
    { status: 'expiredUnconfirmed', final: true, accountsForUsage: true, alarm: true },
  ],
];

describe('transitionFor', () => {
  it.each(expectations)('maps %o to its ledger transition', (outcome, expected) => {
    expect(transitionFor(outcome)).toMatchObject(expected);
  });

  it('raises an alarm exactly for duplicates, rejections and expiries', () => {
    const alarming = expectations
      .filter(([outcome]) => transitionFor(outcome).alarm)
      .map(([outcome]) => outcome.status);
    expect(new Set(alarming)).toEqual(new Set(['DuplicateRecord', 'Rejected', 'Expired']));
  });

  it('stops metering a license only when AWS says the customer is not subscribed', () => {
    const stopping = expectations.filter(([outcome]) => transitionFor(outcome).stopMeteringLicense);
    expect(stopping.map(([outcome]) => outcome.status)).toEqual(['CustomerNotSubscribed']);
  });
});

describe('ledger statuses', () => {
  it('writes records to send as pending and zero-only hours as unsentZero', () => {
    expect(initialLedgerStatus('send')).toBe('pending');
    expect(initialLedgerStatus('recordOnly')).toBe('unsentZero');
    expect(accountsForUsage('unsentZero')).toBe(true);
  });

  it('lets only a pending item change status, and a final one replay the same status', () => {
    expect(() => assertTransitionAllowed('pending', 'accepted')).not.toThrow();
    expect(() => assertTransitionAllowed('pending', 'pending')).not.toThrow();
    expect(() => assertTransitionAllowed('accepted', 'accepted')).not.toThrow();
    for (const [from, to] of [
      ['accepted', 'rejected'],
      ['expired', 'pending'],
      ['duplicate', 'accepted'],
    ] as [LedgerStatus, LedgerStatus][]) {
      expect(() => assertTransitionAllowed(from, to)).toThrow(InvalidLedgerTransitionError);
    }
  });
});
