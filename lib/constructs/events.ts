import { Duration, Validations } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { EventBus, EventField, type IEventBus, Match, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError, type DeploymentConfig } from '#shared/config';
import { defaultDomainEventSource, domainEventTypes } from '#shared/domain-events';
import { marketplaceEventSource } from '#shared/events/marketplace-eventbridge';
import { saasusSourcePrefix } from '#shared/events/saasus';
import { saasusEventMetrics } from '#shared/events/saasus-processor';
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

/** AWS Marketplace emits agreement and license events only in this region (reference notes §b1). */
export const MARKETPLACE_EVENTS_REGION = 'us-east-1';

/** The SaaS agreement and license detail-types the processor acts on (the parser ignores the rest). */
export const marketplaceDetailTypes = [
  'Purchase Agreement Created - Proposer',
  'Purchase Agreement Created - Manufacturer',
  'Purchase Agreement Amended - Proposer',
  'Purchase Agreement Amended - Manufacturer',
  'Purchase Agreement Ended - Proposer',
  'Purchase Agreement Ended - Manufacturer',
  'License Updated - Manufacturer',
  'License Deprovisioned - Manufacturer',
] as const;

/** Retries Lambda makes after a failed asynchronous invocation, before the on-failure destination. */
export const ASYNC_RETRY_ATTEMPTS = 2;
/** An event older than this is not retried any more but sent to the dead-letter queue. */
export const ASYNC_MAX_EVENT_AGE = Duration.hours(6);
/** Receives of a legacy SNS message before SQS moves it to the dead-letter queue. */
export const LEGACY_SNS_MAX_RECEIVES = 5;

const FUNCTION_TIMEOUT = Duration.seconds(60);

export const eventServiceNames = {
  marketplace: 'marketplace-events',
  legacySns: 'legacy-sns-events',
  saasus: 'saasus-events',
} as const;

/** Fails synth when the stack is not where AWS sends Marketplace events, saying how to fix it. */
export const assertMarketplaceEventRegion = (config: DeploymentConfig): void => {
  if (config.region !== MARKETPLACE_EVENTS_REGION) {
    throw new ConfigError(
      `Invalid config: region is "${config.region}", but AWS Marketplace sends agreement and license events ` +
        `only to the default event bus in ${MARKETPLACE_EVENTS_REGION}, so this stack would never receive them. ` +
        `Set "region": "${MARKETPLACE_EVENTS_REGION}" in the config file (marketplace.apiRegion stays ` +
        `${config.marketplace.apiRegion}); the stack must be deployed to ${MARKETPLACE_EVENTS_REGION}.`,
    );
  }
};

export interface EventsProps {
  /** The validated deployment config. */
  readonly config: DeploymentConfig;
  /** Shared tables and the domain event bus. */
  readonly state: State;
  /** Where failures are reported. */
  readonly alarms: Alarms;
  /**
   * The metering flush queue. When given, `License Ending` domain events become
   * `{ "kind": "flush", "licenseKey": ... }` messages on it (see `routeFinalFlushTo`).
   */
  readonly flushQueue?: IQueue;
}

/** One event-driven function with its dead-letter queue and the alarm on it. */
export interface EventPath {
  readonly handler: BridgeFunction;
  readonly deadLetters: Queue;
}

/**
 * Marketplace agreement/license events, legacy SNS notifications and SaaSus partner events, each
 * a path of its own: a function, retries, a dead-letter queue (14 days) and an alarm on it.
 * EventBridge-invoked functions are asynchronous: Lambda retries a failed event, then sends it
 * with the error (the reason) to the on-failure destination; delivery failures of a rule go to
 * the same queue. The SQS path redrives a message to its dead-letter queue after repeated failures;
 * a notification that does not parse is sent there by the function at once, with the reason.
 */
export class Events extends Construct {
  readonly marketplace: EventPath;
  /** Only with `legacySns` in the config. */
  readonly legacySns?: EventPath & { readonly queue: Queue };
  /** Only with `saasusEvents` in the config. */
  readonly saasus?: EventPath & { readonly eventBus: EventBus };
  private readonly props: EventsProps;
  private finalFlushRule?: Rule;

  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    this.props = props;
    const { config, alarms } = props;
    assertMarketplaceEventRegion(config);

