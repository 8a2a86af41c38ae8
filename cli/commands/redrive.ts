import { redriveDeadLetters } from '../dead-letters.js';
import { exitCodes, progress, table, UsageError } from '../output.js';
import type { Command } from '../registry.js';
import { queuesOption } from './dead-letters.js';

export const redriveCommand: Command = {
  name: 'redrive',
  summary: 'give dead letters back to where they failed (all, or chosen by id)',
  help: `Usage: marketplace-bridge redrive (--all | --message ID...) [--queue NAME]...

After fixing the cause, gives each chosen dead letter back to its destination and then deletes it:
Marketplace and SaaSus events go back to their function (the body unchanged, as an asynchronous
invocation), legacy SNS notifications and metering work to their work queue, final flush and
metering start requests to the metering queue as the message their rule would have sent.
Each message is delivered once per run; one that cannot be delivered stays, with its reason.
Redriving is safe: an event id processed in the last 24 hours is skipped, a later replay changes
nothing (the license record is a merge, SaaSus changes look before they act), and a message that
still cannot be processed comes back to its dead-letter queue with its reason.
Exits 1 when any message could not be moved.

  --all          every message of the chosen queues
  --message ID   only this message id (repeatable; see dead-letters)
  --queue NAME   only this queue (repeatable)`,
  options: {
    all: { type: 'boolean' },
    message: { type: 'string', multiple: true },
    queue: { type: 'string', multiple: true },
  },
  async run(context, values) {
    const ids = Array.isArray(values.message) ? values.message : [];
    if ((values.all === true) === ids.length > 0) {
      throw new UsageError('Say which messages: --all, or --message ID (one or more), not both');
    }
    const deployment = context.deployment();
    const queues = queuesOption((await deployment.resources()).deadLetterQueues, values.queue);
    const wanted = new Set(ids);
    const bar = progress(context.io, 'redrive', Number.POSITIVE_INFINITY);
    const results = await redriveDeadLetters(
      { sqs: deployment.sqs, lambda: deployment.lambda },
      queues,
      (letter) => values.all === true || wanted.has(letter.messageId),
      (done) => bar.tick(done),
    );
    bar.done();
    const missing = ids.filter((id) => !results.some((result) => result.letter.messageId === id));
    const failed = results.filter((result) => result.outcome === 'failed');
    if (context.json) {
      context.io.stdout(
        `${JSON.stringify(
          {
            moved: results
              .filter((result) => result.outcome === 'moved')
              .map((result) => ({
                queue: result.letter.queue,
                messageId: result.letter.messageId,
              })),
            failed: failed.map((result) => ({
              queue: result.letter.queue,
              messageId: result.letter.messageId,
              error: result.error,
            })),
            notFound: missing,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      context.io.stdout(
        results.length === 0
          ? 'Nothing to redrive.\n'
          : table(
              ['queue', 'message id', 'outcome', 'license', 'error'],
              results.map((result) => [
                result.letter.queue,
                result.letter.messageId,
                result.outcome,
                result.letter.licenseKey ?? '',
                result.error ?? '',
              ]),
            ),
      );
      for (const id of missing) context.io.stdout(`No dead letter with message id ${id} (already moved?)\n`);
    }
    return failed.length > 0 || missing.length > 0 ? exitCodes.problems : exitCodes.ok;
  },
};
