/**
 * EventBridge schedule expressions, for firing schedules on the sandbox's simulated clock:
 * `cron(minutes hours day-of-month month day-of-week year)`, `rate(n minute|minutes|hour|hours|day|days)`
 * and `at(yyyy-mm-ddThh:mm:ss)`, evaluated in the schedule's time zone (default UTC).
 *
 * Cron fields take `*`, values, ranges `a-b`, lists `a,b`, steps `a/n` and `a-b/n`; month and
 * day-of-week also take names (`JAN`, `MON`); day-of-week counts 1 = SUN … 7 = SAT. One of
 * day-of-month and day-of-week must be `?`. `L` (last day of month, or `5L` = last Thursday),
 * `W` (`15W` = weekday nearest the 15th, `LW`) and `#` (`2#1` = first Monday) are supported.
 * A `rate` counts from its anchor (when the sandbox created the schedule).
 */

export class ScheduleExpressionError extends Error {
  override readonly name = 'ScheduleExpressionError';
}

export interface ScheduleExpression {
  readonly kind: 'cron' | 'rate' | 'at';
  readonly text: string;
  /** The first time the schedule fires strictly after `after`, or undefined when it never does again. */
  nextAfter(after: Date): Date | undefined;
}

export interface ScheduleOptions {
  /** IANA time zone the expression is written in; default UTC. */
  readonly timeZone?: string;
  /** Where a `rate` starts counting; default the Unix epoch. */
  readonly anchor?: Date;
}

const MINUTE_MS = 60_000;

const fail = (text: string, message: string): never => {
  throw new ScheduleExpressionError(`${text}: ${message}`);
};

// --- time zones ------------------------------------------------------------------------------------

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

const formatterFor = (timeZone: string) => {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
};

/** Offset of `timeZone` from UTC at an instant, in ms (positive east of Greenwich). */
const zoneOffset = (instant: number, timeZone: string): number => {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const parts = Object.fromEntries(
    formatterFor(timeZone)
      .formatToParts(new Date(instant))
      .map((part) => [part.type, Number(part.value)]),
  ) as Record<string, number>;
  const asUtc = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return asUtc - Math.floor(instant / 1000) * 1000;
};

/** The instant a wall-clock time in `timeZone` denotes (the later one across a DST gap). */
const fromWallClock = (wall: WallClock, timeZone: string): number => {
  const guess = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const first = guess - zoneOffset(guess, timeZone);
  const second = guess - zoneOffset(first, timeZone);
  return second;
};

const toWallClock = (instant: number, timeZone: string): WallClock => {
  const shifted = new Date(instant + zoneOffset(instant, timeZone));
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
  };
};

const validateTimeZone = (timeZone: string) => {
  try {
    formatterFor(timeZone);
  } catch {
    throw new ScheduleExpressionError(`unknown time zone "${timeZone}"`);
  }
};

// --- cron --------------------------------------------------------------------------------------

const monthNames = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const dayNames = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const fieldSpecs: readonly FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: monthNames },
  { name: 'day-of-week', min: 1, max: 7, names: dayNames },
  { name: 'year', min: 1970, max: 2199 },
];

/** Parses `*`, values, ranges, lists and steps into the set of allowed values. */
const parseSet = (text: string, field: string, spec: FieldSpec): Set<number> => {
  const value = (token: string): number => {
    const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
    const number = named >= 0 ? named + spec.min : /^\d+$/.test(token) ? Number(token) : Number.NaN;
    if (!(number >= spec.min && number <= spec.max)) fail(text, `${spec.name}: "${token}" is out of range`);
    return number;
  };
  const allowed = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '', stepText, ...extra] = part.split('/');
    if (extra.length > 0) fail(text, `${spec.name}: "${part}" has more than one "/"`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!(Number.isInteger(step) && step >= 1)) fail(text, `${spec.name}: bad step in "${part}"`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = spec.min;
      to = spec.max;
    } else if (range.includes('-')) {
      const [start = '', end = ''] = range.split('-');
      from = value(start);
      to = value(end);
      if (from > to) fail(text, `${spec.name}: range "${range}" runs backwards`);
    } else {
      from = value(range);
      to = stepText === undefined ? from : spec.max;
    }
    for (let current = from; current <= to; current += step) allowed.add(current);
  }
  return allowed;
};

type DayRule = (year: number, month: number, day: number) => boolean;

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
/** 1 = Sunday … 7 = Saturday, as cron counts. */
const weekdayOf = (year: number, month: number, day: number) =>
  new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;

const nearestWeekday = (year: number, month: number, target: number): number => {
  const last = daysInMonth(year, month);
  const day = Math.min(target, last);
  const weekday = weekdayOf(year, month, day);
  if (weekday === 7) return day === 1 ? 3 : day - 1; // Saturday → Friday, or Monday when the 1st
  if (weekday === 1) return day === last ? day - 2 : day + 1; // Sunday → Monday, or Friday at month end
  return day;
};

const dayOfMonthRule = (text: string, field: string): DayRule => {
  if (field === 'L') return (year, month, day) => day === daysInMonth(year, month);
  if (field === 'LW')
    return (year, month, day) => day === nearestWeekday(year, month, daysInMonth(year, month));
  const weekday = /^(\d{1,2})W$/.exec(field);
  if (weekday) {
    const target = Number(weekday[1]);
    if (target < 1 || target > 31) fail(text, `day-of-month: "${field}" is out of range`);
    return (year, month, day) => day === nearestWeekday(year, month, target);
  }
  const allowed = parseSet(text, field, fieldSpecs[2] as FieldSpec);
  return (_year, _month, day) => allowed.has(day);
};

