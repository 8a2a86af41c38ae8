import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { now as businessNow } from '../clock.js';
import { licensesTable, meterableStatuses, meteringShardOf } from '../tables.js';

/**
 * The license record, one item per Marketplace license (see `licensesTable`). Every flow updates
 * only the attributes it owns with `SET` on those paths (never a whole-item put), so sign-up,
 * the event processor and metering can write in any order without erasing each other's fields.
 */
export type LicenseStatus = 'pending' | 'active' | 'ending' | 'ended' | 'failed';

export interface LicenseIdentityFields {
  /** LicenseArn (`license` mode) or CustomerIdentifier (`legacy` mode). */
  licenseKey: string;
  identityMode: 'license' | 'legacy';
  licenseArn?: string;
  customerAwsAccountId?: string;
  customerIdentifier?: string;
  productCode: string;
}

export interface LicenseItem extends LicenseIdentityFields {
  status: LicenseStatus;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-concurrency counter for the lifecycle record. */
  version: number;
  freeTrial?: boolean;
  /** The SaaSus tenant the license is attached to (indexed by `byTenant`). */
  tenantId?: string;
  /** Completed provisioning steps, keyed by step name (the sign-up saga resumes from here). */
  provisioning?: Record<string, unknown>;
  /** The state machine's mergeable record (JSON). */
  lifecycle?: unknown;
  [attribute: string]: unknown;
}

type LicenseIndexName = (typeof licensesTable.indexes)[number]['indexName'];

export class LicenseConflictError extends Error {
  override readonly name = 'LicenseConflictError';
}

export interface LicenseStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** The time `createdAt` and `updatedAt` record; default the business clock (`clock.ts`). */
  now?: () => Date;
}

