import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AlarmsProps {
  /** Email subscribed to the alarm topic. @default no subscription */
  readonly email?: string;
}

/** The alarm topic every capability reports to, and helpers that create alarms wired to it. */
export class Alarms extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps = {}) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', {
      displayName: 'Marketplace Bridge alarms',
      enforceSSL: true,
      masterKey: new Key(this, 'TopicKey', {
        enableKeyRotation: true,
        description: 'Encrypts the Marketplace Bridge alarm topic',
      }),
    });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
  }

  /** Alarms when `metric` reaches `threshold` in one period. */
  onMetric(id: string, metric: IMetric, description: string, threshold = 1): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
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
}
