import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeFunction } from '#lib/constructs/bridge-function';
import { type Sandbox, startSandbox } from '#sandbox/index';
import type { CfnTemplate } from '#sandbox/template';
import { parseDeploymentConfig } from '#shared/config';
import { cdkJsonContext, exampleConfigInput, onlyProduct } from '../support/config.js';

/**
 * The sandbox runs a small stack of probe functions (sandbox/testing/probe-handler.ts) wired with a
 * rule on the default bus, a rule on a custom bus, a schedule, an SQS event source with a
 * dead-letter queue and an HTTP API, and checks each path the way AWS would run it.
 */

const entry = 'sandbox/testing/probe-handler.ts';
const legacyTopicArn = 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc';

const buildStack = () => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'SandboxWiring', { env: { region: 'us-east-1' } });
  const table = new TableV2(stack, 'Things', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const bus = new EventBus(stack, 'Domain', { eventBusName: 'probe-domain' });
  const secret = new Secret(stack, 'SessionKey', {
    generateSecretString: {
      secretStringTemplate: '{}',
      generateStringKey: 'key',
      passwordLength: 40,
      excludePunctuation: true,
    },
  });
  const deadLetters = new Queue(stack, 'WorkDeadLetters');
  const work = new Queue(stack, 'Work', { deadLetterQueue: { queue: deadLetters, maxReceiveCount: 2 } });
  Topic.fromTopicArn(stack, 'MarketplaceTopic', legacyTopicArn).addSubscription(
    new SqsSubscription(new Queue(stack, 'Legacy')),
  );
  const probe = (id: string, environment: Record<string, string> = {}) =>
    new BridgeFunction(stack, id, { entry, description: id, serviceName: id.toLowerCase(), environment });

  const listener = probe('Listener', {
    TABLE: table.tableName,
    QUEUE_URL: work.queueUrl,
    SECRET_NAME: secret.secretName,
    BUS: bus.eventBusName,
  });
  listener.configureAsyncInvoke({ retryAttempts: 1 });
  const meter = probe('Meter');
  const worker = probe('Worker');
  worker.addEventSource(new SqsEventSource(work, { reportBatchItemFailures: true }));
  const web = probe('Web');

  new Rule(stack, 'MarketplaceRule', {
    eventPattern: { source: ['aws.agreement-marketplace'], detailType: [{ prefix: 'License' }] as never },
    targets: [new LambdaFunction(listener)],
  });
  new Rule(stack, 'DomainRule', {
    eventBus: bus,
    eventPattern: { source: ['probe'] },
    targets: [new LambdaFunction(listener)],
  });
  new Schedule(stack, 'Hourly', {
    schedule: ScheduleExpression.cron({ minute: '5' }),
    target: new LambdaInvoke(meter, {
      input: ScheduleTargetInput.fromObject({ task: 'meter', scheduledTime: ContextAttribute.scheduledTime }),
    }),
  });
  const api = new HttpApi(stack, 'Api');
  const integration = new HttpLambdaIntegration('Integration', web);
  api.addRoutes({ path: '/', methods: [HttpMethod.ANY], integration });
  api.addRoutes({ path: '/{proxy+}', methods: [HttpMethod.ANY], integration });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
};

let sandbox: Sandbox;
const logicalId = (prefix: string) => {
  const found = sandbox.model.functions.find((fn) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(fn.logicalId));
  if (!found) throw new Error(`no function ${prefix}`);
  return found.logicalId;
};
const host = (prefix: string) => {
  const fn = sandbox.functions.get(logicalId(prefix));
  if (!fn) throw new Error(`no function ${prefix}`);
  return fn.host;
};
const invocationsOf = (prefix: string) =>
  sandbox.invocations().filter((record) => record.functionLogicalId === logicalId(prefix));
const resultOf = (outcome: Awaited<ReturnType<ReturnType<typeof host>['invoke']>>) => {
  if (!outcome.ok) throw new Error(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  return outcome.result as { now: string; env: Record<string, string | undefined>; [key: string]: unknown };
};

const marketplaceEvent = (
  detail: Record<string, unknown>,
  detailType = 'License Updated - Manufacturer',
) => ({
  version: '0',
  id: crypto.randomUUID(),
  'detail-type': detailType,
  source: 'aws.agreement-marketplace',
  account: '123456789012',
  time: '2026-06-01T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    synthesis: {
      template: buildStack(),
      stackName: 'SandboxWiring',
      config: parseDeploymentConfig({
        ...exampleConfigInput(),
        legacySns: { subscriptionTopicArn: legacyTopicArn },
      }),
    },
    clock: { start: new Date('2026-06-01T10:00:00Z'), frozen: true },

    handlerLogs: false,
    log: () => {},
  });
});

