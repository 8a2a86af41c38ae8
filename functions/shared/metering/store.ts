import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { describeIssues } from '../config.js';
import { buyerIdentitySchema } from '../marketplace/identity.js';
import { LicenseConflictError, type LicenseItem, type LicenseStore } from '../store/licenses.js';
import {
  fnv1a,
  ledgerUsageKey,
  licensesTable,
  meterableBackfillItemKey,
  meterableStatuses,
  meteringLedgerTable,
  meteringShardOf,
  meteringShards,
} from '../tables.js';
import type { UsageRecord } from './batches.js';
import { HOUR_MS, hourKey, parseHourKey } from './hours.js';
import { type LedgerStatus, type LedgerTransition, ledgerStatuses, type RecordOutcome } from './outcomes.js';

/**
 * Where metering keeps what it decided and what AWS answered.
 *
 * The ledger (MeteringLedger table) holds one item per (license, dimension, usage hour). An item
 * is created once, with a conditional put, holding the quantity fixed for good: a second run for
 * the same hour finds it and sends that item instead of computing anything new, so every resend is
 * byte-identical and AWS dedupes it. After a send only the status and the answer change, and only
 * from `pending`. While an item still has to be sent it carries `pendingShard`, which makes the
 * `pending` index a sparse list of unsent work, spread over a few shards so no index partition
 * gets hot.
 *
 * On the license item metering owns three attributes, written with `LicenseStore.setAttributes`
 * (never a whole-item write), each tagged with the activation episode (`activeSince`) it belongs
 * to, so a re-subscription starts afresh:
 * - `meteringCursor`: the newest usage hour already computed into the ledger. It only saves work:
 *   hours at or before it are not computed again, and an hour that is in the ledger is never
 *   computed again whatever the cursor says.
 * - `meteringBaseline`: each SaaSus unit's count on the activation day when metering first saw the
 *   license (usage before activation is not billed). Written once, with the license version as a
 *   guard, so two concurrent first runs cannot store two different baselines.
 * - `meteringStopped`: AWS answered CustomerNotSubscribed; no new hours are computed until a newer
 *   activation.
 */

/** The number of `pending` index partitions (`p00`..`p15`). */
export const PENDING_SHARD_COUNT = 16;

/** Ledger items expire (DynamoDB TTL) this long after their usage hour: a year of invoices plus a month. */
export const LEDGER_RETENTION_DAYS = 400;

/** FNV-1a: a stable, well-spread hash, so a license always lands on the same shard. */
const shardName = (index: number) => `p${String(index).padStart(2, '0')}`;

/** The `pending` index partition of a license's unsent items. */
export const pendingShardOf = (licenseKey: string, shards = PENDING_SHARD_COUNT): string =>
  shardName(fnv1a(licenseKey) % shards);

/** Every `pending` index partition. */
export const pendingShards = (shards = PENDING_SHARD_COUNT): string[] =>
  Array.from({ length: shards }, (_, index) => shardName(index));

/** One ledger item: a usage record plus what metering knows about it. */
export interface LedgerItem extends UsageRecord {
  readonly status: LedgerStatus;
  /** Day → the part of that day's SaaSus count the item accounts for (sum units). */
  readonly usageByDay: Readonly<Record<string, number>>;
  readonly createdAt: Date;
  readonly updatedAt?: Date;
  readonly meteringRecordId?: string;
  /** Why the item has its status (AWS's answer, the error of the last attempt). */
  readonly reason?: string;
  /** Send attempts that ended without a final answer (throttled, unprocessed, failed). */
  readonly attempts: number;
}

export class LedgerItemError extends Error {
  override readonly name = 'LedgerItemError';
}

