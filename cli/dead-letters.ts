import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { deadLetterAttributes } from '#shared/dead-letters';
import type { DeadLetterQueueOutput } from '#shared/stack-outputs';

/**
 * Reading, redriving and discarding the dead-letter queues the stack names. A message is known by
 * its SQS message id, which stays the same across receives.
 */

export interface DeadLetter {
  /** The queue's name in the stack outputs (`MarketplaceEvents`, `MeteringWork`, ...). */
  readonly queue: string;
  readonly messageId: string;
  /** Why it is there, as its producer said. */
  readonly reason: string;
  readonly errorType?: string;
  /** When it was sent to the dead-letter queue. */
  readonly sentAt?: string;
  /** The license it concerns, when its body names one. */
  readonly licenseKey?: string;
  /** The event's detail type, or the work message's kind. */
  readonly what?: string;
  readonly body: string;
}

type Queues = ReadonlyMap<string, DeadLetterQueueOutput>;

const stringAttribute = (message: Message, name: string): string | undefined =>
  message.MessageAttributes?.[name]?.StringValue;

const parse = (body: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
};

const field = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (current, key) =>
      typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[key] : undefined,
    value,
  );

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** The event inside a body: Lambda's failure record carries it as `requestPayload`. */
const eventOf = (body: Record<string, unknown> | undefined): Record<string, unknown> | undefined => {
  const request = field(body, 'requestPayload');
  return typeof request === 'object' && request !== null ? (request as Record<string, unknown>) : body;
};

/** What a dead-lettered message says about itself: why it failed and what it was. */
export const describeDeadLetter = (queue: string, message: Message): DeadLetter => {
  const body = message.Body ?? '';
  const json = parse(body);
  const event = eventOf(json);
  const reason =
    stringAttribute(message, deadLetterAttributes.reason) ??
    stringAttribute(message, 'ERROR_MESSAGE') ??
    text(field(json, 'responsePayload', 'errorMessage')) ??
    (json === undefined
      ? 'failed every receive; its body is not JSON'
      : 'failed every receive (the reason is in the function logs, by message id)');
  const errorType =
    stringAttribute(message, deadLetterAttributes.errorType) ??
    stringAttribute(message, 'ERROR_CODE') ??
    text(field(json, 'responsePayload', 'errorType'));
  const sent = Number(message.Attributes?.SentTimestamp);
  const licenseKey =
    text(field(event, 'detail', 'licenseKey')) ??
    text(field(event, 'licenseKey')) ??
    text(field(event, 'detail', 'license', 'arn'));
  const licenseKeys = field(event, 'licenseKeys');
  const what = text(field(event, 'detail-type')) ?? text(field(event, 'kind'));
  return {
    queue,
    messageId: message.MessageId ?? '',
    reason,
    ...(errorType ? { errorType } : {}),
    ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}),
    ...(licenseKey
      ? { licenseKey }
      : Array.isArray(licenseKeys) && licenseKeys.length > 0
        ? { licenseKey: licenseKeys.join(' ') }
        : {}),
    ...(what ? { what } : {}),
    body,
  };
};

export interface ReceivedDeadLetter {
  readonly letter: DeadLetter;
  readonly receiptHandle: string;
}

/**
 * Receives every visible message of a queue once (up to `limit`), hidden for `visibilitySeconds`
 * while the caller works on them. A message seen twice in one sweep is received once.
 */
export const receiveAll = async (
  sqs: SQSClient,
  name: string,
  queue: DeadLetterQueueOutput,
  { limit = 1000, visibilitySeconds }: { limit?: number; visibilitySeconds: number },
): Promise<ReceivedDeadLetter[]> => {
  const received = new Map<string, ReceivedDeadLetter>();
  while (received.size < limit) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: Math.min(10, limit - received.size),
        VisibilityTimeout: visibilitySeconds,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['SentTimestamp'],
        WaitTimeSeconds: 0,
      }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      if (!message.MessageId || !message.ReceiptHandle || received.has(message.MessageId)) continue;
      received.set(message.MessageId, {
        letter: describeDeadLetter(name, message),
        receiptHandle: message.ReceiptHandle,
      });
    }
  }
  return [...received.values()];
};

