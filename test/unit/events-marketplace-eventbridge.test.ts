import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventParseError } from '#shared/events/common';
import { parseMarketplaceEvent } from '#shared/events/marketplace-eventbridge';
import { applySignal, initialRecord, type LicenseRecord } from '#shared/license/record';
import type { LicenseSignal, LicenseSignalKind } from '#shared/license/signal';
import { deriveStatus, type LicenseStatus } from '#shared/license/status';

const eventsDir = new URL('../../../shared/reference/aws-marketplace/events/eventbridge/', import.meta.url);

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(name, eventsDir), 'utf8')) as Record<string, unknown>;

/** A fixture with its own id and time: the published examples all share one id and time. */
const variant = (name: string, id: string, time: string, detail: Record<string, unknown> = {}) => {
  const event = fixture(name);
  return { ...event, id, time, detail: { ...(event.detail as object), ...detail } };
};

const accepted = (raw: unknown): LicenseSignal => {
  const outcome = parseMarketplaceEvent(raw);
  if (!outcome.ok) throw new Error(`expected a signal, got ignored: ${outcome.ignored}`);
  return outcome.signal;
};

const rejection = (raw: unknown, options = {}): string => {
  try {
    parseMarketplaceEvent(raw, options);
  } catch (error) {
    expect(error).toBeInstanceOf(EventParseError);
    return (error as EventParseError).reason;
  }
  throw new Error('expected the event to be rejected');
};

const statusAfter = (...signals: LicenseSignal[]): LicenseStatus =>
  deriveStatus(signals.reduce<LicenseRecord>(applySignal, initialRecord())).status;

type Expectation =
  | { kind: LicenseSignalKind; by: 'licenseArn' | 'agreement'; status: LicenseStatus }
  | { ignored: RegExp };

/** Every published example: the signal it becomes and the status it gives a new license, or why it is ignored. */
const expectations: Record<string, Expectation> = {
  'agreement-cancellation-request-approved-proposer.json': { ignored: /cancellation request/ },
  'agreement-cancellation-request-cancelled-proposer.json': { ignored: /cancellation request/ },
  'agreement-cancellation-request-pending-approval-proposer.json': { ignored: /cancellation request/ },
  'agreement-cancellation-request-rejected-proposer.json': { ignored: /cancellation request/ },
  'agreement-cancellation-request-validation-failed-proposer.json': { ignored: /cancellation request/ },
  'license-deprovisioned-manufacturer.json': {
    kind: 'license-deprovisioned',
    by: 'licenseArn',
    status: 'ended',
  },
  'license-updated-manufacturer.json': { kind: 'license-updated', by: 'licenseArn', status: 'active' },
  'purchase-agreement-advisory-issued-manufacturer.json': { ignored: /advisory/ },
  'purchase-agreement-advisory-resolved-manufacturer.json': { ignored: /advisory/ },
  'purchase-agreement-amended-manufacturer.json': {
    kind: 'agreement-amended',
    by: 'agreement',
    status: 'active',
  },
  'purchase-agreement-amended-proposer.json': {
    kind: 'agreement-amended',
    by: 'agreement',
    status: 'active',
  },
  'purchase-agreement-billing-adjustment-completed-proposer.json': { ignored: /billing adjustment/ },
  'purchase-agreement-billing-adjustment-failed-proposer.json': { ignored: /billing adjustment/ },
  'purchase-agreement-created-manufacturer.json': {
    kind: 'agreement-created',
    by: 'agreement',
    status: 'active',
  },
  'purchase-agreement-created-proposer.intent-renew.json': {
    kind: 'agreement-created',
    by: 'agreement',
    status: 'active',
  },
  'purchase-agreement-created-proposer.json': {
    kind: 'agreement-created',
    by: 'agreement',
    status: 'active',
  },
  'purchase-agreement-ended-manufacturer.json': {
    kind: 'agreement-ended',
    by: 'agreement',
    status: 'ending',
  },
  'purchase-agreement-ended-proposer.json': { kind: 'agreement-ended', by: 'agreement', status: 'ending' },
  'purchase-agreement-ending-proposer.json': { ignored: /advance notice/ },
  'purchase-agreement-renewal-terms-finalized-proposer.json': { ignored: /renewal pricing finalized/ },
  'purchase-agreement-renewal-upcoming-proposer.json': { ignored: /renewal lockout/ },
};

describe('parseMarketplaceEvent on the published examples', () => {
  it('has an expectation for every published example', () => {
    const files = readdirSync(eventsDir).filter((name) => name.endsWith('.json'));
    expect(files.sort()).toEqual(Object.keys(expectations).sort());
  });

  it.each(Object.entries(expectations))('%s', (name, expected) => {
    const outcome = parseMarketplaceEvent(fixture(name));
    if ('ignored' in expected) {
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) {
        expect(outcome.ignored).toMatch(expected.ignored);
        expect(outcome.eventId).toBe(fixture(name).id);
      }
      return;
    }
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.signal).toMatchObject({
      kind: expected.kind,
      origin: 'eventbridge',
      eventId: fixture(name).id,
    });
    expect(outcome.signal.locator.by).toBe(expected.by);
    expect(statusAfter(outcome.signal)).toBe(expected.status);
  });
});

