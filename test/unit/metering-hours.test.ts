import { describe, expect, it } from 'vitest';
import { MeteringInputError } from '#shared/metering/errors';
import {
  addDays,
  completedHoursToReport,
  dayOf,
  firstHourOnOrAfterDay,
  hourKey,
  hourStart,
  hoursOfDay,
  monthOf,
  nextHour,
  parseHourKey,
} from '#shared/metering/hours';

const at = (iso: string) => new Date(iso);
const isoList = (dates: readonly Date[]) => dates.map((date) => date.toISOString());

describe('UTC hour arithmetic', () => {
  it('floors an instant to the start of its UTC hour', () => {
    expect(hourStart(at('2026-11-22T13:59:59.999Z'))).toEqual(at('2026-11-22T13:00:00Z'));
    expect(hourStart(at('2026-11-22T13:00:00Z'))).toEqual(at('2026-11-22T13:00:00Z'));
  });

  it('steps to the next hour across a day and a year boundary', () => {
    expect(nextHour(at('2026-12-31T23:00:00Z'))).toEqual(at('2027-01-01T00:00:00Z'));
  });

  it('round-trips hour keys and rejects keys that are not hour starts', () => {
    const hour = at('2026-11-22T13:00:00Z');
    expect(hourKey(hour)).toBe('2026-11-22T13:00:00.000Z');
    expect(parseHourKey(hourKey(hour))).toEqual(hour);
    expect(() => parseHourKey('2026-11-22T13:30:00.000Z')).toThrow(MeteringInputError);
    expect(() => parseHourKey('2026-02-30T13:00:00.000Z')).toThrow(/hour key/);
    expect(() => hourKey(at('2026-11-22T13:00:01Z'))).toThrow(/start of a UTC hour/);
  });

  it('rejects invalid dates with a clear error', () => {
    expect(() => hourStart(new Date(Number.NaN))).toThrow(/expected a valid Date/);
  });
});

describe('completedHoursToReport', () => {
  const startsAt = at('2026-11-22T10:30:00Z');

  it('reports only completed hours after the last reported one', () => {
    const plan = completedHoursToReport({
      now: at('2026-11-22T14:05:00Z'),
      lastReportedHourStart: at('2026-11-22T12:00:00Z'),
      meteringStartsAt: startsAt,
      maxHours: 5,
    });
    expect(isoList(plan.hours)).toEqual(['2026-11-22T13:00:00.000Z']);
    expect(plan.skippedHours).toBe(0);
  });

  it('starts with the hour of activation on the first run, oldest first', () => {
    const plan = completedHoursToReport({
      now: at('2026-11-22T14:00:00Z'),
      meteringStartsAt: startsAt,
      maxHours: 5,
    });
    expect(isoList(plan.hours)).toEqual([
      '2026-11-22T10:00:00.000Z',
      '2026-11-22T11:00:00.000Z',
      '2026-11-22T12:00:00.000Z',
      '2026-11-22T13:00:00.000Z',
    ]);
  });

  it('reports nothing before the activation hour has completed', () => {
    expect(
      completedHoursToReport({ now: at('2026-11-22T10:59:00Z'), meteringStartsAt: startsAt, maxHours: 5 })
        .hours,
    ).toEqual([]);
    expect(
      completedHoursToReport({ now: at('2026-11-22T09:00:00Z'), meteringStartsAt: startsAt, maxHours: 5 })
        .hours,
    ).toEqual([]);
  });

  it('includes the current partial hour in a final flush', () => {
    const plan = completedHoursToReport({
      now: at('2026-11-22T14:21:00Z'),
      lastReportedHourStart: at('2026-11-22T13:00:00Z'),
      meteringStartsAt: startsAt,
      meteringEndsAt: at('2026-11-22T14:20:00Z'),
      maxHours: 5,
    });
    expect(isoList(plan.hours)).toEqual(['2026-11-22T14:00:00.000Z']);
  });

  it('stops at the hour containing the end, and ignores an end still in the future', () => {
    const base = {
      meteringStartsAt: startsAt,
      lastReportedHourStart: at('2026-11-22T11:00:00Z'),
      maxHours: 10,
    };
    const later = completedHoursToReport({
      ...base,
      now: at('2026-11-22T18:05:00Z'),
      meteringEndsAt: at('2026-11-22T12:30:00Z'),
    });
    expect(isoList(later.hours)).toEqual(['2026-11-22T12:00:00.000Z']);
    const onBoundary = completedHoursToReport({
      ...base,
      now: at('2026-11-22T14:30:00Z'),
      meteringEndsAt: at('2026-11-22T14:00:00Z'),
    });
    expect(isoList(onBoundary.hours).at(-1)).toBe('2026-11-22T13:00:00.000Z');
    const future = completedHoursToReport({
      ...base,
      now: at('2026-11-22T14:05:00Z'),
      meteringEndsAt: at('2026-11-23T00:00:00Z'),
    });
    expect(isoList(future.hours)).toEqual(['2026-11-22T12:00:00.000Z', '2026-11-22T13:00:00.000Z']);
  });

  it('keeps the newest maxHours hours after an outage and counts the skipped ones', () => {
    const plan = completedHoursToReport({
      now: at('2026-11-22T14:05:00Z'),
      lastReportedHourStart: at('2026-11-22T00:00:00Z'),
      meteringStartsAt: at('2026-11-01T00:00:00Z'),
      maxHours: 5,
    });
    expect(isoList(plan.hours)).toEqual([
      '2026-11-22T09:00:00.000Z',
      '2026-11-22T10:00:00.000Z',
      '2026-11-22T11:00:00.000Z',
      '2026-11-22T12:00:00.000Z',
      '2026-11-22T13:00:00.000Z',
    ]);
    expect(plan.skippedHours).toBe(8);
  });

  it('rejects bad arguments with clear errors', () => {
    const now = at('2026-11-22T14:05:00Z');
    expect(() => completedHoursToReport({ now, meteringStartsAt: startsAt, maxHours: 0 })).toThrow(
      /maxHours/,
    );
    expect(() =>
      completedHoursToReport({
        now,
        meteringStartsAt: startsAt,
        lastReportedHourStart: at('2026-11-22T12:15:00Z'),
        maxHours: 3,
      }),
    ).toThrow(/lastReportedHourStart/);
    expect(() =>
      completedHoursToReport({
        now,
        meteringStartsAt: startsAt,
        meteringEndsAt: at('2026-11-22T10:00:00Z'),
        maxHours: 3,
      }),
    ).toThrow(/before meteringStartsAt/);
    expect(() =>
      completedHoursToReport({ now: new Date('nope'), meteringStartsAt: startsAt, maxHours: 3 }),
    ).toThrow(MeteringInputError);
  });
});