const storedItemSchema = z.object({
  licenseKey: z.string().min(1),
  usageKey: z.string().min(1),
  dimension: z.string().min(1),
  usageHour: z.string(),
  quantity: z.number().int().min(0),
  usageByDay: z.record(z.string(), z.number().int().min(0)),
  status: z.enum(ledgerStatuses as [LedgerStatus, ...LedgerStatus[]]),
  productCode: z.string().min(1),
  identity: buyerIdentitySchema,
  createdAt: z.string(),
  updatedAt: z.string().optional(),
  meteringRecordId: z.string().optional(),
  reason: z.string().optional(),
  attempts: z.number().int().min(0).optional(),
});

const fromStored = (raw: unknown): LedgerItem => {
  const parsed = storedItemSchema.safeParse(raw);
  if (!parsed.success) {
    const where = typeof raw === 'object' && raw !== null ? JSON.stringify(raw).slice(0, 200) : String(raw);
    throw new LedgerItemError(`Invalid ledger item ${where}:\n${describeIssues(parsed.error)}`);
  }
  const item = parsed.data;
  const usageHour = parseHourKey(item.usageHour);
  if (item.usageKey !== ledgerUsageKey(usageHour, item.dimension)) {
    throw new LedgerItemError(
      `Ledger item ${item.licenseKey}/${item.usageKey} does not match its hour and dimension`,
    );
  }
  return {
    licenseKey: item.licenseKey,
    productCode: item.productCode,
    identity:
      item.identity.mode === 'license'
        ? {
            mode: 'license',
            licenseArn: item.identity.licenseArn,
            customerAwsAccountId: item.identity.customerAwsAccountId,
          }
        : {
            mode: 'legacy',
            customerIdentifier: item.identity.customerIdentifier,
            ...(item.identity.customerAwsAccountId === undefined
              ? {}
              : { customerAwsAccountId: item.identity.customerAwsAccountId }),
          },
    dimension: item.dimension,
    usageHour,
    quantity: item.quantity,
    status: item.status,
    usageByDay: item.usageByDay,
    createdAt: new Date(item.createdAt),
    ...(item.updatedAt === undefined ? {} : { updatedAt: new Date(item.updatedAt) }),
    ...(item.meteringRecordId === undefined ? {} : { meteringRecordId: item.meteringRecordId }),
    ...(item.reason === undefined ? {} : { reason: item.reason }),
    attempts: item.attempts ?? 0,
  };
};

const toStored = (item: LedgerItem, shards: number) => ({
  licenseKey: item.licenseKey,
  usageKey: ledgerUsageKey(item.usageHour, item.dimension),
  dimension: item.dimension,
  usageHour: hourKey(item.usageHour),
  quantity: item.quantity,
  usageByDay: item.usageByDay,
  status: item.status,
  productCode: item.productCode,
  identity: item.identity,
  createdAt: item.createdAt.toISOString(),
  attempts: item.attempts,
  ...(item.status === 'pending' ? { pendingShard: pendingShardOf(item.licenseKey, shards) } : {}),
  expiresAt: Math.floor((item.usageHour.getTime() + LEDGER_RETENTION_DAYS * 24 * HOUR_MS) / 1000),
});

/**
 * The Expired outcome of a pending item that left the window. It may have been billed when a send
 * of it was attempted (an attempt was noted, or the run that created it inside the window went on
 * to send it and may have died before recording the answer); only an item created when its hour
 * was already out of the window certainly never reached AWS.
 */
export const expiryOutcome = (item: LedgerItem, allowedWindowHours: number): RecordOutcome<LedgerItem> => ({
  record: item,
  status: 'Expired',
  mayHaveReachedAws:
    item.attempts > 0 || item.createdAt.getTime() - item.usageHour.getTime() < allowedWindowHours * HOUR_MS,
});

/** The key of a ledger item as `usageRecordKey` spells it, for maps keyed by record. */
export const ledgerItemKey = (item: Pick<UsageRecord, 'licenseKey' | 'usageHour' | 'dimension'>): string =>
  `${item.licenseKey}#${ledgerUsageKey(item.usageHour, item.dimension)}`;

export interface LedgerStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** @default PENDING_SHARD_COUNT */
  readonly pendingShardCount?: number;
}

