import * as z from 'zod';
import {
  canonicalLicenseArn,
  type LicenseLocator,
  type LicenseSignal,
  type LicenseSignalBody,
} from '../license/signal.js';
import {
  accept,
  EventParseError,
  identifier,
  ignore,
  isoTime,
  optionalIdentifier,
  type ParseOutcome,
  parseWith,
} from './common.js';

/** AWS Marketplace agreement and license events on EventBridge (NOTES §b1). */

export const marketplaceEventSource = 'aws.agreement-marketplace';

const origin = 'marketplace-eventbridge';

/** Detail-types (without the role suffix) that change a license. */
const actionableTypes = {
  'Purchase Agreement Created': 'agreement-created',
  'Purchase Agreement Amended': 'agreement-amended',
  'Purchase Agreement Ended': 'agreement-ended',
  'License Updated': 'license-updated',
  'License Deprovisioned': 'license-deprovisioned',
} as const satisfies Record<string, LicenseSignalBody['kind']>;

/** Detail-types we receive but deliberately do not act on, with the reason (logged as the ignore). */
export const informationalDetailTypes: Readonly<Record<string, string>> = {
  'Purchase Agreement Ending':
    'advance notice of an agreement end (days before end time); the Ended event changes the license',
  'Purchase Agreement Renewal Terms Finalized':
    'renewal pricing finalized; the renewal itself arrives as a Created event with intent RENEW',
  'Purchase Agreement Renewal Upcoming': 'renewal lockout started; informational only',
  'Purchase Agreement Advisory Issued': 'advisory issued on the agreement; alerting only, no license change',
  'Purchase Agreement Advisory Resolved':
    'advisory resolved on the agreement; alerting only, no license change',
  'Agreement Cancellation Request Pending Approval':
    'seller cancellation request workflow; an approved cancellation ends the agreement with an Ended event',
  'Agreement Cancellation Request Approved':
    'seller cancellation request workflow; an approved cancellation ends the agreement with an Ended event',
  'Agreement Cancellation Request Rejected': 'seller cancellation request workflow; no license change',
  'Agreement Cancellation Request Cancelled': 'seller cancellation request workflow; no license change',
  'Agreement Cancellation Request Validation Failed':
    'seller cancellation request workflow; no license change',
  'Purchase Agreement Billing Adjustment Completed': 'billing adjustment; no license change',
  'Purchase Agreement Billing Adjustment Failed': 'billing adjustment; no license change',
};

const roleSuffix = / - (Proposer|Manufacturer|Acceptor)$/;

const envelopeSchema = z.looseObject({
  id: identifier('the event id'),
  'detail-type': identifier('the detail-type'),
  source: z.literal(marketplaceEventSource, {
    message: `expected source "${marketplaceEventSource}" (not an AWS Marketplace agreement event)`,
  }),
  time: isoTime('the event time'),
  account: z.string({ message: 'expected the receiving account id' }),
  region: z.string({ message: 'expected the region' }),
  resources: z.array(z.string(), { message: 'expected resources as an array of strings' }),
  detail: z.looseObject({}, { message: 'expected detail as an object' }),
});

const upperCase = z
  .string()
  .trim()
  .nullish()
  .transform((value) => (value ? value.toUpperCase() : undefined));

const detailSchema = z.looseObject({
  agreement: z
    .looseObject({
      id: identifier('detail.agreement.id'),
      intent: upperCase,
      status: upperCase,
      previousAgreementId: optionalIdentifier,
    })
    .nullish(),
  license: z.looseObject({ arn: identifier('detail.license.arn') }).nullish(),
  acceptor: z.looseObject({ accountId: identifier('detail.acceptor.accountId') }).nullish(),
  product: z.looseObject({ id: optionalIdentifier, code: optionalIdentifier }).nullish(),
});

type Detail = z.output<typeof detailSchema>;

export interface MarketplaceEventOptions {
  /** The deployment's listings: events naming another product are ignored. */
  readonly products?: readonly { readonly productId: string; readonly productCode: string }[];
}

