import * as z from 'zod';

/**
 * What the stack tells its operators through CloudFormation outputs: the names of its tables,
 * bus and queues, and for each dead-letter queue where its messages go back to. The CDK app
 * writes these outputs (lib/constructs/operations.ts) and the command-line tool reads them with
 * DescribeStacks (cli/stack.ts), so neither guesses the other's names.
 */
export const stackOutputKeys = {
  licensesTable: 'LicensesTableName',
  meteringLedgerTable: 'MeteringLedgerTableName',
  idempotencyTable: 'IdempotencyTableName',
  domainEventBus: 'DomainEventBusName',
  meteringQueueUrl: 'MeteringQueueUrl',
} as const;

/** Each dead-letter queue has an output `DeadLetters<name>` holding a `DeadLetterQueueOutput` as JSON. */
export const deadLetterOutputPrefix = 'DeadLetters';

/**
 * Where a dead-letter queue's messages are redriven:
 * - `function`: the body goes back to the function unchanged, as an asynchronous invocation (it
 *   accepts both Lambda's failure record and the event EventBridge could not deliver);
 * - `queue`: the body goes back to the work queue unchanged;
 * - `flush`: the body is a `License Ending` event; a `{ kind: 'flush', licenseKey }` message goes
 *   to the metering queue (what the final-flush rule would have sent);
 * - `meter`: the body is a `License Activated`/`Reinstated`/`Tenant Provisioned` event; a
 *   `{ kind: 'meter', licenseKeys, runHour }` message goes to the metering queue.
 */
export const redriveTargetSchema = z.discriminatedUnion('to', [
  z.object({ to: z.literal('function'), functionName: z.string().min(1) }),
  z.object({ to: z.literal('queue'), queueUrl: z.string().min(1) }),
  z.object({ to: z.literal('flush'), queueUrl: z.string().min(1) }),
  z.object({ to: z.literal('meter'), queueUrl: z.string().min(1) }),
]);

export type RedriveTarget = z.output<typeof redriveTargetSchema>;

export const deadLetterQueueOutputSchema = z.object({
  /** What fails into it, for people: "Marketplace events". */
  description: z.string(),
  url: z.string().min(1),
  redrive: redriveTargetSchema,
});

export type DeadLetterQueueOutput = z.output<typeof deadLetterQueueOutputSchema>;