export type OutcomeWrite =
  /** The item took the transition's status. */
  | { readonly result: 'recorded' }
  /** The item was no longer pending (another run recorded an answer first); its stored status. */
  | { readonly result: 'alreadyFinal'; readonly status: LedgerStatus };

export const createLedgerStore = ({
  client,
  tableName,
  pendingShardCount = PENDING_SHARD_COUNT,
}: LedgerStoreOptions) => {
  const documents = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const pendingIndex = meteringLedgerTable.indexes[0].indexName;
  const keyOf = (item: Pick<UsageRecord, 'licenseKey' | 'usageHour' | 'dimension'>) => ({
    licenseKey: item.licenseKey,
    usageKey: ledgerUsageKey(item.usageHour, item.dimension),
  });

  const get = async (
    item: Pick<UsageRecord, 'licenseKey' | 'usageHour' | 'dimension'>,
  ): Promise<LedgerItem | undefined> => {
    const output = await documents.send(
      new GetCommand({ TableName: tableName, Key: keyOf(item), ConsistentRead: true }),
    );
    return output.Item === undefined ? undefined : fromStored(output.Item);
  };

  /** Runs a conditional update on a pending item; undefined when it is no longer pending. */
  const updatePending = async (
    item: LedgerItem,
    update: { set: Record<string, unknown>; add?: Record<string, number>; removePendingShard: boolean },
  ): Promise<boolean> => {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':pending': 'pending' };
    const sets = Object.entries(update.set).map(([attribute, value], index) => {
      names[`#s${index}`] = attribute;
      values[`:s${index}`] = value;
      return `#s${index} = :s${index}`;
    });
    const adds = Object.entries(update.add ?? {}).map(([attribute, value], index) => {
      names[`#a${index}`] = attribute;
      values[`:a${index}`] = value;
      return `#a${index} :a${index}`;
    });
    let expression = `SET ${sets.join(', ')}`;
    if (adds.length > 0) expression += ` ADD ${adds.join(', ')}`;
    if (update.removePendingShard) {
      names['#shard'] = 'pendingShard';
      expression += ' REMOVE #shard';
    }
    try {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: keyOf(item),
          UpdateExpression: expression,
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  };

  return {
    get,

    /**
     * A license's ledger items from `from` (an hour start) on, oldest first: every page, read
     * consistently, so a run sees every item an earlier run wrote.
     */
    async read(licenseKey: string, from: Date): Promise<LedgerItem[]> {
      const items: LedgerItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: '#key = :key AND #usageKey >= :from',
            ExpressionAttributeNames: { '#key': 'licenseKey', '#usageKey': 'usageKey' },
            ExpressionAttributeValues: { ':key': licenseKey, ':from': hourKey(from) },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const raw of page.Items ?? []) items.push(fromStored(raw));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },

    /**
     * Writes a new item unless one exists for its license, dimension and hour. Returns the stored
     * item: this one (`created`), or the one an earlier or concurrent run wrote, which wins.
     */
    async putIfAbsent(item: LedgerItem): Promise<{ item: LedgerItem; created: boolean }> {
      try {
        await documents.send(
          new PutCommand({
            TableName: tableName,
            Item: toStored(item, pendingShardCount),
            ConditionExpression: 'attribute_not_exists(#usageKey)',
            ExpressionAttributeNames: { '#usageKey': 'usageKey' },
          }),
        );
        return { item, created: true };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const existing = await get(item);
        if (!existing)
          throw new LedgerItemError(`Ledger item ${ledgerItemKey(item)} exists but cannot be read`);
        return { item: existing, created: false };
      }
    },

    /** Moves a pending item to a final status (and off the pending index). */
    async recordOutcome(item: LedgerItem, transition: LedgerTransition, at: Date): Promise<OutcomeWrite> {
      const recorded = await updatePending(item, {
        set: {
          status: transition.status,
          updatedAt: at.toISOString(),
          ...(transition.meteringRecordId === undefined
            ? {}
            : { meteringRecordId: transition.meteringRecordId }),
          ...(transition.reason === undefined ? {} : { reason: transition.reason }),
        },
        removePendingShard: !transition.retryNextRun,
      });
      if (recorded) return { result: 'recorded' };
      const stored = await get(item);
      return { result: 'alreadyFinal', status: stored?.status ?? transition.status };
    },

    /** Notes an attempt that ended without a final answer; the item stays pending. */
    async recordAttempt(item: LedgerItem, reason: string, at: Date): Promise<void> {
      await updatePending(item, {
        set: { updatedAt: at.toISOString(), reason: reason.slice(0, 1000) },
        add: { attempts: 1 },
        removePendingShard: false,
      });
    },

    /**
     * Pending items of one shard of the `pending` index, oldest hour first, page by page
     * (`before`: only hours before it). The index is eventually consistent.
     */
    async *pending(shard: string, options: { before?: Date; pageSize?: number } = {}) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: pendingIndex,
            KeyConditionExpression:
              options.before === undefined ? '#shard = :shard' : '#shard = :shard AND #hour < :before',
            ExpressionAttributeNames: {
              '#shard': 'pendingShard',
              ...(options.before === undefined ? {} : { '#hour': 'usageHour' }),
            },
            ExpressionAttributeValues: {
              ':shard': shard,
              ...(options.before === undefined ? {} : { ':before': options.before.toISOString() }),
            },
            ScanIndexForward: true,
            ...(options.pageSize === undefined ? {} : { Limit: options.pageSize }),
            ExclusiveStartKey: startKey,
          }),
        );
        yield (page.Items ?? []).map(fromStored);
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    },

    /** The pending item with the oldest usage hour in a shard, if any. */
    async oldestPending(shard: string): Promise<LedgerItem | undefined> {
      const page = await documents.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: pendingIndex,
          KeyConditionExpression: '#shard = :shard',
          ExpressionAttributeNames: { '#shard': 'pendingShard' },
          ExpressionAttributeValues: { ':shard': shard },
          ScanIndexForward: true,
          Limit: 1,
        }),
      );
      const [first] = page.Items ?? [];
      return first === undefined ? undefined : fromStored(first);
    },

    pendingShards: () => pendingShards(pendingShardCount),
  };
};

