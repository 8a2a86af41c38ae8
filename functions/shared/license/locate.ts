import type { LicenseRecord } from './record.js';
import { canonicalLicenseArn, type LicenseLocator } from './signal.js';

/**
 * How a handler finds the license a signal is about, in two pure steps: `licenseLookupFor` says
 * which DynamoDB read to make (a GetItem by `licenseKey` or a Query on an index), and
 * `pickLicense` chooses among the items a Query returned.
 */

export type LicenseLookup =
  | { readonly kind: 'get'; readonly licenseKey: string }
  | {
      readonly kind: 'query';
      readonly indexName: 'byAccount' | 'byCustomerIdentifier';
      readonly value: string;
    };

export const licenseLookupFor = (
  locator: LicenseLocator,
  identityMode: 'license' | 'legacy',
): LicenseLookup => {
  switch (locator.by) {
    case 'licenseArn':
      if (identityMode === 'license') return { kind: 'get', licenseKey: locator.licenseArn };
      // Legacy items are keyed by CustomerIdentifier; the account index finds them.
      if (locator.customerAwsAccountId) {
        return { kind: 'query', indexName: 'byAccount', value: locator.customerAwsAccountId };
      }
      return { kind: 'get', licenseKey: locator.licenseArn };
    case 'agreement':
      return { kind: 'query', indexName: 'byAccount', value: locator.customerAwsAccountId };
    case 'customerIdentifier':
      return identityMode === 'legacy'
        ? { kind: 'get', licenseKey: locator.customerIdentifier }
        : { kind: 'query', indexName: 'byCustomerIdentifier', value: locator.customerIdentifier };
  }
};

/** The fields of a Licenses item that matching needs. */
export interface LicenseCandidate {
  readonly licenseKey: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly lifecycle?: LicenseRecord;
}

export type LicenseMatch =
  | { readonly found: true; readonly licenseKey: string }
  /** The reason is meant for the retry/DLQ message: the license may simply not exist yet. */
  | { readonly found: false; readonly reason: string };

const knows = (candidate: LicenseCandidate, agreementId: string) =>
  candidate.lifecycle !== undefined && Object.hasOwn(candidate.lifecycle.agreements, agreementId);

const only = (candidates: readonly LicenseCandidate[], what: string): LicenseMatch | undefined => {
  if (candidates.length === 1)
    return { found: true, licenseKey: (candidates[0] as LicenseCandidate).licenseKey };
  if (candidates.length > 1) {
    return { found: false, reason: `${candidates.length} licenses match ${what}; refusing to guess` };
  }
  return undefined;
};

/**
 * Picks the license among the items a lookup returned:
 * - by ARN or customer identifier: the item carrying it;
 * - by agreement: the item whose record knows the agreement, else (a renewal or replacement) the
 *   one that knows `previousAgreementId`, else the account's only license if it knows no agreement
 *   yet. Anything ambiguous is not found: the handler retries later (a License Updated event,
 *   which carries both the license ARN and the agreement id, binds the agreement meanwhile).
 */
export const pickLicense = (
  locator: LicenseLocator,
  candidates: readonly LicenseCandidate[],
): LicenseMatch => {
  switch (locator.by) {
    case 'licenseArn': {
      const wanted = locator.licenseArn;
      const matches = candidates.filter(
        (candidate) =>
          candidate.licenseKey === wanted ||
          (candidate.licenseArn !== undefined && canonicalLicenseArn(candidate.licenseArn) === wanted),
      );
      return only(matches, `license ${wanted}`) ?? { found: false, reason: `no license ${wanted} yet` };
    }
    case 'customerIdentifier': {
      const wanted = locator.customerIdentifier;
      const matches = candidates.filter(
        (candidate) => candidate.licenseKey === wanted || candidate.customerIdentifier === wanted,
      );
      return (
        only(matches, `customer ${wanted}`) ?? {
          found: false,
          reason: `no license for customer ${wanted} yet`,
        }
      );
    }
    case 'agreement': {
      const { agreementId, previousAgreementId, customerAwsAccountId } = locator;
      const direct = only(
        candidates.filter((candidate) => knows(candidate, agreementId)),
        `agreement ${agreementId}`,
      );
      if (direct) return direct;
      if (previousAgreementId) {
        const continued = only(
          candidates.filter((candidate) => knows(candidate, previousAgreementId)),
          `previous agreement ${previousAgreementId}`,
        );
        if (continued) return continued;
      }
      // The account's only license, still knowing no agreement: sign-up stored it before any
      // agreement event. With several licenses the new agreement may be another (concurrent)
      // purchase, so it waits until a License Updated event names its license.
      const [sole] = candidates;
      if (candidates.length === 1 && sole && Object.keys(sole.lifecycle?.agreements ?? {}).length === 0) {
        return { found: true, licenseKey: sole.licenseKey };
      }
      return {
        found: false,
        reason: `no license of account ${customerAwsAccountId} knows agreement ${agreementId} yet`,
      };
    }
  }
};
