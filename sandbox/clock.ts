/**
 * The sandbox's simulated clock. It either runs with real time from a chosen start (an offset) or
 * stands still (frozen); "advance one hour" moves it forward either way. Its state lives in a
 * SharedArrayBuffer, so handler worker threads read the very same time without messages: each
 * worker attaches to the buffer and installs it as the business clock (`functions/shared/clock.ts`).
 */

const RUNNING = 0n;
const FROZEN = 1n;

export interface ClockOptions {
  /** Simulated time at creation; default the real time. */
  readonly start?: Date;
  /** Stand still instead of running with real time. */
  readonly frozen?: boolean;
}

export class SimulatedClock {
  /** [mode, value]: running → value is the offset from real time in ms; frozen → the epoch ms. */
  readonly #state: BigInt64Array;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.#state = new BigInt64Array(buffer);
  }

  static create(options: ClockOptions = {}): SimulatedClock {
    const clock = new SimulatedClock(new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT));
    const start = options.start?.getTime() ?? Date.now();
    if (options.frozen) clock.#write(FROZEN, start);
    else clock.#write(RUNNING, start - Date.now());
    return clock;
  }

  /** The same clock in another thread. */
  static attach(buffer: SharedArrayBuffer): SimulatedClock {
    return new SimulatedClock(buffer);
  }

  #write(mode: bigint, value: number) {
    // Value first, then mode: a reader never sees a new mode with an old value for long.
    Atomics.store(this.#state, 1, BigInt(Math.round(value)));
    Atomics.store(this.#state, 0, mode);
  }

  get frozen(): boolean {
    return Atomics.load(this.#state, 0) === FROZEN;
  }

  nowMs(): number {
    const value = Number(Atomics.load(this.#state, 1));
    return this.frozen ? value : Date.now() + value;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Moves the clock to a time (forwards or backwards), keeping its mode. */
  set(time: Date | number): void {
    const target = typeof time === 'number' ? time : time.getTime();
    if (this.frozen) this.#write(FROZEN, target);
    else this.#write(RUNNING, target - Date.now());
  }

  advance(ms: number): Date {
    this.set(this.nowMs() + ms);
    return this.now();
  }

  freeze(): void {
    if (!this.frozen) this.#write(FROZEN, this.nowMs());
  }

  resume(): void {
    if (this.frozen) this.#write(RUNNING, this.nowMs() - Date.now());
  }
}

export interface PendingTimer {
  readonly id: number;
  /** Simulated time (ms) it is due. */
  readonly at: number;
  readonly description: string;
}

/**
 * Timers on the simulated clock (main thread only): what AWS would do "later" (a retry after one
 * minute, a message visible again after its visibility timeout) waits for simulated time. While
 * the clock runs they come due with real time; advancing the clock (see `Scheduler.advance`) runs
 * them in order on the way.
 */
export class SimulatedTimers {
  readonly #timers = new Map<number, PendingTimer & { readonly run: () => void }>();
  #nextId = 1;
  #poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly clock: SimulatedClock,
    private readonly pollMs = 100,
  ) {}

  start(): void {
    this.#poll ??= setInterval(() => {
      if (!this.clock.frozen) this.runDue();
    }, this.pollMs);
    this.#poll.unref();
  }

  stop(): void {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
  }

  /** Runs `run` once the simulated clock reaches `at`; returns a function that cancels it. */
  at(at: number, description: string, run: () => void): () => void {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at, description, run });
    return () => this.#timers.delete(id);
  }

  after(ms: number, description: string, run: () => void): () => void {
    return this.at(this.clock.nowMs() + ms, description, run);
  }

  /** When the earliest timer is due, if any. */
  next(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.#timers.values())
      if (earliest === undefined || timer.at < earliest) earliest = timer.at;
    return earliest;
  }

  /** Runs every timer due by now, earliest first; returns how many ran. */
  runDue(): number {
    const now = this.clock.nowMs();
    const due = [...this.#timers.values()]
      .filter((timer) => timer.at <= now)
      .sort((a, b) => a.at - b.at || a.id - b.id);
    for (const timer of due) {
      this.#timers.delete(timer.id);
      timer.run();
    }
    return due.length;
  }

  pending(): PendingTimer[] {
    return [...this.#timers.values()]
      .sort((a, b) => a.at - b.at)
      .map(({ id, at, description }) => ({ id, at, description }));
  }
}
