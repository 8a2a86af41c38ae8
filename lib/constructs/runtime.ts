import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '#shared/config';
import type { State } from './state.js';

/** Environment every function gets: the validated config and the shared resources' names. */
export const runtimeEnvironment = (config: DeploymentConfig, state: State): Record<string, string> => ({
  BRIDGE_CONFIG: JSON.stringify(config),
  LICENSES_TABLE: state.licenses.tableName,
  METERING_LEDGER_TABLE: state.meteringLedger.tableName,
  IDEMPOTENCY_TABLE: state.idempotency.tableName,
  DOMAIN_EVENT_BUS: state.domainEventBus.eventBusName,
});

/**
 * An SQS-triggered function sends records that can never succeed to its own dead-letter queue,
 * with the reason (`functions/shared/dead-letters.ts`): it gets the queue's URL in
 * `DEAD_LETTER_QUEUE_URL` and `sqs:SendMessage` on that queue, nothing else (`grantSendMessages`
 * would add GetQueueAttributes and GetQueueUrl, which it never calls). A KMS-encrypted queue would
 * also get the key actions a producer needs; these queues use SQS-managed encryption.
 */
export const sendPermanentFailuresTo = (fn: LambdaFunction, deadLetters: Queue): void => {
  fn.addEnvironment('DEAD_LETTER_QUEUE_URL', deadLetters.queueUrl);
  deadLetters.grants.actions(fn, ['sqs:SendMessage'], {
    keyActions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
  });
};

/** Grants read access to a secret the seller created (named in the config). */
export const grantSecretRead = (
  scope: Construct,
  grantee: IGrantable,
  id: string,
  secretName: string,
): void => {
  Secret.fromSecretNameV2(scope, id, secretName).grantRead(grantee);
};

/** Read/write on a table and its indexes; the `index/*` wildcard is what "all indexes" means. */
export const grantTableReadWrite = (fn: IFunction, table: ITableV2): void => {
  table.grantReadWriteData(fn);
  acknowledgeIndexWildcard(fn, table);
};

export const grantTableRead = (fn: IFunction, table: ITableV2): void => {
  table.grantReadData(fn);
  acknowledgeIndexWildcard(fn, table);
};

const acknowledgeIndexWildcard = (fn: IFunction, table: ITableV2): void => {
  const logicalId = Stack.of(table).getLogicalId(table.node.defaultChild as CfnElement);
  Validations.of(fn).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
    reason: `Queries the indexes of the ${table.node.id} table; "index/*" covers exactly the table's own indexes.`,
  });
};

/** AWS Marketplace metering/entitlement actions have no resource-level permissions. */
export const acknowledgeMarketplaceWildcard = (fn: IFunction, actions: readonly string[]): void => {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: `${actions.join(' and ')} support no resource-level permissions, so the statement must use "*".`,
  });
};