/** Lists the dead letters of the chosen queues (all by default) and leaves them where they are. */
export const listDeadLetters = async (
  sqs: SQSClient,
  queues: Queues,
  options: { limit?: number } = {},
): Promise<DeadLetter[]> => {
  const letters: DeadLetter[] = [];
  for (const [name, queue] of queues) {
    const received = await receiveAll(sqs, name, queue, { visibilitySeconds: 30, ...options });
    // Visible again at once: listing takes nothing away from a redrive running next.
    await Promise.all(
      received.map(({ receiptHandle }) =>
        sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queue.url,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          }),
        ),
      ),
    );
    letters.push(...received.map(({ letter }) => letter));
  }
  return letters;
};

export class RedriveError extends Error {
  override readonly name = 'RedriveError';
}

/** The message that goes to the queue's destination for one dead letter (see `RedriveTarget`). */
export const redriveMessage = (queue: DeadLetterQueueOutput, letter: DeadLetter): string => {
  const { redrive } = queue;
  if (redrive.to === 'function' || redrive.to === 'queue') return letter.body;
  const event = eventOf(parse(letter.body));
  const licenseKey = text(field(event, 'detail', 'licenseKey'));
  if (!licenseKey) throw new RedriveError('the body is not a domain event naming a licenseKey');
  if (redrive.to === 'flush') return JSON.stringify({ kind: 'flush', licenseKey });
  const time = text(field(event, 'time'));
  return JSON.stringify({ kind: 'meter', licenseKeys: [licenseKey], ...(time ? { runHour: time } : {}) });
};

export interface MoveResult {
  readonly letter: DeadLetter;
  /** `moved`: delivered and deleted; `failed`: left in the queue (see `error`). */
  readonly outcome: 'moved' | 'failed';
  readonly error?: string;
}

export interface RedriveClients {
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
}

/**
 * Gives each chosen dead letter back to its destination, then deletes it: each message is
 * delivered at most once per run (a message that comes back during the run is only deleted), and
 * one that could not be delivered stays in the queue with its reason.
 */
export const redriveDeadLetters = async (
  clients: RedriveClients,
  queues: Queues,
  choose: (letter: DeadLetter) => boolean,
  onProgress: (done: number) => void = () => {},
): Promise<MoveResult[]> => {
  const results: MoveResult[] = [];
  const delivered = new Set<string>();
  for (const [name, queue] of queues) {
    const received = await receiveAll(clients.sqs, name, queue, { visibilitySeconds: 300 });
    for (const { letter, receiptHandle } of received) {
      if (!choose(letter)) {
        await clients.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queue.url,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
        continue;
      }
      try {
        if (!delivered.has(letter.messageId)) {
          await deliver(clients, queue, letter);
          delivered.add(letter.messageId);
        }
        await clients.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: receiptHandle }),
        );
        results.push({ letter, outcome: 'moved' });
      } catch (error) {
        results.push({
          letter,
          outcome: 'failed',
          error: error instanceof Error ? error.message : String(error),
        });
        // Left where it was, visible at once to the next look.
        await clients.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queue.url,
              ReceiptHandle: receiptHandle,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined);
      }
      onProgress(1);
    }
  }
  return results;
};

const deliver = async (
  clients: RedriveClients,
  queue: DeadLetterQueueOutput,
  letter: DeadLetter,
): Promise<void> => {
  const message = redriveMessage(queue, letter);
  const { redrive } = queue;
  if (redrive.to === 'function') {
    const answer = await clients.lambda.send(
      new InvokeCommand({
        FunctionName: redrive.functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(message),
      }),
    );
    if (answer.StatusCode !== 202)
      throw new RedriveError(`Lambda answered ${answer.StatusCode} instead of 202`);
    return;
  }
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: redrive.queueUrl, MessageBody: message }));
};

/** Deletes the chosen dead letters for good. */
export const discardDeadLetters = async (
  sqs: SQSClient,
  queues: Queues,
  choose: (letter: DeadLetter) => boolean,
): Promise<DeadLetter[]> => {
  const discarded: DeadLetter[] = [];
  for (const [name, queue] of queues) {
    for (const { letter, receiptHandle } of await receiveAll(sqs, name, queue, { visibilitySeconds: 60 })) {
      if (choose(letter)) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: receiptHandle }));
        discarded.push(letter);
      } else {
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queue.url,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    }
  }
  return discarded;
};

/** The queues named by `--queue` (all when none), or an error listing the known names. */
export const chooseQueues = (queues: Queues, names: readonly string[]): Queues => {
  if (names.length === 0) return queues;
  const unknown = names.filter((name) => !queues.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown dead-letter queue ${unknown.join(', ')}; the stack has ${[...queues.keys()].join(', ')}`,
    );
  }
  return new Map([...queues].filter(([name]) => names.includes(name)));
};
