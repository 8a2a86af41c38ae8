import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MarketplaceBridgeStack } from '#lib/marketplace-bridge-stack';
import { parseDeploymentConfig } from '#shared/config';
import { cdkJsonContext, exampleConfigInput } from '../support/config.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON, read path by path
type Resource = { Type: string; Properties: Record<string, any> };
// biome-ignore lint/suspicious/noExplicitAny: policy statements are untyped JSON
type Statement = Record<string, any>;

const STACK_NAME = 'MarketplaceBridge-test';

/** The whole stack with every event source on, so every writer of every destination is present. */
const synthesize = () => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const input = exampleConfigInput();
  input.legacySns = {
    subscriptionTopicArn: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc',
    entitlementTopicArn: 'arn:aws:sns:us-east-1:287250355862:aws-mp-entitlement-notification-abc',
  };
  const config = parseDeploymentConfig(input);
  const stack = new MarketplaceBridgeStack(app, STACK_NAME, { config, env: { region: config.region } });
  return Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
};

const resources = synthesize();
const ofType = (type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type) as [string, Resource][];

/** The logical id a `Ref` or `Fn::GetAtt` points at, or undefined for anything else. */
const targetOf = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
};

const statementsOf = (document: { Statement: Statement[] } | undefined): Statement[] =>
  document?.Statement ?? [];
const actionsOf = (statement: Statement): string[] => [statement.Action].flat();
const servicesOf = (statement: Statement): string[] =>
  [statement.Principal?.Service].flat().filter((service): service is string => typeof service === 'string');

/** The resource policy statements of a queue or topic (from its QueuePolicy / TopicPolicy). */
const resourcePolicyOf = (logicalId: string): Statement[] =>
  [...ofType('AWS::SQS::QueuePolicy'), ...ofType('AWS::SNS::TopicPolicy')]
    .filter(([, policy]) =>
      [...(policy.Properties.Queues ?? []), ...(policy.Properties.Topics ?? [])].some(
        (ref: unknown) => targetOf(ref) === logicalId,
      ),
    )
    .flatMap(([, policy]) => statementsOf(policy.Properties.PolicyDocument));

const keyPolicyOf = (keyId: string): Statement[] =>
  statementsOf((resources[keyId] as Resource).Properties.KeyPolicy);

const alarmTopicId = (): string => {
  const [topic, ...others] = ofType('AWS::SNS::Topic');
  expect(others).toEqual([]);
  return (topic as [string, Resource])[0];
};

/** An Allow for `service` with `actions`, limited by aws:SourceAccount and/or aws:SourceArn. */
const scopedGrantsTo = (statements: Statement[], service: string, actions: string[]) =>
  statements.filter(
    (statement) =>
      statement.Effect === 'Allow' &&
      servicesOf(statement).includes(service) &&
      actions.every((action) =>
        actionsOf(statement).some((allowed) => allowed === action || allowed === `${action.split(':')[0]}:*`),
      ) &&
      JSON.stringify(statement.Condition ?? {}).match(/aws:Source(Account|Arn)/),
  );