/** The configured product code the event is about, or why it is about none of them. */
const productOf = (
  detail: Detail,
  options: MarketplaceEventOptions,
): { productCode?: string } | { other: string } => {
  const named = detail.product;
  if (!options.products) return named?.code ? { productCode: named.code } : {};
  if (!named?.id && !named?.code) return {};
  const match = options.products.find(
    (product) =>
      (!named.id || named.id === product.productId) && (!named.code || named.code === product.productCode),
  );
  if (match) return { productCode: match.productCode };
  return { other: `event for product ${named.id ?? named.code}, not one of this deployment's listings` };
};

const locate = (detail: Detail, baseType: string): LicenseLocator => {
  const account = detail.acceptor?.accountId;
  const agreement = detail.agreement;
  if (detail.license) {
    return {
      by: 'licenseArn',
      licenseArn: canonicalLicenseArn(detail.license.arn),
      ...(account ? { customerAwsAccountId: account } : {}),
      ...(agreement ? { agreementId: agreement.id } : {}),
    };
  }
  if (agreement && account) {
    return {
      by: 'agreement',
      customerAwsAccountId: account,
      agreementId: agreement.id,
      ...(agreement.previousAgreementId ? { previousAgreementId: agreement.previousAgreementId } : {}),
    };
  }
  throw new EventParseError(
    origin,
    `${baseType} names neither detail.license.arn nor detail.agreement.id with detail.acceptor.accountId, so no license can be found for it`,
  );
};

const requireAgreement = (detail: Detail, baseType: string) => {
  if (!detail.agreement) throw new EventParseError(origin, `${baseType} without detail.agreement.id`);
  return detail.agreement;
};

type ActionableKind = (typeof actionableTypes)[keyof typeof actionableTypes];

const bodyOf = (kind: ActionableKind, detail: Detail, baseType: string): LicenseSignalBody => {
  switch (kind) {
    case 'agreement-created': {
      const agreement = requireAgreement(detail, baseType);
      return {
        kind,
        agreementId: agreement.id,
        ...(agreement.intent ? { intent: agreement.intent } : {}),
        ...(agreement.previousAgreementId ? { previousAgreementId: agreement.previousAgreementId } : {}),
      };
    }
    case 'agreement-amended':
      return { kind, agreementId: requireAgreement(detail, baseType).id };
    case 'agreement-ended': {
      const agreement = requireAgreement(detail, baseType);
      return {
        kind,
        agreementId: agreement.id,
        ...(agreement.status ? { agreementStatus: agreement.status } : {}),
      };
    }
    case 'license-updated':
    case 'license-deprovisioned':
      return { kind, ...(detail.agreement ? { agreementId: detail.agreement.id } : {}) };
  }
};

/**
 * Parses one `aws.agreement-marketplace` event. Agreement and license events become a
 * LicenseSignal; the informational detail-types are ignored with their reason; anything else
 * (wrong source, unknown detail-type, missing identifiers) throws EventParseError.
 * Unknown extra fields are accepted everywhere.
 */
export const parseMarketplaceEvent = (
  raw: unknown,
  options: MarketplaceEventOptions = {},
): ParseOutcome<LicenseSignal> => {
  const envelope = parseWith(envelopeSchema, raw, 'EventBridge envelope', origin);
  const detailType = envelope['detail-type'];
  const baseType = detailType.replace(roleSuffix, '');
  const informational = informationalDetailTypes[baseType];
  if (informational !== undefined) return ignore(`${detailType}: ${informational}`, envelope.id);
  if (!Object.hasOwn(actionableTypes, baseType)) {
    throw new EventParseError(origin, `unsupported detail-type "${detailType}"`);
  }
  const kind = actionableTypes[baseType as keyof typeof actionableTypes];
  const detail = parseWith(detailSchema, envelope.detail, `${detailType} detail`, origin);
  const product = productOf(detail, options);
  if ('other' in product) return ignore(product.other, envelope.id);
  const body = bodyOf(kind, detail, baseType);
  return accept({
    eventId: envelope.id,
    time: envelope.time,
    origin: 'eventbridge',
    sourceType: detailType,
    locator: locate(detail, baseType),
    ...(product.productCode ? { productCode: product.productCode } : {}),
    ...body,
  });
};
