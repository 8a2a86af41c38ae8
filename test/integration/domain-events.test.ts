import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EventBridgeEmulator, startEventBridgeEmulator } from '#sandbox/emulators/eventbridge';
import {
  createDomainEventPublisher,
  type DomainEvent,
  DomainEventPublishError,
  DomainEventValidationError,
  domainEventTypes,
} from '#shared/domain-events';

const busName = 'marketplace-bridge-test';
const licenseArn = 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef0';
const silentLogger = { warn: () => {} };
const fastRetry = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };

const licenseEvents = (count: number): DomainEvent[] =>
  Array.from({ length: count }, (_, index) => ({
    detailType: domainEventTypes.licenseRegistered,
    detail: { licenseArn, sequence: index },
    resources: [licenseArn],
  }));

describe('domain event publisher against the EventBridge emulator', () => {
  let emulator: EventBridgeEmulator;
  let client: EventBridgeClient;

  beforeAll(async () => {
    emulator = await startEventBridgeEmulator();
    client = new EventBridgeClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await emulator.close();
  });

  let bus: string;
  let publisher: ReturnType<typeof createDomainEventPublisher>;
  let callsBefore: number;
  beforeEach(() => {
    // A fresh bus per test keeps each test's events apart on the shared emulator.
    bus = `${busName}-${crypto.randomUUID().slice(0, 8)}`;
    publisher = createDomainEventPublisher({
      client,
      eventBusName: bus,
      retry: fastRetry,
      logger: silentLogger,
    });
    callsBefore = emulator.putEventsCalls().length;
  });
  const callsSinceStart = () => emulator.putEventsCalls().slice(callsBefore);

  it('publishes 23 events in 3 PutEvents calls of at most 10 entries, in order', async () => {
    const result = await publisher.publish(licenseEvents(23));

    expect(callsSinceStart()).toEqual([10, 10, 3]);
    const delivered = emulator.events(bus);
    expect(delivered.map((event) => event.detail.sequence)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(result.eventIds).toEqual(delivered.map((event) => event.id));
  });

  it('sends source, detail-type, detail, time and resources as given', async () => {
    const time = new Date('2026-11-22T13:00:00Z');
    await publisher.publish([
      {
        detailType: domainEventTypes.licenseRevoked,
        detail: { licenseArn, reason: 'ended' },
        time,
        resources: [licenseArn],
      },
    ]);

    expect(emulator.events(bus)).toEqual([
      expect.objectContaining({
        source: 'marketplace-bridge',
        'detail-type': 'License Revoked',
        detail: { licenseArn, reason: 'ended' },
        time: '2026-11-22T13:00:00Z',
        resources: [licenseArn],
        eventBusName: bus,
      }),
    ]);
  });

  it('uses a configured source', async () => {
    const custom = createDomainEventPublisher({ client, eventBusName: bus, source: 'acme.bridge' });
    await custom.publish([{ detailType: domainEventTypes.meteringStopped, detail: { licenseArn } }]);
    expect(emulator.events(bus)[0]?.source).toBe('acme.bridge');
  });

  it('retries only the entries that came back failed, then delivers them', async () => {
    emulator.failNextEntries(3);
    const result = await publisher.publish(licenseEvents(5));

    // First call: 5 entries, 3 failed; the retry carries only those 3.
    expect(callsSinceStart()).toEqual([5, 3]);
    const delivered = emulator.events(bus);
    expect(delivered).toHaveLength(5);
    expect(new Set(delivered.map((event) => event.detail.sequence))).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(result.eventIds).toHaveLength(5);
    expect(result.eventIds.every((id) => typeof id === 'string')).toBe(true);
  });

  it('raises DomainEventPublishError naming the detail-types that still fail after the retries', async () => {
    emulator.failNextEntries(4);
    const error = await publisher
      .publish([
        { detailType: domainEventTypes.tenantProvisioned, detail: { tenantId: 'tenant-secret-detail' } },
      ])
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DomainEventPublishError);
    const publishError = error as DomainEventPublishError;
    expect(publishError.failures).toEqual([
      { detailType: 'Tenant Provisioned', errorCode: 'InternalFailure', errorMessage: 'Injected failure' },
    ]);
    expect(publishError.publishedCount).toBe(0);
    expect(publishError.message).toBe(
      '1 of 1 domain event(s) were not published: Tenant Provisioned (InternalFailure)',
    );
    expect(publishError.message).not.toContain('tenant-secret-detail');
    // The first attempt and three retries, then it gives up.
    expect(callsSinceStart()).toEqual([1, 1, 1, 1]);
    expect(emulator.events(bus)).toEqual([]);
  });

  it('does not retry an entry whose error AWS documents as permanent, and delivers the others', async () => {
    emulator.failNextEntries(1, 'AccessDeniedException');
    const error = await publisher
      .publish([
        { detailType: domainEventTypes.tenantDeleted, detail: { tenantId: 't-1' } },
        { detailType: domainEventTypes.licenseActivated, detail: { licenseArn } },
      ])
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DomainEventPublishError);
    expect((error as DomainEventPublishError).publishedCount).toBe(1);
    expect((error as Error).message).toBe(
      '1 of 2 domain event(s) were not published: Tenant Deleted (AccessDeniedException)',
    );
    expect(callsSinceStart()).toEqual([2]);
    expect(emulator.events(bus).map((event) => event['detail-type'])).toEqual(['License Activated']);
  });

  it('reports every event of a call the bus rejected as a whole', async () => {
    const unreachable = new EventBridgeClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const failing = createDomainEventPublisher({
      client: unreachable,
      eventBusName: bus,
      logger: silentLogger,
    });
    const error = await failing.publish(licenseEvents(12)).catch((caught: unknown) => caught);
    unreachable.destroy();

    expect(error).toBeInstanceOf(DomainEventPublishError);
    expect((error as DomainEventPublishError).failures).toHaveLength(12);
    expect((error as DomainEventPublishError).publishedCount).toBe(0);
    expect((error as Error).message).toBe(
      '12 of 12 domain event(s) were not published: License Registered (ECONNREFUSED) x12',
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('makes no call for an empty list', async () => {
    await expect(publisher.publish([])).resolves.toEqual({ eventIds: [] });
    expect(callsSinceStart()).toEqual([]);
  });

  it('rejects bad events before sending anything', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: [DomainEvent, string][] = [
      [{ detailType: ' ', detail: {} }, 'domain event #1: detailType must be a non-empty string'],
      [
        { detailType: 'License Ending', detail: [] },
        'domain event #1 (License Ending): detail must be a JSON object',
      ],
      [
        { detailType: 'License Ending', detail: cyclic },
        'domain event #1 (License Ending): detail does not serialize',
      ],
      [{ detailType: 'License Ending', detail: {}, time: new Date('nope') }, 'time must be a valid Date'],
      [
        { detailType: 'License Ending', detail: { blob: 'x'.repeat(300_000) } },
        'larger than the 262144-byte',
      ],
    ];
    for (const [event, message] of bad) {
      const valid: DomainEvent = { detailType: domainEventTypes.licenseEnding, detail: {} };
      const error = await publisher.publish([valid, event]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DomainEventValidationError);
      expect((error as Error).message).toContain(message);
    }
    expect(callsSinceStart()).toEqual([]);
  });

  it('rejects an empty bus name when the publisher is created', () => {
    expect(() => createDomainEventPublisher({ client, eventBusName: '' })).toThrow(
      DomainEventValidationError,
    );
  });

  it('publishes the catalogue of domain event names unchanged', () => {
    expect(Object.values(domainEventTypes)).toEqual([
      'License Registered',
      'Tenant Provisioned',
      'License Activated',
      'Entitlements Changed',
      'License Ending',
      'License Revoked',
      'License Reinstated',
      'Tenant Deleted',
      'Metering Stopped',
      'Tenant Claim Refused',
    ]);
  });
});

describe('EventBridge emulator', () => {
  let emulator: EventBridgeEmulator;
  let client: EventBridgeClient;

  beforeAll(async () => {
    emulator = await startEventBridgeEmulator();
    client = new EventBridgeClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await emulator.close();
  });

  it('rejects a PutEvents call with more than 10 entries', async () => {
    const entries = Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' }));
    await expect(client.send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    expect(emulator.events()).toHaveLength(0);
  });

  it('fails malformed entries one by one and accepts the rest', async () => {
    const output = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 's', DetailType: 'ok', Detail: '{"a":1}', EventBusName: 'checks' },
          { Source: 's', DetailType: 'bad', Detail: '{not json', EventBusName: 'checks' },
          { DetailType: 'no source', Detail: '{}', EventBusName: 'checks' },
        ],
      }),
    );
    expect(output.FailedEntryCount).toBe(2);
    expect(output.Entries?.map((entry) => entry.ErrorCode)).toEqual([
      undefined,
      'MalformedDetail',
      'InvalidArgument',
    ]);
    expect(emulator.events('checks').map((event) => event.detail)).toEqual([{ a: 1 }]);
  });

  it('hands every accepted event to the listeners, after answering the call', async () => {
    const seen: string[] = [];
    const stop = emulator.onEvent(async (event) => {
      seen.push(event['detail-type']);
      if (event['detail-type'] === 'boom') throw new Error('listener failed');
    });
    const publisher = createDomainEventPublisher({
      client,
      eventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/routed',
    });
    await publisher.publish([
      { detailType: 'first', detail: {} },
      { detailType: 'boom', detail: {} },
    ]);
    await emulator.drain();
    stop();
    await publisher.publish([{ detailType: 'after unsubscribe', detail: {} }]);
    await emulator.drain();

    expect(seen).toEqual(['first', 'boom']);
    expect(emulator.deliveryErrors()).toEqual([new Error('listener failed')]);
    expect(emulator.events('routed').map((event) => event['detail-type'])).toEqual([
      'first',
      'boom',
      'after unsubscribe',
    ]);
  });
});
