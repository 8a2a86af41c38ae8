/**
 * The DynamoDB key design, in one place. The CDK state construct builds the tables from these
 * definitions and the runtime code (and the dynalite test harness) reads the same names, so the
 * stack and the code cannot drift apart.
 */

export type KeyAttribute = { name: string; type: 'S' | 'N' };

export type IndexDefinition = {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
};

export type TableDefinition = {
  /** Logical id of the table in the stack; also the base of the local table name. */
  id: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  indexes: readonly IndexDefinition[];
  /** Attribute holding an epoch-seconds expiry, when items expire. */
  timeToLiveAttribute?: string;
};

/**
 * One item per Marketplace license. `licenseKey` is the LicenseArn in `license` identity mode
 * and the CustomerIdentifier in `legacy` mode, so concurrent agreements of one AWS account are
 * separate items. Sparse indexes find a license from what other sources carry: the buyer's
 * account (sign-up, agreement events), the legacy customer identifier (SNS notifications) and
 * the SaaSus tenant (SaaSus partner events).
 */
export const licensesTable = {
  id: 'Licenses',
  partitionKey: { name: 'licenseKey', type: 'S' },
  indexes: [
    {
      indexName: 'byAccount',
      partitionKey: { name: 'customerAwsAccountId', type: 'S' },
      sortKey: { name: 'licenseKey', type: 'S' },
    },
    {
      indexName: 'byCustomerIdentifier',
      partitionKey: { name: 'customerIdentifier', type: 'S' },
    },
    {
      indexName: 'byTenant',
      partitionKey: { name: 'tenantId', type: 'S' },
    },
    {
      indexName: 'meterable',
      partitionKey: { name: 'meteringShard', type: 'S' },
      sortKey: { name: 'licenseKey', type: 'S' },
    },
  ],
} as const satisfies TableDefinition;

/**
 * The `meterable` index: `meteringShard` exists only while a license's `status` says metering may
 * be open, so the hourly fan-out reads the meterable licenses, not every license ever sold. The
 * attribute is spread over a few shards (by license key) so no one index partition takes them all.
 */
export const meterableStatuses: readonly string[] = ['active', 'ending'];
export const METERING_SHARD_COUNT = 8;

/** A stable 32-bit hash (FNV-1a) that spreads keys over index shards. */
export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
};

export const meteringShardOf = (licenseKey: string): string => `m${fnv1a(licenseKey) % METERING_SHARD_COUNT}`;

export const meteringShards = (): string[] =>
  Array.from({ length: METERING_SHARD_COUNT }, (_, shard) => `m${shard}`);

/**
 * The metering ledger: one item per (license, dimension, usage hour). The sort key starts with
 * the hour so a license's ledger reads in time order. `pendingShard` exists only while a record
 * still has to be sent, which makes `pending` a sparse index of the unsent work.
 */
export const meteringLedgerTable = {
  id: 'MeteringLedger',
  partitionKey: { name: 'licenseKey', type: 'S' },
  sortKey: { name: 'usageKey', type: 'S' },
  indexes: [
    {
      indexName: 'pending',
      partitionKey: { name: 'pendingShard', type: 'S' },
      sortKey: { name: 'usageHour', type: 'S' },
    },
  ],
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableDefinition;

/** The Powertools idempotency table, with the attribute names the persistence layer uses. */
export const idempotencyTable = {
  id: 'Idempotency',
  partitionKey: { name: 'id', type: 'S' },
  indexes: [],
  timeToLiveAttribute: 'expiration',
} as const satisfies TableDefinition;

/**
 * What sign-up must do at most once, each a conditional put on `claimKey`:
 * - `tenant#<productCode>#<tenantId>`: the license a SaaSus tenant belongs to for a product (one
 *   tenant, one license per product). Taken before any SaaSus write for the tenant; no expiry.
 * - `link-state#<nonce>`, `link-code#<sha256 of the code>`: a link flow's `state` and SaaSus
 *   temporary code, used once (`expiresAt`).
 * - `link-choice#<id>`: the tenants a signed-in SaaSus user may link, kept here rather than in the
 *   session cookie so any number of them fits (`expiresAt`).
 */
export const signUpClaimsTable = {
  id: 'SignUpClaims',
  partitionKey: { name: 'claimKey', type: 'S' },
  indexes: [],
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableDefinition;

export const tenantClaimKey = (productCode: string, tenantId: string): string =>
  `tenant#${productCode}#${tenantId}`;

export const tableDefinitions = [
  licensesTable,
  meteringLedgerTable,
  idempotencyTable,
  signUpClaimsTable,
] as const;

/** Ledger sort key: `<usage hour ISO>#<dimension>`, e.g. `2026-11-22T13:00:00.000Z#api_calls`. */
export const ledgerUsageKey = (usageHour: Date, dimension: string): string =>
  `${usageHour.toISOString()}#${dimension}`;

/**
 * The one MeteringLedger item that is not a usage record: the account-wide BatchMeterUsage rate
 * limit shared by every metering worker (metering/account-rate-limit.ts). No license key starts
 * with `#` (they are LicenseArns or CustomerIdentifiers), and the item carries no `pendingShard`,
 * so it never shows in a license's ledger or in the `pending` index; a scan must skip it
 * (`isQuotaItem`).
 */
export const quotaItemKey = { licenseKey: '#quota', usageKey: 'BatchMeterUsage' } as const;

/**
 * Written (in the same `#quota` partition, so the same filters skip it) once the fan-out has given
 * every meterable license that predates the `meterable` index its `meteringShard`.
 */
export const meterableBackfillItemKey = { licenseKey: '#quota', usageKey: 'meterableIndexBackfill' } as const;

export const isQuotaItem = (item: Readonly<Record<string, unknown>>): boolean =>
  item.licenseKey === quotaItemKey.licenseKey;

/** CreateTable input for a definition (used by the local harness; CDK builds its own). */
export const createTableInput = (definition: TableDefinition, tableName: string) => {
  const attributes = new Map<string, KeyAttribute>();
  const keys = [
    definition.partitionKey,
    definition.sortKey,
    ...definition.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ];
  for (const key of keys) {
    if (key) attributes.set(key.name, key);
  }
  const keySchema = (partitionKey: KeyAttribute, sortKey?: KeyAttribute) => [
    { AttributeName: partitionKey.name, KeyType: 'HASH' as const },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attributes.values()].map((key) => ({
      AttributeName: key.name,
      AttributeType: key.type,
    })),
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.indexes.length > 0
      ? {
          GlobalSecondaryIndexes: definition.indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: 'ALL' as const },
          })),
        }
      : {}),
  };
};
