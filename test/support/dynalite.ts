import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createTableInput, tableDefinitions } from '#shared/tables';

export type LocalTables = Record<(typeof tableDefinitions)[number]['id'], string>;

/**
 * Starts dynalite on a free loopback port and creates the stack's tables from the shared key
 * definitions. Returns the endpoint, a client for it and the table names.
 */
export const startDynalite = async (prefix = 'test') => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('dynalite did not start');
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const tables = {} as LocalTables;
  for (const definition of tableDefinitions) {
    const tableName = `${prefix}-${definition.id}`;
    await client.send(new CreateTableCommand(createTableInput(definition, tableName)));
    tables[definition.id] = tableName;
  }
  return {
    endpoint,
    client,
    tables,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
