/**
 * Typed errors of the metering domain logic. Every one names the bad input, so a failed run
 * logs what to fix instead of a stack trace into arithmetic.
 */

/** A caller passed an argument the metering logic cannot work with (bad date, range, shape). */
export class MeteringInputError extends Error {
  override readonly name: string = 'MeteringInputError';
}

/** A quantity outside what a BatchMeterUsage record can carry (an integer 0..2,147,483,647). */
export class QuantityOutOfRangeError extends MeteringInputError {
  override readonly name: string = 'QuantityOutOfRangeError';
}

/** A SaaSus day count the computation needs was not supplied (every involved day must be read). */
export class MissingDayCountError extends MeteringInputError {
  override readonly name: string = 'MissingDayCountError';
}

/** The ledger facts supplied do not reach back far enough to know what was already reported. */
export class IncompleteLedgerError extends MeteringInputError {
  override readonly name: string = 'IncompleteLedgerError';
}

/** Two records for the same (license, dimension, hour): AWS would bill only one of them. */
export class DuplicateUsageRecordError extends MeteringInputError {
  override readonly name: string = 'DuplicateUsageRecordError';
}

/** A send function returned results that do not match the records it was given. */
export class InvalidSendResultError extends Error {
  override readonly name: string = 'InvalidSendResultError';
}

/** A ledger item in a final state was asked to take a different state. */
export class InvalidLedgerTransitionError extends Error {
  override readonly name: string = 'InvalidLedgerTransitionError';
}

/** An error as one log line: `Name: message`. */
export const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);