describe('alarms reach a person', () => {
  it('lets CloudWatch use the alarm topic key, only for this account (aws:SourceAccount) and its alarms', () => {
    const topic = resources[alarmTopicId()] as Resource;
    const keyId = targetOf(topic.Properties.KmsMasterKeyId);
    expect(keyId).toBeDefined();
    const [grant, ...more] = keyPolicyOf(keyId as string).filter((statement) =>
      servicesOf(statement).includes('cloudwatch.amazonaws.com'),
    );
    expect(more).toEqual([]);
    expect(grant).toMatchObject({
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: {
          'aws:SourceArn': {
            'Fn::Join': ['', expect.arrayContaining([`:alarm:${STACK_NAME}-*`])],
          },
        },
      },
    });
  });

  it('lets CloudWatch publish to the alarm topic, with the same scope', () => {
    const topicId = alarmTopicId();
    const [grant, ...more] = scopedGrantsTo(resourcePolicyOf(topicId), 'cloudwatch.amazonaws.com', [
      'sns:Publish',
    ]);
    expect(more).toEqual([]);
    expect(grant?.Condition).toMatchObject({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: { 'aws:SourceArn': expect.anything() },
    });
  });

  it('gives every alarm the topic as its action and a name the topic policy accepts', () => {
    const topicId = alarmTopicId();
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(15);
    for (const [id, alarm] of alarms) {
      expect({ id, actions: alarm.Properties.AlarmActions }).toEqual({ id, actions: [{ Ref: topicId }] });
      expect(alarm.Properties.AlarmName).toMatch(new RegExp(`^${STACK_NAME}-`));
    }
  });

  it('alarms on the errors of every Lambda function', () => {
    const functions = ofType('AWS::Lambda::Function').map(([id]) => id);
    expect(functions.length).toBeGreaterThanOrEqual(6);
    const watched = ofType('AWS::CloudWatch::Alarm')
      .filter(
        ([, alarm]) =>
          alarm.Properties.Namespace === 'AWS/Lambda' &&
          alarm.Properties.MetricName === 'Errors' &&
          alarm.Properties.Threshold === 1,
      )
      .flatMap(([, alarm]) => alarm.Properties.Dimensions as { Name: string; Value: unknown }[])
      .filter((dimension) => dimension.Name === 'FunctionName')
      .map((dimension) => targetOf(dimension.Value));
    expect(functions.filter((id) => !watched.includes(id))).toEqual([]);
  });

  it('lets every service that writes to an encrypted queue or topic in, scoped to its source', () => {
    // source: the aws:SourceArn the grant must name (a rule, a topic); undefined: our alarms, by account.
    const writers: {
      destination: string;
      service: string;
      action: string;
      source: unknown;
      alarm?: string;
    }[] = [];
    for (const [ruleId, rule] of ofType('AWS::Events::Rule')) {
      for (const target of rule.Properties.Targets ?? []) {
        for (const queue of [target.Arn, target.DeadLetterConfig?.Arn].map(targetOf)) {
          if (queue && resources[queue]?.Type === 'AWS::SQS::Queue') {
            writers.push({
              destination: queue,
              service: 'events.amazonaws.com',
              action: 'sqs:SendMessage',
              source: { 'Fn::GetAtt': [ruleId, 'Arn'] },
            });
          }
        }
      }
    }
    for (const [, subscription] of ofType('AWS::SNS::Subscription')) {
      for (const queue of [
        subscription.Properties.Endpoint,
        subscription.Properties.RedrivePolicy?.deadLetterTargetArn,
      ].map(targetOf)) {
        if (queue) {
          writers.push({
            destination: queue,
            service: 'sns.amazonaws.com',
            action: 'sqs:SendMessage',
            source: subscription.Properties.TopicArn,
          });
        }
      }
    }
    for (const [alarmId, alarm] of ofType('AWS::CloudWatch::Alarm')) {
      for (const topic of (alarm.Properties.AlarmActions ?? []).map(targetOf)) {
        writers.push({
          destination: topic,
          service: 'cloudwatch.amazonaws.com',
          action: 'sns:Publish',
          source: undefined,
          alarm: alarmId,
        });
      }
    }
    expect(new Set(writers.map((writer) => writer.service))).toEqual(
      new Set(['events.amazonaws.com', 'sns.amazonaws.com', 'cloudwatch.amazonaws.com']),
    );

    for (const writer of writers) {
      const grants = scopedGrantsTo(resourcePolicyOf(writer.destination), writer.service, [
        writer.action,
      ]).filter(
        (statement) =>
          writer.source === undefined ||
          Object.values(statement.Condition as Record<string, Record<string, unknown>>).some(
            (operator) => JSON.stringify(operator['aws:SourceArn']) === JSON.stringify(writer.source),
          ),
      );
      expect({ ...writer, grants: grants.length }).toEqual({ ...writer, grants: 1 });
      const properties = (resources[writer.destination] as Resource).Properties;
      const key = targetOf(properties.KmsMasterKeyId);
      if (key) {
        const keyGrants = scopedGrantsTo(keyPolicyOf(key), writer.service, [
          'kms:Decrypt',
          'kms:GenerateDataKey*',
        ]);
        expect({ ...writer, keyGrants: keyGrants.length }).toEqual({ ...writer, keyGrants: 1 });
      } else {
        // SQS-managed encryption: no key policy to open, every writer can use it.
        expect({ ...writer, sse: properties.SqsManagedSseEnabled }).toEqual({ ...writer, sse: true });
      }
    }
  });

  it('gives every asynchronously invoked function an on-failure queue its role can send to (and Scheduler its dead-letter queue)', () => {
    const roleOfFunction = (functionId: string) =>
      targetOf((resources[functionId] as Resource).Properties.Role) as string;
    const canSend = (roleId: string, queueId: string) =>
      ofType('AWS::IAM::Policy')
        .filter(([, policy]) =>
          (policy.Properties.Roles ?? []).some((ref: unknown) => targetOf(ref) === roleId),
        )
        .flatMap(([, policy]) => statementsOf(policy.Properties.PolicyDocument))
        .some(
          (statement) =>
            statement.Effect === 'Allow' &&
            actionsOf(statement).includes('sqs:SendMessage') &&
            [statement.Resource].flat().some((resource: unknown) => targetOf(resource) === queueId),
        );
    // EventBridge rules and Scheduler invoke Lambda asynchronously: Lambda retries, then drops
    // the event unless the function has an on-failure destination.
    const invokedAsynchronously = new Set(
      [
        ...ofType('AWS::Events::Rule').flatMap(([, rule]) =>
          (rule.Properties.Targets ?? []).map((target: Statement) => target.Arn),
        ),
        ...ofType('AWS::Scheduler::Schedule').map(([, schedule]) => schedule.Properties.Target.Arn),
      ]
        .map(targetOf)
        .filter((id): id is string => id !== undefined && resources[id]?.Type === 'AWS::Lambda::Function'),
    );
    expect(invokedAsynchronously.size).toBeGreaterThanOrEqual(3);
    const onFailure = new Map(
      ofType('AWS::Lambda::EventInvokeConfig').map(([, config]) => [
        targetOf(config.Properties.FunctionName) as string,
        targetOf(config.Properties.DestinationConfig?.OnFailure?.Destination),
      ]),
    );
    for (const fn of invokedAsynchronously) {
      const queue = onFailure.get(fn);
      expect({ fn, queue: queue && resources[queue]?.Type }).toEqual({ fn, queue: 'AWS::SQS::Queue' });
    }
    const writers = [
      ...[...onFailure].map(([fn, queue]) => ({ role: roleOfFunction(fn), queue: queue as string })),
      ...ofType('AWS::Scheduler::Schedule').map(([, schedule]) => ({
        role: targetOf(schedule.Properties.Target.RoleArn) as string,
        queue: targetOf(schedule.Properties.Target.DeadLetterConfig?.Arn) as string,
      })),
    ];
    for (const writer of writers) {
      expect({ ...writer, canSend: canSend(writer.role, writer.queue) }).toEqual({
        ...writer,
        canSend: true,
      });
      // SQS-managed encryption: the role needs no key permission.
      expect((resources[writer.queue] as Resource).Properties.SqsManagedSseEnabled).toBe(true);
    }
    // Each of those queues alarms as soon as a message arrives.
    const alarmedQueues = ofType('AWS::CloudWatch::Alarm')
      .filter(([, alarm]) => alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')
      .flatMap(([, alarm]) =>
        (alarm.Properties.Dimensions as { Value: unknown }[]).map((dimension) => targetOf(dimension.Value)),
      );
    for (const writer of writers) expect(alarmedQueues).toContain(writer.queue);
  });
});
