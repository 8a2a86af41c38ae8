import { createHash, randomUUID } from 'node:crypto';
import type { SimulatedTimers } from './clock.js';
import { AwsJsonError, awsJsonHandler, type RunningServer, startServer } from './emulators/http.js';
import type { QueueModel } from './template.js';

/**
 * The stack's SQS queues, in memory: what rules and subscriptions deliver, what handlers send with
 * the SDK (SendMessage, SendMessageBatch, GetQueueUrl, GetQueueAttributes over AWS JSON 1.0 at
 * `AWS_ENDPOINT_URL_SQS`), and what event source mappings consume. A message that fails becomes
 * visible again after its queue's visibility timeout, in simulated time (advance the clock to
 * retry sooner), until the queue's redrive policy moves it to the dead-letter queue. FIFO queues
 * keep order per message group, block a group while one of its messages is in flight, and drop
 * duplicates within five minutes.
 */

export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly model: QueueModel;
}

export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly sequenceNumber: string | undefined;
  readonly messageAttributes: Readonly<Record<string, unknown>>;
  /** Simulated time (ms) the message was sent. */
  readonly sentAt: number;
  receiveCount: number;
  /** Simulated time (ms) of the first receive. */
  firstReceivedAt: number | undefined;
  /** Simulated time (ms) from which it can be received (again). */
  visibleAt: number;
  inFlight: boolean;
  /** For messages moved to a dead-letter queue: where they came from. */
  deadLetterSource?: string;
}

export interface SendInput {
  readonly body: string;
  readonly groupId?: string;
  readonly deduplicationId?: string;
  readonly delaySeconds?: number;
  readonly messageAttributes?: Record<string, unknown>;
}

export interface DeadLetteredMessage {
  readonly queue: LocalQueue;
  readonly deadLetterQueue: LocalQueue | undefined;
  readonly message: QueuedMessage;
}

export interface LocalSqsOptions {
  readonly account: string;
  readonly region: string;
  /** Prefix of generated queue names (the stack name). */
  readonly namePrefix: string;
  /** Simulated time (ms): timestamps, delays, deduplication and visibility timeouts follow it. */
  readonly now: () => number;
  readonly timers: SimulatedTimers;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const DEDUPLICATION_WINDOW_MS = 5 * 60_000;

export class LocalSqs {
  readonly #queues = new Map<string, LocalQueue>();
  readonly #messages = new Map<string, QueuedMessage[]>();
  readonly #deduplication = new Map<string, { messageId: string; at: number }>();
  readonly #listeners = new Set<(queue: LocalQueue) => void>();
  /** Message id → the receipt handle of its latest receive over the API. */
  readonly #receipts = new Map<string, string>();
  readonly #deadLetterListeners = new Set<(entry: DeadLetteredMessage) => void>();
  readonly #sentListeners = new Set<(queue: LocalQueue, message: QueuedMessage) => void>();
  #server: RunningServer | undefined;
  #sequence = 0n;

