/**
 * The one normalised shape of everything AWS Marketplace tells us about a license, whether it came
 * as an EventBridge event (`aws.agreement-marketplace`) or as a legacy SNS notification. The
 * license state machine consumes only this type.
 *
 * SNS actions map onto the EventBridge vocabulary where AWS's semantics match (NOTES §b1):
 * `entitlement-updated` is a `license-updated`; the subscription actions keep their own kinds
 * because each stands for more than one EventBridge event (subscribe-success ≈ Created + License
 * Updated; unsubscribe-pending ≈ Ended; unsubscribe-success ≈ License Deprovisioned).
 */

/**
 * How a handler finds the license record a signal is about (see `locate.ts`):
 * - `licenseArn`: license events carry it; GetItem by `licenseKey` in `license` identity mode.
 * - `agreement`: agreement events usually carry no license; query `byAccount` with the acceptor
 *   account and pick the license whose record knows the agreement (or its predecessor).
 * - `customerIdentifier`: legacy SNS; GetItem in `legacy` mode, else query `byCustomerIdentifier`.
 */
export type LicenseLocator =
  | {
      readonly by: 'licenseArn';
      /** Canonical form, always starting with `arn:` (see `canonicalLicenseArn`). */
      readonly licenseArn: string;
      readonly customerAwsAccountId?: string;
      readonly agreementId?: string;
    }
  | {
      readonly by: 'agreement';
      readonly customerAwsAccountId: string;
      readonly agreementId: string;
      /** For renewals and replacements: the agreement whose license this one continues. */
      readonly previousAgreementId?: string;
    }
  | { readonly by: 'customerIdentifier'; readonly customerIdentifier: string };

interface SignalBase {
  /** EventBridge event id or SNS MessageId: the dedupe key, with `time`. */
  readonly eventId: string;
  /** When AWS emitted the event, normalised ISO-8601 (`toISOString()`). */
  readonly time: string;
  readonly origin: 'eventbridge' | 'sns';
  /** The raw detail-type or SNS action, for logs. */
  readonly sourceType: string;
  readonly locator: LicenseLocator;
  readonly productCode?: string;
}

export type LicenseSignalBody =
  | {
      readonly kind: 'agreement-created';
      readonly agreementId: string;
      /** `NEW`, `RENEW`, `REPLACE` (upper-cased as sent). */
      readonly intent?: string;
      readonly previousAgreementId?: string;
    }
  | { readonly kind: 'agreement-amended'; readonly agreementId: string }
  | {
      readonly kind: 'agreement-ended';
      readonly agreementId: string;
      /** `CANCELLED`, `EXPIRED`, `TERMINATED`, `RENEWED`, `REPLACED`, ... (upper-cased as sent). */
      readonly agreementStatus?: string;
    }
  /** EventBridge License Updated or SNS entitlement-updated: call GetEntitlements. */
  | { readonly kind: 'license-updated'; readonly agreementId?: string }
  | { readonly kind: 'license-deprovisioned'; readonly agreementId?: string }
  | {
      readonly kind: 'subscribe-success' | 'subscribe-fail';
      readonly offerId?: string;
      readonly freeTrial?: boolean;
    }
  | { readonly kind: 'unsubscribe-pending' }
  | { readonly kind: 'unsubscribe-success' };

export type LicenseSignal = SignalBase & LicenseSignalBody;
export type LicenseSignalKind = LicenseSignal['kind'];

/** The published sample form: `[arn:]aws:license-manager:<region>:<account>:l-<id>`. */
const publishedLicenseArn = /^(?:arn:)?(aws[a-z-]*):license-manager:[a-z0-9-]*:(\d{12}):(l-[0-9a-z]+)$/;

/**
 * The LicenseArn in the form ResolveCustomer and GetEntitlements return,
 * `arn:aws:license-manager::<account>:license:l-<id>`. The published License Updated and
 * Deprovisioned examples carry `aws:license-manager:<region>:<account>:l-<id>` (no `arn:`, a region,
 * no `license/` resource type), so that form is rewritten to the API's and both compare equal. Any
 * other value keeps its text (with `arn:` added when missing): event ARNs do not follow the SDK pattern.
 */
export const canonicalLicenseArn = (raw: string): string => {
  const value = raw.trim();
  const published = publishedLicenseArn.exec(value);
  if (published) return `arn:${published[1]}:license-manager::${published[2]}:license:${published[3]}`;
  return value.startsWith('arn:') || !/^aws[a-z-]*:/.test(value) ? value : `arn:${value}`;
};