describe('SaaSus calendar days', () => {
  it('finds the day of an instant in UTC', () => {
    expect(dayOf(at('2026-11-22T23:59:59.999Z'), 'UTC')).toBe('2026-11-22');
    expect(dayOf(at('2026-11-23T00:00:00Z'), 'UTC')).toBe('2026-11-23');
  });

  it('finds the day of an instant in Asia/Tokyo (days turn at 15:00 UTC)', () => {
    expect(dayOf(at('2026-11-22T14:59:59Z'), 'Asia/Tokyo')).toBe('2026-11-22');
    expect(dayOf(at('2026-11-22T15:00:00Z'), 'Asia/Tokyo')).toBe('2026-11-23');
    const hours = hoursOfDay('2026-11-23', 'Asia/Tokyo');
    expect(hours).toHaveLength(24);
    expect(hours[0]?.toISOString()).toBe('2026-11-22T15:00:00.000Z');
    expect(hours.at(-1)?.toISOString()).toBe('2026-11-23T14:00:00.000Z');
  });

  it('gives America/New_York 23 hours on the spring-forward day and 25 on the fall-back day', () => {
    const spring = hoursOfDay('2026-03-08', 'America/New_York');
    expect(spring).toHaveLength(23);
    expect(spring[0]?.toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(spring.at(-1)?.toISOString()).toBe('2026-03-09T03:00:00.000Z');
    const fall = hoursOfDay('2026-11-01', 'America/New_York');
    expect(fall).toHaveLength(25);
    expect(fall[0]?.toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(fall.at(-1)?.toISOString()).toBe('2026-11-02T04:00:00.000Z');
    expect(dayOf(at('2026-11-02T04:59:59Z'), 'America/New_York')).toBe('2026-11-01');
    expect(dayOf(at('2026-11-02T05:00:00Z'), 'America/New_York')).toBe('2026-11-02');
  });

  it('gives every hour of a day to exactly one day, in whole-hour and half-hour zones', () => {
    for (const timeZone of ['UTC', 'Asia/Tokyo', 'America/New_York', 'Asia/Kolkata']) {
      const days = ['2026-10-31', '2026-11-01', '2026-11-02'];
      const hours = days.flatMap((day) => hoursOfDay(day, timeZone).map((hour) => hour.getTime()));
      expect(new Set(hours).size).toBe(hours.length);
      const sorted = [...hours].sort((a, b) => a - b);
      expect(sorted).toEqual(hours);
      for (let index = 1; index < hours.length; index++) {
        expect((hours[index] ?? 0) - (hours[index - 1] ?? 0)).toBe(3_600_000);
      }
    }
  });

  it('finds where a day begins in the ledger', () => {
    expect(firstHourOnOrAfterDay('2026-11-23', 'Asia/Tokyo').toISOString()).toBe('2026-11-22T15:00:00.000Z');
    expect(firstHourOnOrAfterDay('2026-11-22', 'Asia/Kolkata').toISOString()).toBe(
      '2026-11-21T19:00:00.000Z',
    );
  });

  it('does calendar arithmetic on day strings', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(monthOf('2026-11-22')).toBe('2026-11');
  });

  it('rejects unknown time zones and malformed days', () => {
    expect(() => dayOf(at('2026-11-22T00:00:00Z'), 'Mars/Olympus')).toThrow(/IANA time zone/);
    expect(() => hoursOfDay('2026-02-30', 'UTC')).toThrow(/calendar day/);
    expect(() => addDays('22/11/2026', 1)).toThrow(MeteringInputError);
  });
});