afterAll(async () => {
  await sandbox?.close();
});

describe('sandbox wiring', () => {
  it('gives each function the template environment resolved to local resources', async () => {
    const seen = resultOf(await host('Listener').invoke({}, 'test'));
    expect(seen.now).toBe('2026-06-01T10:00:00.000Z');
    expect(seen.env.TABLE).toMatch(/^SandboxWiring-Things[0-9A-F]{8}$/);
    expect(seen.env.QUEUE_URL).toBe(
      sandbox.sqs.queues().find((queue) => /-Work[0-9A-F]{8}$/.test(queue.name))?.url,
    );
    expect(seen.env.SECRET_NAME).toMatch(/^SessionKey[0-9A-F]{8}-[A-Za-z0-9]{12}$/);
    expect(seen.env.BUS).toBe('probe-domain');
    expect(seen.env.POWERTOOLS_SERVICE_NAME).toBe('listener');
    expect(seen.env.PUBLIC_BASE_PATH).toBeUndefined();
    const meter = resultOf(await host('Meter').invoke({}, 'test'));
    expect(meter.env.POWERTOOLS_SERVICE_NAME).toBe('meter');
  });

  it('seeds the secrets the stack creates, readable through the SDK', async () => {
    const { secret } = resultOf(
      await host('Listener').invoke({ action: 'read-secret' }, 'test'),
    ) as unknown as {
      secret: { key: string };
    };
    expect(secret.key).toMatch(/^[A-Za-z0-9]{40}$/);
  });

  it('routes default-bus events through the rule patterns to the target function', async () => {
    const before = invocationsOf('Listener').length;
    sandbox.publish(marketplaceEvent({ n: 1 }), 'default');
    sandbox.publish(marketplaceEvent({ n: 2 }, 'Purchase Agreement Created - Proposer'), 'default');
    sandbox.publish({ ...marketplaceEvent({ n: 3 }), source: 'aws.other' }, 'default');
    await sandbox.settle();
    const delivered = invocationsOf('Listener').slice(before);
    expect(delivered.map((record) => [record.trigger, record.ok])).toEqual([
      [expect.stringMatching(/^rule MarketplaceRule/), true],
    ]);
    expect(delivered[0]?.result).toMatchObject({ event: { detail: { n: 1 } } });
  });

  it('routes events a handler puts on the domain bus (EventBridge emulator) through the bus rules', async () => {
    const before = invocationsOf('Listener').length;
    const sent = resultOf(await host('Listener').invoke({ action: 'put-event' }, 'test'));
    expect(sent.failed).toBe(0);
    await sandbox.settle();
    const routed = invocationsOf('Listener')
      .slice(before)
      .filter((record) => record.trigger.startsWith('rule DomainRule'));
    expect(routed).toHaveLength(1);
    expect(routed[0]?.result).toMatchObject({ event: { 'detail-type': 'Probe Said Hello' } });
    expect(
      sandbox.emulators.eventBridge.events('probe-domain').map((event) => event['detail-type']),
    ).toContain('Probe Said Hello');
  });

  it('retries failed asynchronous invocations, dead-letters them, and redrives on request', async () => {
    const before = invocationsOf('Listener').length;
    sandbox.publish(marketplaceEvent({ fail: true }), 'default');
    await sandbox.settle();
    expect(
      invocationsOf('Listener')
        .slice(before)
        .map((record) => record.ok),
    ).toEqual([false]);
    // Lambda retries one minute later, in simulated time.
    expect(sandbox.timers.pending()).toEqual([
      expect.objectContaining({ description: expect.stringMatching(/^retry 1 of rule MarketplaceRule/) }),
    ]);
    await sandbox.advanceClock(60_000);
    await sandbox.settle();
    const attempts = invocationsOf('Listener').slice(before);
    expect(attempts.map((record) => record.ok)).toEqual([false, false]);
    expect(attempts[1]?.trigger).toMatch(/\(retry 1\)$/);
    expect(sandbox.timers.pending()).toEqual([]);
    const [letter] = sandbox.deadLetters.list().filter((entry) => entry.origin === 'rule');
    expect(letter).toMatchObject({
      source: expect.stringMatching(/^MarketplaceRule/),
      target: expect.stringMatching(/^SandboxWiring-Listener/),
      attempts: 2,
      error: { errorMessage: 'The probe was asked to fail' },
    });
    await sandbox.deadLetters.redrive(letter?.id ?? '');
    await sandbox.advanceClock(60_000);
    await sandbox.settle();
    expect(invocationsOf('Listener').slice(before)).toHaveLength(4);
    expect(sandbox.deadLetters.list().filter((entry) => entry.origin === 'rule')).toHaveLength(1);
  });

  it('feeds queue messages to the event source function, retrying and dead-lettering reported failures', async () => {
    const sent = resultOf(await host('Listener').invoke({ action: 'sqs-send', body_: 'all good' }, 'test'));
    expect(sent.messageId).toEqual(expect.any(String));
    const work = sandbox.sqs.queues().find((queue) => /-Work[0-9A-F]{8}$/.test(queue.name));
    const deadLetterQueue = sandbox.sqs.queues().find((queue) => queue.name.includes('WorkDeadLetters'));
    if (!work || !deadLetterQueue) throw new Error('queues missing');
    sandbox.sqs.send(work.logicalId, { body: 'please fail' });
    await sandbox.settle();
    // The failed message is visible again after the queue's 30-second visibility timeout.
    expect(sandbox.sqs.messages(work.logicalId).map((message) => message.receiveCount)).toEqual([1]);
    await sandbox.advanceClock(60_000);
    await sandbox.settle();
    const batches = invocationsOf('Worker');
    expect(batches.length).toBeGreaterThanOrEqual(2);
    expect(batches.every((record) => record.trigger === `sqs ${work.name}`)).toBe(true);
    expect(sandbox.sqs.messages(work.logicalId)).toHaveLength(0);
    expect(sandbox.sqs.messages(deadLetterQueue.logicalId).map((message) => message.body)).toEqual([
      'please fail',
    ]);
    expect(sandbox.deadLetters.list().filter((entry) => entry.origin === 'queue')).toEqual([
      expect.objectContaining({
        source: work.name,
        target: deadLetterQueue.name,
        payload: 'please fail',
        attempts: 2,
      }),
    ]);
  });

  it('lists a message a consumer sent to its dead-letter queue itself, with the reason its attributes carry', async () => {
    const work = sandbox.sqs.queues().find((queue) => /-Work[0-9A-F]{8}$/.test(queue.name));
    const deadLetterQueue = sandbox.sqs.queues().find((queue) => queue.name.includes('WorkDeadLetters'));
    if (!work || !deadLetterQueue) throw new Error('queues missing');
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: sandbox.sqsUrl,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      await client.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueue.url,
          MessageBody: 'poison',
          MessageAttributes: {
            reason: { DataType: 'String', StringValue: 'marketplace-sns event rejected: not JSON' },
            errorType: { DataType: 'String', StringValue: 'EventParseError' },
          },
        }),
      );
    } finally {
      client.destroy();
    }
    const letters = sandbox.deadLetters.list().filter((entry) => entry.payload === 'poison');
    expect(letters).toEqual([
      expect.objectContaining({
        origin: 'queue',
        source: work.name,
        target: deadLetterQueue.name,
        error: { errorType: 'EventParseError', errorMessage: 'marketplace-sns event rejected: not JSON' },
      }),
    ]);
    // Redriving moves it back to the queue its consumer reads, which processes it.
    const batches = invocationsOf('Worker').length;
    await sandbox.deadLetters.redrive(letters[0]?.id ?? '');
    await sandbox.settle();
    expect(sandbox.sqs.messages(deadLetterQueue.logicalId).map((message) => message.body)).not.toContain(
      'poison',
    );
    expect(invocationsOf('Worker')).toHaveLength(batches + 1);
    expect(sandbox.sqs.messages(work.logicalId)).toEqual([]);
  });

  it('fires schedules on the simulated clock at their scheduled time', async () => {
    const start = sandbox.clock.nowMs();
    expect(start).toBeLessThan(Date.parse('2026-06-01T10:05:00Z'));
    const fired = await sandbox.advanceClock(3_600_000);
    expect(fired).toEqual([
      { job: expect.stringMatching(/^Hourly/), scheduledTime: '2026-06-01T10:05:00.000Z' },
    ]);
    expect(sandbox.clock.nowMs()).toBe(start + 3_600_000);
    const [run] = invocationsOf('Meter').filter((record) => record.trigger.startsWith('schedule'));
    expect(run?.result).toMatchObject({
      now: '2026-06-01T10:05:00.000Z',
      event: { task: 'meter', scheduledTime: '2026-06-01T10:05:00Z' },
    });
  });

  it('serves the HTTP API under the fulfillment prefix as API Gateway payload v2', async () => {
    const response = await fetch(`${sandbox.url}/fulfillment/register?x=1&y=2`, {
      method: 'POST',
      headers: { cookie: 'a=1; b=2', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'field=value',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-probe')).toBe('yes');
    expect(response.headers.getSetCookie()).toEqual(['probe=1; Path=/', 'second=2; Path=/']);
    expect(await response.json()).toMatchObject({
      method: 'POST',
      rawPath: '/fulfillment/register',
      rawQueryString: 'x=1&y=2',
      cookies: ['a=1', 'b=2'],
      contentType: 'application/x-www-form-urlencoded',
      body: 'field=value',
      isBase64Encoded: false,
      env: { PUBLIC_BASE_PATH: '/fulfillment' },
    });
    const root = await fetch(`${sandbox.url}/fulfillment/`);
    expect(((await root.json()) as { rawPath: string }).rawPath).toBe('/fulfillment/');
  });

  it('simulates a buyer: a license, the purchase events, later events and legacy SNS notifications', async () => {
    const before = invocationsOf('Listener').length;
    const { licenseArn, token } = sandbox.subscribe({
      customerAwsAccountId: '111122223333',
      dimension: 'pro',
    });
    expect(token).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(sandbox.emulators.marketplace.license(licenseArn)).toMatchObject({
      customerAwsAccountId: '111122223333',
      status: 'active',
    });
    sandbox.emitMarketplaceEvent(licenseArn, 'license-deprovisioned');
    await sandbox.settle();
    expect(sandbox.emulators.marketplace.license(licenseArn)?.status).toBe('ended');
    // Agreement Created matches no rule of this stack; the license events do (in either order, as
    // EventBridge does not promise one).
    const delivered = invocationsOf('Listener')
      .slice(before)
      .map((record) => record.result);
    expect(delivered).toHaveLength(2);
    expect(delivered).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: expect.objectContaining({
            'detail-type': 'License Updated - Manufacturer',
            detail: expect.objectContaining({
              license: { arn: licenseArn },
              acceptor: { accountId: '111122223333' },
            }),
          }),
        }),
        expect.objectContaining({
          event: expect.objectContaining({ 'detail-type': 'License Deprovisioned - Manufacturer' }),
        }),
      ]),
    );
    expect(sandbox.publishLegacySns(licenseArn, 'subscribe-success')).toBe(1);
    const legacy = sandbox.sqs.queues().find((queue) => /-Legacy[0-9A-F]{8}$/.test(queue.name));
    const [message] = sandbox.sqs.messages(legacy?.logicalId ?? '');
    const envelope = JSON.parse(message?.body ?? '{}') as { Type: string; TopicArn: string; Message: string };
    expect(envelope).toMatchObject({ Type: 'Notification', TopicArn: legacyTopicArn });
    expect(JSON.parse(envelope.Message)).toEqual({
      action: 'subscribe-success',
      'customer-identifier': sandbox.emulators.marketplace.license(licenseArn)?.customerIdentifier,
      'product-code': onlyProduct(sandbox.config).productCode,
      'offer-identifier': sandbox.agreements.get(licenseArn)?.offerId,
      isFreeTrialTermPresent: 'false',
    });
  });

  it('shows the test stack on the dashboard', async () => {
    const page = await (await fetch(`${sandbox.url}/dashboard`)).text();
    expect(page).toContain('sandbox/testing/probe-handler.ts');
    expect(page).toContain('cron(5 * * * ? *)');
    expect(page).toContain('MarketplaceRule');
  });
});
