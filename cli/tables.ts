import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { isQuotaItem } from '#shared/tables';

/** Every item of a table, page by page (the quota item of the ledger left out). */
export async function* scanItems(
  client: DynamoDBClient,
  tableName: string,
  options: { readonly projection?: readonly string[] } = {},
): AsyncGenerator<Record<string, unknown>[]> {
  const documents = DynamoDBDocumentClient.from(client);
  let startKey: Record<string, unknown> | undefined;
  const projection = options.projection ?? [];
  const names = Object.fromEntries(projection.map((attribute, index) => [`#p${index}`, attribute]));
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        ...(projection.length > 0
          ? { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names }
          : {}),
      }),
    );
    startKey = page.LastEvaluatedKey;
    yield (page.Items ?? []).filter((item) => !isQuotaItem(item));
  } while (startKey);
}
