import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BridgeFunction } from '#lib/constructs/bridge-function';
import {
  type CfnTemplate,
  evaluateIntrinsic,
  type IntrinsicContext,
  readTemplate,
  type SandboxModel,
  synthesizeBridgeTemplate,
  UnresolvedIntrinsicError,
} from '#sandbox/template';
import { cdkJsonContext } from '../support/config.js';

const entry = 'test/fixtures/noop-handler.ts';

/** A small stack with one of everything the sandbox wires, built with the project's BridgeFunction. */
const buildTestStack = () => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'SandboxReaderTest', { env: { region: 'us-east-1' } });
  const table = new TableV2(stack, 'Things', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
    globalSecondaryIndexes: [
      { indexName: 'byOwner', partitionKey: { name: 'owner', type: AttributeType.STRING } },
    ],
  });
  const bus = new EventBus(stack, 'Domain', { eventBusName: 'test-domain' });
  const partnerBus = new EventBus(stack, 'Partner', { eventSourceName: 'aws.partner/saasus.io/abc-1/event' });
  const secret = new Secret(stack, 'SessionKey', {
    generateSecretString: {
      secretStringTemplate: '{}',
      generateStringKey: 'key',
      passwordLength: 40,
      excludePunctuation: true,
    },
  });
  const deadLetters = new Queue(stack, 'DeadLetters');
  const work = new Queue(stack, 'Work', {
    fifo: true,
    contentBasedDeduplication: true,
    visibilityTimeout: Duration.seconds(90),
    deadLetterQueue: { queue: new Queue(stack, 'WorkDeadLetters', { fifo: true }), maxReceiveCount: 4 },
  });
  const legacy = new Queue(stack, 'Legacy');

  const worker = new BridgeFunction(stack, 'Worker', {
    entry,
    description: 'test worker',
    serviceName: 'worker',
    environment: {
      TABLE: table.tableName,
      BUS: bus.eventBusName,
      SECRET_NAME: secret.secretName,
      QUEUE_URL: work.queueUrl,
    },
  });
  worker.configureAsyncInvoke({ retryAttempts: 1, onFailure: new SqsDestination(deadLetters) });
  worker.addEventSource(new SqsEventSource(work, { batchSize: 5, reportBatchItemFailures: true }));
  const other = new BridgeFunction(stack, 'Other', { entry, description: 'other', serviceName: 'other' });

  new Rule(stack, 'MarketplaceRule', {
    eventPattern: { source: ['aws.agreement-marketplace'], detailType: ['License Updated - Manufacturer'] },
    targets: [new LambdaFunction(worker, { retryAttempts: 3, deadLetterQueue: deadLetters })],
  });
  new Rule(stack, 'PartnerRule', {
    eventBus: partnerBus,
    eventPattern: { detailType: ['api_call'] },
    targets: [new SqsQueue(work, { messageGroupId: 'saasus' })],
  });
  new Rule(stack, 'DomainRule', {
    eventBus: bus,
    eventPattern: { source: ['marketplace-bridge'] },
    targets: [new LambdaFunction(other)],
  });
  new Schedule(stack, 'Hourly', {
    schedule: ScheduleExpression.cron({ minute: '5' }),
    target: new LambdaInvoke(other, { input: ScheduleTargetInput.fromObject({ task: 'meter' }) }),
  });
  Topic.fromTopicArn(
    stack,
    'MarketplaceTopic',
    'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc',
  ).addSubscription(new SqsSubscription(legacy));
  const api = new HttpApi(stack, 'Api');
  api.addRoutes({
    path: '/{proxy+}',
    methods: [HttpMethod.ANY],
    integration: new HttpLambdaIntegration('Integration', worker),
  });

  return Template.fromStack(stack).toJSON() as CfnTemplate;
};

let template: CfnTemplate;
let model: SandboxModel;

beforeAll(() => {
  template = buildTestStack();
  model = readTemplate(template);
});

const logicalIdOf = (type: string, prefix: string) => {
  const found = Object.entries(template.Resources ?? {}).find(
    ([logicalId, resource]) => resource.Type === type && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(logicalId),
  );
  if (!found) throw new Error(`no ${type} ${prefix}`);
  return found[0];
};

