import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Alarms } from '#lib/constructs/alarms';
import { Metering } from '#lib/constructs/metering';
import { State } from '#lib/constructs/state';
import { MarketplaceBridgeStack } from '#lib/marketplace-bridge-stack';
import { parseDeploymentConfig } from '#shared/config';
import { parseMeteringMessage } from '#shared/metering/fanout';
import { meteringMetrics } from '#shared/metering/metrics';
import { cdkJsonContext, exampleConfig, exampleConfigInput } from '../support/config.js';

// cdk.json's context (feature flags) as `cdk synth` sees it; bundling is skipped for speed.
const app = () => new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });

const synthesize = () =>
  Template.fromStack(
    new MarketplaceBridgeStack(app(), 'Test', { config: exampleConfig(), env: { region: 'us-east-1' } }),
  );

/** Only the metering construct, with chosen props. */
const meteringOnly = (props: { workers?: number; scheduleMinute?: number } = {}) => {
  const input = exampleConfigInput();
  const config = parseDeploymentConfig({
    ...input,
    metering: {
      ...input.metering,
      ...(props.scheduleMinute ? { scheduleMinute: props.scheduleMinute } : {}),
    },
  });
  const stack = new Stack(app(), 'MeteringOnly', { env: { region: 'us-east-1' } });
  const state = new State(stack, 'State', { stage: config.stage });
  const alarms = new Alarms(stack, 'Alarms');
  new Metering(stack, 'Metering', {
    config,
    state,
    alarms,
    ...(props.workers === undefined ? {} : { workers: props.workers }),
  });
  return Template.fromStack(stack);
};

type Resource = { Properties: Record<string, unknown> };
const logicalIdOf = (template: Template, type: string, match: (resource: Resource) => boolean): string => {
  const found = Object.entries(template.findResources(type) as Record<string, Resource>).filter(
    ([, resource]) => match(resource),
  );
  expect(found).toHaveLength(1);
  return (found[0] as [string, Resource])[0];
};

const workerId = (template: Template) =>
  logicalIdOf(template, 'AWS::Lambda::Function', (fn) =>
    String(fn.Properties.Description).startsWith('Meters licenses'),
  );
const scheduleFunctionId = (template: Template) =>
  logicalIdOf(template, 'AWS::Lambda::Function', (fn) =>
    String(fn.Properties.Description).startsWith('Hourly metering fan-out'),
  );

/** The DynamoDB actions a role's policies allow, sorted and unique. */
const dynamoActions = (template: Template, roleId: string): string[] => {
  const statements = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>)
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap(
      (policy) =>
        (policy.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement,
    );
  return [
    ...new Set(
      statements
        .flatMap((statement) => [statement.Action].flat())
        .filter((action) => action.startsWith('dynamodb:')),
    ),
  ].sort();
};