export type LedgerStore = ReturnType<typeof createLedgerStore>;

// --- metering state on the license item ---------------------------------------------------------

const episodeTagged = <T extends z.ZodRawShape>(shape: T) =>
  z.object({ episode: z.string().min(1), ...shape });

const cursorSchema = episodeTagged({ hour: z.string() });
const baselineSchema = episodeTagged({
  day: z.string(),
  counts: z.record(z.string(), z.number()),
  capturedAt: z.string(),
});
const stoppedSchema = episodeTagged({ at: z.string(), reason: z.string() });

export interface ActivationBaseline {
  /** The activation day (`YYYY-MM-DD` in the SaaSus day time zone). */
  readonly day: string;
  /** SaaSus unit → its count on that day when metering first saw the license. */
  readonly counts: Readonly<Record<string, number>>;
  readonly capturedAt: string;
}

export interface MeteringState {
  /** Newest usage hour already computed into the ledger, in this episode. */
  readonly cursor?: Date;
  readonly baseline?: ActivationBaseline;
  readonly stopped?: { readonly at: string; readonly reason: string };
}

/** Attribute names on the license item. */
export const meteringAttributes = {
  cursor: 'meteringCursor',
  baseline: 'meteringBaseline',
  stopped: 'meteringStopped',
} as const;

