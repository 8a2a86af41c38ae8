import { discardDeadLetters } from '../dead-letters.js';
import { exitCodes, table, UsageError } from '../output.js';
import type { Command } from '../registry.js';
import { queuesOption } from './dead-letters.js';

export const discardCommand: Command = {
  name: 'discard',
  summary: 'delete dead letters for good (chosen by id, or a whole queue)',
  help: `Usage: marketplace-bridge discard (--message ID... | --all --queue NAME)

Deletes dead letters that are garbage (a notification that will never parse, a test event).
Nothing is redelivered. --all needs --queue, so one command never empties every queue.

  --message ID   this message id (repeatable; see dead-letters)
  --all          every message of the --queue named
  --queue NAME   only this queue (repeatable)`,
  options: {
    all: { type: 'boolean' },
    message: { type: 'string', multiple: true },
    queue: { type: 'string', multiple: true },
  },
  async run(context, values) {
    const ids = Array.isArray(values.message) ? values.message : [];
    const queueNames = Array.isArray(values.queue) ? values.queue : [];
    if ((values.all === true) === ids.length > 0) {
      throw new UsageError('Say which messages: --message ID (one or more), or --all --queue NAME');
    }
    if (values.all === true && queueNames.length === 0) throw new UsageError('--all needs --queue NAME');
    const deployment = context.deployment();
    const queues = queuesOption((await deployment.resources()).deadLetterQueues, values.queue);
    const wanted = new Set(ids);
    const discarded = await discardDeadLetters(
      deployment.sqs,
      queues,
      (letter) => values.all === true || wanted.has(letter.messageId),
    );
    const missing = ids.filter((id) => !discarded.some((letter) => letter.messageId === id));
    if (context.json) {
      context.io.stdout(
        `${JSON.stringify(
          { discarded: discarded.map(({ queue, messageId }) => ({ queue, messageId })), notFound: missing },
          null,
          2,
        )}\n`,
      );
    } else {
      context.io.stdout(
        discarded.length === 0
          ? 'Nothing discarded.\n'
          : table(
              ['queue', 'message id', 'reason'],
              discarded.map((letter) => [letter.queue, letter.messageId, letter.reason]),
            ),
      );
      for (const id of missing) context.io.stdout(`No dead letter with message id ${id}\n`);
    }
    return missing.length > 0 ? exitCodes.problems : exitCodes.ok;
  },
};
