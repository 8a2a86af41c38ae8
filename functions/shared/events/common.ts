import * as z from 'zod';
import { describeIssues } from '../config.js';

/**
 * Pieces shared by the event parsers. A parser either accepts an event (a normalised signal),
 * ignores it (a documented no-op, with the reason) or rejects it by throwing EventParseError:
 * a reject is something we cannot act on, and its reason is what the DLQ message carries.
 */

export type EventOrigin = 'marketplace-eventbridge' | 'marketplace-sns' | 'saasus';

/** An event we cannot act on. `reason` is short, names the offending field and never holds secrets. */
export class EventParseError extends Error {
  override readonly name = 'EventParseError';

  constructor(
    readonly origin: EventOrigin,
    readonly reason: string,
  ) {
    super(`${origin} event rejected: ${reason}`);
  }
}

export type ParseOutcome<T> =
  | { readonly ok: true; readonly signal: T }
  | {
      readonly ok: false;
      /** Why this event is a deliberate no-op. */
      readonly ignored: string;
      /** The event id, so an ignore can still be logged against the event. */
      readonly eventId?: string;
    };

export const accept = <T>(signal: T): ParseOutcome<T> => ({ ok: true, signal });

export const ignore = (reason: string, eventId?: string): ParseOutcome<never> => ({
  ok: false,
  ignored: reason,
  ...(eventId === undefined ? {} : { eventId }),
});

/** ISO-8601 timestamp, normalised to `toISOString()` so stored times compare as strings. */
export const isoTime = (what: string) =>
  z.iso
    .datetime({ offset: true, message: `expected ${what} as an ISO-8601 timestamp` })
    .transform((value) => new Date(value).toISOString());

/** A required identifier, trimmed: some published payloads carry a leading space (`" X01EXAMPLEX"`). */
export const identifier = (what: string) =>
  z
    .string({ message: `expected ${what} as a string` })
    .trim()
    .min(1, `expected ${what}, got an empty string`);

/** An optional identifier: absent, null and blank all mean "not given". */
export const optionalIdentifier = z
  .string()
  .trim()
  .nullish()
  .transform((value) => (value ? value : undefined));

/** Parses JSON text, turning a syntax error into a reject that names what was being read. */
export const parseJsonText = (text: string, what: string, origin: EventOrigin): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new EventParseError(origin, `${what} is not valid JSON`);
  }
};

/** Validates with a zod schema; failures become one reject line per field. */
export const parseWith = <T extends z.ZodType>(
  schema: T,
  input: unknown,
  what: string,
  origin: EventOrigin,
): z.output<T> => {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new EventParseError(origin, `${what}: ${describeIssues(result.error).split('\n').join('; ')}`);
  }
  return result.data;
};

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
