import { createHash } from 'node:crypto';
import type { WorkTracker } from './delivery.js';
import { compileEventPattern, type EventPatternMatcher } from './event-pattern.js';
import type { FunctionHost } from './lambda/host.js';
import type { LocalQueue, LocalSqs, QueuedMessage } from './sqs.js';
import type { EventSourceMappingModel } from './template.js';

/**
 * SQS event source mappings: receive batches from a local queue and invoke the function
 * synchronously with an SQS-shaped event. Success deletes the batch; an error returns it to the
 * queue; with ReportBatchItemFailures only the reported messages return (an unknown identifier
 * fails the whole batch, as Lambda does). Messages that fail the mapping's filter are deleted
 * without an invocation. While the handler source does not exist, messages wait in the queue.
 */

export interface EventSourcePollerOptions {
  readonly mapping: EventSourceMappingModel;
  readonly queue: LocalQueue;
  readonly host: FunctionHost | undefined;
  readonly sqs: LocalSqs;
  readonly tracker: WorkTracker;
  readonly region: string;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** The record Lambda builds for one SQS message. */
export const sqsRecord = (message: QueuedMessage, queue: LocalQueue, region: string) => ({
  messageId: message.messageId,
  receiptHandle: `${message.messageId}#${message.receiveCount}`,
  body: message.body,
  attributes: {
    ApproximateReceiveCount: String(message.receiveCount),
    SentTimestamp: String(message.sentAt),
    SenderId: 'AROASANDBOX0000000000:sandbox',
    ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
    ...(message.groupId ? { MessageGroupId: message.groupId } : {}),
    ...(message.deduplicationId ? { MessageDeduplicationId: message.deduplicationId } : {}),
    ...(message.sequenceNumber ? { SequenceNumber: message.sequenceNumber } : {}),
  },
  messageAttributes: message.messageAttributes,
  md5OfBody: md5(message.body),
  eventSource: 'aws:sqs',
  eventSourceARN: queue.arn,
  awsRegion: region,
});

export class EventSourcePoller {
  readonly #filters: EventPatternMatcher[];
  #busy = false;
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly options: EventSourcePollerOptions) {
    this.#filters = options.mapping.filterPatterns.map((pattern) => compileEventPattern(pattern));
  }

  start(): void {
    this.#unsubscribe = this.options.sqs.onAvailable((queue) => {
      if (queue.logicalId === this.options.queue.logicalId) this.kick();
    });
    this.kick();
  }

  stop(): void {
    this.#unsubscribe?.();
  }

  /** Polls now (no-op while a batch is in flight; the batch's end polls again). */
  kick(): void {
    const { mapping, host } = this.options;
    if (this.#busy || !mapping.enabled || !host?.availability.available) return;
    this.#busy = true;
    void this.options.tracker.track(this.#drain()).finally(() => {
      this.#busy = false;
    });
  }

  #passesFilter(message: QueuedMessage): boolean {
    if (this.#filters.length === 0) return true;
    let body: unknown = message.body;
    try {
      body = JSON.parse(message.body);
    } catch {
      // Non-JSON bodies are matched as strings.
    }
    const record = { ...sqsRecord(message, this.options.queue, this.options.region), body };
    return this.#filters.some((matches) => matches(record));
  }

  async #drain(): Promise<void> {
    const { mapping, queue, sqs, host } = this.options;
    if (!host) return;
    for (;;) {
      const received = sqs.receive(queue.logicalId, mapping.batchSize);
      if (received.length === 0) return;
      const batch = received.filter((message) => {
        if (this.#passesFilter(message)) return true;
        sqs.delete(queue.logicalId, message.messageId);
        return false;
      });
      if (batch.length === 0) continue;
      const event = { Records: batch.map((message) => sqsRecord(message, queue, this.options.region)) };
      const outcome = await host.invoke(event, `sqs ${queue.name}`);
      let failed = new Set<string>();
      if (!outcome.ok) {
        failed = new Set(batch.map((message) => message.messageId));
      } else if (mapping.reportBatchItemFailures) {
        const failures = (outcome.result as { batchItemFailures?: unknown } | null)?.batchItemFailures;
        if (Array.isArray(failures)) {
          const ids = failures.map((failure) => (failure as { itemIdentifier?: unknown }).itemIdentifier);
          const known = new Set(batch.map((message) => message.messageId));
          failed = ids.every((id) => typeof id === 'string' && known.has(id))
            ? new Set(ids as string[])
            : new Set(known);
        }
      }
      for (const message of batch) {
        if (failed.has(message.messageId)) sqs.release(queue.logicalId, message.messageId);
        else sqs.delete(queue.logicalId, message.messageId);
      }
    }
  }
}
