import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { CfnFunction, IFunction } from 'aws-cdk-lib/aws-lambda';
import { licensesTable, meteringLedgerTable } from '#shared/tables';
import { ENTRY_METADATA_KEY } from './bridge-function.js';
import type { State } from './state.js';

/** The DynamoDB item and query actions IAM knows (a transaction needs those of its parts). */
export type DynamoAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem'
  | 'Query'
  | 'Scan';

export interface TableAccess {
  /** Actions on the table itself (Query here is a query of the table's own key). */
  readonly table?: readonly DynamoAction[];
  /** Indexes the function queries: their names, or `'*'` for any index of the table. */
  readonly queriedIndexes?: '*' | readonly string[];
}

type StateTable = 'licenses' | 'meteringLedger' | 'idempotency' | 'signUpClaims';

export type DataAccess = Readonly<Partial<Record<StateTable, TableAccess>>>;

/**
 * Event processing (`functions/shared/events/`): the license store (`store/licenses.ts`: get,
 * updates only, the byAccount / byCustomerIdentifier / byTenant indexes) and the Powertools
 * idempotency persistence layer (get, put, update and delete of one record by key).
 */
const eventProcessing: DataAccess = {
  licenses: { table: ['GetItem', 'UpdateItem'], queriedIndexes: '*' },
  idempotency: { table: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
};

/**
 * Exactly the DynamoDB actions each function's code paths use, by handler entry, from a reading
 * of the code (the infrastructure test also checks each action against the SDK commands in the
 * function's bundle). Nothing here may be wider than the code: no Scan, DeleteItem or batch
 * writes a function never sends.
 */
export const dataAccessByEntry: Readonly<Record<string, DataAccess>> = {
  // store/licenses.ts: get, upsertIdentity / setAttributes / recordProvisioningStep (UpdateItem),
  // findByTenant (the byTenant index). Nothing is ever deleted or written whole.
  // store/sign-up-claims.ts: tenant claims and single-use link items (conditional put, get, delete
  // to release a claim whose link failed).
  'functions/sign-up/handler.ts': {
    licenses: { table: ['GetItem', 'UpdateItem'], queriedIndexes: '*' },
    signUpClaims: { table: ['GetItem', 'PutItem', 'DeleteItem'] },
  },
  'functions/events/marketplace.ts': eventProcessing,
  'functions/events/legacy-sns.ts': eventProcessing,
  'functions/events/saasus.ts': eventProcessing,
  // metering/pipeline.ts: the license and its metering state (get, setAttributes); the ledger
  // (read = Query of the license's items, putIfAbsent, recordOutcome / recordAttempt, get) and
  // the shared rate-limit item in the ledger table (account-rate-limit.ts: get, update).
  'functions/metering/worker.ts': {
    licenses: { table: ['BatchGetItem', 'GetItem', 'UpdateItem'] },
    meteringLedger: { table: ['GetItem', 'PutItem', 'UpdateItem', 'Query'] },
  },
  // metering/fanout.ts: the meterable licenses' sparse index (Query); Scan and UpdateItem of
  // licenses only for the one-time index backfill; the pending-index sweep and recordOutcome for
  // expired items (UpdateItem, then GetItem when another run got there first); the backfill's
  // done-marker in the ledger (PutItem).
  'functions/metering/schedule.ts': {
    licenses: { table: ['Scan', 'UpdateItem'], queriedIndexes: [licensesTable.indexes[3].indexName] },
    meteringLedger: {
      table: ['GetItem', 'PutItem', 'UpdateItem'],
      queriedIndexes: [meteringLedgerTable.indexes[0].indexName],
    },
  },
};

const entryOf = (fn: IFunction): string => {
  const entry = (fn.node.defaultChild as CfnFunction).getMetadata(ENTRY_METADATA_KEY);
  if (typeof entry !== 'string') throw new Error(`${fn.node.path} is not a BridgeFunction (no entry)`);
  return entry;
};

/** Grants `fn` the DynamoDB access declared for its entry in `dataAccessByEntry`, nothing more. */
export const grantDataAccess = (fn: IFunction, state: State): void => {
  const entry = entryOf(fn);
  const access = dataAccessByEntry[entry];
  if (!access) throw new Error(`No DynamoDB access is declared for ${entry} (lib/constructs/data-access.ts)`);
  for (const [name, { table: actions = [], queriedIndexes }] of Object.entries(access)) {
    const table: ITableV2 = state[name as StateTable];
    if (actions.length > 0) {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: actions.map((action) => `dynamodb:${action}`),
          resources: [table.tableArn],
        }),
      );
    }
    if (queriedIndexes === undefined) continue;
    const indexes = queriedIndexes === '*' ? ['*'] : queriedIndexes;
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: indexes.map((index) => `${table.tableArn}/index/${index}`),
      }),
    );
    if (queriedIndexes === '*') {
      const logicalId = Stack.of(table).getLogicalId(table.node.defaultChild as CfnElement);
      // On the role: a BridgeFunction's role is its sibling, not its child.
      Validations.of(fn.role ?? fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
        reason: `Only dynamodb:Query, on the indexes of the ${table.node.id} table; "index/*" matches no other table's.`,
      });
    }
  }
};
