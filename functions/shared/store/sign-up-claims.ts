import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { signUpClaimsTable, tenantClaimKey } from '../tables.js';

/**
 * Sign-up's at-most-once facts (see `signUpClaimsTable`), each decided by one conditional write so
 * two Lambdas racing on the same fact cannot both win: the tenant claim (one tenant, one license
 * per product), single-use link `state` nonces and SaaSus temporary codes, and the server-side
 * list of tenants a signed-in user may link.
 */

export interface SignUpClaimsOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Real time for expiries (epoch ms); not the business clock. */
  nowMs?: () => number;
}

export type TenantClaim = { claimed: true } | { claimed: false; heldBy: string };

/** What the link callback found the signed-in SaaSus user may link, kept for the choice. */
export interface LinkChoice {
  licenseKey: string;
  userId: string;
  tenantIds: string[];
}

const key = (claimKey: string) => ({ [signUpClaimsTable.partitionKey.name]: claimKey });

export const createSignUpClaims = ({ client, tableName, nowMs = Date.now }: SignUpClaimsOptions) => {
  const documents = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const expiresAt = (ttlSeconds: number) => Math.floor(nowMs() / 1000) + ttlSeconds;

  const conditionalPut = async (
    item: Record<string, unknown>,
    condition: string,
    values?: Record<string, unknown>,
  ): Promise<boolean> => {
    try {
      await documents.send(
        new PutCommand({
          TableName: tableName,
          Item: item,
          ConditionExpression: condition,
          // Only the names the condition uses: DynamoDB refuses unused ones.
          ExpressionAttributeNames: Object.fromEntries(
            Object.entries({ '#key': signUpClaimsTable.partitionKey.name, '#holder': 'licenseKey' }).filter(
              ([name]) => condition.includes(name),
            ),
          ),
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  };

  return {
    /**
     * Claims `tenantId` for `licenseKey` (idempotent for the holder). A claim held by another
     * license is taken over only when `canTakeOver(holder)` says that license no longer holds
     * the tenant, and then only if the holder has not changed since it was read.
     */
    async claimTenant(input: {
      productCode: string;
      tenantId: string;
      licenseKey: string;
      canTakeOver: (holderLicenseKey: string) => Promise<boolean>;
    }): Promise<TenantClaim> {
      const claimKey = tenantClaimKey(input.productCode, input.tenantId);
      const item = {
        ...key(claimKey),
        licenseKey: input.licenseKey,
        productCode: input.productCode,
        tenantId: input.tenantId,
        claimedAt: new Date(nowMs()).toISOString(),
      };
      if (
        await conditionalPut(item, 'attribute_not_exists(#key) OR #holder = :me', {
          ':me': input.licenseKey,
        })
      ) {
        return { claimed: true };
      }
      const held = await documents.send(
        new GetCommand({ TableName: tableName, Key: key(claimKey), ConsistentRead: true }),
      );
      const holder = held.Item?.licenseKey as string | undefined;
      if (holder === undefined || holder === input.licenseKey) return this.claimTenant(input);
      if (!(await input.canTakeOver(holder))) return { claimed: false, heldBy: holder };
      return (await conditionalPut(item, '#holder = :holder', { ':holder': holder }))
        ? { claimed: true }
        : { claimed: false, heldBy: holder };
    },

    /** Gives the tenant up, if `licenseKey` still holds it (a failed link leaves no claim behind). */
    async releaseTenant(productCode: string, tenantId: string, licenseKey: string): Promise<void> {
      try {
        await documents.send(
          new DeleteCommand({
            TableName: tableName,
            Key: key(tenantClaimKey(productCode, tenantId)),
            ConditionExpression: '#holder = :me',
            ExpressionAttributeNames: { '#holder': 'licenseKey' },
            ExpressionAttributeValues: { ':me': licenseKey },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },

    /** The license holding a tenant claim, if any. */
    async tenantHolder(productCode: string, tenantId: string): Promise<string | undefined> {
      const held = await documents.send(
        new GetCommand({
          TableName: tableName,
          Key: key(tenantClaimKey(productCode, tenantId)),
          ConsistentRead: true,
        }),
      );
      return held.Item?.licenseKey as string | undefined;
    },

    /**
     * Records the first use of a one-time value (`kind` names what it is); false when it was used
     * before. Values are stored as a SHA-256 digest, so a temporary code never lands in the table.
     */
    async useOnce(kind: 'link-state' | 'link-code', value: string, ttlSeconds: number): Promise<boolean> {
      const digest = createHash('sha256').update(value).digest('base64url');
      return conditionalPut(
        { ...key(`${kind}#${digest}`), expiresAt: expiresAt(ttlSeconds) },
        'attribute_not_exists(#key)',
      );
    },

    async putLinkChoice(choiceId: string, choice: LinkChoice, ttlSeconds: number): Promise<void> {
      await documents.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...key(`link-choice#${choiceId}`), ...choice, expiresAt: expiresAt(ttlSeconds) },
        }),
      );
    },

    /** The stored choice, unless it expired (TTL deletion lags, so the expiry is checked here). */
    async getLinkChoice(choiceId: string): Promise<LinkChoice | undefined> {
      const output = await documents.send(
        new GetCommand({ TableName: tableName, Key: key(`link-choice#${choiceId}`), ConsistentRead: true }),
      );
      const item = output.Item;
      if (!item || typeof item.expiresAt !== 'number' || item.expiresAt * 1000 <= nowMs()) return undefined;
      return {
        licenseKey: String(item.licenseKey),
        userId: String(item.userId),
        tenantIds: Array.isArray(item.tenantIds) ? item.tenantIds.map(String) : [],
      };
    },
  };
};

export type SignUpClaims = ReturnType<typeof createSignUpClaims>;