describe('parseMarketplaceEvent details', () => {
  it('reads the published license ARN as the ARN ResolveCustomer returns and keeps account and agreement', () => {
    const signal = accepted(fixture('license-updated-manufacturer.json'));
    expect(signal.locator).toEqual({
      by: 'licenseArn',
      licenseArn: 'arn:aws:license-manager::123456789012:license:l-e52ca6f38bf84d0fafb8802ca15ac11x',
      customerAwsAccountId: '845735284135',
      agreementId: 'agmt-4mwg1nevbokzw95eca5797ixs',
    });
    expect(signal.productCode).toBe('aw4fgf5tyo5w2ap6fEXAMPLE');
    expect(signal.time).toBe('2024-08-30T21:36:03.000Z');
  });

  it('reads the intent and predecessor of a renewal and locates it by account and agreement', () => {
    const signal = accepted(fixture('purchase-agreement-created-proposer.intent-renew.json'));
    expect(signal).toMatchObject({
      kind: 'agreement-created',
      agreementId: 'agmt-newrenewalagreementid',
      intent: 'RENEW',
      previousAgreementId: 'agmt-4mwg1nevbokzw95eca5797ixs',
    });
    expect(signal.locator).toEqual({
      by: 'agreement',
      customerAwsAccountId: '845735284135',
      agreementId: 'agmt-newrenewalagreementid',
      previousAgreementId: 'agmt-4mwg1nevbokzw95eca5797ixs',
    });
  });

  it('keeps the status of an ended agreement', () => {
    expect(accepted(fixture('purchase-agreement-ended-proposer.json'))).toMatchObject({
      kind: 'agreement-ended',
      agreementStatus: 'CANCELLED',
    });
  });

  it('accepts unknown extra fields and a License Updated for the Proposer role', () => {
    const event = fixture('license-updated-manufacturer.json');
    const signal = accepted({
      ...event,
      'detail-type': 'License Updated - Proposer',
      newTopLevel: 1,
      detail: { ...(event.detail as object), somethingNew: { nested: true } },
    });
    expect(signal.kind).toBe('license-updated');
  });

  it('ignores events about a product the deployment does not serve', () => {
    const outcome = parseMarketplaceEvent(fixture('license-updated-manufacturer.json'), {
      products: [{ productCode: 'mine', productId: 'prod-mine000001' }],
    });
    expect(outcome).toMatchObject({
      ok: false,
      ignored: expect.stringMatching(/not one of this deployment's listings/),
    });
  });

  it("routes an event to whichever configured product it names, by that product's code", () => {
    const outcome = parseMarketplaceEvent(fixture('license-updated-manufacturer.json'), {
      products: [
        { productCode: 'mine', productId: 'prod-mine000001' },
        { productCode: 'aw4fgf5tyo5w2ap6fEXAMPLE', productId: 'prod-qtwveEXAMPLE' },
      ],
    });
    expect(outcome.ok && outcome.signal.productCode).toBe('aw4fgf5tyo5w2ap6fEXAMPLE');
  });

  it.each([
    ['a non-object', 'not an event', /EventBridge envelope/],
    [
      'another source',
      { ...fixture('license-updated-manufacturer.json'), source: 'aws.marketplacecatalog' },
      /source/,
    ],
    [
      'an unknown detail-type',
      {
        ...fixture('license-updated-manufacturer.json'),
        'detail-type': 'Spend Threshold Reached - Proposer',
      },
      /unsupported detail-type "Spend Threshold Reached - Proposer"/,
    ],
    ['a malformed time', { ...fixture('license-updated-manufacturer.json'), time: 'yesterday' }, /time/],
    [
      'a Created event without agreement',
      variant('purchase-agreement-created-proposer.json', 'x', '2024-08-30T21:36:03Z', {
        agreement: undefined,
      }),
      /without detail.agreement.id/,
    ],
    [
      'a blank agreement id',
      variant('purchase-agreement-created-proposer.json', 'x', '2024-08-30T21:36:03Z', {
        agreement: { id: ' ' },
      }),
      /detail.agreement.id/,
    ],
    [
      'an agreement event with neither license nor acceptor',
      variant('purchase-agreement-ended-proposer.json', 'x', '2024-08-30T21:36:03Z', { acceptor: undefined }),
      /no license can be found/,
    ],
  ])('rejects %s with a reason', (_what, raw, reason) => {
    expect(rejection(raw)).toMatch(reason);
  });
});

describe('published examples driving one license', () => {
  it('created, license updated, ended, deprovisioned: active, active, ending, ended', () => {
    const created = accepted(
      variant('purchase-agreement-created-proposer.json', 'e1', '2024-08-30T21:00:00Z'),
    );
    const updated = accepted(variant('license-updated-manufacturer.json', 'e2', '2024-08-30T21:00:05Z'));
    const ended = accepted(variant('purchase-agreement-ended-proposer.json', 'e3', '2024-09-30T10:00:00Z'));
    const gone = accepted(variant('license-deprovisioned-manufacturer.json', 'e4', '2024-09-30T10:30:00Z'));
    expect(statusAfter(created)).toBe('active');
    expect(statusAfter(created, updated)).toBe('active');
    expect(statusAfter(created, updated, ended)).toBe('ending');
    expect(statusAfter(created, updated, ended, gone)).toBe('ended');
    // Delivered backwards, the same final status.
    expect(statusAfter(gone, ended, updated, created)).toBe('ended');
  });

  it('a renewal keeps the license active even though the old agreement ended as CANCELLED', () => {
    const created = accepted(
      variant('purchase-agreement-created-proposer.json', 'e1', '2024-06-26T21:36:03Z'),
    );
    const renewal = accepted(
      variant('purchase-agreement-created-proposer.intent-renew.json', 'e2', '2024-08-30T21:36:03Z'),
    );
    const oldEnded = accepted(
      variant('purchase-agreement-ended-proposer.json', 'e3', '2024-08-30T21:36:04Z'),
    );
    expect(statusAfter(created, renewal, oldEnded)).toBe('active');
    expect(statusAfter(oldEnded, created)).toBe('ending');
    expect(statusAfter(oldEnded, created, renewal)).toBe('active');
  });
});
