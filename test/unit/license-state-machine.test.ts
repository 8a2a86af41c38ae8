import { describe, expect, it } from 'vitest';
import {
  applySignal,
  hasApplied,
  initialRecord,
  type LicenseRecord,
  LicenseRecordError,
  mergeRecords,
  parseLicenseRecord,
  recentEventLimit,
  recordEntitlements,
  recordFinalFlush,
} from '#shared/license/record';
import type { LicenseSignal, LicenseSignalBody } from '#shared/license/signal';
import { deriveStatus } from '#shared/license/status';

const at = (minute: number) => new Date(Date.UTC(2026, 6, 1, 10, minute)).toISOString();

let sequence = 0;
const signal = (minute: number, body: LicenseSignalBody, eventId = `event-${++sequence}`): LicenseSignal => ({
  eventId,
  time: at(minute),
  origin: body.kind.startsWith('agreement') || body.kind.startsWith('license') ? 'eventbridge' : 'sns',
  sourceType: body.kind,
  locator: { by: 'licenseArn', licenseArn: 'arn:aws:license-manager::1:l-1' },
  ...body,
});

const created = (
  minute: number,
  agreementId: string,
  extra: { intent?: string; previousAgreementId?: string } = {},
) => signal(minute, { kind: 'agreement-created', agreementId, ...extra });
const ended = (minute: number, agreementId: string, agreementStatus?: string) =>
  signal(minute, { kind: 'agreement-ended', agreementId, ...(agreementStatus ? { agreementStatus } : {}) });
const updated = (minute: number) => signal(minute, { kind: 'license-updated' });
const deprovisioned = (minute: number) => signal(minute, { kind: 'license-deprovisioned' });
const sns = (
  minute: number,
  kind: 'subscribe-success' | 'subscribe-fail' | 'unsubscribe-pending' | 'unsubscribe-success',
) => signal(minute, { kind } as LicenseSignalBody);

const replay = (...signals: LicenseSignal[]): LicenseRecord => signals.reduce(applySignal, initialRecord());
const status = (...signals: LicenseSignal[]) => deriveStatus(replay(...signals));

/** Every order of a small list. */
const permutations = <T>(items: readonly T[]): T[][] =>
  items.length <= 1
    ? [[...items]]
    : items.flatMap((item, index) =>
        permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
      );

const statusInEveryOrder = (...signals: LicenseSignal[]) =>
  new Set(permutations(signals).map((order) => status(...order).status));