/** What metering stored on a license for `episode` (its `activeSince`); other episodes' values are ignored. */
export const meteringStateOf = (item: Partial<LicenseItem>, episode: string): MeteringState => {
  const of = <S extends z.ZodType<{ episode: string }>>(
    schema: S,
    value: unknown,
  ): z.output<S> | undefined => {
    const parsed = schema.safeParse(value);
    return parsed.success && parsed.data.episode === episode ? parsed.data : undefined;
  };
  const cursor = of(cursorSchema, item[meteringAttributes.cursor]);
  const baseline = of(baselineSchema, item[meteringAttributes.baseline]);
  const stopped = of(stoppedSchema, item[meteringAttributes.stopped]);
  let cursorHour: Date | undefined;
  if (cursor) {
    try {
      cursorHour = parseHourKey(cursor.hour);
    } catch {
      cursorHour = undefined;
    }
  }
  return {
    ...(cursorHour ? { cursor: cursorHour } : {}),
    ...(baseline
      ? { baseline: { day: baseline.day, counts: baseline.counts, capturedAt: baseline.capturedAt } }
      : {}),
    ...(stopped ? { stopped: { at: stopped.at, reason: stopped.reason } } : {}),
  };
};

/** `getMany`, when there, reads a whole message's licenses in one request. */
export type MeteringStateLicenses = Pick<LicenseStore, 'get' | 'setAttributes'> &
  Partial<Pick<LicenseStore, 'getMany'>>;

export const createMeteringStateStore = (licenses: MeteringStateLicenses) => ({
  /** Records that hours up to `hour` are in the ledger (never moves the cursor back). */
  async advanceCursor(licenseKey: string, episode: string, hour: Date, current?: Date): Promise<void> {
    if (current !== undefined && current.getTime() >= hour.getTime()) return;
    await licenses.setAttributes(licenseKey, {
      [meteringAttributes.cursor]: { episode, hour: hourKey(hour) },
    });
  },

  /**
   * Stores the activation baseline unless one is already stored for the episode, and returns the
   * stored one. The write is guarded by the license version, so of two concurrent first runs only
   * one baseline survives and both end up using it.
   */
  async captureBaseline(
    licenseKey: string,
    episode: string,
    baseline: ActivationBaseline,
    read: LicenseItem,
  ): Promise<ActivationBaseline> {
    let item: LicenseItem | undefined = read;
    for (let attempt = 0; attempt < 5 && item; attempt++) {
      const stored = meteringStateOf(item, episode).baseline;
      if (stored) return stored;
      try {
        await licenses.setAttributes(
          licenseKey,
          { [meteringAttributes.baseline]: { episode, ...baseline } },
          { expectedVersion: item.version },
        );
        return baseline;
      } catch (error) {
        if (!(error instanceof LicenseConflictError)) throw error;
        item = await licenses.get(licenseKey);
      }
    }
    throw new LicenseConflictError(
      `License ${licenseKey} kept changing while its metering baseline was stored`,
    );
  },

  /** Stops computing new hours for the episode (AWS answered CustomerNotSubscribed). */
  async stop(licenseKey: string, episode: string, at: Date, reason: string): Promise<void> {
    await licenses.setAttributes(licenseKey, {
      [meteringAttributes.stopped]: { episode, at: at.toISOString(), reason },
    });
  },
});

export type MeteringStateStore = ReturnType<typeof createMeteringStateStore>;

// --- license scan for the hourly fan-out ---------------------------------------------------------

/** The license attributes the fan-out needs (a projection: lifecycle records can be kilobytes). */
export const fanoutAttributes = [
  licensesTable.partitionKey.name,
  'status',
  'lifecycle',
  // Which product's pricing and units apply (several products share one fan-out).
  'productCode',
  meteringAttributes.cursor,
  meteringAttributes.stopped,
] as const;

export interface LicenseScanOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Items read per page (DynamoDB's Limit); default: up to 1 MB per page. */
  readonly pageSize?: number;
}

const meterableIndex = licensesTable.indexes.find((index) => index.indexName === 'meterable');

/**
 * Pages of the licenses whose stored `status` says metering may be open (`active`, `ending`), with
 * the fan-out attributes: the shards of the sparse `meterable` index, queried side by side. The
 * cost follows the licenses that may be metered, not every license ever sold.
 */
