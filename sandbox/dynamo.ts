import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createTableInput, type TableDefinition, tableDefinitions } from '#shared/tables';

/**
 * Local DynamoDB for the sandbox: dynalite in memory on a loopback port, with the stack's tables
 * created from the shared key definitions (`functions/shared/tables.ts`), named `<prefix>-<id>`.
 */

export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** Definition id (`Licenses`, …) → local table name. */
  readonly tables: Readonly<Record<string, string>>;
  readonly definitions: readonly TableDefinition[];
  /** Every item of a table (for the dashboard; the sandbox's tables are small). */
  scan(tableName: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Creates the stack's tables from the shared key definitions; returns definition id → table name. */
export const createLocalTables = async (
  client: DynamoDBClient,
  prefix: string,
): Promise<Record<(typeof tableDefinitions)[number]['id'], string>> => {
  const tables: Record<string, string> = {};
  for (const definition of tableDefinitions) {
    const tableName = `${prefix}-${definition.id}`;
    await client.send(new CreateTableCommand(createTableInput(definition, tableName)));
    tables[definition.id] = tableName;
  }
  return tables as Record<(typeof tableDefinitions)[number]['id'], string>;
};

export const startLocalDynamo = async (
  options: { prefix?: string; region?: string; port?: number } = {},
): Promise<LocalDynamo> => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('dynalite did not start');
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: options.region ?? 'us-east-1',
    credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
  });
  const documents = DynamoDBDocumentClient.from(client);
  const tables = await createLocalTables(client, options.prefix ?? 'sandbox');
  return {
    endpoint,
    client,
    tables,
    definitions: tableDefinitions,
    async scan(tableName) {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }),
        );
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
    async close() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