describe('metering infrastructure', () => {
  const template = synthesize();

  it('runs the fan-out a few minutes past every hour, on time, with retries and a dead-letter queue', () => {
    const schedules = template.findResources('AWS::Scheduler::Schedule');
    expect(Object.keys(schedules)).toHaveLength(1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(5 * * * ? *)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [scheduleFunctionId(template), 'Arn'] },
        Input: JSON.stringify({ scheduledTime: '<aws.scheduler.scheduled-time>' }),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 1800 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MeteringScheduleDeadLetters'), 'Arn'] },
        },
      },
    });
  });

  it('follows metering.scheduleMinute', () => {
    meteringOnly({ scheduleMinute: 17 }).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(17 * * * ? *)',
    });
  });

  it('queues work with a dead-letter queue that keeps messages 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MeteringWorkDeadLetters'), 'Arn'] },
        maxReceiveCount: 5,
      },
      VisibilityTimeout: 720,
    });
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const metering = Object.entries(queues).filter(([id]) => id.startsWith('Metering'));
    expect(metering.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'MeteringScheduleDeadLetters',
      'MeteringStartDeadLetters',
      'MeteringWorkDeadLetters',
      'MeteringWorkQueue',
    ]);
    for (const [, queue] of metering) {
      expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    }
  });

  it('meters a license as soon as it is activated or its tenant provisioned, to capture the usage baseline', () => {
    const rules = Object.entries(
      template.findResources('AWS::Events::Rule') as Record<string, Resource>,
    ).filter(([id]) => id.startsWith('MeteringStartRule'));
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] as [string, Resource];
    expect(rule.Properties.EventPattern).toEqual({
      source: ['marketplace-bridge'],
      'detail-type': ['License Activated', 'License Reinstated', 'Tenant Provisioned'],
    });
    expect((rule.Properties.EventBusName as { Ref: string }).Ref).toMatch(/^StateDomainEvents/);
    const [target] = rule.Properties.Targets as {
      Arn: { 'Fn::GetAtt': [string, string] };
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [string, string] } };
      RetryPolicy: Record<string, number>;
    }[];
    expect(target?.Arn['Fn::GetAtt'][0]).toMatch(/^MeteringWorkQueue/);
    // The message is a `meter` message for the one license, as the worker parses it.
    let message = target?.InputTransformer.InputTemplate ?? '';
    for (const [placeholder, path] of Object.entries(target?.InputTransformer.InputPathsMap ?? {})) {
      const value = { '$.detail.licenseKey': 'LICENSE', '$.time': '2026-11-22T09:20:00Z' }[path];
      message = message.replace(`<${placeholder}>`, JSON.stringify(value));
    }
    expect(parseMeteringMessage(message)).toEqual({
      kind: 'meter',
      licenseKeys: ['LICENSE'],
      runHour: '2026-11-22T09:20:00Z',
    });
    const deadLetters = target?.DeadLetterConfig.Arn['Fn::GetAtt'][0] ?? '';
    expect(deadLetters).toMatch(/^MeteringStartDeadLetters/);
    expect(target?.RetryPolicy).toEqual({ MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 3600 });
    const alarmed = Object.values(
      template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>,
    ).filter((alarm) => JSON.stringify(alarm.Properties.Dimensions).includes(deadLetters));
    expect(alarmed).toHaveLength(1);
  });

  it('bounds the workers and tells each how many share the rate limit', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: workerId(template) },
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 5,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Meters licenses'),
      Environment: {
        Variables: Match.objectLike({ METERING_WORKERS: '5', POWERTOOLS_SERVICE_NAME: 'metering' }),
      },
    });
    const custom = meteringOnly({ workers: 3 });
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 3 },
    });
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ METERING_WORKERS: '3' }) },
    });
    expect(() => meteringOnly({ workers: 1 })).toThrow(/workers/);
  });

  it('alarms on dead letters, expired, rejected and duplicate records, lag above two hours and function errors', () => {
    const alarms = Object.values(
      template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>,
    );
    const onMetric = (name: string) =>
      alarms.filter(
        (alarm) =>
          alarm.Properties.MetricName === name &&
          alarm.Properties.Namespace === 'MarketplaceBridge' &&
          JSON.stringify(alarm.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'service', Value: 'metering' }]),
      );
    for (const name of [meteringMetrics.expired, meteringMetrics.rejected, meteringMetrics.duplicate]) {
      expect(onMetric(name)).toEqual([
        expect.objectContaining({
          Properties: expect.objectContaining({
            Statistic: 'Sum',
            Threshold: 1,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          }),
        }),
      ]);
    }
    expect(onMetric(meteringMetrics.oldestUnreportedHourLag)).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({ Statistic: 'Maximum', Threshold: 7200, Period: 3600 }),
      }),
    ]);
    const deadLetterAlarms = alarms.filter(
      (alarm) =>
        alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        JSON.stringify(alarm.Properties.Dimensions).includes('MeteringWorkDeadLetters') !==
          JSON.stringify(alarm.Properties.Dimensions).includes('MeteringScheduleDeadLetters'),
    );
    expect(deadLetterAlarms).toHaveLength(2);
    const errorAlarms = alarms.filter((alarm) => alarm.Properties.MetricName === 'Errors');
    const functions = errorAlarms.map((alarm) => JSON.stringify(alarm.Properties.Dimensions));
    expect(functions.some((dimensions) => dimensions.includes(workerId(template)))).toBe(true);
    expect(functions.some((dimensions) => dimensions.includes(scheduleFunctionId(template)))).toBe(true);
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', () => true);
    for (const alarm of [...deadLetterAlarms, ...errorAlarms, ...onMetric(meteringMetrics.expired)]) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    }
  });

  it('alarms when no fan-out completed for two clock hours, counting an hour without data as a failure', () => {
    const heartbeats = Object.values(
      template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>,
    ).filter((alarm) => alarm.Properties.MetricName === 'FanOutCompleted');
    expect(heartbeats).toHaveLength(1);
    const [heartbeat] = heartbeats as [Resource];
    expect(heartbeat.Properties).toMatchObject({
      Namespace: 'MarketplaceBridge',
      Dimensions: [{ Name: 'service', Value: 'metering' }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      // A disabled or failing schedule emits nothing: missing data must alarm.
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: logicalIdOf(template, 'AWS::SNS::Topic', () => true) }],
    });
  });

  it('keeps a failed asynchronous fan-out run in the schedule dead-letter queue instead of dropping it', () => {
    const configs = Object.values(
      template.findResources('AWS::Lambda::EventInvokeConfig') as Record<string, Resource>,
    ).filter(
      (config) =>
        JSON.stringify(config.Properties.FunctionName) ===
        JSON.stringify({ Ref: scheduleFunctionId(template) }),
    );
    expect(configs).toHaveLength(1);
    const [config] = configs as [Resource];
    expect(config.Properties).toMatchObject({
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [expect.stringMatching(/^MeteringScheduleDeadLetters/), 'Arn'] },
        },
      },
    });
    // Retries of a run that timed out after 10 minutes end before the next hourly run.
    expect(config.Properties.MaximumEventAgeInSeconds).toBeGreaterThanOrEqual(35 * 60);
    expect(config.Properties.MaximumEventAgeInSeconds).toBeLessThan(60 * 60);
  });

  it('grants BatchMeterUsage to the worker role only', () => {
    const policies = template.findResources('AWS::IAM::Policy') as Record<string, Resource>;
    const granting = Object.values(policies).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('aws-marketplace:BatchMeterUsage'),
    );
    expect(granting).toHaveLength(1);
    const [policy] = granting;
    if (!policy) throw new Error('no policy grants BatchMeterUsage');
    const workerRole = (template.findResources('AWS::Lambda::Function')[workerId(template)] as Resource)
      .Properties.Role as { 'Fn::GetAtt': [string, string] };
    expect(policy.Properties.Roles).toEqual([{ Ref: workerRole['Fn::GetAtt'][0] }]);
    const statements = (policy.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> })
      .Statement;
    expect(
      statements.filter((statement) => JSON.stringify(statement.Action).includes('aws-marketplace')),
    ).toEqual([{ Action: 'aws-marketplace:BatchMeterUsage', Effect: 'Allow', Resource: '*' }]);
    // No managed policy or inline role policy grants it either.
    for (const type of ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Role']) {
      expect(JSON.stringify(template.findResources(type))).not.toContain('BatchMeterUsage');
    }
  });

  it('lets the worker send malformed messages to its dead-letter queue, named in its environment, and nothing more', () => {
    const [deadLetters, ...others] = Object.keys(template.findResources('AWS::SQS::Queue')).filter((id) =>
      id.startsWith('MeteringWorkDeadLetters'),
    );
    expect(others).toEqual([]);
    const worker = template.findResources('AWS::Lambda::Function')[workerId(template)] as Resource;
    expect(
      (worker.Properties.Environment as { Variables: Record<string, unknown> }).Variables
        .DEAD_LETTER_QUEUE_URL,
    ).toEqual({ Ref: deadLetters });
    const workerRole = (worker.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>)
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: workerRole }]))
      .flatMap(
        (policy) =>
          (
            policy.Properties.PolicyDocument as {
              Statement: Array<{ Action: string | string[]; Resource: unknown }>;
            }
          ).Statement,
      );
    expect(
      statements
        .filter((statement) => JSON.stringify(statement.Resource).includes(`"${deadLetters}"`))
        .flatMap((statement) => [statement.Action].flat()),
    ).toEqual(['sqs:SendMessage']);
    // SendMessage on that queue only (the work queue is consumed, never sent to by the worker).
    expect(
      statements
        .filter((statement) => [statement.Action].flat().includes('sqs:SendMessage'))
        .map((statement) => statement.Resource),
    ).toEqual([{ 'Fn::GetAtt': [deadLetters, 'Arn'] }]);
  });

  it('lets the fan-out read licenses, work the ledger and queue messages, and nothing on Marketplace', () => {
    const roleOf = (id: string) =>
      (
        (template.findResources('AWS::Lambda::Function')[id] as Resource).Properties.Role as {
          'Fn::GetAtt': [string, string];
        }
      )['Fn::GetAtt'][0];
    const scheduleRole = roleOf(scheduleFunctionId(template));
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy') as Record<string, Resource>,
    ).filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: scheduleRole }]));
    const document = JSON.stringify(policies.map((policy) => policy.Properties.PolicyDocument));
    expect(document).toContain('sqs:SendMessage');
    expect(document).not.toContain('aws-marketplace');
    expect(document).not.toContain('secretsmanager');
    // The fan-out reads the sparse meterable index (Scan only for its one-time backfill).
    expect(dynamoActions(template, scheduleRole)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
    ]);
    expect(document).toContain('/index/meterable');
    expect(dynamoActions(template, roleOf(workerId(template)))).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
  });
});