const dayOfWeekRule = (text: string, field: string): DayRule => {
  const spec = fieldSpecs[4] as FieldSpec;
  const dayValue = (token: string) => [...parseSet(text, token, spec)][0] ?? 0;
  const last = /^([A-Za-z]{3}|\d)L$/.exec(field);
  if (last?.[1]) {
    const weekday = dayValue(last[1]);
    return (year, month, day) =>
      weekdayOf(year, month, day) === weekday && day + 7 > daysInMonth(year, month);
  }
  if (field === 'L') return (year, month, day) => weekdayOf(year, month, day) === 7;
  const nth = /^([A-Za-z]{3}|\d)#([1-5])$/.exec(field);
  if (nth?.[1] && nth[2]) {
    const weekday = dayValue(nth[1]);
    const occurrence = Number(nth[2]);
    return (year, month, day) => weekdayOf(year, month, day) === weekday && Math.ceil(day / 7) === occurrence;
  }
  const allowed = parseSet(text, field, spec);
  return (year, month, day) => allowed.has(weekdayOf(year, month, day));
};

const parseCron = (text: string, body: string, timeZone: string): ScheduleExpression => {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6)
    fail(text, 'cron takes six fields: minutes hours day-of-month month day-of-week year');
  const [minuteField = '', hourField = '', domField = '', monthField = '', dowField = '', yearField = ''] =
    fields;
  if ((domField === '?') === (dowField === '?')) {
    fail(text, 'exactly one of day-of-month and day-of-week must be "?"');
  }
  const minutes = [...parseSet(text, minuteField, fieldSpecs[0] as FieldSpec)].sort((a, b) => a - b);
  const hours = [...parseSet(text, hourField, fieldSpecs[1] as FieldSpec)].sort((a, b) => a - b);
  const months = parseSet(text, monthField, fieldSpecs[3] as FieldSpec);
  const years = parseSet(text, yearField, fieldSpecs[5] as FieldSpec);
  const dayRule = domField === '?' ? dayOfWeekRule(text, dowField) : dayOfMonthRule(text, domField);
  const lastYear = Math.max(...years);

  return {
    kind: 'cron',
    text,
    nextAfter(after) {
      const start = toWallClock(after.getTime(), timeZone);
      // Walk day by day in the schedule's zone; within a day, try the allowed hours and minutes.
      let cursor = Date.UTC(start.year, start.month - 1, start.day);
      for (;;) {
        const date = new Date(cursor);
        const year = date.getUTCFullYear();
        if (year > lastYear) return undefined;
        const month = date.getUTCMonth() + 1;
        const day = date.getUTCDate();
        if (years.has(year) && months.has(month) && dayRule(year, month, day)) {
          for (const hour of hours) {
            for (const minute of minutes) {
              const instant = fromWallClock({ year, month, day, hour, minute }, timeZone);
              if (instant > after.getTime()) return new Date(instant);
            }
          }
        }
        cursor += 24 * 60 * MINUTE_MS;
      }
    },
  };
};

// --- rate and at -------------------------------------------------------------------------------

const rateUnits: Record<string, number> = {
  minute: MINUTE_MS,
  minutes: MINUTE_MS,
  hour: 60 * MINUTE_MS,
  hours: 60 * MINUTE_MS,
  day: 24 * 60 * MINUTE_MS,
  days: 24 * 60 * MINUTE_MS,
};

const parseRate = (text: string, body: string, anchor: Date): ScheduleExpression => {
  const match = /^\s*(\d+)\s+([a-z]+)\s*$/.exec(body);
  const unit = match?.[2] ? rateUnits[match[2]] : undefined;
  const count = Number(match?.[1]);
  if (!match || unit === undefined || !(count >= 1))
    fail(text, 'rate takes "<positive number> <unit>" (minutes, hours or days)');
  const singular = /^(minute|hour|day)$/.test(match?.[2] ?? '');
  if ((count === 1) !== singular) {
    fail(
      text,
      count === 1
        ? 'a rate of 1 takes a singular unit (minute, hour, day)'
        : 'a rate above 1 takes a plural unit',
    );
  }
  const period = count * (unit ?? 0);
  const origin = anchor.getTime();
  return {
    kind: 'rate',
    text,
    nextAfter(after) {
      const elapsed = after.getTime() - origin;
      const periods = elapsed < 0 ? 0 : Math.floor(elapsed / period) + 1;
      return new Date(origin + periods * period);
    },
  };
};

const parseAt = (text: string, body: string, timeZone: string): ScheduleExpression => {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body.trim());
  if (!match) return fail(text, 'at takes yyyy-mm-ddThh:mm:ss');
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const instant =
    fromWallClock(
      { year: year ?? 0, month: month ?? 0, day: day ?? 0, hour: hour ?? 0, minute: minute ?? 0 },
      timeZone,
    ) +
    (second ?? 0) * 1000;
  return {
    kind: 'at',
    text,
    nextAfter: (after) => (instant > after.getTime() ? new Date(instant) : undefined),
  };
};

export const parseScheduleExpression = (
  expression: string,
  options: ScheduleOptions = {},
): ScheduleExpression => {
  const timeZone = options.timeZone ?? 'UTC';
  validateTimeZone(timeZone);
  const match = /^\s*(cron|rate|at)\((.*)\)\s*$/.exec(expression);
  if (!match?.[1] || match[2] === undefined) {
    throw new ScheduleExpressionError(`${expression}: expected cron(...), rate(...) or at(...)`);
  }
  const [, kind, body] = match;
  if (kind === 'cron') return parseCron(expression, body, timeZone);
  if (kind === 'rate') return parseRate(expression, body, options.anchor ?? new Date(0));
  return parseAt(expression, body, timeZone);
};