  constructor(
    models: readonly QueueModel[],
    private readonly options: LocalSqsOptions,
  ) {
    for (const model of models) {
      const base =
        model.queueName ?? `${options.namePrefix}-${model.logicalId}`.slice(0, model.fifo ? 75 : 80);
      const name = model.fifo && !base.endsWith('.fifo') ? `${base}.fifo` : base;
      this.#queues.set(model.logicalId, {
        logicalId: model.logicalId,
        name,
        url: '',
        arn: `arn:aws:sqs:${options.region}:${options.account}:${name}`,
        model,
      });
      this.#messages.set(model.logicalId, []);
    }
  }

  /** Starts the SQS endpoint; queue URLs point at it (the SDK sends to the queue URL's host). */
  async start(): Promise<string> {
    this.#server = await startServer(
      awsJsonHandler('AmazonSQS', {
        SendMessage: (input) => this.#sendOperation(input),
        SendMessageBatch: (input) => this.#sendBatchOperation(input),
        ReceiveMessage: (input) => this.#receiveOperation(input),
        DeleteMessage: (input) => {
          this.#deleteOperation(input.QueueUrl, input.ReceiptHandle);
          return {};
        },
        ChangeMessageVisibility: (input) => {
          this.#changeVisibilityOperation(input.QueueUrl, input.ReceiptHandle, input.VisibilityTimeout);
          return {};
        },
        GetQueueUrl: (input) => ({ QueueUrl: this.#byName(String(input.QueueName ?? '')).url }),
        GetQueueAttributes: (input) => {
          const queue = this.#byUrl(input.QueueUrl);
          const messages = this.messages(queue.logicalId);
          return {
            Attributes: {
              QueueArn: queue.arn,
              ApproximateNumberOfMessages: String(messages.filter((m) => !m.inFlight).length),
              ApproximateNumberOfMessagesNotVisible: String(messages.filter((m) => m.inFlight).length),
              FifoQueue: String(queue.model.fifo),
              VisibilityTimeout: String(queue.model.visibilityTimeoutSeconds),
            },
          };
        },
      }),
    );
    for (const [logicalId, queue] of this.#queues) {
      this.#queues.set(logicalId, {
        ...queue,
        url: `${this.#server.url}/${this.options.account}/${queue.name}`,
      });
    }
    return this.#server.url;
  }

  async close(): Promise<void> {
    await this.#server?.close();
  }

  queues(): LocalQueue[] {
    return [...this.#queues.values()];
  }

  queue(logicalId: string): LocalQueue {
    const queue = this.#queues.get(logicalId);
    if (!queue) throw new Error(`No queue ${logicalId} in the template`);
    return queue;
  }

  /** Messages currently in a queue (in flight ones included), oldest first. */
  messages(logicalId: string): QueuedMessage[] {
    return [...(this.#messages.get(logicalId) ?? [])];
  }

  /** Messages that can be received now (visible and not in flight). */
  available(logicalId: string): number {
    const now = this.options.now();
    return (this.#messages.get(logicalId) ?? []).filter(
      (message) => !message.inFlight && message.visibleAt <= now,
    ).length;
  }

  /** Called whenever a queue gets a message or one becomes visible again. */
  onAvailable(listener: (queue: LocalQueue) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onDeadLetter(listener: (entry: DeadLetteredMessage) => void): () => void {
    this.#deadLetterListeners.add(listener);
    return () => this.#deadLetterListeners.delete(listener);
  }

  /** Called for each message a client (a handler) sends through the SQS API. */
  onSent(listener: (queue: LocalQueue, message: QueuedMessage) => void): () => void {
    this.#sentListeners.add(listener);
    return () => this.#sentListeners.delete(listener);
  }

  send(logicalId: string, input: SendInput): QueuedMessage {
    const queue = this.queue(logicalId);
    const { fifo, contentBasedDeduplication } = queue.model;
    if (fifo && !input.groupId)
      throw new AwsJsonError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
    if (!fifo && (input.groupId || input.deduplicationId)) {
      throw new AwsJsonError(
        'InvalidParameterValue',
        'MessageGroupId and MessageDeduplicationId are for FIFO queues only.',
      );
    }
    const deduplicationId = fifo
      ? (input.deduplicationId ?? (contentBasedDeduplication ? md5(input.body) : undefined))
      : undefined;
    if (fifo && !deduplicationId) {
      throw new AwsJsonError(
        'InvalidParameterValue',
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }
    const now = this.options.now();
    if (deduplicationId) {
      const key = `${logicalId}\0${deduplicationId}`;
      const seen = this.#deduplication.get(key);
      const existing =
        seen && now - seen.at < DEDUPLICATION_WINDOW_MS
          ? this.messages(logicalId).find((message) => message.messageId === seen.messageId)
          : undefined;
      if (existing) return existing;
    }
    const message: QueuedMessage = {
      messageId: randomUUID(),
      body: input.body,
      groupId: input.groupId,
      deduplicationId,
      sequenceNumber: fifo ? String(++this.#sequence).padStart(20, '0') : undefined,
      messageAttributes: input.messageAttributes ?? {},
      sentAt: this.options.now(),
      receiveCount: 0,
      firstReceivedAt: undefined,
      visibleAt: now + (input.delaySeconds ?? 0) * 1000,
      inFlight: false,
    };
    if (deduplicationId)
      this.#deduplication.set(`${logicalId}\0${deduplicationId}`, { messageId: message.messageId, at: now });
    this.#messages.get(logicalId)?.push(message);
    this.#notifyWhenVisible(queue, message);
    return message;
  }

  /**
   * Receives up to `max` visible messages and marks them in flight (FIFO: in order, skipping
   * groups that have a message in flight).
   */
  receive(logicalId: string, max: number): QueuedMessage[] {
    const messages = this.#messages.get(logicalId) ?? [];
    const fifo = this.queue(logicalId).model.fifo;
    const now = this.options.now();
    const blockedGroups = new Set(messages.filter((m) => m.inFlight && m.groupId).map((m) => m.groupId));
    const taken: QueuedMessage[] = [];
    for (const message of messages) {
      if (taken.length >= max) break;
      if (message.inFlight) continue;
      if (fifo && blockedGroups.has(message.groupId)) continue;
      if (message.visibleAt > now) {
        // A FIFO group waits for its delayed head message.
        if (fifo) blockedGroups.add(message.groupId);
        continue;
      }
      message.inFlight = true;
      message.receiveCount += 1;
      message.firstReceivedAt ??= this.options.now();
      taken.push(message);
    }
    return taken;
  }

  /** Deletes a received message. */
  delete(logicalId: string, messageId: string): void {
    const messages = this.#messages.get(logicalId);
    if (!messages) return;
    const index = messages.findIndex((message) => message.messageId === messageId);
    if (index >= 0) messages.splice(index, 1);
  }

  /** Returns a received message to the queue, or to the dead-letter queue once it was received too often. */
  release(logicalId: string, messageId: string): void {
    const queue = this.queue(logicalId);
    const message = this.messages(logicalId).find((candidate) => candidate.messageId === messageId);
    if (!message) return;
    const redrive = queue.model.redrive;
    if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
      this.delete(logicalId, messageId);
      const target =
        redrive.deadLetterQueue.kind === 'queue'
          ? this.#queues.get(redrive.deadLetterQueue.logicalId)
          : undefined;
      if (target) {
        const moved: QueuedMessage = {
          ...message,
          inFlight: false,
          visibleAt: this.options.now(),
          deadLetterSource: queue.name,
        };
        this.#messages.get(target.logicalId)?.push(moved);
        this.#notifyWhenVisible(target, moved);
      }
      for (const listener of this.#deadLetterListeners) listener({ queue, deadLetterQueue: target, message });
      return;
    }
    message.inFlight = false;
    message.visibleAt = this.options.now() + queue.model.visibilityTimeoutSeconds * 1000;
    this.#notifyWhenVisible(queue, message);
  }

  /** Moves a message of a dead-letter queue back to the queue it came from (or another queue). */
  redrive(deadLetterLogicalId: string, messageId: string, toLogicalId: string): void {
    const message = this.messages(deadLetterLogicalId).find((candidate) => candidate.messageId === messageId);
    if (!message) return;
    this.delete(deadLetterLogicalId, messageId);
    const target = this.queue(toLogicalId);
    const fresh: QueuedMessage = {
      ...message,
      receiveCount: 0,
      inFlight: false,
      visibleAt: this.options.now(),
    };
    delete fresh.deadLetterSource;
    this.#messages.get(toLogicalId)?.push(fresh);
    this.#notifyWhenVisible(target, fresh);
  }

  #notifyWhenVisible(queue: LocalQueue, message: QueuedMessage) {
    const notify = () => {
      for (const listener of this.#listeners) listener(queue);
    };
    if (message.visibleAt <= this.options.now()) setImmediate(notify);
    else {
      const what = `message ${message.messageId.slice(0, 8)} visible again in ${queue.name}`;
      this.options.timers.at(message.visibleAt, what, notify);
    }
  }

  #notifySent(queue: LocalQueue, message: QueuedMessage) {
    for (const listener of this.#sentListeners) listener(queue, message);
  }

  #byUrl(url: unknown): LocalQueue {
    const queue = [...this.#queues.values()].find((candidate) => candidate.url === url);
    if (!queue)
      throw new AwsJsonError(
        'AWS.SimpleQueueService.NonExistentQueue',
        `The specified queue does not exist: ${String(url)}`,
      );
    return queue;
  }

  #byName(name: string): LocalQueue {
    const queue = [...this.#queues.values()].find((candidate) => candidate.name === name);
    if (!queue)
      throw new AwsJsonError(
        'AWS.SimpleQueueService.NonExistentQueue',
        `The specified queue does not exist: ${name}`,
      );
    return queue;
  }

  /**
   * ReceiveMessage over the API (operators reading a dead-letter queue): a received message is
   * hidden for the visibility timeout and carries a receipt handle that only its latest receive
   * holds, as in SQS.
   */
  #receiveOperation(input: Record<string, unknown>) {
    const queue = this.#byUrl(input.QueueUrl);
    const max = typeof input.MaxNumberOfMessages === 'number' ? input.MaxNumberOfMessages : 1;
    if (max < 1 || max > 10) {
      throw new AwsJsonError('InvalidParameterValue', 'MaxNumberOfMessages must be from 1 to 10.');
    }
    const visibility =
      typeof input.VisibilityTimeout === 'number'
        ? input.VisibilityTimeout
        : queue.model.visibilityTimeoutSeconds;
    const wantedAttributes = Array.isArray(input.MessageAttributeNames) ? input.MessageAttributeNames : [];
    const allAttributes = wantedAttributes.includes('All') || wantedAttributes.includes('.*');
    const now = this.options.now();
    const taken = this.messages(queue.logicalId)
      .filter((message) => !message.inFlight && message.visibleAt <= now)
      .slice(0, max);
    return {
      Messages: taken.map((message) => {
        message.receiveCount += 1;
        message.firstReceivedAt ??= now;
        message.visibleAt = now + visibility * 1000;
        this.#notifyWhenVisible(queue, message);
        const receiptHandle = `${message.messageId}#${randomUUID()}`;
        this.#receipts.set(message.messageId, receiptHandle);
        const attributes = Object.entries(message.messageAttributes).filter(
          ([name]) => allAttributes || wantedAttributes.includes(name),
        );
        return {
          MessageId: message.messageId,
          ReceiptHandle: receiptHandle,
          Body: message.body,
          MD5OfBody: md5(message.body),
          Attributes: {
            SentTimestamp: String(message.sentAt),
            ApproximateReceiveCount: String(message.receiveCount),
          },
          ...(attributes.length > 0 ? { MessageAttributes: Object.fromEntries(attributes) } : {}),
        };
      }),
    };
  }

  #receivedMessage(queueUrl: unknown, receiptHandle: unknown): { queue: LocalQueue; message: QueuedMessage } {
    const queue = this.#byUrl(queueUrl);
    const messageId = typeof receiptHandle === 'string' ? receiptHandle.split('#')[0] : undefined;
    const message = this.messages(queue.logicalId).find((candidate) => candidate.messageId === messageId);
    if (!message || messageId === undefined || this.#receipts.get(messageId) !== receiptHandle) {
      throw new AwsJsonError(
        'ReceiptHandleIsInvalid',
        `The receipt handle "${String(receiptHandle)}" is not valid.`,
      );
    }
    return { queue, message };
  }

  #deleteOperation(queueUrl: unknown, receiptHandle: unknown) {
    const { queue, message } = this.#receivedMessage(queueUrl, receiptHandle);
    this.delete(queue.logicalId, message.messageId);
    this.#receipts.delete(message.messageId);
  }

  #changeVisibilityOperation(queueUrl: unknown, receiptHandle: unknown, timeout: unknown) {
    const { queue, message } = this.#receivedMessage(queueUrl, receiptHandle);
    if (typeof timeout !== 'number' || timeout < 0 || timeout > 43_200) {
      throw new AwsJsonError('InvalidParameterValue', 'VisibilityTimeout must be from 0 to 43200 seconds.');
    }
    message.visibleAt = this.options.now() + timeout * 1000;
    this.#notifyWhenVisible(queue, message);
  }

  #sendOperation(input: Record<string, unknown>) {
    const queue = this.#byUrl(input.QueueUrl);
    const message = this.send(queue.logicalId, this.#sendInput(input));
    this.#notifySent(queue, message);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: md5(message.body),
      ...(message.sequenceNumber ? { SequenceNumber: message.sequenceNumber } : {}),
    };
  }

  #sendBatchOperation(input: Record<string, unknown>) {
    const queue = this.#byUrl(input.QueueUrl);
    const entries = Array.isArray(input.Entries) ? (input.Entries as Record<string, unknown>[]) : [];
    if (entries.length === 0 || entries.length > 10) {
      throw new AwsJsonError(
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
        'A batch holds 1 to 10 entries.',
      );
    }
    const Successful: Record<string, unknown>[] = [];
    const Failed: Record<string, unknown>[] = [];
    for (const entry of entries) {
      try {
        const message = this.send(queue.logicalId, this.#sendInput(entry));
        this.#notifySent(queue, message);
        Successful.push({
          Id: entry.Id,
          MessageId: message.messageId,
          MD5OfMessageBody: md5(message.body),
          ...(message.sequenceNumber ? { SequenceNumber: message.sequenceNumber } : {}),
        });
      } catch (error) {
        Failed.push({
          Id: entry.Id,
          SenderFault: true,
          Code: error instanceof AwsJsonError ? error.type : 'InternalError',
          Message: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return { Successful, Failed };
  }

  #sendInput(input: Record<string, unknown>): SendInput {
    if (typeof input.MessageBody !== 'string' || input.MessageBody === '') {
      throw new AwsJsonError('MissingParameter', 'The request must contain the parameter MessageBody.');
    }
    return {
      body: input.MessageBody,
      ...(typeof input.MessageGroupId === 'string' ? { groupId: input.MessageGroupId } : {}),
      ...(typeof input.MessageDeduplicationId === 'string'
        ? { deduplicationId: input.MessageDeduplicationId }
        : {}),
      ...(typeof input.DelaySeconds === 'number' ? { delaySeconds: input.DelaySeconds } : {}),
      ...(typeof input.MessageAttributes === 'object' && input.MessageAttributes !== null
        ? { messageAttributes: input.MessageAttributes as Record<string, unknown> }
        : {}),
    };
  }
}
