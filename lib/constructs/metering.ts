import { type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
  TimeWindow,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '#shared/config';
import { defaultDomainEventSource, domainEventTypes } from '#shared/domain-events';
import { METERING_SERVICE, meteringMetrics } from '#shared/metering/metrics';
import type { Alarms } from './alarms.js';
import { BridgeFunction, METRICS_NAMESPACE } from './bridge-function.js';
import { grantDataAccess } from './data-access.js';
import { deadLetterQueue, workQueue } from './queues.js';
import {
  acknowledgeMarketplaceWildcard,
  grantSecretRead,
  runtimeEnvironment,
  sendPermanentFailuresTo,
} from './runtime.js';
import type { State } from './state.js';

export interface MeteringProps {
  /** The validated deployment config. */
  readonly config: DeploymentConfig;
  /** Shared tables and the domain event bus. */
  readonly state: State;
  /** Where failures are reported. */
  readonly alarms: Alarms;
  /**
   * Metering workers that may run at once (the queue event source's maximum concurrency, at
   * least 2). They share the account's 10 BatchMeterUsage calls per second: each gets 90 % of
   * it divided by this number. @default 5
   */
  readonly workers?: number;
}

/** Worker timeout; the queue hides a message six times as long, as Lambda recommends for SQS. */
const WORKER_TIMEOUT = Duration.minutes(2);

/** Alarm when the oldest unreported hour started more than this long ago. */
export const METERING_LAG_ALARM_SECONDS = 2 * 3600;

/** Alarm when no fan-out completed in this many consecutive clock hours. */
export const METERING_HEARTBEAT_HOURS = 2;

/** A failed fan-out is retried by Lambda for at most this long, then kept in its dead-letter queue. */
const FANOUT_MAX_EVENT_AGE = Duration.minutes(50);

/**
 * The hourly SaaSus usage → BatchMeterUsage pipeline: an EventBridge Scheduler schedule a few
 * minutes past every hour invokes the fan-out function, which queues the due licenses on the
 * work queue; a bounded pool of workers meters them. The event processor sends final-flush
 * requests to the same queue (`flushQueue`); every BatchMeterUsage call shares one account-wide limit.
 *
 * A license is also metered as soon as it can be: `License Activated`, `License Reinstated` and
 * `Tenant Provisioned` (whichever comes last: the buyer may register before or after AWS
 * activates the license) queue a pass for it right away, which captures the usage baseline (the
 * day's counts before activation, never billed). Without it the first hourly run would capture
 * the baseline, counting every use between activation and that run as pre-activation usage.
 */
export class Metering extends Construct {
  readonly scheduleFunction: BridgeFunction;
  readonly worker: BridgeFunction;
  /** The work queue; `{ kind: 'flush', licenseKey }` messages request a final flush. */
  readonly flushQueue: IQueue;
  readonly deadLetters: Queue;
  readonly schedule: Schedule;

  constructor(scope: Construct, id: string, props: MeteringProps) {
    super(scope, id);
    const { config, state, alarms } = props;
    const workers = props.workers ?? 5;
    if (!Number.isInteger(workers) || workers < 2 || workers > 1000) {
      throw new Error(`Metering workers: expected a whole number from 2 to 1000, got ${workers}`);
    }

    this.deadLetters = deadLetterQueue(this, 'WorkDeadLetters');
    const queue = workQueue(this, 'WorkQueue', {
      deadLetters: this.deadLetters,
      visibilityTimeout: Duration.seconds(WORKER_TIMEOUT.toSeconds() * 6),
    });
    this.flushQueue = queue;

    this.worker = new BridgeFunction(this, 'Worker', {
      entry: 'functions/metering/worker.ts',
      description: 'Meters licenses: SaaSus usage to the ledger to BatchMeterUsage',
      serviceName: METERING_SERVICE,
      timeout: WORKER_TIMEOUT,
      // CPU, not memory: a worker spends about 6 ms of CPU per record (SDK calls to DynamoDB,
      // SaaSus signing; BENCHMARKS.md), and Lambda's CPU share grows with memory. At 1024 MB
      // five workers have about 3 vCPU, twice what the quota's 242 records/s need.
      memorySize: 1024,
      environment: { ...runtimeEnvironment(config, state), METERING_WORKERS: String(workers) },
    });
    this.worker.addEventSource(
      new SqsEventSource(queue, { batchSize: 5, maxConcurrency: workers, reportBatchItemFailures: true }),
    );
    // Malformed messages go to the dead-letter queue at once, with the reason.
    sendPermanentFailuresTo(this.worker, this.deadLetters);
    grantDataAccess(this.worker, state);
    grantSecretRead(this, this.worker, 'SaasusSecret', config.saasus.secretName);
    const marketplaceActions = [
      'aws-marketplace:BatchMeterUsage',
      ...(config.products.some((product) => product.pricingModel === 'contract-with-consumption')
        ? ['aws-marketplace:GetEntitlements']
        : []),
    ];
    this.worker.addToRolePolicy(new PolicyStatement({ actions: marketplaceActions, resources: ['*'] }));
    acknowledgeMarketplaceWildcard(this.worker, marketplaceActions);

    this.scheduleFunction = new BridgeFunction(this, 'Schedule', {
      entry: 'functions/metering/schedule.ts',
      description: 'Hourly metering fan-out: queues the licenses with hours to report',
      serviceName: METERING_SERVICE,
      timeout: Duration.minutes(10),
      memorySize: 1024,
      environment: { ...runtimeEnvironment(config, state), METERING_QUEUE_URL: queue.queueUrl },
    });
    // The fan-out queries the meterable licenses' index, queries the pending index and marks
    // expired items; Scan and UpdateItem on licenses only for the one-time index backfill.
    grantDataAccess(this.scheduleFunction, state);
    // SendMessageBatch needs sqs:SendMessage; the fan-out never reads queue attributes.
    queue.grants.actions(this.scheduleFunction, ['sqs:SendMessage']);

    const startDeadLetters = deadLetterQueue(this, 'StartDeadLetters');
    Validations.of(startDeadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the metering start rule target.',
    });
    new Rule(this, 'StartRule', {
      description: 'License Activated/Reinstated and Tenant Provisioned domain events to the metering queue',
      eventBus: state.domainEventBus,
      eventPattern: {
        source: [defaultDomainEventSource],
        detailType: [
          domainEventTypes.licenseActivated,
          domainEventTypes.licenseReinstated,
          domainEventTypes.tenantProvisioned,
        ],
      },
      targets: [
        new SqsQueue(queue, {
          message: RuleTargetInput.fromObject({
            kind: 'meter',
            licenseKeys: [EventField.fromPath('$.detail.licenseKey')],
            runHour: EventField.time,
          }),
          deadLetterQueue: startDeadLetters,
          retryAttempts: 20,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });

    const scheduleDeadLetters = deadLetterQueue(this, 'ScheduleDeadLetters');
    Validations.of(scheduleDeadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: of the hourly schedule target and the fan-out on-failure destination.',
    });
    // Scheduler invokes the fan-out asynchronously: Lambda retries a failed run, then keeps it
    // here with the error (a Lambda failure record) instead of dropping it.
    this.scheduleFunction.configureAsyncInvoke({
      retryAttempts: 2,
      // Retries after a 10-minute timeout still end before the next hourly run.
      maxEventAge: FANOUT_MAX_EVENT_AGE,
      onFailure: new SqsDestination(scheduleDeadLetters),
    });
    // An own role (the target would share one stack-wide): invoke this function only.
    const scheduleRole = new Role(this, 'ScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    });
    const functionId = Stack.of(this).getLogicalId(this.scheduleFunction.node.defaultChild as CfnElement);
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason:
        'lambda:InvokeFunction on the fan-out function and its own versions; ":*" names only its qualifiers.',
    });
    this.schedule = new Schedule(this, 'Hourly', {
      description: `Hourly metering run at minute ${config.metering.scheduleMinute}`,
      schedule: ScheduleExpression.cron({ minute: String(config.metering.scheduleMinute), hour: '*' }),
      timeWindow: TimeWindow.off(),
      target: new LambdaInvoke(this.scheduleFunction, {
        role: scheduleRole,
        input: ScheduleTargetInput.fromObject({ scheduledTime: ContextAttribute.scheduledTime }),
        deadLetterQueue: scheduleDeadLetters,
        retryAttempts: 3,
        // A run that cannot start within half an hour is superseded by the next one.
        maxEventAge: Duration.minutes(30),
      }),
    });

    const metric = (metricName: string, statistic = 'Sum', period = Duration.minutes(5)) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METERING_SERVICE },
        statistic,
        period,
      });
    alarms.onDeadLetters('MeteringWorkDeadLetters', this.deadLetters, 'Metering work');
    alarms.onDeadLetters('MeteringScheduleDeadLetters', scheduleDeadLetters, 'Hourly metering schedule');
    alarms.onDeadLetters(
      'MeteringStartDeadLetters',
      startDeadLetters,
      'Metering start requests (domain bus to the metering queue)',
    );
    alarms.onMetric(
      'MeteringRecordsExpired',
      metric(meteringMetrics.expired),
      'Usage records left the BatchMeterUsage window unsent: that usage may be unbilled (see the ledger items marked expired)',
    );
    alarms.onMetric(
      'MeteringRecordsRejected',
      metric(meteringMetrics.rejected),
      'BatchMeterUsage rejected usage records (isolated by bisection): fix the cause (dimension, license) so later records bill the usage',
    );
    alarms.onMetric(
      'MeteringRecordsDuplicate',
      metric(meteringMetrics.duplicate),
      'AWS already held a different quantity for a license, dimension and hour: something else meters this product, or the ledger was changed',
    );
    // The heartbeat: every completed fan-out counts 1, so a schedule that is disabled, deleted,
    // cannot invoke, or a fan-out that keeps failing leaves the hour empty, and an empty hour
    // counts as breaching (only a completed run proves metering is alive).
    alarms.onMetric(
      'MeteringHeartbeat',
      metric(meteringMetrics.fanOutCompleted, 'Sum', Duration.hours(1)),
      `No hourly metering fan-out completed for ${METERING_HEARTBEAT_HOURS} hours: usage is not being reported to AWS Marketplace (check the schedule ${this.schedule.node.path}, the fan-out's errors and its dead-letter queue)`,
      {
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: METERING_HEARTBEAT_HOURS,
        treatMissingData: TreatMissingData.BREACHING,
      },
    );
    alarms.onMetric(
      'MeteringLag',
      metric(meteringMetrics.oldestUnreportedHourLag, 'Maximum', Duration.hours(1)),
      'The oldest unreported usage hour started more than two hours ago: hourly metering is falling behind',
      { threshold: METERING_LAG_ALARM_SECONDS },
    );
    alarms.onFunctionErrors('MeteringWorkerErrors', this.worker, 'The metering worker failed');
    alarms.onFunctionErrors(
      'MeteringScheduleErrors',
      this.scheduleFunction,
      'The hourly metering fan-out failed',
    );
  }
}
