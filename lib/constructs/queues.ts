import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** Failed work is kept two weeks (the SQS maximum), long enough to fix the cause and redrive. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** A dead-letter queue: encrypted, TLS-only, 14-day retention. */
export const deadLetterQueue = (scope: Construct, id: string): Queue =>
  new Queue(scope, id, {
    retentionPeriod: DEAD_LETTER_RETENTION,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });

/** A work queue that moves a message to `deadLetters` after `maxReceiveCount` failed receives. */
export const workQueue = (
  scope: Construct,
  id: string,
  {
    deadLetters,
    visibilityTimeout,
    maxReceiveCount = 5,
  }: { deadLetters: Queue; visibilityTimeout: Duration; maxReceiveCount?: number },
): Queue =>
  new Queue(scope, id, {
    visibilityTimeout,
    retentionPeriod: DEAD_LETTER_RETENTION,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetters, maxReceiveCount },
  });
