import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  type DeadLetterQueueOutput,
  deadLetterOutputPrefix,
  type RedriveTarget,
  stackOutputKeys,
} from '#shared/stack-outputs';
import type { Events } from './events.js';
import type { Metering } from './metering.js';
import type { State } from './state.js';

export interface OperationsProps {
  readonly state: State;
  readonly metering: Metering;
  readonly events: Events;
}

/**
 * What operators need to find the deployment: CloudFormation outputs naming the tables, the
 * metering queue and every dead-letter queue with where its messages are redriven (read by the
 * `marketplace-bridge` command-line tool through DescribeStacks).
 */
export class Operations extends Construct {
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
  }
}
