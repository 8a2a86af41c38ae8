import { MeteringInputError } from './errors.js';

/**
 * Time arithmetic for metering. Marketplace usage hours are UTC hours: a record's Timestamp is
 * the start of the hour its usage belongs to, so a resend is byte-identical and AWS dedupes it.
 * SaaSus counts usage per calendar day in a time zone its docs do not name, so days are
 * computed in a configurable IANA zone. A UTC hour belongs to the day that contains its start;
 * in zones with half-hour offsets that day also owns the first half hour of the next day,
 * which only moves usage by half an hour and never loses it.
 */

export const HOUR_MS = 3_600_000;

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR_KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/;

export const assertValidDate = (value: Date, what: string): Date => {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new MeteringInputError(`${what}: expected a valid Date, got ${String(value)}`);
  }
  return value;
};

export const isHourStart = (instant: Date): boolean => instant.getTime() % HOUR_MS === 0;

export const assertHourStart = (value: Date, what: string): Date => {
  assertValidDate(value, what);
  if (!isHourStart(value)) {
    throw new MeteringInputError(`${what}: expected the start of a UTC hour, got ${value.toISOString()}`);
  }
  return value;
};

/** The start of the UTC hour containing `instant`. */
export const hourStart = (instant: Date): Date => {
  assertValidDate(instant, 'instant');
  return new Date(Math.floor(instant.getTime() / HOUR_MS) * HOUR_MS);
};

/** The start of the hour after `hour` (which must itself be an hour start). */
export const nextHour = (hour: Date): Date => new Date(assertHourStart(hour, 'hour').getTime() + HOUR_MS);

/** The ISO key of an hour, e.g. `2026-11-22T13:00:00.000Z` (the prefix of the ledger sort key). */
export const hourKey = (hour: Date): string => assertHourStart(hour, 'hour').toISOString();

export const parseHourKey = (key: string): Date => {
  const hour = new Date(key);
  if (!HOUR_KEY_PATTERN.test(key) || Number.isNaN(hour.getTime()) || hour.toISOString() !== key) {
    throw new MeteringInputError(`expected an hour key such as 2026-11-22T13:00:00.000Z, got "${key}"`);
  }
  return hour;
};

export interface HoursToReportInput {
  readonly now: Date;
  /** The newest hour already handled for the license (its metering cursor); none before the first run. */
  readonly lastReportedHourStart?: Date | undefined;
  /** When metering starts: the license's activation. Its hour is the first one reported. */
  readonly meteringStartsAt: Date;
  /** When metering ends (revocation): once past, the final flush also reports the partial hour. */
  readonly meteringEndsAt?: Date | undefined;
  /**
   * The most hours one run reports; older pending hours are skipped. `allowedWindowHours - 1`
   * keeps every returned hour sendable when runs start by minute 30 (see partitionByWindow).
   */
  readonly maxHours: number;
}

export interface HoursToReport {
  /** Hour starts to report, oldest first. */
  readonly hours: Date[];
  /**
   * Pending hours left out because more than `maxHours` were due (catch-up after an outage).
   * They are the oldest ones: AWS would reject them as too old anyway. A sum unit's usage in
   * them is still billed, in the first reported hour of the same day (see quantities.ts).
   */
  readonly skippedHours: number;
}

/**
 * The hours not yet reported, oldest first. Normally only completed hours are due; once
 * `meteringEndsAt` has passed, every hour up to and including the one containing it is due,
 * because no more usage can arrive for a revoked license and this is the final flush.
 */
