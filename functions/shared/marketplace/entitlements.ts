import {
  type GetEntitlementFilterName,
  GetEntitlementsCommand,
  type GetEntitlementsCommandOutput,
  type MarketplaceEntitlementServiceClient,
  type Entitlement as SdkEntitlement,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { MarketplaceError, MarketplaceInputError, toMarketplaceError } from './errors.js';
import type { BuyerIdentity } from './identity.js';

/**
 * Which entitlements to fetch. The SDK (3.1138) and the service model know a `LICENSE_ARN`
 * filter next to `CUSTOMER_IDENTIFIER`, `CUSTOMER_AWS_ACCOUNT_ID` and `DIMENSION`, and each
 * entitlement carries its `LicenseArn`, so license-mode listings filter on the license directly.
 * Values within a key are OR-ed by the service, keys AND-ed.
 */
export interface EntitlementFilter {
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly customerAwsAccountId?: string;
  readonly dimensions?: readonly string[];
}

/** The filter for one buyer: LICENSE_ARN in license mode, CUSTOMER_IDENTIFIER in legacy mode. */
export const entitlementFilterFor = (identity: BuyerIdentity): EntitlementFilter =>
  identity.mode === 'license'
    ? { licenseArn: identity.licenseArn }
    : { customerIdentifier: identity.customerIdentifier };

export interface Entitlement {
  readonly productCode: string;
  readonly dimension: string;
  /** Integer or double quantity, boolean flag or string, as AWS sent it; undefined if none. */
  readonly value: number | boolean | string | undefined;
  /** The earliest date the entitlement stays valid until (contracts: renewal or cancel date). */
  readonly expirationDate?: Date;
  readonly licenseArn?: string;
  readonly customerAwsAccountId?: string;
  readonly customerIdentifier?: string;
}

export interface GetAllEntitlementsInput {
  readonly productCode: string;
  readonly filter: EntitlementFilter;
  /** MaxResults per page, 1-25 (default 25). */
  readonly pageSize?: number;
  /** Stops a service that never ends its NextToken chain (default 1000 pages). */
  readonly maxPages?: number;
}

const inputError = (message: string) => new MarketplaceInputError(message, { operation: 'GetEntitlements' });

const sdkFilter = (filter: EntitlementFilter): Partial<Record<GetEntitlementFilterName, string[]>> => {
  if (filter.customerIdentifier !== undefined && filter.customerAwsAccountId !== undefined) {
    throw inputError('filter.customerIdentifier and filter.customerAwsAccountId are mutually exclusive');
  }
  const keys: Array<[GetEntitlementFilterName, string | undefined, string]> = [
    ['LICENSE_ARN', filter.licenseArn, 'filter.licenseArn'],
    ['CUSTOMER_IDENTIFIER', filter.customerIdentifier, 'filter.customerIdentifier'],
    ['CUSTOMER_AWS_ACCOUNT_ID', filter.customerAwsAccountId, 'filter.customerAwsAccountId'],
  ];
  const result: Partial<Record<GetEntitlementFilterName, string[]>> = {};
  for (const [name, value, field] of keys) {
    if (value === undefined) continue;
    if (value.trim().length === 0) throw inputError(`${field}: expected a value, got an empty string`);
    result[name] = [value];
  }
  if (filter.dimensions !== undefined) {
    if (
      filter.dimensions.length === 0 ||
      filter.dimensions.some((dimension) => dimension.trim().length === 0)
    ) {
      throw inputError(
        'filter.dimensions: expected at least one non-empty dimension (omit it for all dimensions)',
      );
    }
    result.DIMENSION = [...filter.dimensions];
  }
  return result;
};

const entitlementValue = (entitlement: SdkEntitlement): Entitlement['value'] => {
  const value = entitlement.Value;
  if (value === undefined) return undefined;
  return value.IntegerValue ?? value.DoubleValue ?? value.BooleanValue ?? value.StringValue;
};

/**
 * Whether an entitlement belongs to the filter's buyer. The service filters already; this second
 * look guards against a service that ignored a filter key, which would otherwise hand one buyer
 * another buyer's entitlements.
 */
const matchesFilter = (entitlement: Entitlement, filter: EntitlementFilter, productCode: string): boolean =>
  entitlement.productCode === productCode &&
  (filter.licenseArn === undefined ||
    entitlement.licenseArn === undefined ||
    entitlement.licenseArn === filter.licenseArn) &&
  (filter.customerIdentifier === undefined ||
    entitlement.customerIdentifier === undefined ||
    entitlement.customerIdentifier === filter.customerIdentifier) &&
  (filter.customerAwsAccountId === undefined ||
    entitlement.customerAwsAccountId === undefined ||
    entitlement.customerAwsAccountId === filter.customerAwsAccountId) &&
  (filter.dimensions === undefined || filter.dimensions.includes(entitlement.dimension));

const toEntitlement = (entitlement: SdkEntitlement, productCode: string): Entitlement => {
  if (entitlement.Dimension === undefined || entitlement.Dimension.length === 0) {
    throw new MarketplaceError('GetEntitlements returned an entitlement without a Dimension', {
      operation: 'GetEntitlements',
    });
  }
  return {
    productCode: entitlement.ProductCode ?? productCode,
    dimension: entitlement.Dimension,
    value: entitlementValue(entitlement),
    ...(entitlement.ExpirationDate === undefined ? {} : { expirationDate: entitlement.ExpirationDate }),
    ...(entitlement.LicenseArn ? { licenseArn: entitlement.LicenseArn } : {}),
    ...(entitlement.CustomerAWSAccountId ? { customerAwsAccountId: entitlement.CustomerAWSAccountId } : {}),
    ...(entitlement.CustomerIdentifier ? { customerIdentifier: entitlement.CustomerIdentifier } : {}),
  };
};

/**
 * Every entitlement matching the filter. Pages until AWS stops sending a NextToken: a page can be
 * empty and still carry one, so an empty page never ends the loop.
 */
export const getAllEntitlements = async (
  client: MarketplaceEntitlementServiceClient,
  { productCode, filter, pageSize = 25, maxPages = 1000 }: GetAllEntitlementsInput,
): Promise<Entitlement[]> => {
  if (productCode.trim().length === 0)
    throw inputError('productCode: expected a product code, got an empty string');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 25) {
    throw inputError(`pageSize: expected a whole number from 1 to 25, got ${pageSize}`);
  }
  const Filter = sdkFilter(filter);
  const entitlements: Entitlement[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    let output: GetEntitlementsCommandOutput;
    try {
      output = await client.send(
        new GetEntitlementsCommand({
          ProductCode: productCode,
          Filter,
          MaxResults: pageSize,
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
      );
    } catch (error) {
      throw toMarketplaceError(error, 'GetEntitlements');
    }
    for (const item of output.Entitlements ?? []) {
      const entitlement = toEntitlement(item, productCode);
      if (matchesFilter(entitlement, filter, productCode)) entitlements.push(entitlement);
    }
    nextToken = output.NextToken || undefined;
    if (nextToken === undefined) return entitlements;
  }
  throw new MarketplaceError(`GetEntitlements still returned a NextToken after ${maxPages} pages`, {
    operation: 'GetEntitlements',
  });
};