export async function* meterableLicenses({
  client,
  tableName,
  pageSize,
}: LicenseScanOptions): AsyncGenerator<Partial<LicenseItem>[]> {
  if (!meterableIndex) throw new Error('the licenses table has no meterable index');
  const documents = DynamoDBDocumentClient.from(client);
  const names = Object.fromEntries(fanoutAttributes.map((attribute, index) => [`#p${index}`, attribute]));
  const shards = meteringShards();
  const queryShard = async function* (shard: string) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: meterableIndex.indexName,
          KeyConditionExpression: '#shard = :shard',
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: { ...names, '#shard': meterableIndex.partitionKey.name },
          ExpressionAttributeValues: { ':shard': shard },
          ...(pageSize === undefined ? {} : { Limit: pageSize }),
          ExclusiveStartKey: startKey,
        }),
      );
      yield (page.Items ?? []) as Partial<LicenseItem>[];
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  };
  const iterators = shards.map((shard) => queryShard(shard));
  const next = (index: number) => iterators[index]?.next().then((result) => ({ index, result }));
  const inFlight = new Map<
    number,
    Promise<{ index: number; result: IteratorResult<Partial<LicenseItem>[]> }>
  >();
  for (let index = 0; index < iterators.length; index++) {
    const started = next(index);
    if (started) inFlight.set(index, started);
  }
  while (inFlight.size > 0) {
    const { index, result } = await Promise.race(inFlight.values());
    inFlight.delete(index);
    if (result.done) continue;
    const following = next(index);
    if (following) inFlight.set(index, following);
    yield result.value;
  }
}

/**
 * Once per deployment: licenses stored before the `meterable` index existed have no
 * `meteringShard` and would never be read by the fan-out. The first fan-out after the upgrade scans
 * the licenses table for meterable ones without it, sets it (only if the status is still
 * meterable), and records that it is done; later runs cost one GetItem. Returns the licenses fixed.
 */
export const backfillMeterableIndex = async ({
  client,
  licensesTableName,
  ledgerTableName,
}: {
  readonly client: DynamoDBClient;
  readonly licensesTableName: string;
  readonly ledgerTableName: string;
}): Promise<number> => {
  const documents = DynamoDBDocumentClient.from(client);
  const marker = await documents.send(
    new GetCommand({ TableName: ledgerTableName, Key: meterableBackfillItemKey, ConsistentRead: true }),
  );
  if (marker.Item) return 0;
  const statuses = Object.fromEntries(meterableStatuses.map((status, index) => [`:s${index}`, status]));
  const meterable = `#status IN (${Object.keys(statuses).join(', ')})`;
  let fixed = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: licensesTableName,
        ProjectionExpression: '#key',
        FilterExpression: `${meterable} AND attribute_not_exists(#shard)`,
        ExpressionAttributeNames: {
          '#key': licensesTable.partitionKey.name,
          '#status': 'status',
          '#shard': 'meteringShard',
        },
        ExpressionAttributeValues: statuses,
        ExclusiveStartKey: startKey,
      }),
    );
    await Promise.all(
      (page.Items ?? []).map(async (item) => {
        const licenseKey = String(item[licensesTable.partitionKey.name]);
        try {
          await documents.send(
            new UpdateCommand({
              TableName: licensesTableName,
              Key: { [licensesTable.partitionKey.name]: licenseKey },
              UpdateExpression: 'SET #shard = :shard',
              ConditionExpression: `${meterable} AND attribute_not_exists(#shard)`,
              ExpressionAttributeNames: { '#status': 'status', '#shard': 'meteringShard' },
              ExpressionAttributeValues: { ...statuses, ':shard': meteringShardOf(licenseKey) },
            }),
          );
          fixed++;
        } catch (error) {
          // Its status changed meanwhile: the write that changed it set or removed the shard.
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }),
    );
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  await documents.send(
    new PutCommand({
      TableName: ledgerTableName,
      Item: { ...meterableBackfillItemKey, completedAt: new Date().toISOString(), licenses: fixed },
    }),
  );
  return fixed;
};