export const completedHoursToReport = (input: HoursToReportInput): HoursToReport => {
  const now = assertValidDate(input.now, 'now');
  const startsAt = assertValidDate(input.meteringStartsAt, 'meteringStartsAt');
  if (!Number.isInteger(input.maxHours) || input.maxHours < 1) {
    throw new MeteringInputError(`maxHours: expected a whole number of at least 1, got ${input.maxHours}`);
  }
  let first = hourStart(startsAt).getTime();
  if (input.lastReportedHourStart !== undefined) {
    const last = assertHourStart(input.lastReportedHourStart, 'lastReportedHourStart');
    first = Math.max(first, last.getTime() + HOUR_MS);
  }
  let endExclusive = hourStart(now).getTime();
  if (input.meteringEndsAt !== undefined) {
    const endsAt = assertValidDate(input.meteringEndsAt, 'meteringEndsAt');
    if (endsAt.getTime() < startsAt.getTime()) {
      throw new MeteringInputError(
        `meteringEndsAt (${endsAt.toISOString()}) is before meteringStartsAt (${startsAt.toISOString()})`,
      );
    }
    if (endsAt.getTime() <= now.getTime()) endExclusive = Math.ceil(endsAt.getTime() / HOUR_MS) * HOUR_MS;
  }
  const due = Math.max(0, (endExclusive - first) / HOUR_MS);
  const skippedHours = Math.max(0, due - input.maxHours);
  const hours: Date[] = [];
  for (let hour = first + skippedHours * HOUR_MS; hour < endExclusive; hour += HOUR_MS) {
    hours.push(new Date(hour));
  }
  return { hours, skippedHours };
};

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

const dayFormatter = (timeZone: string): Intl.DateTimeFormat => {
  let formatter = dayFormatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      });
    } catch {
      throw new MeteringInputError(`expected an IANA time zone such as UTC or Asia/Tokyo, got "${timeZone}"`);
    }
    dayFormatters.set(timeZone, formatter);
  }
  return formatter;
};

/** The SaaSus calendar day (`YYYY-MM-DD`) containing `instant` in `timeZone`. */
export const dayOf = (instant: Date, timeZone: string): string => {
  assertValidDate(instant, 'instant');
  const parts = dayFormatter(timeZone).formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    parts.find((candidate) => candidate.type === type)?.value;
  return `${part('year')?.padStart(4, '0')}-${part('month')}-${part('day')}`;
};

/** Throws unless `day` is a real calendar date written `YYYY-MM-DD`; returns its UTC midnight in ms. */
const parseDay = (day: string): number => {
  const match = DAY_PATTERN.exec(day);
  const midnight = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN;
  if (Number.isNaN(midnight) || new Date(midnight).toISOString().slice(0, 10) !== day) {
    throw new MeteringInputError(`expected a calendar day such as 2026-11-22, got "${day}"`);
  }
  return midnight;
};

export const assertDay = (day: string): string => {
  parseDay(day);
  return day;
};

/** The later of two calendar days. */
export const laterDay = (a: string, b: string): string => (parseDay(a) >= parseDay(b) ? a : b);

/** The calendar day `days` days after `day` (negative: before). */
export const addDays = (day: string, days: number): string =>
  new Date(parseDay(day) + days * 24 * HOUR_MS).toISOString().slice(0, 10);

/** The calendar month (`YYYY-MM`) of a day. */
export const monthOf = (day: string): string => assertDay(day).slice(0, 7);

/** The first day of the month containing `day`. */
export const firstDayOfMonth = (day: string): string => `${monthOf(day)}-01`;

// Offsets in use range from UTC-12 to UTC+14, so a day's hours start within these bounds of its
// UTC midnight; scanning them covers any zone.
const EARLIEST_OFFSET_HOURS = 14;
const LATEST_DAY_END_HOURS = 36;

/**
 * The UTC hours whose start lies in `day` (in `timeZone`), oldest first: 24 on most days,
 * 23 or 25 on daylight-saving changes.
 */
export const hoursOfDay = (day: string, timeZone: string): Date[] => {
  const midnight = parseDay(day);
  const hours: Date[] = [];
  for (let hour = -EARLIEST_OFFSET_HOURS; hour < LATEST_DAY_END_HOURS; hour++) {
    const start = new Date(midnight + hour * HOUR_MS);
    if (dayOf(start, timeZone) === day) hours.push(start);
  }
  return hours;
};

/** The first UTC hour start that lies in `day` or later: where a day's ledger items begin. */
export const firstHourOnOrAfterDay = (day: string, timeZone: string): Date => {
  const midnight = parseDay(day);
  for (let hour = -EARLIEST_OFFSET_HOURS; ; hour++) {
    const start = new Date(midnight + hour * HOUR_MS);
    if (dayOf(start, timeZone) >= day) return start;
  }
};
