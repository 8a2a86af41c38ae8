import { describe, expect, it } from 'vitest';
import { type LicenseCandidate, licenseLookupFor, pickLicense } from '#shared/license/locate';
import { applySignal, initialRecord, type LicenseRecord } from '#shared/license/record';
import { canonicalLicenseArn, type LicenseLocator } from '#shared/license/signal';

const arn = 'arn:aws:license-manager::123456789012:license:l-1';

const knowing = (...agreementIds: string[]): LicenseRecord =>
  agreementIds.reduce(
    (record, agreementId, index) =>
      applySignal(record, {
        eventId: `e-${agreementId}`,
        time: new Date(Date.UTC(2026, 0, 1, index)).toISOString(),
        origin: 'eventbridge',
        sourceType: 'License Updated - Manufacturer',
        locator: { by: 'licenseArn', licenseArn: arn },
        kind: 'license-updated',
        agreementId,
      }),
    initialRecord(),
  );

const byAgreement = (agreementId: string, previousAgreementId?: string): LicenseLocator => ({
  by: 'agreement',
  customerAwsAccountId: '845735284135',
  agreementId,
  ...(previousAgreementId ? { previousAgreementId } : {}),
});

describe('canonicalLicenseArn', () => {
  it('rewrites the published event form to the form ResolveCustomer returns', () => {
    for (const published of [
      'aws:license-manager:us-east-1:123456789012:l-1',
      'arn:aws:license-manager:us-east-1:123456789012:l-1',
    ]) {
      expect(canonicalLicenseArn(published)).toBe(arn);
    }
  });

  it('adds the arn: prefix only where it is missing', () => {
    expect(canonicalLicenseArn('aws:license-manager:us-east-1:1:l-1')).toBe(
      'arn:aws:license-manager:us-east-1:1:l-1',
    );
    expect(canonicalLicenseArn(` ${arn} `)).toBe(arn);
    expect(canonicalLicenseArn('l-1')).toBe('l-1');
  });
});

describe('licenseLookupFor', () => {
  it('reads by key where the key is known, else queries the index that holds the identifier', () => {
    expect(licenseLookupFor({ by: 'licenseArn', licenseArn: arn }, 'license')).toEqual({
      kind: 'get',
      licenseKey: arn,
    });
    expect(
      licenseLookupFor({ by: 'licenseArn', licenseArn: arn, customerAwsAccountId: '1' }, 'legacy'),
    ).toEqual({
      kind: 'query',
      indexName: 'byAccount',
      value: '1',
    });
    expect(licenseLookupFor(byAgreement('A1'), 'license')).toEqual({
      kind: 'query',
      indexName: 'byAccount',
      value: '845735284135',
    });
    expect(licenseLookupFor({ by: 'customerIdentifier', customerIdentifier: 'C1' }, 'legacy')).toEqual({
      kind: 'get',
      licenseKey: 'C1',
    });
    expect(licenseLookupFor({ by: 'customerIdentifier', customerIdentifier: 'C1' }, 'license')).toEqual({
      kind: 'query',
      indexName: 'byCustomerIdentifier',
      value: 'C1',
    });
  });
});

describe('pickLicense', () => {
  const candidates: LicenseCandidate[] = [
    {
      licenseKey: 'C1',
      licenseArn: 'aws:license-manager:us-east-1:123456789012:l-1',
      lifecycle: knowing('A1'),
    },
    { licenseKey: 'C2', customerIdentifier: 'C2', lifecycle: knowing('B1') },
  ];

  it('matches the ARN in either form, and the customer identifier', () => {
    expect(pickLicense({ by: 'licenseArn', licenseArn: arn }, candidates)).toEqual({
      found: true,
      licenseKey: 'C1',
    });
    expect(pickLicense({ by: 'customerIdentifier', customerIdentifier: 'C2' }, candidates)).toEqual({
      found: true,
      licenseKey: 'C2',
    });
    expect(pickLicense({ by: 'licenseArn', licenseArn: 'arn:aws:x' }, candidates)).toMatchObject({
      found: false,
    });
  });

  it('matches an agreement, then a renewal by its predecessor', () => {
    expect(pickLicense(byAgreement('B1'), candidates)).toEqual({ found: true, licenseKey: 'C2' });
    expect(pickLicense(byAgreement('A2', 'A1'), candidates)).toEqual({ found: true, licenseKey: 'C1' });
  });

  it("binds a new agreement to the account's only license if it knows none, and refuses to guess otherwise", () => {
    expect(pickLicense(byAgreement('N1'), [{ licenseKey: 'C3' }])).toEqual({ found: true, licenseKey: 'C3' });
    expect(pickLicense(byAgreement('N1'), [{ licenseKey: 'C3', lifecycle: initialRecord() }])).toEqual({
      found: true,
      licenseKey: 'C3',
    });
    // The only license already stands on another agreement: N1 may be a concurrent purchase.
    expect(pickLicense(byAgreement('N1'), [candidates[0] as LicenseCandidate])).toMatchObject({
      found: false,
    });
    expect(pickLicense(byAgreement('N1'), [...candidates, { licenseKey: 'C3' }])).toEqual({
      found: false,
      reason: 'no license of account 845735284135 knows agreement N1 yet',
    });
  });

  it('refuses an agreement two licenses claim', () => {
    const both = [...candidates, { licenseKey: 'C5', lifecycle: knowing('A1') }];
    expect(pickLicense(byAgreement('A1'), both)).toEqual({
      found: false,
      reason: '2 licenses match agreement A1; refusing to guess',
    });
  });
});
