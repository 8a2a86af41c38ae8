import { badRequest } from './errors.js';

/**
 * Metering counts as SaaSus models them: a count per (tenant, unit, Unix second), updated with
 * `add`, `sub` or `direct`, and rolled up into calendar-day counts. SaaSus does not document the time
 * zone of its days, so it is configurable (default UTC), nor whether a count may go below zero: the
 * emulator floors it at 0. Nor does it say what `direct` overwrites: the count of that second
 * (`second`, the default) or the unit's count for the whole day (`day`: the day's other seconds are
 * cleared); the emulator plays either.
 */

export type DirectMeaning = 'second' | 'day';

export type AggregateUsage = 'sum' | 'max';
export type CountMethod = 'add' | 'sub' | 'direct';

export interface MeteringRecord {
  readonly tenant_id: string;
  readonly metering_unit_name: string;
  /** Unix seconds. */
  readonly timestamp: number;
  readonly count: number;
}

export const isCalendarDate = (value: string): boolean =>
  /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);

/** `YYYY-MM-DD` of a Unix time in an IANA time zone. */
export const dateFormatter = (timeZone: string): ((unixSeconds: number) => string) => {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
  } catch {
    throw new RangeError(`Unknown time zone "${timeZone}": expected an IANA name such as UTC or Asia/Tokyo`);
  }
  return (unixSeconds) => {
    const parts = Object.fromEntries(
      format.formatToParts(new Date(unixSeconds * 1000)).map((part) => [part.type, part.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day}`;
  };
};

export class MeteringCounts {
  /** tenant id → unit name → Unix second → count. */
  readonly #counts = new Map<string, Map<string, Map<number, number>>>();
  readonly #localDate: (unixSeconds: number) => string;

  constructor(
    timeZone: string,
    /** Units with a declared aggregation; unknown units sum. */
    private readonly aggregation: ReadonlyMap<string, AggregateUsage>,
    private readonly directMeaning: DirectMeaning = 'second',
  ) {
    this.#localDate = dateFormatter(timeZone);
  }

  localDate(unixSeconds: number): string {
    return this.#localDate(unixSeconds);
  }

  update(tenantId: string, unit: string, timestamp: number, method: CountMethod, count: number): number {
    const byUnit = this.#counts.get(tenantId) ?? new Map<string, Map<number, number>>();
    this.#counts.set(tenantId, byUnit);
    const byTimestamp = byUnit.get(unit) ?? new Map<number, number>();
    byUnit.set(unit, byTimestamp);
    if (method === 'direct' && this.directMeaning === 'day') {
      const day = this.#localDate(timestamp);
      for (const other of [...byTimestamp.keys()]) {
        if (other !== timestamp && this.#localDate(other) === day) byTimestamp.delete(other);
      }
    }
    const current = byTimestamp.get(timestamp) ?? 0;
    const next = method === 'direct' ? count : method === 'add' ? current + count : current - count;
    const floored = Math.max(0, next);
    byTimestamp.set(timestamp, floored);
    return floored;
  }

  delete(tenantId: string, unit: string, timestamp: number): void {
    this.#counts.get(tenantId)?.get(unit)?.delete(timestamp);
  }

  deleteTenant(tenantId: string): void {
    this.#counts.delete(tenantId);
  }

  /** Units the tenant has counted at any time. */
  unitsOf(tenantId: string): string[] {
    return [...(this.#counts.get(tenantId)?.keys() ?? [])];
  }

  dateCount(tenantId: string, unit: string, date: string): number {
    if (!isCalendarDate(date)) throw badRequest(`invalid date "${date}": expected YYYY-MM-DD`);
    const counts = [...(this.#counts.get(tenantId)?.get(unit)?.entries() ?? [])]
      .filter(([timestamp]) => this.#localDate(timestamp) === date)
      .map(([, count]) => count);
    if (this.aggregation.get(unit) === 'max') return Math.max(0, ...counts);
    return counts.reduce((sum, count) => sum + count, 0);
  }

  records(tenantId?: string): MeteringRecord[] {
    const records: MeteringRecord[] = [];
    for (const [tenant, byUnit] of this.#counts) {
      if (tenantId !== undefined && tenant !== tenantId) continue;
      for (const [unit, byTimestamp] of byUnit) {
        for (const [timestamp, count] of byTimestamp) {
          records.push({ tenant_id: tenant, metering_unit_name: unit, timestamp, count });
        }
      }
    }
    return records.sort((a, b) => a.timestamp - b.timestamp);
  }
}
