import { randomUUID } from 'node:crypto';
import type { SimulatedClock, SimulatedTimers } from './clock.js';
import type { Delivery, DeliverySource, WorkTracker } from './delivery.js';
import { parseScheduleExpression, type ScheduleExpression } from './schedule-expression.js';
import type { SandboxModel, TargetModel } from './template.js';

/**
 * Fires the template's schedules (EventBridge Scheduler schedules and scheduled rules) on the
 * simulated clock. Advancing the clock walks through every fire time on the way, in order: the
 * clock is set to each fire time before its targets run (so handlers see the time they were
 * scheduled for), and the run is awaited before the next one. The simulated timers (retries,
 * visibility timeouts) due on the way run in the same order. While the clock runs with real time,
 * a timer fires the schedules that have come due.
 */

export interface ScheduledJob {
  readonly id: string;
  readonly kind: 'schedule' | 'rule';
  readonly name: string;
  readonly expression: ScheduleExpression;
  readonly timeZone: string;
  readonly targets: readonly TargetModel[];
  readonly startsAt: number | undefined;
  readonly endsAt: number | undefined;
  /** Problem that keeps the job from running (an expression the sandbox cannot read). */
  readonly problem: string | undefined;
}

export interface FiredJob {
  readonly job: string;
  readonly scheduledTime: string;
}

export interface SchedulerOptions {
  readonly clock: SimulatedClock;
  readonly timers: SimulatedTimers;
  readonly tracker: WorkTracker;
  readonly delivery: Delivery;
  readonly account: string;
  readonly region: string;
  /** Where `rate()` expressions start counting. */
  readonly anchor: Date;
  /** How often a running clock is checked for due schedules (real ms); 0 disables the timer. */
  readonly pollMs?: number;
}

const isoSeconds = (time: number) => `${new Date(time).toISOString().slice(0, 19)}Z`;

