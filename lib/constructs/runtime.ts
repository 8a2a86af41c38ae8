import { Validations } from 'aws-cdk-lib';
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

/** AWS Marketplace metering/entitlement actions have no resource-level permissions. */
export const acknowledgeMarketplaceWildcard = (fn: IFunction, actions: readonly string[]): void => {
  // On the role: a BridgeFunction's role is its sibling, not its child.
  Validations.of(fn.role ?? fn).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: `${actions.join(' and ')} support no resource-level permissions, so the statement must use "*".`,
  });
};
