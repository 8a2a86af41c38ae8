import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { licensesTable, meteringLedgerTable } from '#shared/tables';
import { startDynalite } from '../support/dynalite.js';

describe('dynalite harness', () => {
  let local: Awaited<ReturnType<typeof startDynalite>>;
  beforeAll(async () => {
    local = await startDynalite();
  });
  afterAll(() => local.close());

  it('creates the tables with the key design the stack uses', async () => {
    const licenses = await local.client.send(new DescribeTableCommand({ TableName: local.tables.Licenses }));
    expect(licenses.Table?.KeySchema).toEqual([
      { AttributeName: licensesTable.partitionKey.name, KeyType: 'HASH' },
    ]);
    expect(licenses.Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual([
      'byAccount',
      'byCustomerIdentifier',
      'byTenant',
      'meterable',
    ]);
    const ledger = await local.client.send(
      new DescribeTableCommand({ TableName: local.tables.MeteringLedger }),
    );
    expect(ledger.Table?.KeySchema?.map((key) => key.AttributeName)).toEqual([
      meteringLedgerTable.partitionKey.name,
      meteringLedgerTable.sortKey.name,
    ]);
  });
});
