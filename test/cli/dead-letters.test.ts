import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '#cli/commands/index';
import { onlyProduct } from '../support/config.js';
import { type CliWorld, startCliWorld } from './support.js';

/** The tool against the sandbox: help, exit codes, status, and the dead-letter queues end to end. */

let world: CliWorld;

beforeAll(async () => {
  world = await startCliWorld();
});

afterAll(async () => {
  await world?.close();
});

const queueOf = (name: string) => {
  const output = world.sandbox.outputs[`DeadLetters${name}`];
  if (!output) throw new Error(`no DeadLetters${name} output`);
  const url = (JSON.parse(output) as { url: string }).url;
  const queue = world.sandbox.sqs.queues().find((candidate) => candidate.url === url);
  if (!queue) throw new Error(`no local queue at ${url}`);
  return queue;
};

const meteringQueue = () => {
  const url = world.sandbox.outputs.MeteringQueueUrl;
  const queue = world.sandbox.sqs.queues().find((candidate) => candidate.url === url);
  if (!queue) throw new Error('no metering queue');
  return queue;
};

describe('command line', () => {
  it('answers --help for every command with its usage', async () => {
    const overview = await world.run('--help');
    expect(overview.code).toBe(0);
    for (const command of commands) {
      expect(overview.stdout).toContain(command.name);
      const help = await world.run(command.name, '--help');
      expect(help.code, command.name).toBe(0);
      expect(help.stdout).toContain(`Usage: marketplace-bridge ${command.name}`);
      expect(help.stdout).toContain('--sandbox');
    }
  });

  it('exits 2 on a wrong command line and says why', async () => {
    const unknown = await world.run('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
    const option = await world.run('status', '--verbose');
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option '--verbose'/);
    const neither = await world.run('redrive');
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('--all, or --message ID');
  });

  it('exits 3 with the fix when the stack is not there', async () => {
    const file = world.writeProfile({ ...world.profile, stackName: 'MarketplaceBridge-nowhere' });
    const result = await world.run('status', '--profile', file);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Cannot read stack MarketplaceBridge-nowhere');
    expect(result.stderr).toContain('fix: deploy it first');
  });

  it('status lists every dead-letter queue of the stack, empty at first', async () => {
    const result = await world.run('status', '--json');
    expect(result.code).toBe(0);
    const report = result.json<{ deadLetters: { queue: string; messages: number }[] }>();
    expect(report.deadLetters.map((queue) => queue.queue).sort()).toEqual(
      [
        'FinalFlush',
        'MarketplaceEvents',
        'MeteringSchedule',
        'MeteringStart',
        'MeteringWork',
        'SaasusEvents',
      ].sort(),
    );
    expect(report.deadLetters.every((queue) => queue.messages === 0)).toBe(true);
  });
});

