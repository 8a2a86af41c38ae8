import { randomBytes } from 'node:crypto';
import { AwsJsonError } from '../http.js';
import type { BuyerRegistry, EmulatedEntitlement, EmulatedLicense } from './buyers.js';
import type { MarketplaceFaults } from './faults.js';
import { isWireObject, optionalString, requiredString, toEpochSeconds, type WireObject } from './wire.js';

/**
 * The Entitlement Service's GetEntitlements: filters (values OR-ed within a key, keys AND-ed),
 * MaxResults 1-25, and NextToken pagination that sometimes returns an empty page that still
 * carries a NextToken (see the Marketplace reference notes, section d).
 */

export interface EntitlementServiceSettings {
  readonly identityMode: 'license' | 'legacy';
  /** Chance that a page comes back empty with a NextToken (0 = never). */
  readonly emptyPageProbability: number;
  readonly random: () => number;
}

const filterNames = ['CUSTOMER_IDENTIFIER', 'CUSTOMER_AWS_ACCOUNT_ID', 'DIMENSION', 'LICENSE_ARN'] as const;
type FilterName = (typeof filterNames)[number];
type Filter = Partial<Record<FilterName, readonly string[]>>;

const invalidParameter = (message: string) => new AwsJsonError('InvalidParameterException', message);

const parseFilter = (value: unknown): Filter => {
  if (value === undefined || value === null) return {};
  if (!isWireObject(value)) throw invalidParameter('Filter must be a map of filter names to value lists');
  const filter: Filter = {};
  for (const [name, values] of Object.entries(value)) {
    if (!(filterNames as readonly string[]).includes(name)) {
      throw invalidParameter(`Unknown filter name ${name}; expected one of ${filterNames.join(', ')}`);
    }
    const valid =
      Array.isArray(values) &&
      values.length > 0 &&
      values.every((item) => typeof item === 'string' && item.length > 0);
    if (!valid) throw invalidParameter(`Filter ${name} must be a non-empty list of non-empty strings`);
    filter[name as FilterName] = values as string[];
  }
  if (filter.CUSTOMER_IDENTIFIER && filter.CUSTOMER_AWS_ACCOUNT_ID) {
    throw invalidParameter('CUSTOMER_IDENTIFIER and CUSTOMER_AWS_ACCOUNT_ID filters are mutually exclusive');
  }
  return filter;
};

const parseMaxResults = (value: unknown): number => {
  if (value === undefined || value === null) return 25;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 25) {
    throw invalidParameter('MaxResults must be a whole number from 1 to 25');
  }
  return value;
};

const matches = (filter: Filter, license: EmulatedLicense, entitlement: EmulatedEntitlement): boolean => {
  const allows = (name: FilterName, actual: string) => filter[name]?.includes(actual) ?? true;
  return (
    allows('LICENSE_ARN', license.licenseArn) &&
    allows('CUSTOMER_IDENTIFIER', license.customerIdentifier) &&
    allows('CUSTOMER_AWS_ACCOUNT_ID', license.customerAwsAccountId) &&
    allows('DIMENSION', entitlement.dimension)
  );
};

const wireValue = (value: EmulatedEntitlement['value']) => {
  if (typeof value === 'boolean') return { BooleanValue: value };
  if (typeof value === 'string') return { StringValue: value };
  return Number.isInteger(value) ? { IntegerValue: value } : { DoubleValue: value };
};

export const entitlementOperations = (
  settings: EntitlementServiceSettings,
  registry: BuyerRegistry,
  faults: MarketplaceFaults,
) => {
  /** NextToken → where the next page starts and which query it continues. */
  const cursors = new Map<string, { offset: number; query: string }>();
  const cursorFor = (offset: number, query: string) => {
    const token = randomBytes(24).toString('base64url');
    cursors.set(token, { offset, query });
    return token;
  };

  return {
    GetEntitlements(input: WireObject) {
      const productCode = requiredString(input, 'ProductCode', '', 'InvalidParameterException');
      const filter = parseFilter(input.Filter);
      const maxResults = parseMaxResults(input.MaxResults);
      const query = JSON.stringify([
        productCode,
        Object.entries(filter).sort(([a], [b]) => a.localeCompare(b)),
      ]);
      const nextToken = optionalString(input, 'NextToken', '', 'InvalidParameterException');
      let offset = 0;
      if (nextToken !== undefined) {
        const cursor = cursors.get(nextToken);
        if (cursor === undefined || cursor.query !== query) {
          throw invalidParameter('NextToken is not valid for this request');
        }
        offset = cursor.offset;
      }
      if (faults.takeEmptyPage() || settings.random() < settings.emptyPageProbability) {
        return { Entitlements: [], NextToken: cursorFor(offset, query) };
      }
      const rows = registry
        .entitlementRows()
        // Deprovisioned licenses no longer grant anything.
        .filter(({ license }) => license.productCode === productCode && license.status !== 'ended')
        .filter(({ license, entitlement }) => matches(filter, license, entitlement));
      const page = rows.slice(offset, offset + maxResults).map(({ license, entitlement }) => ({
        ProductCode: license.productCode,
        Dimension: entitlement.dimension,
        CustomerAWSAccountId: license.customerAwsAccountId,
        ...(settings.identityMode === 'license'
          ? { LicenseArn: license.licenseArn }
          : { CustomerIdentifier: license.customerIdentifier }),
        Value: wireValue(entitlement.value),
        ...(entitlement.expirationDate ? { ExpirationDate: toEpochSeconds(entitlement.expirationDate) } : {}),
      }));
      const nextOffset = offset + maxResults;
      return {
        Entitlements: page,
        ...(nextOffset < rows.length ? { NextToken: cursorFor(nextOffset, query) } : {}),
      };
    },
  };
};
