import {
  type MarketplaceMeteringClient,
  ResolveCustomerCommand,
  type ResolveCustomerCommandOutput,
} from '@aws-sdk/client-marketplace-metering';
import { MarketplaceError, RegistrationTokenError, toMarketplaceError } from './errors.js';
import type { BuyerIdentity, IdentityMode } from './identity.js';

/** What ResolveCustomer returns for a registration token. */
export interface ResolvedCustomer {
  readonly productCode: string;
  readonly customerAwsAccountId: string;
  /** Set for listings using the license identity model (and by AWS for newer legacy listings). */
  readonly licenseArn?: string;
  /** Set only for legacy listings; AWS no longer populates it for new integrations. */
  readonly customerIdentifier?: string;
}

const present = (value: string | undefined): string | undefined =>
  value === undefined || value.length === 0 ? undefined : value;

/**
 * Resolves the registration token the buyer's browser POSTed to the fulfillment URL. An invalid
 * or expired token becomes a RegistrationTokenError (the buyer must start again from AWS
 * Marketplace); throttling and server faults a retryable MarketplaceUnavailableError (after the
 * SDK's own retries). The token never appears in an error or log.
 */
export const resolveCustomer = async (
  client: MarketplaceMeteringClient,
  token: string,
): Promise<ResolvedCustomer> => {
  if (typeof token !== 'string' || token.trim().length === 0) {
    throw new RegistrationTokenError('invalid', {});
  }
  let output: ResolveCustomerCommandOutput;
  try {
    output = await client.send(new ResolveCustomerCommand({ RegistrationToken: token }));
  } catch (error) {
    const mapped = toMarketplaceError(error, 'ResolveCustomer', { secrets: [token] });
    if (mapped.code === 'InvalidTokenException' || mapped.code === 'ExpiredTokenException') {
      throw new RegistrationTokenError(mapped.code === 'ExpiredTokenException' ? 'expired' : 'invalid', {
        code: mapped.code,
        requestId: mapped.requestId,
      });
    }
    throw mapped;
  }
  const productCode = present(output.ProductCode);
  const customerAwsAccountId = present(output.CustomerAWSAccountId);
  if (productCode === undefined || customerAwsAccountId === undefined) {
    throw new MarketplaceError('ResolveCustomer returned no ProductCode or no CustomerAWSAccountId', {
      operation: 'ResolveCustomer',
      requestId: output.$metadata.requestId,
    });
  }
  const licenseArn = present(output.LicenseArn);
  const customerIdentifier = present(output.CustomerIdentifier);
  return {
    productCode,
    customerAwsAccountId,
    ...(licenseArn === undefined ? {} : { licenseArn }),
    ...(customerIdentifier === undefined ? {} : { customerIdentifier }),
  };
};

/**
 * The buyer identity a resolved customer has in the listing's identity mode. Fails when AWS did
 * not return the identifier that mode needs, which means the configured mode is wrong.
 */
export const buyerIdentityOf = (customer: ResolvedCustomer, mode: IdentityMode): BuyerIdentity => {
  if (mode === 'license') {
    if (customer.licenseArn === undefined) {
      throw new MarketplaceError(
        'ResolveCustomer returned no LicenseArn; if this listing predates June 2026, set marketplace.identityMode to "legacy"',
        { operation: 'ResolveCustomer' },
      );
    }
    return { mode, licenseArn: customer.licenseArn, customerAwsAccountId: customer.customerAwsAccountId };
  }
  if (customer.customerIdentifier === undefined) {
    throw new MarketplaceError(
      'ResolveCustomer returned no CustomerIdentifier; new listings identify buyers by license, set marketplace.identityMode to "license"',
      { operation: 'ResolveCustomer' },
    );
  }
  return {
    mode,
    customerIdentifier: customer.customerIdentifier,
    customerAwsAccountId: customer.customerAwsAccountId,
  };
};
