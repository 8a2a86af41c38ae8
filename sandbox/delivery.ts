import { randomUUID } from 'node:crypto';
import type { SimulatedClock, SimulatedTimers } from './clock.js';
import type { FunctionHost } from './lambda/host.js';
import type { SerializedError } from './lambda/protocol.js';
import type { LocalSqs, QueuedMessage } from './sqs.js';
import type { FunctionModel, TargetModel } from './template.js';

/**
 * How the sandbox hands work to targets, as AWS does: rule and schedule targets invoke functions
 * asynchronously (Lambda retries a failed invocation `MaximumRetryAttempts` times, one and then two
 * minutes later, then sends it to the function's on-failure destination), or send to queues.
 * Retries wait for simulated time: advance the clock to see them sooner. Whatever is given up on
 * lands in the sandbox's dead-letter list, from where it can be redriven.
 */

export interface DeadLetter {
  readonly id: string;
  /** Simulated time it was given up on. */
  readonly at: string;
  /**
   * `rule`, `schedule`, `queue` (a message past its queue's maxReceiveCount, or one its consumer sent
   * to the dead-letter queue as permanently failed) or `target` (undeliverable).
   */
  readonly origin: 'rule' | 'schedule' | 'queue' | 'target';
  /** The rule, schedule or queue it came from. */
  readonly source: string;
  /** The function or queue it was meant for. */
  readonly target: string;
  readonly payload: unknown;
  readonly error: SerializedError;
  readonly attempts: number;
}

/** The message of a dead-letter queue an entry stands for (what an operator's tool sees over SQS). */
export interface QueuedCopy {
  /** Whether it is still in its queue (a redrive or discard over SQS removes it). */
  present(): boolean;
  remove(): void;
}

export const queuedCopy = (
  sqs: Pick<LocalSqs, 'messages' | 'delete'>,
  logicalId: string,
  messageId: string,
): QueuedCopy => ({
  present: () => sqs.messages(logicalId).some((message) => message.messageId === messageId),
  remove: () => sqs.delete(logicalId, messageId),
});

interface StoredDeadLetter extends DeadLetter {
  readonly redrive: () => Promise<void>;
  readonly queued?: QueuedCopy;
}

export class DeadLetterList {
  readonly #entries: StoredDeadLetter[] = [];

  add(entry: Omit<StoredDeadLetter, 'id'>): DeadLetter {
    const stored = { id: randomUUID(), ...entry };
    this.#entries.push(stored);
    return stored;
  }

  /** Entries whose queue message was redriven or discarded elsewhere (over SQS) are gone. */
  #prune(): void {
    for (let index = this.#entries.length - 1; index >= 0; index--) {
      if (this.#entries[index]?.queued?.present() === false) this.#entries.splice(index, 1);
    }
  }

  list(): DeadLetter[] {
    this.#prune();
    return this.#entries.map(({ redrive: _redrive, queued: _queued, ...entry }) => entry);
  }

  discard(id: string): boolean {
    this.#prune();
    const index = this.#entries.findIndex((entry) => entry.id === id);
    if (index < 0) return false;
    const [entry] = this.#entries.splice(index, 1);
    entry?.queued?.remove();
    return true;
  }

  /** Delivers an entry again (it is removed first; a new failure adds a new entry). */
  async redrive(id: string): Promise<boolean> {
    this.#prune();
    const entry = this.#entries.find((candidate) => candidate.id === id);
    if (!entry) return false;
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    await entry.redrive();
    entry.queued?.remove();
    return true;
  }
}

/** Promises started by the sandbox that scenarios and tests may wait for. */
export class WorkTracker {
  readonly #inFlight = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const forget = () => this.#inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}

// --- target input -------------------------------------------------------------------------------

/** Reads `$.a.b[0].c` from a value (EventBridge InputPath and InputPathsMap). */
export const readJsonPath = (value: unknown, path: string): unknown => {
  if (path === '$') return value;
  const steps = path
    .replace(/^\$\.?/, '')
    .split(/\.|\[(\d+)\]/)
    .filter((step) => step !== undefined && step !== '');
  let current = value;
  for (const step of steps) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
};

/** Fills `<name>` placeholders: inside a JSON string as text, elsewhere as JSON values. */
export const fillInputTemplate = (template: string, values: Readonly<Record<string, unknown>>): string => {
  let output = '';
  let inString = false;
  for (let index = 0; index < template.length; index++) {
    const char = template[index] ?? '';
    if (char === '\\' && inString) {
      output += char + (template[index + 1] ?? '');
      index++;
      continue;
    }
    if (char === '"') inString = !inString;
    const placeholder = char === '<' ? /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(index)) : null;
    if (placeholder?.[1] && Object.hasOwn(values, placeholder[1])) {
      const value = values[placeholder[1]];
      output += inString
        ? typeof value === 'string'
          ? JSON.stringify(value).slice(1, -1)
          : JSON.stringify(value ?? null)
        : JSON.stringify(value ?? null);
      index += placeholder[0].length - 1;
      continue;
    }
    output += char;
  }
  return output;
};

const parseMaybeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** What a rule or schedule target receives for an event (Input, InputPath or InputTransformer). */
export const targetInput = (
  target: TargetModel,
  event: unknown,
  context: {
    readonly ruleName?: string;
    readonly ruleArn?: string;
    readonly extra?: Record<string, unknown>;
  } = {},
): unknown => {
  if (target.input !== undefined) {
    const extra = context.extra ?? {};
    const filled =
      Object.keys(extra).length > 0
        ? target.input.replace(/<(aws\.scheduler\.[a-z-]+)>/g, (whole, name: string) =>
            Object.hasOwn(extra, name) ? String(extra[name]) : whole,
          )
        : target.input;
    return parseMaybeJson(filled);
  }
  if (target.inputPath !== undefined) return readJsonPath(event, target.inputPath);
  if (target.inputTransformer) {
    const values: Record<string, unknown> = {
      'aws.events.rule-name': context.ruleName ?? '',
      'aws.events.rule-arn': context.ruleArn ?? '',
      'aws.events.event': event,
      'aws.events.event.json': event,
      'aws.events.event.ingestion-time': new Date().toISOString(),
    };
    for (const [name, path] of Object.entries(target.inputTransformer.pathsMap))
      values[name] = readJsonPath(event, path);
    return parseMaybeJson(fillInputTemplate(target.inputTransformer.template, values));
  }
  return event;
};

// --- delivery -----------------------------------------------------------------------------------

export interface DeliveryOptions {
  readonly functions: ReadonlyMap<string, { readonly model: FunctionModel; readonly host: FunctionHost }>;
  readonly sqs: LocalSqs;
  readonly deadLetters: DeadLetterList;
  readonly tracker: WorkTracker;
  readonly clock: SimulatedClock;
  readonly timers: SimulatedTimers;
  /** Waits before the retries of an asynchronous invocation (simulated seconds); Lambda: 60, 120. */
  readonly asyncRetryDelaysSeconds: readonly number[];
  readonly region: string;
  /** Publishes to another bus (targets that are event buses). */
  readonly publishToBus?: (event: Record<string, unknown>, busName: string) => void;
  readonly busNameOf?: (logicalId: string) => string | undefined;
}

export interface DeliverySource {
  readonly origin: 'rule' | 'schedule';
  /** Rule or schedule name, for logs and dead letters. */
  readonly name: string;
}

export class Delivery {
  constructor(private readonly options: DeliveryOptions) {}

