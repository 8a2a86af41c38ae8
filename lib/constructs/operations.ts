import { Aspects, CfnOutput, Duration, type IAspect, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  Metric,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { type IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { METERING_SERVICE, meteringMetrics } from '#shared/metering/metrics';
import {
  type DeadLetterQueueOutput,
  deadLetterOutputPrefix,
  type RedriveTarget,
  stackOutputKeys,
} from '#shared/stack-outputs';
import { METRICS_NAMESPACE } from './bridge-function.js';
import type { Events } from './events.js';
import type { Metering } from './metering.js';
import type { SignUp } from './sign-up.js';
import type { State } from './state.js';

export interface OperationsProps {
  readonly state: State;
  readonly signUp: SignUp;
  readonly metering: Metering;
  readonly events: Events;
  /** BatchMeterUsage calls per second the account may make (drawn on the calls graph). */
  readonly batchMeterUsageQuotaPerSecond: number;
}

/** Two hours: the metering lag alarm's threshold, drawn on the lag graph. */
const LAG_LIMIT_SECONDS = 2 * 3600;
const PERIOD = Duration.minutes(5);

/**
 * What operators need: CloudFormation outputs naming the tables, the metering queue and every
 * dead-letter queue with where its messages are redriven (read by the `marketplace-bridge`
 * command-line tool through DescribeStacks), and a CloudWatch dashboard of the whole stack.
 */
export class Operations extends Construct {
  readonly dashboard: Dashboard;
  readonly #deadLetterQueues: [string, IQueue][] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const { state, metering, events } = props;
    const stack = Stack.of(this);
    const output = (key: string, value: string, description: string) =>
      new CfnOutput(stack, key, { value, description });
    output(stackOutputKeys.licensesTable, state.licenses.tableName, 'Licenses table');
    output(stackOutputKeys.meteringLedgerTable, state.meteringLedger.tableName, 'Metering ledger table');
    output(stackOutputKeys.idempotencyTable, state.idempotency.tableName, 'Idempotency table');
    output(stackOutputKeys.domainEventBus, state.domainEventBus.eventBusName, 'Domain event bus');
    output(stackOutputKeys.meteringQueueUrl, metering.flushQueue.queueUrl, 'Metering work queue');

    const toFunction = (fn: IFunction): RedriveTarget => ({ to: 'function', functionName: fn.functionName });
    const deadLetters = (
      name: string,
      queue: IQueue | undefined,
      description: string,
      redrive: RedriveTarget,
    ) => {
      if (!queue) return;
      this.#deadLetterQueues.push([name, queue]);
      const value: DeadLetterQueueOutput = { description, url: queue.queueUrl, redrive };
      output(
        `${deadLetterOutputPrefix}${name}`,
        stack.toJsonString(value),
        `${description}: dead-letter queue`,
      );
    };
    const child = (scope: Construct, childId: string) =>
      scope.node.tryFindChild(childId) as IQueue | undefined;
    const meteringQueueUrl = metering.flushQueue.queueUrl;

    deadLetters(
      'MarketplaceEvents',
      events.marketplace.deadLetters,
      'Marketplace events',
      toFunction(events.marketplace.handler),
    );
    if (events.saasus) {
      deadLetters(
        'SaasusEvents',
        events.saasus.deadLetters,
        'SaaSus events',
        toFunction(events.saasus.handler),
      );
    }
    if (events.legacySns) {
      deadLetters('LegacySns', events.legacySns.deadLetters, 'Legacy SNS notifications', {
        to: 'queue',
        queueUrl: events.legacySns.queue.queueUrl,
      });
    }
    deadLetters('FinalFlush', child(events, 'FinalFlushDeadLetters'), 'Final flush requests', {
      to: 'flush',
      queueUrl: meteringQueueUrl,
    });
    deadLetters('MeteringWork', metering.deadLetters, 'Metering work', {
      to: 'queue',
      queueUrl: meteringQueueUrl,
    });
    deadLetters('MeteringStart', child(metering, 'StartDeadLetters'), 'Metering start requests', {
      to: 'meter',
      queueUrl: meteringQueueUrl,
    });
    deadLetters(
      'MeteringSchedule',
      child(metering, 'ScheduleDeadLetters'),
      'Hourly metering schedule',
      toFunction(metering.scheduleFunction),
    );

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${stack.stackName}-operations`,
      defaultInterval: Duration.days(1),
    });
    this.#addFixedWidgets(props);
    // Alarms and functions are collected once the whole stack is built, so an alarm any construct
    // adds (now or later) shows on the dashboard without being listed here.
    const operations = this;
    const aspect: IAspect = {
      visit(node: IConstruct) {
        if (node === operations) operations.#addStackWideWidgets();
      },
    };
    Aspects.of(this).add(aspect);
  }

  #addFixedWidgets(props: OperationsProps): void {
    const { signUp, events } = props;
    const meteringMetric = (metricName: string, label: string, statistic = 'Sum', period = PERIOD) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METERING_SERVICE },
        statistic,
        period,
        label,
      });
    const eventPaths = [
      ['Marketplace', events.marketplace.handler],
      ...(events.legacySns ? [['Legacy SNS', events.legacySns.handler] as const] : []),
      ...(events.saasus ? [['SaaSus', events.saasus.handler] as const] : []),
    ] as const;
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${Stack.of(this).stackName}\nSign-up, event processing and hourly metering. Operate it with \`npx marketplace-bridge doctor\` and \`status\`; the alarms are at the bottom.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Sign-ups: fulfillment URL requests',
        left: [
          signUp.api.metricCount({ period: PERIOD, label: 'requests' }),
          signUp.api.metricClientError({ period: PERIOD, label: '4xx (bad token, wrong product)' }),
          signUp.api.metricServerError({ period: PERIOD, label: '5xx' }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Events processed and failed, per source',
        left: eventPaths.map(([label, fn]) =>
          fn.metricInvocations({ period: PERIOD, label: `${label} processed` }),
        ),
        right: eventPaths.map(([label, fn]) => fn.metricErrors({ period: PERIOD, label: `${label} failed` })),
        width: 8,
      }),
      new GraphWidget({
        title: 'Metering records by outcome',
        left: [
          meteringMetric(meteringMetrics.accepted, 'accepted'),
          meteringMetric(meteringMetrics.unprocessed, 'unprocessed (retried)'),
          meteringMetric(meteringMetrics.notSubscribed, 'not subscribed'),
          meteringMetric(meteringMetrics.duplicate, 'duplicate'),
          meteringMetric(meteringMetrics.rejected, 'rejected'),
          meteringMetric(meteringMetrics.expired, 'expired'),
        ],
        width: 8,
      }),
    );
    const perMinute = Duration.minutes(1);
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'BatchMeterUsage calls and throttled retries per minute, against the quota',
        left: [
          meteringMetric(meteringMetrics.requests, 'calls', 'Sum', perMinute),
          meteringMetric(meteringMetrics.retries, 'retries (throttled or failed)', 'Sum', perMinute),
        ],
        leftAnnotations: [{ value: props.batchMeterUsageQuotaPerSecond * 60, label: 'quota per minute' }],
        width: 8,
      }),
      new GraphWidget({
        title: 'Metering lag: oldest unreported usage hour (seconds)',
        left: [meteringMetric(meteringMetrics.oldestUnreportedHourLag, 'lag', 'Maximum', Duration.hours(1))],
        leftAnnotations: [{ value: LAG_LIMIT_SECONDS, label: 'alarm: two hours' }],
        width: 8,
      }),
      new GraphWidget({
        title: 'Dead-letter queue depths',
        left: this.#deadLetterQueues.map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(1),
            statistic: 'Maximum',
            label: name,
          }),
        ),
        width: 8,
      }),
    );
  }

  #addStackWideWidgets(): void {
    const stack = Stack.of(this);
    const functions = stack.node
      .findAll()
      .filter((node): node is LambdaFunction => node instanceof LambdaFunction);
    const label = (fn: LambdaFunction) => fn.node.path.split('/').slice(1, -1).join('/') || fn.node.id;
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Function errors',
        left: functions.map((fn) => fn.metricErrors({ period: PERIOD, label: label(fn) })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Function duration (p99, ms)',
        left: functions.map((fn) =>
          fn.metricDuration({ period: PERIOD, statistic: 'p99', label: label(fn) }),
        ),
        width: 12,
      }),
    );
    const alarms = stack.node.findAll().filter((node): node is Alarm => node instanceof Alarm);
    this.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: `Alarms (${alarms.length})`,
        alarms,
        width: 24,
        height: Math.max(3, Math.ceil(alarms.length / 4) + 1),
      }),
    );
  }
}
