import { AwsJsonError, awsJsonHandler, type RunningServer, startServer } from './http.js';

/**
 * An EventBridge emulator for PutEvents (AWS JSON 1.1, target `AWSEvents.PutEvents`). It records
 * every accepted event per bus in the shape a rule target receives, and hands each one to the
 * registered listeners after the call has been answered, as the real bus delivers asynchronously.
 */

/** An event as an EventBridge rule target receives it, plus the bus it was put on. */
export interface EmulatedEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  /** ISO time without milliseconds, as EventBridge writes it. */
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
  readonly eventBusName: string;
}

export type EventListener = (event: EmulatedEvent) => void | Promise<void>;

export interface EventBridgeEmulatorOptions {
  readonly port?: number;
  readonly account?: string;
  readonly region?: string;
  readonly onEvent?: EventListener;
  /** The time of an entry without one (EventBridge stamps the time it received it); default the real time. */
  readonly now?: () => Date;
}

export interface EventBridgeEmulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  /** Accepted events, of one bus or of all buses, in arrival order. */
  events(eventBusName?: string): EmulatedEvent[];
  /** Number of entries in each PutEvents call received (rejected ones included), in order. */
  putEventsCalls(): number[];
  /** Makes the next `count` entries fail with `errorCode` (default `InternalFailure`). */
  failNextEntries(count: number, errorCode?: string): void;
  /** Adds a listener for accepted events; returns a function that removes it. */
  onEvent(listener: EventListener): () => void;
  /** Waits until every listener call started so far has settled. */
  drain(): Promise<void>;
  /** Errors thrown by listeners (they never fail the PutEvents call). */
  deliveryErrors(): unknown[];
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

const busNameOf = (nameOrArn: unknown): string => {
  if (typeof nameOrArn !== 'string' || nameOrArn === '') return 'default';
  const arnMatch = /^arn:aws[a-z-]*:events:[^:]*:\d*:event-bus\/(.+)$/.exec(nameOrArn);
  return arnMatch?.[1] ?? nameOrArn;
};

/** JSON 1.1 sends timestamps as epoch seconds (possibly fractional); accept ISO strings as well. */
const timeOf = (value: unknown): Date | undefined => {
  if (typeof value === 'number') return new Date(value * 1000);
  if (typeof value === 'string') return new Date(value);
  return undefined;
};

export const startEventBridgeEmulator = async (
  options: EventBridgeEmulatorOptions = {},
): Promise<EventBridgeEmulator> => {
  const account = options.account ?? '000000000000';
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? (() => new Date());
  const accepted: EmulatedEvent[] = [];
  const callSizes: number[] = [];
  const injected: string[] = [];
  const listeners = new Set<EventListener>(options.onEvent ? [options.onEvent] : []);
  const inFlight = new Set<Promise<void>>();
  const errors: unknown[] = [];

  const deliver = (event: EmulatedEvent) => {
    for (const listener of listeners) {
      const delivery = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => listener(event))
        .catch((error: unknown) => {
          errors.push(error);
        })
        .finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
    }
  };

  const invalid = (message: string): EntryResult => ({ ErrorCode: 'InvalidArgument', ErrorMessage: message });

  const acceptEntry = (entry: Record<string, unknown>): EntryResult => {
    const injectedCode = injected.shift();
    if (injectedCode) return { ErrorCode: injectedCode, ErrorMessage: 'Injected failure' };
    const { Source: source, DetailType: detailType, Detail: detail, Resources: resources } = entry;
    if (typeof source !== 'string' || source === '') return invalid('Source is a required argument.');
    if (typeof detailType !== 'string' || detailType === '') {
      return invalid('DetailType is a required argument.');
    }
    if (typeof detail !== 'string') return invalid('Detail is a required argument.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(detail);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail must be a JSON object.' };
    }
    if (
      resources !== undefined &&
      !(Array.isArray(resources) && resources.every((r) => typeof r === 'string'))
    ) {
      return invalid('Resources must be a list of strings.');
    }
    const time = timeOf(entry.Time) ?? now();
    if (Number.isNaN(time.getTime())) return invalid('Time is not a valid timestamp.');
    const event: EmulatedEvent = {
      version: '0',
      id: crypto.randomUUID(),
      'detail-type': detailType,
      source,
      account,
      time: `${time.toISOString().slice(0, 19)}Z`,
      region,
      resources: (resources as string[] | undefined) ?? [],
      detail: parsed as Record<string, unknown>,
      eventBusName: busNameOf(entry.EventBusName),
    };
    accepted.push(event);
    deliver(event);
    return { EventId: event.id };
  };

  const putEvents = (input: Record<string, unknown>) => {
    const entries = input.Entries;
    if (Array.isArray(entries)) callSizes.push(entries.length);
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new AwsJsonError('ValidationException', 'Entries must contain between 1 and 10 entries.');
    }
    if (entries.length > 10) {
      throw new AwsJsonError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 (got ${entries.length}).`,
      );
    }
    const results = entries.map((entry: unknown) =>
      typeof entry === 'object' && entry !== null
        ? acceptEntry(entry as Record<string, unknown>)
        : invalid('Each entry must be an object.'),
    );
    return {
      FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
      Entries: results,
    };
  };

  const server: RunningServer = await startServer(
    awsJsonHandler('AWSEvents', { PutEvents: putEvents }),
    options.port ?? 0,
  );
  return {
    url: server.url,
    port: server.port,
    close: () => server.close(),
    events: (eventBusName) =>
      accepted.filter(
        (event) => eventBusName === undefined || event.eventBusName === busNameOf(eventBusName),
      ),
    putEventsCalls: () => [...callSizes],
    failNextEntries(count, errorCode = 'InternalFailure') {
      for (let index = 0; index < count; index++) injected.push(errorCode);
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async drain() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    deliveryErrors: () => [...errors],
  };
};
