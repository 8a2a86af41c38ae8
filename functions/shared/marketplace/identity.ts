import * as z from 'zod';

/**
 * Who a buyer is, in the listing's identity mode. `license` (listings from June 2026): a license
 * ARN plus the buyer's AWS account; one account may hold several concurrent licenses. `legacy`
 * (older listings): the opaque CustomerIdentifier, one per account and product.
 */
export type IdentityMode = 'license' | 'legacy';

export interface LicenseIdentity {
  readonly mode: 'license';
  readonly licenseArn: string;
  readonly customerAwsAccountId: string;
}

export interface LegacyIdentity {
  readonly mode: 'legacy';
  readonly customerIdentifier: string;
  readonly customerAwsAccountId?: string;
}

export type BuyerIdentity = LicenseIdentity | LegacyIdentity;

/** The Licenses table partition key (`licenseKey`): the LicenseArn, or the CustomerIdentifier in legacy mode. */
export const licenseKeyOf = (identity: BuyerIdentity): string =>
  identity.mode === 'license' ? identity.licenseArn : identity.customerIdentifier;

const nonEmpty = (what: string) => z.string().trim().min(1, `expected ${what}, got an empty string`);

/** AWS account ids are digits only (the service model allows 1-255 of them; real ones have 12). */
export const awsAccountIdSchema = z
  .string({ message: 'expected an AWS account id (digits)' })
  .regex(/^\d{1,255}$/, 'expected an AWS account id (digits only)');

/** Validates a BuyerIdentity; extra fields (e.g. a whole Licenses item) are allowed and ignored. */
export const buyerIdentitySchema = z.discriminatedUnion(
  'mode',
  [
    z.object({
      mode: z.literal('license'),
      licenseArn: nonEmpty('a LicenseArn'),
      customerAwsAccountId: awsAccountIdSchema,
    }),
    z.object({
      mode: z.literal('legacy'),
      customerIdentifier: nonEmpty('a CustomerIdentifier'),
      customerAwsAccountId: awsAccountIdSchema.optional(),
    }),
  ],
  { message: 'expected a buyer identity with mode "license" or "legacy"' },
);