export const createLicenseStore = ({ client, tableName, now = businessNow }: LicenseStoreOptions) => {
  const documents = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const key = (licenseKey: string) => ({ [licensesTable.partitionKey.name]: licenseKey });

  const queryIndex = async (indexName: LicenseIndexName, value: string): Promise<LicenseItem[]> => {
    const index = licensesTable.indexes.find((candidate) => candidate.indexName === indexName);
    if (!index) throw new Error(`Unknown licenses index ${indexName}`);
    const attribute = index.partitionKey.name;
    const items: LicenseItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: indexName,
          KeyConditionExpression: '#attribute = :value',
          ExpressionAttributeNames: { '#attribute': attribute },
          ExpressionAttributeValues: { ':value': value },
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as LicenseItem[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  };

  return {
    async get(licenseKey: string): Promise<LicenseItem | undefined> {
      const output = await documents.send(
        new GetCommand({ TableName: tableName, Key: key(licenseKey), ConsistentRead: true }),
      );
      return output.Item as LicenseItem | undefined;
    },

    /**
     * Several licenses in as few requests as DynamoDB allows (BatchGetItem, 100 keys each, strongly
     * consistent like `get`); keys DynamoDB left unprocessed are asked again. Absent licenses are
     * absent from the map.
     */
    async getMany(licenseKeys: readonly string[]): Promise<Map<string, LicenseItem>> {
      const found = new Map<string, LicenseItem>();
      const unique = [...new Set(licenseKeys)];
      for (let start = 0; start < unique.length; start += 100) {
        let keys: Record<string, unknown>[] = unique.slice(start, start + 100).map(key);
        for (let attempt = 0; keys.length > 0; attempt++) {
          if (attempt === 8) throw new Error(`BatchGetItem left ${keys.length} license(s) unprocessed`);
          if (attempt > 0)
            await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
          const output = await documents.send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
          );
          for (const item of (output.Responses?.[tableName] ?? []) as LicenseItem[]) {
            found.set(item.licenseKey, item);
          }
          keys = output.UnprocessedKeys?.[tableName]?.Keys ?? [];
        }
      }
      return found;
    },

    /**
     * Creates the license if it is new; on an existing license only fills identity fields that are
     * missing. Status, provisioning and lifecycle written by other flows are never touched.
     */
    async upsertIdentity(
      identity: LicenseIdentityFields,
      extra: { freeTrial?: boolean } = {},
    ): Promise<LicenseItem> {
      const timestamp = now().toISOString();
      const fillIfMissing: Record<string, unknown> = {
        identityMode: identity.identityMode,
        productCode: identity.productCode,
        licenseArn: identity.licenseArn,
        customerAwsAccountId: identity.customerAwsAccountId,
        customerIdentifier: identity.customerIdentifier,
        freeTrial: extra.freeTrial,
        status: 'pending',
        createdAt: timestamp,
        version: 0,
      };
      const entries = Object.entries(fillIfMissing).filter(([, value]) => value !== undefined);
      const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
      const values: Record<string, unknown> = { ':updatedAt': timestamp };
      const sets = entries.map(([attribute, value], index) => {
        names[`#a${index}`] = attribute;
        values[`:v${index}`] = value;
        return `#a${index} = if_not_exists(#a${index}, :v${index})`;
      });
      const output = await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key(identity.licenseKey),
          UpdateExpression: `SET ${[...sets, '#updatedAt = :updatedAt'].join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return output.Attributes as LicenseItem;
    },

    /**
     * Sets attributes on an existing license. With `expectedVersion`, the write only happens if
     * nobody else changed the license since it was read (and bumps the version).
     */
    async setAttributes(
      licenseKey: string,
      attributes: Record<string, unknown>,
      { expectedVersion }: { expectedVersion?: number } = {},
    ): Promise<LicenseItem> {
      const names: Record<string, string> = {
        '#updatedAt': 'updatedAt',
        '#key': licensesTable.partitionKey.name,
      };
      const values: Record<string, unknown> = { ':updatedAt': now().toISOString() };
      const sets = Object.entries(attributes).map(([attribute, value], index) => {
        names[`#a${index}`] = attribute;
        values[`:v${index}`] = value;
        return `#a${index} = :v${index}`;
      });
      let removes = '';
      if (typeof attributes.status === 'string') {
        // The sparse `meterable` index follows the status (tables.ts).
        names['#meteringShard'] = 'meteringShard';
        if (meterableStatuses.includes(attributes.status)) {
          values[':meteringShard'] = meteringShardOf(licenseKey);
          sets.push('#meteringShard = :meteringShard');
        } else removes = ' REMOVE #meteringShard';
      }
      let condition = 'attribute_exists(#key)';
      let update = `SET ${[...sets, '#updatedAt = :updatedAt'].join(', ')}${removes}`;
      if (expectedVersion !== undefined) {
        names['#version'] = 'version';
        values[':expectedVersion'] = expectedVersion;
        values[':one'] = 1;
        condition += ' AND #version = :expectedVersion';
        update += ' ADD #version :one';
      }
      try {
        const output = await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: key(licenseKey),
            UpdateExpression: update,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return output.Attributes as LicenseItem;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          throw new LicenseConflictError(
            expectedVersion === undefined
              ? `License ${licenseKey} does not exist`
              : `License ${licenseKey} changed concurrently (expected version ${expectedVersion})`,
          );
        }
        throw error;
      }
    },

    /**
     * Records one completed provisioning step exactly once. Returns the value stored for the step:
     * the given one, or the one an earlier (possibly concurrent) run recorded.
     */
    async recordProvisioningStep<T>(licenseKey: string, step: string, value: T): Promise<T> {
      const timestamp = now().toISOString();
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key(licenseKey),
          UpdateExpression: 'SET #provisioning = if_not_exists(#provisioning, :empty), #updatedAt = :now',
          ExpressionAttributeNames: { '#provisioning': 'provisioning', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':empty': {}, ':now': timestamp },
        }),
      );
      try {
        await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: key(licenseKey),
            UpdateExpression: 'SET #provisioning.#step = :value',
            ConditionExpression: 'attribute_not_exists(#provisioning.#step)',
            ExpressionAttributeNames: { '#provisioning': 'provisioning', '#step': step },
            ExpressionAttributeValues: { ':value': value },
          }),
        );
        return value;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const existing = await this.get(licenseKey);
        return existing?.provisioning?.[step] as T;
      }
    },

    findByAccount: (customerAwsAccountId: string) => queryIndex('byAccount', customerAwsAccountId),
    findByCustomerIdentifier: (customerIdentifier: string) =>
      queryIndex('byCustomerIdentifier', customerIdentifier),
    findByTenant: (tenantId: string) => queryIndex('byTenant', tenantId),
  };
};

export type LicenseStore = ReturnType<typeof createLicenseStore>;
