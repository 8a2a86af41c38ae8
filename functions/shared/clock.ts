/**
 * The business clock: what time it is for licenses, metering hours and event timestamps. In Lambda
 * it is the real time. The local sandbox runs a simulated clock ("advance one hour") and installs it
 * here before it imports a handler, so code that asks `now()` follows the simulation while the SDKs'
 * request signing, timeouts and retries keep using real time.
 *
 * Use `now()` for anything a business rule depends on; keep `Date.now()` for durations and latency.
 */

/** Where the sandbox puts its clock: a function returning epoch milliseconds. */
export const clockOverrideKey = Symbol.for('marketplace-bridge.clock');

type ClockOverride = () => number;

const override = (): ClockOverride | undefined => {
  const candidate = (globalThis as Record<symbol, unknown>)[clockOverrideKey];
  return typeof candidate === 'function' ? (candidate as ClockOverride) : undefined;
};

/** Current business time in epoch milliseconds. */
export const nowMs = (): number => override()?.() ?? Date.now();

/** Current business time. */
export const now = (): Date => new Date(nowMs());

/**
 * Installs a clock override for this thread (the sandbox and tests only); returns a function that
 * restores the previous one.
 */
export const installClock = (read: () => number): (() => void) => {
  const globals = globalThis as Record<symbol, unknown>;
  const previous = globals[clockOverrideKey];
  globals[clockOverrideKey] = read;
  return () => {
    if (previous === undefined) delete globals[clockOverrideKey];
    else globals[clockOverrideKey] = previous;
  };
};