  #functionName(logicalId: string) {
    return this.options.functions.get(logicalId)?.host.spec.functionName ?? logicalId;
  }

  /**
   * Invokes a function asynchronously: retried after failures as the function's asynchronous
   * settings say, then dead-lettered (and sent to its on-failure queue, if it has one).
   */
  invokeAsync(
    functionLogicalId: string,
    payload: unknown,
    source: DeliverySource,
    attempt = 1,
    requestId: string = randomUUID(),
  ): Promise<void> {
    return this.options.tracker.track(
      this.#invokeAsync(functionLogicalId, payload, source, attempt, requestId),
    );
  }

  async #invokeAsync(
    functionLogicalId: string,
    payload: unknown,
    source: DeliverySource,
    attempt: number,
    requestId: string,
  ): Promise<void> {
    const fn = this.options.functions.get(functionLogicalId);
    if (!fn) {
      this.#deadLetter(source, functionLogicalId, payload, 1, {
        errorType: 'Sandbox.UnknownFunction',
        errorMessage: `No function ${functionLogicalId} in the template`,
      });
      return;
    }
    const attempts = 1 + fn.model.async.maximumRetryAttempts;
    const trigger = `${source.origin} ${source.name}${attempt > 1 ? ` (retry ${attempt - 1})` : ''}`;
    const outcome = await fn.host.invoke(payload, trigger, requestId);
    if (outcome.ok) return;
    const error = outcome.error;
    // A handler that does not exist yet will not appear between retries.
    if (attempt < attempts && error.errorType !== 'Sandbox.HandlerNotAvailable') {
      const delays = this.options.asyncRetryDelaysSeconds;
      const delaySeconds = delays[attempt - 1] ?? delays[delays.length - 1] ?? 60;
      this.options.timers.after(
        delaySeconds * 1000,
        `retry ${attempt} of ${source.origin} ${source.name} → ${fn.host.spec.functionName}`,
        () => {
          void this.invokeAsync(functionLogicalId, payload, source, attempt + 1, requestId);
        },
      );
      return;
    }
    const onFailure = fn.model.async.onFailure;
    let record: QueuedMessage | undefined;
    if (onFailure?.kind === 'queue') {
      record = this.#sendQuietly(onFailure.logicalId, {
        version: '1.0',
        timestamp: this.options.clock.now().toISOString(),
        requestContext: {
          requestId: randomUUID(),
          functionArn: `${fn.host.spec.functionArn}:$LATEST`,
          condition: 'RetriesExhausted',
          approximateInvokeCount: attempt,
        },
        requestPayload: payload,
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        responsePayload: { errorType: error.errorType, errorMessage: error.errorMessage },
      });
    }
    const sqs = this.options.sqs;
    this.options.deadLetters.add({
      at: this.options.clock.now().toISOString(),
      origin: source.origin,
      source: source.name,
      target: this.#functionName(functionLogicalId),
      payload,
      error,
      attempts: attempt,
      redrive: () => this.invokeAsync(functionLogicalId, payload, source),
      // One failure, one copy: the record on the on-failure queue is the same dead letter.
      ...(record && onFailure?.kind === 'queue'
        ? { queued: queuedCopy(sqs, onFailure.logicalId, record.messageId) }
        : {}),
    });
  }

  /** Delivers an event to one rule or schedule target. */
  deliver(
    target: TargetModel,
    event: unknown,
    source: DeliverySource,
    context: Parameters<typeof targetInput>[2] = {},
  ): Promise<void> {
    const payload = targetInput(target, event, context);
    const destination = target.destination;
    switch (destination.kind) {
      case 'function':
        return this.invokeAsync(destination.logicalId, payload, source);
      case 'queue': {
        try {
          const queue = this.options.sqs.queue(destination.logicalId);
          this.options.sqs.send(destination.logicalId, {
            body: typeof payload === 'string' ? payload : JSON.stringify(payload),
            ...(target.messageGroupId ? { groupId: target.messageGroupId } : {}),
            ...(queue.model.fifo &&
            !queue.model.contentBasedDeduplication &&
            typeof (event as { id?: unknown }).id === 'string'
              ? { deduplicationId: (event as { id: string }).id }
              : {}),
          });
        } catch (error) {
          this.#deadLetter(source, destination.logicalId, payload, 1, {
            errorType: error instanceof Error ? error.name : 'Error',
            errorMessage: error instanceof Error ? error.message : String(error),
          });
        }
        return Promise.resolve();
      }
      case 'bus': {
        const busName = this.options.busNameOf?.(destination.logicalId);
        if (busName && this.options.publishToBus && typeof payload === 'object' && payload !== null) {
          this.options.publishToBus(payload as Record<string, unknown>, busName);
        }
        return Promise.resolve();
      }
      default:
        this.#deadLetter(
          source,
          destination.kind === 'unsupported' ? destination.description : destination.logicalId,
          payload,
          0,
          {
            errorType: 'Sandbox.UnsupportedTarget',
            errorMessage: `The sandbox cannot deliver to ${destination.kind === 'unsupported' ? destination.description : `${destination.kind} ${destination.logicalId}`}`,
          },
        );
        return Promise.resolve();
    }
  }

  #deadLetter(
    source: DeliverySource,
    target: string,
    payload: unknown,
    attempts: number,
    error: SerializedError,
  ) {
    this.options.deadLetters.add({
      at: this.options.clock.now().toISOString(),
      origin: 'target',
      source: `${source.origin} ${source.name}`,
      target,
      payload,
      error,
      attempts,
      redrive: async () => {},
    });
  }

  #sendQuietly(queueLogicalId: string, body: unknown): QueuedMessage | undefined {
    try {
      return this.options.sqs.send(queueLogicalId, { body: JSON.stringify(body) });
    } catch {
      // An on-failure queue that refuses the record changes nothing for the sandbox's own list.
      return undefined;
    }
  }
}