describe('readTemplate', () => {
  it('finds every function with its entry, handler, timeout and environment', () => {
    const worker = model.functions.find(
      (fn) => fn.logicalId === logicalIdOf('AWS::Lambda::Function', 'Worker'),
    );
    expect(worker).toMatchObject({
      entry,
      handlerExport: 'handler',
      timeoutSeconds: 30,
      memorySize: 512,
      async: {
        maximumRetryAttempts: 1,
        onFailure: { kind: 'queue', logicalId: logicalIdOf('AWS::SQS::Queue', 'DeadLetters') },
      },
    });
    expect(worker?.environment).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'worker',
      TABLE: { Ref: logicalIdOf('AWS::DynamoDB::GlobalTable', 'Things') },
    });
    expect(model.functions.map((fn) => fn.entry).sort()).toEqual([entry, entry]);
  });

  it('reads rules with their bus, pattern and targets', () => {
    const byId = (prefix: string) => model.rules.find((rule) => rule.logicalId.startsWith(prefix));
    expect(byId('MarketplaceRule')).toMatchObject({
      eventBusName: 'default',
      enabled: true,
      eventPattern: {
        source: ['aws.agreement-marketplace'],
        'detail-type': ['License Updated - Manufacturer'],
      },
      targets: [
        {
          destination: { kind: 'function', logicalId: logicalIdOf('AWS::Lambda::Function', 'Worker') },
          retryPolicy: { maximumRetryAttempts: 3 },
          deadLetterQueue: { kind: 'queue', logicalId: logicalIdOf('AWS::SQS::Queue', 'DeadLetters') },
        },
      ],
    });
    expect(byId('PartnerRule')).toMatchObject({
      eventBusName: 'aws.partner/saasus.io/abc-1/event',
      targets: [
        {
          destination: { kind: 'queue', logicalId: logicalIdOf('AWS::SQS::Queue', 'Work') },
          messageGroupId: 'saasus',
        },
      ],
    });
    expect(byId('DomainRule')).toMatchObject({
      eventBusName: 'test-domain',
      targets: [
        { destination: { kind: 'function', logicalId: logicalIdOf('AWS::Lambda::Function', 'Other') } },
      ],
    });
    expect(model.eventBuses.map((bus) => [bus.name, bus.eventSourceName])).toEqual(
      expect.arrayContaining([
        ['test-domain', undefined],
        ['aws.partner/saasus.io/abc-1/event', 'aws.partner/saasus.io/abc-1/event'],
      ]),
    );
  });

  it('reads schedules with their expression and target function', () => {
    expect(model.schedules).toHaveLength(1);
    expect(model.schedules[0]).toMatchObject({
      expression: 'cron(5 * * * ? *)',
      timeZone: 'Etc/UTC',
      enabled: true,
      target: {
        destination: { kind: 'function', logicalId: logicalIdOf('AWS::Lambda::Function', 'Other') },
        input: JSON.stringify({ task: 'meter' }),
      },
    });
  });

  it('reads SQS event sources, queues and their redrive policies', () => {
    expect(model.eventSourceMappings).toEqual([
      expect.objectContaining({
        source: { kind: 'queue', logicalId: logicalIdOf('AWS::SQS::Queue', 'Work') },
        functionLogicalId: logicalIdOf('AWS::Lambda::Function', 'Worker'),
        batchSize: 5,
        reportBatchItemFailures: true,
        enabled: true,
      }),
    ]);
    const work = model.queues.find((queue) => queue.logicalId === logicalIdOf('AWS::SQS::Queue', 'Work'));
    expect(work).toMatchObject({
      fifo: true,
      contentBasedDeduplication: true,
      visibilityTimeoutSeconds: 90,
      redrive: {
        deadLetterQueue: { kind: 'queue', logicalId: logicalIdOf('AWS::SQS::Queue', 'WorkDeadLetters') },
        maxReceiveCount: 4,
      },
    });
  });

  it('reads SNS subscriptions of external topics, HTTP routes, tables and secrets', () => {
    expect(model.subscriptions).toEqual([
      expect.objectContaining({
        topic: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc',
        protocol: 'sqs',
        destination: { kind: 'queue', logicalId: logicalIdOf('AWS::SQS::Queue', 'Legacy') },
      }),
    ]);
    expect(model.httpApis).toEqual([
      expect.objectContaining({
        stageNames: ['$default'],
        routes: [
          expect.objectContaining({
            method: 'ANY',
            path: '/{proxy+}',
            functionLogicalId: logicalIdOf('AWS::Lambda::Function', 'Worker'),
            payloadFormatVersion: '2.0',
          }),
        ],
      }),
    ]);
    expect(model.tables).toEqual([
      expect.objectContaining({ partitionKey: 'pk', sortKey: 'sk', indexNames: ['byOwner'] }),
    ]);
    expect(model.secrets).toEqual([
      expect.objectContaining({
        generate: expect.objectContaining({ length: 40, template: '{}', key: 'key' }),
      }),
    ]);
  });
});

