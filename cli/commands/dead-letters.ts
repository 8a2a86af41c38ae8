import { chooseQueues, listDeadLetters } from '../dead-letters.js';
import { exitCodes, table, UsageError } from '../output.js';
import type { Command } from '../registry.js';

export const deadLettersCommand: Command = {
  name: 'dead-letters',
  summary: 'list what waits in the dead-letter queues, with the reasons',
  help: `Usage: marketplace-bridge dead-letters [--queue NAME]... [--limit N]

Lists the messages of the stack's dead-letter queues with why each is there (the reason its
producer recorded), the license it concerns and its message id (what redrive and discard take).
Messages stay where they are. Exits 1 when any queue holds a message.

  --queue NAME   only this queue (repeatable): MarketplaceEvents, SaasusEvents, LegacySns,
                 FinalFlush, MeteringWork, MeteringStart, MeteringSchedule
  --limit N      at most N messages per queue (default 1000)`,
  options: { queue: { type: 'string', multiple: true }, limit: { type: 'string' } },
  async run(context, values) {
    const limit = values.limit === undefined ? 1000 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new UsageError(`--limit: expected a positive whole number, got "${values.limit}"`);
    const deployment = context.deployment();
    const resources = await deployment.resources();
    const queues = queuesOption(resources.deadLetterQueues, values.queue);
    const letters = await listDeadLetters(deployment.sqs, queues, { limit });
    if (context.json) {
      context.io.stdout(`${JSON.stringify({ deadLetters: letters }, null, 2)}\n`);
    } else if (letters.length === 0) {
      context.io.stdout('No dead letters.\n');
    } else {
      context.io.stdout(
        table(
          ['queue', 'message id', 'sent', 'what', 'license', 'reason'],
          letters.map((letter) => [
            letter.queue,
            letter.messageId,
            letter.sentAt ?? '',
            letter.what ?? '',
            letter.licenseKey ?? '',
            `${letter.errorType ? `${letter.errorType}: ` : ''}${letter.reason}`,
          ]),
        ),
      );
    }
    return letters.length === 0 ? exitCodes.ok : exitCodes.problems;
  },
};

/** `--queue` values checked against the stack's queues. */
export const queuesOption = (
  queues: Parameters<typeof chooseQueues>[0],
  option: string | boolean | string[] | undefined,
): ReturnType<typeof chooseQueues> => {
  try {
    return chooseQueues(queues, Array.isArray(option) ? option : []);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
};
