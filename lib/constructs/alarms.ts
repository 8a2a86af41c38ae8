import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AlarmsProps {
  /** Email subscribed to the alarm topic. @default no subscription */
  readonly email?: string;
}

export interface AlarmOptions {
  /** @default 1 */
  readonly threshold?: number;
  /** Consecutive periods that must breach. @default 1 */
  readonly evaluationPeriods?: number;
  /**
   * What a period without data counts as. Use BREACHING for a heartbeat, where silence is
   * the failure. @default NOT_BREACHING
   */
  readonly treatMissingData?: TreatMissingData;
  /** @default GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
  readonly comparisonOperator?: ComparisonOperator;
}

/**
 * The alarm topic every capability reports to, and helpers that create alarms wired to it.
 *
 * The topic is encrypted with a customer-managed key, so CloudWatch can only deliver an alarm if
 * the key policy lets `cloudwatch.amazonaws.com` generate and decrypt data keys and the topic
 * policy lets it publish. Both grants are limited to this account and to alarms whose name starts
 * with the stack name, which every alarm made here has (`alarmNamePrefix`).
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  /** Every alarm's name starts with this (`<stack name>-`); the topic only accepts those alarms. */
  readonly alarmNamePrefix: string;

  constructor(scope: Construct, id: string, props: AlarmsProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.alarmNamePrefix = `${stack.stackName}-`;
    this.key = new Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the Marketplace Bridge alarm topic',
    });
    this.topic = new Topic(this, 'Topic', {
      displayName: 'Marketplace Bridge alarms',
      enforceSSL: true,
      masterKey: this.key,
    });

    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${this.alarmNamePrefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsEncryptNotifications',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
  }

  /** Alarms when `metric` reaches `threshold` (by default in one period); notifies the topic. */
  onMetric(id: string, metric: IMetric, description: string, options: AlarmOptions = {}): Alarm {
    const { threshold = 1, evaluationPeriods = 1, ...rest } = options;
    const alarm = new Alarm(this, id, {
      alarmName: `${this.alarmNamePrefix}${id}`,
      metric,
      threshold,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator: rest.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: rest.treatMissingData ?? TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    return alarm;
  }

  /** Alarms as soon as a dead-letter queue holds a message. */
  onDeadLetters(id: string, queue: IQueue, what: string): Alarm {
    return this.onMetric(
      id,
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      `${what}: messages are waiting in the dead-letter queue (redrive them after fixing the cause)`,
    );
  }

  /** Alarms when an invocation of `fn` fails (an error, a timeout, out of memory). */
  onFunctionErrors(id: string, fn: IFunction, description: string): Alarm {
    return this.onMetric(id, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), description);
  }
}
