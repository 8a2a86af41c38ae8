import { startLocalDynamo } from '#sandbox/dynamo';
import type { tableDefinitions } from '#shared/tables';

export type LocalTables = Record<(typeof tableDefinitions)[number]['id'], string>;

/**
 * Dynalite on a free loopback port with the stack's tables, for tests: the sandbox's local
 * DynamoDB (`sandbox/dynamo.ts`), tables named `<prefix>-<id>`.
 */
export const startDynalite = async (prefix = 'test') => {
  const dynamo = await startLocalDynamo({ prefix });
  return {
    endpoint: dynamo.endpoint,
    client: dynamo.client,
    tables: dynamo.tables as LocalTables,
    close: () => dynamo.close(),
  };
};