    this.marketplace = this.asyncPath('Marketplace', {
      entry: 'functions/events/marketplace.ts',
      description: 'AWS Marketplace agreement and license events: license state, plan changes, revocation',
      serviceName: eventServiceNames.marketplace,
      readsEntitlements: true,
    });
    new Rule(this, 'MarketplaceRule', {
      description: "AWS Marketplace agreement and license events of this deployment's listings",
      eventPattern: {
        source: [marketplaceEventSource],
        detailType: [...marketplaceDetailTypes],
        detail: {
          // License events carry product.code; agreement events product.id or no product at all.
          $or: [
            { product: { code: config.products.map((product) => product.productCode) } },
            { product: { id: config.products.map((product) => product.productId) } },
            { product: { id: [{ exists: false }], code: [{ exists: false }] } },
          ],
        },
      },
      targets: [this.lambdaTarget(this.marketplace)],
    });

    if (config.legacySns) {
      const deadLetters = deadLetterQueue(this, 'LegacySnsDeadLetters');
      const queue = workQueue(this, 'LegacySnsQueue', {
        deadLetters,
        // Six times the function timeout, as AWS recommends for an SQS event source.
        visibilityTimeout: Duration.seconds(FUNCTION_TIMEOUT.toSeconds() * 6),
        maxReceiveCount: LEGACY_SNS_MAX_RECEIVES,
      });
      const topics = [
        ['SubscriptionTopic', config.legacySns.subscriptionTopicArn],
        ...(config.legacySns.entitlementTopicArn
          ? [['EntitlementTopic', config.legacySns.entitlementTopicArn] as const]
          : []),
      ] as const;
      for (const [topicId, topicArn] of topics) {
        Topic.fromTopicArn(this, topicId, topicArn).addSubscription(
          new SqsSubscription(queue, { deadLetterQueue: deadLetters }),
        );
      }
      const handler = this.eventFunction('LegacySns', {
        entry: 'functions/events/legacy-sns.ts',
        description: 'Legacy AWS Marketplace SNS notifications (through SQS): license state and plans',
        serviceName: eventServiceNames.legacySns,
        readsEntitlements: true,
      });
      handler.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
      // Notifications that do not parse go to the dead-letter queue at once, with the reason.
      sendPermanentFailuresTo(handler, deadLetters);
      alarms.onDeadLetters('LegacySnsDeadLettersAlarm', deadLetters, 'Legacy Marketplace SNS notifications');
      this.legacySns = { handler, deadLetters, queue };
    }

    if (config.saasusEvents) {
      const eventBus = new EventBus(this, 'SaasusEventBus', {
        eventSourceName: config.saasusEvents.eventSourceName,
        description: 'SaaSus Platform partner events (API calls of the SaaS)',
      });
      const path = this.asyncPath('Saasus', {
        entry: 'functions/events/saasus.ts',
        description:
          'SaaSus partner events: tenant users, plan drift and deleted tenants of Marketplace licenses',
        serviceName: eventServiceNames.saasus,
        readsEntitlements: false,
      });
      new Rule(this, 'SaasusRule', {
        description: 'SaaSus partner events',
        eventBus,
        eventPattern: { source: Match.prefix(saasusSourcePrefix) },
        targets: [this.lambdaTarget(path)],
      });
      alarms.onMetric(
        'SaasusTenantDeletedAlarm',
        new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: saasusEventMetrics.tenantDeleted,
          dimensionsMap: { service: eventServiceNames.saasus },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        'The SaaSus tenant of an AWS Marketplace license was deleted: the license is flagged (tenantDeleted); the buyer still pays for it',
      );
      if (config.saasusEvents.onPlanDrift === 'alert') {
        alarms.onMetric(
          'SaasusPlanDriftAlarm',
          new Metric({
            namespace: METRICS_NAMESPACE,
            metricName: saasusEventMetrics.planDrift,
            dimensionsMap: { service: eventServiceNames.saasus },
            statistic: 'Sum',
            period: Duration.minutes(5),
          }),
          'A Marketplace tenant was put on a plan its license does not entitle (saasusEvents.onPlanDrift = alert: left as it is)',
        );
      }
      this.saasus = { ...path, eventBus };
    }

