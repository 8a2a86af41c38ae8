import { randomBytes, randomUUID } from 'node:crypto';

/**
 * AWS Marketplace agreement and license events (source `aws.agreement-marketplace`, default bus),
 * in the shapes AWS publishes: agreement events in their Proposer version (a direct offer, where
 * the seller is the proposer, gets only that one), license events in their Manufacturer version.
 * Values are the sandbox's own.
 */

export const MARKETPLACE_SOURCE = 'aws.agreement-marketplace';

export type MarketplaceEventKind =
  | 'agreement-created'
  | 'agreement-amended'
  | 'agreement-renewed'
  | 'agreement-ended'
  | 'license-updated'
  | 'license-deprovisioned';

export const marketplaceEventKinds: readonly {
  kind: MarketplaceEventKind;
  label: string;
  detailType: string;
}[] = [
  {
    kind: 'agreement-created',
    label: 'Agreement created',
    detailType: 'Purchase Agreement Created - Proposer',
  },
  {
    kind: 'agreement-amended',
    label: 'Agreement amended',
    detailType: 'Purchase Agreement Amended - Proposer',
  },
  {
    kind: 'agreement-renewed',
    label: 'Agreement renewed',
    detailType: 'Purchase Agreement Created - Proposer',
  },
  { kind: 'agreement-ended', label: 'Agreement ended', detailType: 'Purchase Agreement Ended - Proposer' },
  { kind: 'license-updated', label: 'License updated', detailType: 'License Updated - Manufacturer' },
  {
    kind: 'license-deprovisioned',
    label: 'License deprovisioned',
    detailType: 'License Deprovisioned - Manufacturer',
  },
];

/** What the sandbox knows about one buyer's purchase. */
export interface Agreement {
  readonly licenseArn: string;
  readonly customerAwsAccountId: string;
  agreementId: string;
  readonly offerId: string;
  /** The listing the buyer subscribed to (the config's first product when absent). */
  readonly productCode?: string;
  /** The dimension (plan) the buyer chose. */
  dimension: string;
  readonly startedAt: string;
  endedAt?: string;
  /** Detail-types emitted for it, in order. */
  readonly emitted: string[];
}

export const newAgreementId = () => `agmt-${randomBytes(12).toString('hex').slice(0, 25)}`;
export const newOfferId = () => `offer-${randomBytes(8).toString('hex').slice(0, 13)}`;

export interface ListingIdentity {
  readonly productId: string;
  readonly productCode: string;
  /** The seller's account (receives the events; proposer and manufacturer). */
  readonly sellerAccount: string;
  readonly region: string;
}

/** `arn:aws:license-manager::<account>:license:l-<id>` as AWS's published License events write it. */
export const publishedLicenseArnOf = (licenseArn: string, region: string): string =>
  licenseArn.replace(
    /^arn:(aws[a-z-]*):license-manager::(\d{12}):license:(l-[0-9a-z]+)$/,
    `$1:license-manager:${region}:$2:$3`,
  );

const isoSeconds = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/** Builds one event for an agreement; `endStatus` is the agreement status of an Ended event. */
export const marketplaceEvent = (
  kind: MarketplaceEventKind,
  agreement: Agreement,
  listing: ListingIdentity,
  options: {
    now: Date;
    previousAgreementId?: string;
    endStatus?: string;
    termMonths?: number;
    /**
     * How `detail.license.arn` is written: `api` (as ResolveCustomer returns it, the default) or
     * `published` (as AWS's published License events show it: no `arn:`, a region, no `license/`).
     */
    licenseArnForm?: 'api' | 'published';
    region?: string;
  },
): Record<string, unknown> => {
  const descriptor = marketplaceEventKinds.find((candidate) => candidate.kind === kind);
  if (!descriptor) throw new Error(`Unknown Marketplace event kind ${kind}`);
  const now = options.now;
  const end = new Date(now);
  end.setUTCMonth(end.getUTCMonth() + (options.termMonths ?? 12));
  const common = {
    requestId: randomUUID(),
    catalog: 'AWSMarketplace',
    acceptor: { accountId: agreement.customerAwsAccountId },
    proposer: { accountId: listing.sellerAccount },
  };
  let detail: Record<string, unknown>;
  switch (kind) {
    case 'agreement-created':
    case 'agreement-renewed':
      detail = {
        ...common,
        agreement: {
          id: agreement.agreementId,
          intent: kind === 'agreement-renewed' ? 'RENEW' : 'NEW',
          status: 'ACTIVE',
          acceptanceTime: isoSeconds(now),
          startTime: isoSeconds(now),
          endTime: isoSeconds(end),
          ...(options.previousAgreementId ? { previousAgreementId: options.previousAgreementId } : {}),
        },
        product: { id: listing.productId, title: 'Marketplace Bridge sandbox listing' },
        resaleAuthorization: null,
        offer: { id: agreement.offerId },
      };
      break;
    case 'agreement-amended':
      detail = {
        ...common,
        agreement: {
          id: agreement.agreementId,
          intent: 'AMEND',
          status: 'ACTIVE',
          acceptanceTime: isoSeconds(now),
          startTime: agreement.startedAt,
          endTime: isoSeconds(end),
          autoRenewalEnabled: true,
        },
        product: { id: listing.productId, title: 'Marketplace Bridge sandbox listing' },
        resaleAuthorization: null,
        offer: { id: agreement.offerId },
      };
      break;
    case 'agreement-ended':
      detail = {
        ...common,
        agreement: { id: agreement.agreementId, status: options.endStatus ?? 'CANCELLED' },
        resaleAuthorization: null,
        offer: { id: agreement.offerId },
      };
      break;
    default:
      detail = {
        ...common,
        agreement: { id: agreement.agreementId },
        product: { code: listing.productCode, id: listing.productId },
        license: {
          arn:
            options.licenseArnForm === 'published'
              ? publishedLicenseArnOf(agreement.licenseArn, options.region ?? 'us-east-1')
              : agreement.licenseArn,
        },
        offer: { id: agreement.offerId },
      };
  }
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': descriptor.detailType,
    source: MARKETPLACE_SOURCE,
    account: listing.sellerAccount,
    time: isoSeconds(now),
    region: listing.region,
    resources: [`arn:aws:aws-marketplace::aws:agreement:${agreement.agreementId}`],
    detail,
  };
};

/** Legacy SNS notification actions (listings from before June 2026). */
export const legacySnsActions = [
  'subscribe-success',
  'subscribe-fail',
  'unsubscribe-pending',
  'unsubscribe-success',
  'entitlement-updated',
] as const;
export type LegacySnsAction = (typeof legacySnsActions)[number];