describe('license state machine', () => {
  it('starts pending', () => {
    expect(deriveStatus(initialRecord())).toEqual({ status: 'pending' });
  });

  it('an agreement activates the license', () => {
    expect(status(created(0, 'A1'))).toEqual({
      status: 'active',
      activeSince: at(0),
      currentAgreementId: 'A1',
    });
  });

  it('a renewal keeps the license active in every delivery order', () => {
    const history = [
      created(0, 'A1'),
      created(30, 'A2', { intent: 'RENEW', previousAgreementId: 'A1' }),
      ended(30, 'A1'),
    ];
    expect(statusInEveryOrder(...history)).toEqual(new Set(['active']));
    expect(status(...history).currentAgreementId).toBe('A2');
  });

  it('an old agreement ended with a succession status does not end the license, even before the renewal arrives', () => {
    for (const succession of ['RENEWED', 'REPLACED', 'SUPERSEDED']) {
      expect(status(created(0, 'A1'), ended(30, 'A1', succession)).status).toBe('active');
    }
    expect(status(created(0, 'A1'), ended(30, 'A1', 'EXPIRED')).status).toBe('ending');
  });

  it("the old agreement's End does not end a license whose newer agreement is live", () => {
    const history = [created(0, 'A1'), created(20, 'A2', { intent: 'NEW' }), ended(30, 'A1', 'CANCELLED')];
    expect(statusInEveryOrder(...history)).toEqual(new Set(['active']));
    expect(status(...history, ended(40, 'A2', 'CANCELLED')).status).toBe('ending');
  });

  it('an agreement end opens the final-usage window', () => {
    expect(status(created(0, 'A1'), ended(30, 'A1', 'CANCELLED'))).toEqual({
      status: 'ending',
      activeSince: at(0),
      currentAgreementId: 'A1',
      endingSince: at(30),
      finalUsageWindowEndsAt: at(90),
    });
  });

  it('License Deprovisioned ends the license, keeping the window start of the earlier agreement end', () => {
    expect(status(created(0, 'A1'), ended(30, 'A1'), deprovisioned(45))).toMatchObject({
      status: 'ended',
      endingSince: at(30),
      endedAt: at(45),
    });
    expect(status(created(0, 'A1'), deprovisioned(45))).toMatchObject({
      status: 'ended',
      endingSince: at(45),
    });
    expect(statusInEveryOrder(created(0, 'A1'), ended(30, 'A1'), deprovisioned(45))).toEqual(
      new Set(['ended']),
    );
  });

  it('a new agreement after an end reinstates the license; the stale end delivered late changes nothing', () => {
    const history = [
      created(0, 'A1'),
      ended(10, 'A1'),
      deprovisioned(11),
      created(20, 'A2', { intent: 'NEW' }),
    ];
    expect(status(...history).status).toBe('active');
    expect(statusInEveryOrder(...history)).toEqual(new Set(['active']));
  });

  it('a deprovision newer than every activation wins; an older one is stale', () => {
    expect(status(created(0, 'A1'), deprovisioned(5)).status).toBe('ended');
    expect(status(created(10, 'A2'), deprovisioned(5)).status).toBe('active');
  });

  it('an end at the same time as an activation wins', () => {
    expect(status(sns(5, 'subscribe-success'), sns(5, 'unsubscribe-pending')).status).toBe('ending');
  });

  it('SNS: unsubscribe-pending opens the window, unsubscribe-success ends, a resubscription reinstates', () => {
    expect(status(sns(0, 'subscribe-success'), sns(10, 'unsubscribe-pending')).status).toBe('ending');
    expect(
      status(sns(0, 'subscribe-success'), sns(10, 'unsubscribe-pending'), sns(40, 'unsubscribe-success'))
        .status,
    ).toBe('ended');
    expect(
      statusInEveryOrder(
        sns(0, 'subscribe-success'),
        sns(10, 'unsubscribe-pending'),
        sns(20, 'subscribe-success'),
      ),
    ).toEqual(new Set(['active']));
  });

  it('subscribe-fail fails a license that never activated, and only that', () => {
    expect(status(sns(0, 'subscribe-fail'))).toEqual({ status: 'failed', failedAt: at(0) });
    expect(status(sns(0, 'subscribe-fail'), sns(5, 'subscribe-success')).status).toBe('active');
    expect(status(sns(0, 'subscribe-success'), sns(5, 'subscribe-fail')).status).toBe('active');
    expect(status(sns(0, 'subscribe-fail'), updated(5)).status).toBe('active');
    expect(status(updated(0), sns(5, 'subscribe-fail')).status).toBe('active');
  });

  it('License Updated alone activates, but never reinstates an ended license', () => {
    expect(status(updated(0)).status).toBe('active');
    expect(status(created(0, 'A1'), ended(10, 'A1'), updated(20)).status).toBe('ending');
    expect(status(updated(0), deprovisioned(10), updated(20)).status).toBe('ended');
  });

  it('EventBridge and SNS evidence combine: Created + subscribe-success, then Ended', () => {
    expect(statusInEveryOrder(created(0, 'A1'), sns(1, 'subscribe-success'), ended(20, 'A1'))).toEqual(
      new Set(['ending']),
    );
  });

  it('a duplicate event returns the same record object', () => {
    const first = created(0, 'A1');
    const record = replay(first, updated(1));
    expect(hasApplied(record, first)).toBe(true);
    expect(applySignal(record, first)).toBe(record);
    expect(applySignal(record, { ...first })).toBe(record);
  });

  it('keeps a bounded list of recent events, newest first', () => {
    const record = replay(...Array.from({ length: recentEventLimit + 10 }, (_, minute) => updated(minute)));
    expect(record.recentEvents).toHaveLength(recentEventLimit);
    expect(record.recentEvents[0]?.startsWith(at(recentEventLimit + 9))).toBe(true);
  });

  it('merging is commutative and idempotent', () => {
    const a = replay(created(0, 'A1'), updated(1), ended(20, 'A1', 'CANCELLED'));
    const b = replay(created(5, 'A1'), sns(3, 'subscribe-success'), deprovisioned(30));
    expect(mergeRecords(a, b)).toEqual(mergeRecords(b, a));
    expect(mergeRecords(a, a)).toEqual(a);
    // Created keeps its earliest time (the Proposer and Manufacturer copies may differ).
    expect(mergeRecords(a, b).agreements.A1?.created?.at).toBe(at(0));
  });

  it('records entitlements and final flushes, ignoring older ones', () => {
    const record = recordEntitlements(initialRecord(), { observedAt: at(10), dimensions: ['pro'] });
    expect(recordEntitlements(record, { observedAt: at(5), dimensions: ['basic'] })).toBe(record);
    expect(
      recordEntitlements(record, { observedAt: at(11), dimensions: [] }).entitlements?.dimensions,
    ).toEqual([]);
    const flushed = recordFinalFlush(record, at(30));
    expect(recordFinalFlush(flushed, at(20))).toBe(flushed);
    expect(flushed.finalFlushFor).toBe(at(30));
  });
});

describe('parseLicenseRecord', () => {
  it('round-trips through JSON, as stored in DynamoDB', () => {
    const record = recordEntitlements(
      replay(created(0, 'A1', { intent: 'NEW' }), sns(1, 'subscribe-success')),
      {
        observedAt: at(1),
        dimensions: ['basic'],
      },
    );
    expect(parseLicenseRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
  });

  it('treats an absent attribute as a new license', () => {
    expect(parseLicenseRecord(undefined)).toEqual(initialRecord());
  });

  it('rejects a malformed record naming the field', () => {
    expect(() => parseLicenseRecord({ version: 2, agreements: {}, recentEvents: [] })).toThrow(
      LicenseRecordError,
    );
    expect(() => parseLicenseRecord({ version: 1, agreements: { A1: {} }, recentEvents: [] })).toThrow(
      /agreements\.A1\.firstSeenAt/,
    );
  });
});