/** `#{` stands for CloudFormation's `\u0024{` in Fn::Sub strings (keeps the linter from taking them for template literals). */
const sub = (text: string) => text.replaceAll('#{', '\u0024{');

describe('evaluateIntrinsic', () => {
  const context: IntrinsicContext = {
    region: 'us-east-1',
    account: '123456789012',
    stackName: 'SandboxReaderTest',
    ref: (logicalId) =>
      logicalId.startsWith('SessionKey')
        ? 'arn:aws:secretsmanager:us-east-1:123456789012:secret:SessionKey1234-AbCdEfGhIjKl-Xy12Zq'
        : logicalId.startsWith('Things')
          ? 'local-Things'
          : undefined,
    getAtt: (logicalId, attribute) =>
      attribute === 'QueueUrl' ? `http://127.0.0.1/${logicalId}` : undefined,
  };

  it('resolves the environment of the test stack to local values', () => {
    const worker = model.functions.find((fn) => fn.logicalId.startsWith('Worker'));
    const environment = Object.fromEntries(
      Object.entries(worker?.environment ?? {})
        .filter(([name]) => name === 'TABLE' || name === 'SECRET_NAME')
        .map(([name, value]) => [name, evaluateIntrinsic(value, context)]),
    );
    // secretName is derived from the ARN: the name without the 6-character suffix.
    expect(environment).toEqual({ TABLE: 'local-Things', SECRET_NAME: 'SessionKey1234-AbCdEfGhIjKl' });
  });

  it('handles Fn::Sub, pseudo parameters and reports what it cannot resolve', () => {
    expect(
      evaluateIntrinsic(
        { 'Fn::Sub': sub('arn:#{AWS::Partition}:x:#{AWS::Region}:#{AWS::AccountId}:#{Things}') },
        context,
      ),
    ).toBe('arn:aws:x:us-east-1:123456789012:local-Things');
    expect(evaluateIntrinsic({ 'Fn::Sub': [sub('#{A}-#{!Literal}'), { A: 'a' }] }, context)).toBe(
      sub('a-#{Literal}'),
    );
    expect(() => evaluateIntrinsic({ Ref: 'Nowhere' }, context)).toThrow(UnresolvedIntrinsicError);
    expect(() => evaluateIntrinsic({ 'Fn::ImportValue': 'x' }, context)).toThrow(/not supported/);
  });
});

describe('synthesizeBridgeTemplate', () => {
  it('synthesizes the real stack in-process and finds the sign-up function behind its HTTP API', async () => {
    const result = await synthesizeBridgeTemplate({ configFile: 'config/example.json' });
    expect(result.stackName).toBe('MarketplaceBridge-dev');
    const real = readTemplate(result.template);
    const signUp = real.functions.find((fn) => fn.entry === 'functions/sign-up/handler.ts');
    expect(signUp).toBeDefined();
    expect(real.httpApis.flatMap((api) => api.routes.map((route) => route.functionLogicalId))).toContain(
      signUp?.logicalId,
    );
    expect(real.tables.map((table) => table.partitionKey).sort()).toEqual([
      'claimKey',
      'id',
      'licenseKey',
      'licenseKey',
    ]);
    expect(real.eventBuses.map((bus) => bus.name)).toContain('marketplace-bridge-dev');
  });
});