    if (props.flushQueue) this.routeFinalFlushTo(props.flushQueue);
  }

  /**
   * Turns `License Ending` domain events into final-flush messages on the metering queue:
   * `{ "kind": "flush", "licenseKey": <detail.licenseKey> }`. Delivery failures go to a
   * dead-letter queue of their own, with an alarm.
   */
  routeFinalFlushTo(flushQueue: IQueue): Rule {
    if (this.finalFlushRule) throw new Error('The final flush is already routed to a queue');
    const deadLetters = this.failureQueue(
      'FinalFlush',
      'Final metering flush requests (domain bus to metering)',
    );
    this.finalFlushRule = new Rule(this, 'FinalFlushRule', {
      description: 'License Ending domain events to the metering flush queue',
      eventBus: this.props.state.domainEventBus as IEventBus,
      eventPattern: { source: [defaultDomainEventSource], detailType: [domainEventTypes.licenseEnding] },
      targets: [
        new SqsQueue(flushQueue, {
          message: RuleTargetInput.fromObject({
            kind: 'flush',
            licenseKey: EventField.fromPath('$.detail.licenseKey'),
          }),
          deadLetterQueue: deadLetters,
          retryAttempts: 20,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
    return this.finalFlushRule;
  }

  /** The rule target of an EventBridge-invoked path: delivery failures go to its dead-letter queue. */
  private lambdaTarget(path: EventPath): LambdaFunction {
    return new LambdaFunction(path.handler, {
      deadLetterQueue: path.deadLetters,
      retryAttempts: 20,
      maxEventAge: Duration.hours(24),
    });
  }

  /** A function invoked asynchronously, with retries, an on-failure queue and its alarm. */
  private asyncPath(id: string, spec: FunctionSpec): EventPath {
    const deadLetters = this.failureQueue(id, spec.description);
    const handler = this.eventFunction(id, spec);
    handler.configureAsyncInvoke({
      retryAttempts: ASYNC_RETRY_ATTEMPTS,
      maxEventAge: ASYNC_MAX_EVENT_AGE,
      onFailure: new SqsDestination(deadLetters),
    });
    return { handler, deadLetters };
  }

  /** A dead-letter queue for failures of EventBridge deliveries and invocations, with its alarm. */
  private failureQueue(id: string, what: string): Queue {
    const deadLetters = deadLetterQueue(this, `${id}DeadLetters`);
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue (an on-failure destination or a rule target DLQ), not a work queue.',
    });
    this.props.alarms.onDeadLetters(`${id}DeadLettersAlarm`, deadLetters, what);
    return deadLetters;
  }

  /** A function with the shared runtime and exactly the permissions event processing needs. */
  private eventFunction(id: string, spec: FunctionSpec): BridgeFunction {
    const { config, state } = this.props;
    const handler = new BridgeFunction(this, `${id}Handler`, {
      entry: spec.entry,
      description: spec.description,
      serviceName: spec.serviceName,
      timeout: FUNCTION_TIMEOUT,
      environment: runtimeEnvironment(config, state),
    });
    this.props.alarms.onFunctionErrors(
      `${id}HandlerErrors`,
      handler,
      `${spec.description}: an invocation failed (it is retried, then kept in its dead-letter queue)`,
    );
    grantDataAccess(handler, state);
    state.domainEventBus.grantPutEventsTo(handler);
    grantSecretRead(this, handler, `${id}SaasusSecret`, config.saasus.secretName);
    if (config.idoperation) {
      grantSecretRead(this, handler, `${id}IdoperationSecret`, config.idoperation.secretName);
    }
    if (spec.readsEntitlements) {
      const actions = ['aws-marketplace:GetEntitlements'];
      handler.addToRolePolicy(new PolicyStatement({ actions, resources: ['*'] }));
      acknowledgeMarketplaceWildcard(handler, actions);
    }
    return handler;
  }
}

interface FunctionSpec {
  readonly entry: string;
  readonly description: string;
  readonly serviceName: string;
  /** Grants GetEntitlements (no other Marketplace action). */
  readonly readsEntitlements: boolean;
}