describe('dead letters', () => {
  it('lists each message with its reason, redrives it to its destination exactly once, and discards garbage', async () => {
    const { sandbox } = world;
    const { licenseArn } = sandbox.subscribe({ customerAwsAccountId: '111122223333', dimension: 'basic' });
    await sandbox.settle();

    // What the stack's producers leave: a Lambda failure record, a work message the worker gave
    // up on (with the reason attributes), a License Ending event the flush rule could not deliver,
    // and garbage.
    const marketplaceEvent = {
      version: '0',
      id: 'redriven-event-1',
      'detail-type': 'License Updated',
      source: 'aws.agreement-marketplace',
      account: sandbox.account,
      time: sandbox.clock.now().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: {
        license: { arn: licenseArn },
        product: { code: onlyProduct(sandbox.config).productCode },
      },
    };
    const failureRecord = sandbox.sqs.send(queueOf('MarketplaceEvents').logicalId, {
      body: JSON.stringify({
        version: '1.0',
        requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        requestPayload: marketplaceEvent,
        responsePayload: { errorType: 'SaasusUnavailableError', errorMessage: 'SaaSus answered 503' },
      }),
    });
    const workMessage = sandbox.sqs.send(queueOf('MeteringWork').logicalId, {
      body: JSON.stringify({ kind: 'flush', licenseKey: licenseArn }),
      messageAttributes: {
        reason: { DataType: 'String', StringValue: 'the license table was unreachable' },
        errorType: { DataType: 'String', StringValue: 'TimeoutError' },
      },
    });
    const endingEvent = sandbox.sqs.send(queueOf('FinalFlush').logicalId, {
      body: JSON.stringify({
        id: 'ending-1',
        'detail-type': 'License Ending',
        source: 'marketplace-bridge',
        time: sandbox.clock.now().toISOString(),
        detail: { licenseKey: licenseArn },
      }),
      messageAttributes: {
        ERROR_CODE: { DataType: 'String', StringValue: 'SQS.AccessDenied' },
        ERROR_MESSAGE: { DataType: 'String', StringValue: 'not authorized to send to the queue' },
      },
    });
    const garbage = sandbox.sqs.send(queueOf('MeteringWork').logicalId, { body: 'not json at all' });

    const listed = await world.run('dead-letters', '--json');
    expect(listed.code).toBe(1);
    const letters = listed.json<{ deadLetters: Record<string, string>[] }>().deadLetters;
    const byId = new Map(letters.map((letter) => [letter.messageId, letter]));
    expect(byId.get(failureRecord.messageId)).toMatchObject({
      queue: 'MarketplaceEvents',
      reason: 'SaaSus answered 503',
      errorType: 'SaasusUnavailableError',
      licenseKey: licenseArn,
      what: 'License Updated',
    });
    expect(byId.get(workMessage.messageId)).toMatchObject({
      queue: 'MeteringWork',
      reason: 'the license table was unreachable',
      errorType: 'TimeoutError',
      licenseKey: licenseArn,
      what: 'flush',
    });
    expect(byId.get(endingEvent.messageId)).toMatchObject({
      queue: 'FinalFlush',
      reason: 'not authorized to send to the queue',
      errorType: 'SQS.AccessDenied',
    });
    expect(byId.get(garbage.messageId)?.reason).toContain('not JSON');
    // Listing leaves every message where it was.
    expect(
      (await world.run('dead-letters', '--json')).json<{ deadLetters: unknown[] }>().deadLetters,
    ).toHaveLength(4);

    const human = await world.run('dead-letters', '--queue', 'MeteringWork');
    expect(human.stdout).toContain('TimeoutError: the license table was unreachable');
    expect(human.stdout).not.toContain('SaaSus answered 503');

    const discarded = await world.run('discard', '--message', garbage.messageId, '--json');
    expect(discarded.code).toBe(0);
    expect(discarded.json()).toEqual({
      discarded: [{ queue: 'MeteringWork', messageId: garbage.messageId }],
      notFound: [],
    });

    const sentToMetering: string[] = [];
    const stopWatching = sandbox.sqs.onSent((queue, message) => {
      if (queue.logicalId === meteringQueue().logicalId) sentToMetering.push(message.body);
    });
    const invocationsBefore = sandbox.invocations().length;
    const redriven = await world.run('redrive', '--all', '--json');
    expect(redriven.code).toBe(0);
    const moved = redriven.json<{ moved: { queue: string; messageId: string }[] }>().moved;
    expect(moved.map((entry) => entry.messageId).sort()).toEqual(
      [failureRecord.messageId, workMessage.messageId, endingEvent.messageId].sort(),
    );
    // A second run finds nothing: each message went back once.
    const again = await world.run('redrive', '--all', '--json');
    expect(again.json<{ moved: unknown[] }>().moved).toEqual([]);
    await sandbox.settle();
    stopWatching();

    expect(
      (await world.run('dead-letters', '--json')).json<{ deadLetters: unknown[] }>().deadLetters,
    ).toEqual([]);
    // The failure record went back to the Marketplace function, once, unchanged.
    const marketplaceFunction = JSON.parse(world.sandbox.outputs.DeadLettersMarketplaceEvents ?? '{}').redrive
      .functionName as string;
    const redrivenInvocations = sandbox
      .invocations()
      .slice(invocationsBefore)
      .filter((invocation) => marketplaceFunction.endsWith(invocation.functionLogicalId));
    expect(redrivenInvocations).toHaveLength(1);
    expect(redrivenInvocations[0]?.trigger).toContain('Invoke');
    // The work message went back unchanged, the License Ending event as the flush its rule sends.
    expect(
      sentToMetering.filter((body) => body === JSON.stringify({ kind: 'flush', licenseKey: licenseArn })),
    ).toHaveLength(2);
    expect(sentToMetering).toHaveLength(2);
  });

  it('redrives only the message chosen and reports an id it does not know', async () => {
    const { sandbox } = world;
    const first = sandbox.sqs.send(queueOf('MeteringStart').logicalId, {
      body: JSON.stringify({
        'detail-type': 'License Activated',
        time: '2026-01-01T10:00:00Z',
        detail: { licenseKey: 'arn:aws:license-manager::1:license:l-chosen' },
      }),
    });
    const second = sandbox.sqs.send(queueOf('MeteringStart').logicalId, { body: '{"detail":{}}' });
    const sent: string[] = [];
    const stop = sandbox.sqs.onSent((queue, message) => {
      if (queue.logicalId === meteringQueue().logicalId) sent.push(message.body);
    });
    const result = await world.run('redrive', '--message', first.messageId, '--message', 'no-such-id');
    stop();
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('No dead letter with message id no-such-id');
    expect(sent).toEqual([
      JSON.stringify({
        kind: 'meter',
        licenseKeys: ['arn:aws:license-manager::1:license:l-chosen'],
        runHour: '2026-01-01T10:00:00Z',
      }),
    ]);
    const left = (await world.run('dead-letters', '--json')).json<{ deadLetters: { messageId: string }[] }>();
    expect(left.deadLetters.map((letter) => letter.messageId)).toEqual([second.messageId]);

    // A body that is not what its queue's destination needs stays, with the reason.
    const failed = await world.run('redrive', '--all', '--queue', 'MeteringStart', '--json');
    expect(failed.code).toBe(1);
    expect(failed.json<{ failed: { error: string }[] }>().failed[0]?.error).toContain('naming a licenseKey');
    expect(sandbox.sqs.messages(queueOf('MeteringStart').logicalId)).toHaveLength(1);
    await world.run('discard', '--all', '--queue', 'MeteringStart');
    expect(sandbox.sqs.messages(queueOf('MeteringStart').logicalId)).toHaveLength(0);
  });
});

describe('sandbox parity', () => {
  it("a worker's dead letter shows in the sandbox list and over SQS, and leaves both when the tool discards it", async () => {
    const { sandbox } = world;
    sandbox.sqs.send(meteringQueue().logicalId, { body: '{"kind":"bill-everyone"}' });
    await sandbox.settle();
    const listed = (await world.run('dead-letters', '--queue', 'MeteringWork', '--json')).json<{
      deadLetters: { messageId: string; errorType: string; reason: string }[];
    }>().deadLetters;
    expect(listed).toHaveLength(1);
    expect(listed[0]?.errorType).toBe('MeteringMessageError');
    expect(sandbox.deadLetters.list().map((entry) => entry.error.errorType)).toContain(
      'MeteringMessageError',
    );

    const discarded = await world.run('discard', '--message', listed[0]?.messageId ?? '');
    expect(discarded.code).toBe(0);
    expect(sandbox.deadLetters.list().map((entry) => entry.error.errorType)).not.toContain(
      'MeteringMessageError',
    );
  });
});