export class Scheduler {
  readonly #jobs: ScheduledJob[] = [];
  readonly #history: FiredJob[] = [];
  #last: number;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    model: SandboxModel,
    private readonly options: SchedulerOptions,
  ) {
    this.#last = options.clock.nowMs();
    const add = (
      id: string,
      kind: ScheduledJob['kind'],
      name: string,
      text: string,
      timeZone: string,
      targets: readonly TargetModel[],
      startDate?: string,
      endDate?: string,
    ) => {
      let expression: ScheduleExpression;
      let problem: string | undefined;
      try {
        expression = parseScheduleExpression(text, { timeZone, anchor: options.anchor });
      } catch (error) {
        // Listed with its problem on the dashboard, never fired.
        expression = { kind: 'cron', text, nextAfter: () => undefined };
        problem = error instanceof Error ? error.message : String(error);
      }
      this.#jobs.push({
        id,
        kind,
        name,
        expression,
        timeZone,
        targets,
        startsAt: startDate && !problem ? Date.parse(startDate) : undefined,
        endsAt: endDate && !problem ? Date.parse(endDate) : undefined,
        problem,
      });
    };
    for (const schedule of model.schedules.filter((candidate) => candidate.enabled)) {
      add(
        schedule.logicalId,
        'schedule',
        schedule.name ?? schedule.logicalId,
        schedule.expression,
        schedule.timeZone,
        [schedule.target],
        schedule.startDate,
        schedule.endDate,
      );
    }
    for (const rule of model.rules.filter((candidate) => candidate.enabled && candidate.scheduleExpression)) {
      add(
        rule.logicalId,
        'rule',
        rule.name ?? rule.logicalId,
        rule.scheduleExpression ?? '',
        'UTC',
        rule.targets,
      );
    }
  }

  start(): void {
    const pollMs = this.options.pollMs ?? 1_000;
    if (pollMs > 0 && !this.#timer) {
      this.#timer = setInterval(() => {
        if (!this.options.clock.frozen) void this.runDue();
      }, pollMs);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  jobs(): {
    name: string;
    kind: string;
    expression: string;
    timeZone: string;
    next: Date | undefined;
    problem: string | undefined;
  }[] {
    return this.#jobs.map((job) => ({
      name: job.name,
      kind: job.kind,
      expression: job.expression.text,
      timeZone: job.timeZone,
      next: this.#nextFire(job, this.#last),
      problem: job.problem,
    }));
  }

  history(): FiredJob[] {
    return [...this.#history];
  }

  /** Fires what is due up to the clock's current time (the clock is not moved). */
  runDue(): Promise<FiredJob[]> {
    return this.#serialize(() => this.#runUntil(this.options.clock.nowMs(), false));
  }

  /** Moves the clock forward by `ms`, firing every schedule and timer due on the way. */
  advance(ms: number): Promise<FiredJob[]> {
    return this.#serialize(async () => {
      const target = this.options.clock.nowMs() + ms;
      const fired = await this.#runUntil(target, true);
      if (this.options.clock.nowMs() < target) this.options.clock.set(target);
      this.options.timers.runDue();
      await this.options.tracker.drain();
      return fired;
    });
  }

  #serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  #nextFire(job: ScheduledJob, after: number): Date | undefined {
    if (job.problem) return undefined;
    const from = job.startsAt !== undefined && job.startsAt > after ? job.startsAt - 1 : after;
    const next = job.expression.nextAfter(new Date(from));
    if (!next || (job.endsAt !== undefined && next.getTime() > job.endsAt)) return undefined;
    return next;
  }

  async #runUntil(target: number, moveClock: boolean): Promise<FiredJob[]> {
    const fired: FiredJob[] = [];
    const { clock, timers, tracker } = this.options;
    for (;;) {
      // Finish what is running first: it may schedule retries due before the next stop.
      if (moveClock) await tracker.drain();
      const timerAt = moveClock ? timers.next() : undefined;
      const due = this.#jobs
        .map((job) => ({ job, at: this.#nextFire(job, this.#last)?.getTime() }))
        .filter(
          (entry): entry is { job: ScheduledJob; at: number } => entry.at !== undefined && entry.at <= target,
        )
        .sort((a, b) => a.at - b.at);
      const first = due[0];
      if (timerAt !== undefined && timerAt <= target && (!first || timerAt < first.at)) {
        if (clock.nowMs() < timerAt) clock.set(timerAt);
        timers.runDue();
        continue;
      }
      if (!first) break;
      const simultaneous = due.filter((entry) => entry.at === first.at);
      if (moveClock && clock.nowMs() < first.at) clock.set(first.at);
      this.#last = first.at;
      await Promise.all(simultaneous.map(({ job }) => this.#fire(job, first.at)));
      for (const { job } of simultaneous) {
        const record = { job: job.name, scheduledTime: new Date(first.at).toISOString() };
        fired.push(record);
        this.#history.push(record);
      }
    }
    this.#last = Math.max(this.#last, target);
    return fired;
  }

  async #fire(job: ScheduledJob, at: number): Promise<void> {
    const source: DeliverySource = { origin: 'schedule', name: job.name };
    const { account, region } = this.options;
    if (job.kind === 'rule') {
      const arn = `arn:aws:events:${region}:${account}:rule/${job.name}`;
      const event = {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account,
        time: isoSeconds(at),
        region,
        resources: [arn],
        detail: {},
      };
      await Promise.all(
        job.targets.map((target) =>
          this.options.delivery.deliver(target, event, source, { ruleName: job.name, ruleArn: arn }),
        ),
      );
      return;
    }
    const extra = {
      'aws.scheduler.schedule-arn': `arn:aws:scheduler:${region}:${account}:schedule/default/${job.name}`,
      'aws.scheduler.scheduled-time': isoSeconds(at),
      'aws.scheduler.execution-id': randomUUID(),
      'aws.scheduler.attempt-number': '1',
    };
    await Promise.all(
      job.targets.map((target) =>
        // Without an Input, EventBridge Scheduler sends an empty JSON object.
        this.options.delivery.deliver(
          target.input === undefined ? { ...target, input: '{}' } : target,
          {},
          source,
          { extra },
        ),
      ),
    );
  }
}
