import { describe, expect, it } from 'vitest';
import { parseScheduleExpression, ScheduleExpressionError } from '#sandbox/schedule-expression';

const next = (expression: string, after: string, timeZone?: string) =>
  parseScheduleExpression(expression, timeZone ? { timeZone } : {})
    .nextAfter(new Date(after))
    ?.toISOString();

describe('cron expressions', () => {
  it.each([
    [
      'hourly at minute 5, before the minute',
      'cron(5 * * * ? *)',
      '2026-06-01T10:03:00Z',
      '2026-06-01T10:05:00.000Z',
    ],
    [
      'hourly at minute 5, on the minute (strictly after)',
      'cron(5 * * * ? *)',
      '2026-06-01T10:05:00Z',
      '2026-06-01T11:05:00.000Z',
    ],
    ['hourly across midnight', 'cron(5 * * * ? *)', '2026-06-01T23:30:00Z', '2026-06-02T00:05:00.000Z'],
    ['every 15 minutes', 'cron(0/15 * * * ? *)', '2026-06-01T10:16:00Z', '2026-06-01T10:30:00.000Z'],
    ['a list of hours', 'cron(0 8,17 * * ? *)', '2026-06-01T09:00:00Z', '2026-06-01T17:00:00.000Z'],
    ['a range with a step', 'cron(0 9-17/4 * * ? *)', '2026-06-01T13:30:00Z', '2026-06-01T17:00:00.000Z'],
    ['weekdays by name', 'cron(0 12 ? * MON-FRI *)', '2026-06-05T13:00:00Z', '2026-06-08T12:00:00.000Z'],
    ['day-of-week 1 is Sunday', 'cron(0 0 ? * 1 *)', '2026-06-01T00:00:00Z', '2026-06-07T00:00:00.000Z'],
    ['a month by name', 'cron(0 0 1 JAN ? *)', '2026-06-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['last day of the month', 'cron(0 0 L * ? *)', '2026-02-10T00:00:00Z', '2026-02-28T00:00:00.000Z'],
    ['last Friday of the month', 'cron(0 0 ? * 6L *)', '2026-06-01T00:00:00Z', '2026-06-26T00:00:00.000Z'],
    ['second Monday', 'cron(0 0 ? * 2#2 *)', '2026-06-01T00:00:00Z', '2026-06-08T00:00:00.000Z'],
    [
      'weekday nearest the 6th (a Saturday)',
      'cron(0 0 6W * ? *)',
      '2026-06-01T00:00:00Z',
      '2026-06-05T00:00:00.000Z',
    ],
    ['a year that has passed', 'cron(0 0 1 1 ? 2025)', '2026-06-01T00:00:00Z', undefined],
  ])('%s', (_name, expression, after, expected) => {
    expect(next(expression, after)).toBe(expected);
  });

  it('evaluates in the schedule time zone', () => {
    // 09:00 in Tokyo is 00:00 UTC.
    expect(next('cron(0 9 * * ? *)', '2026-06-01T01:00:00Z', 'Asia/Tokyo')).toBe('2026-06-02T00:00:00.000Z');
    // New York switches to daylight time on 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 after.
    expect(next('cron(0 9 * * ? *)', '2026-03-07T15:00:00Z', 'America/New_York')).toBe(
      '2026-03-08T13:00:00.000Z',
    );
  });
});

describe('rate and at expressions', () => {
  it('counts rates from the anchor', () => {
    const rate = parseScheduleExpression('rate(1 hour)', { anchor: new Date('2026-06-01T10:20:00Z') });
    expect(rate.nextAfter(new Date('2026-06-01T10:00:00Z'))?.toISOString()).toBe('2026-06-01T10:20:00.000Z');
    expect(rate.nextAfter(new Date('2026-06-01T10:20:00Z'))?.toISOString()).toBe('2026-06-01T11:20:00.000Z');
    expect(rate.nextAfter(new Date('2026-06-01T12:59:00Z'))?.toISOString()).toBe('2026-06-01T13:20:00.000Z');
    const everyFive = parseScheduleExpression('rate(5 minutes)', {
      anchor: new Date('2026-06-01T00:00:00Z'),
    });
    expect(everyFive.nextAfter(new Date('2026-06-01T00:07:00Z'))?.toISOString()).toBe(
      '2026-06-01T00:10:00.000Z',
    );
  });

  it('fires an at() schedule once', () => {
    const once = parseScheduleExpression('at(2026-06-01T12:00:00)', { timeZone: 'Asia/Tokyo' });
    expect(once.nextAfter(new Date('2026-06-01T00:00:00Z'))?.toISOString()).toBe('2026-06-01T03:00:00.000Z');
    expect(once.nextAfter(new Date('2026-06-01T03:00:00Z'))).toBeUndefined();
  });
});

describe('invalid schedule expressions', () => {
  it.each([
    ['not an expression', 'every hour', /expected cron/],
    ['five cron fields', 'cron(5 * * * ?)', /six fields/],
    ['both day fields set', 'cron(0 0 1 * MON *)', /exactly one/],
    ['neither day field is ?', 'cron(0 0 ? * ? *)', /exactly one/],
    ['minute out of range', 'cron(60 * * * ? *)', /minutes: "60" is out of range/],
    ['backwards range', 'cron(0 10-5 * * ? *)', /runs backwards/],
    ['zero step', 'cron(0/0 * * * ? *)', /bad step/],
    ['rate with an unknown unit', 'rate(5 weeks)', /rate takes/],
    ['rate of 1 with a plural unit', 'rate(1 hours)', /singular/],
    ['rate above 1 with a singular unit', 'rate(2 hour)', /plural/],
    ['at without seconds', 'at(2026-06-01T12:00)', /yyyy-mm-ddThh:mm:ss/],
  ])('rejects %s', (_name, expression, message) => {
    expect(() => parseScheduleExpression(expression)).toThrow(ScheduleExpressionError);
    expect(() => parseScheduleExpression(expression)).toThrow(message);
  });

  it('rejects an unknown time zone', () => {
    expect(() => parseScheduleExpression('cron(5 * * * ? *)', { timeZone: 'Mars/Olympus' })).toThrow(
      /unknown time zone/,
    );
  });
});
