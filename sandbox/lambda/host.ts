import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { SimulatedClock } from '../clock.js';
import type { FromWorker, SerializedError, ToWorker, WorkerSetup } from './protocol.js';

/**
 * Runs one Lambda function of the template in worker threads. Each worker is one warm execution
 * environment with the function's own `process.env` (so module-scope clients and Powertools read
 * the variables the template gives that function, not another's) and handles one invocation at a
 * time; up to `maxConcurrency` workers run side by side. A timed-out invocation kills its worker,
 * as Lambda discards the environment; a module that fails to import fails every invocation until
 * its source is fixed (workers are created afresh after `reload()`).
 */

export interface FunctionSpec {
  readonly logicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** Entry as written in the template (relative), for messages. */
  readonly entry: string | undefined;
  /** Absolute path of the entry module. */
  readonly entryPath: string | undefined;
  readonly handlerExport: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly memorySize: number;
  readonly maxConcurrency: number;
}

export type InvocationOutcome =
  | { readonly ok: true; readonly result: unknown; readonly requestId: string; readonly durationMs: number }
  | {
      readonly ok: false;
      readonly error: SerializedError;
      readonly requestId: string;
      readonly durationMs: number;
    };

export interface InvocationRecord {
  readonly requestId: string;
  readonly functionLogicalId: string;
  /** What triggered it: `http GET /register`, `rule MarketplaceRule`, `schedule Hourly`, … */
  readonly trigger: string;
  /** Simulated time at the start. */
  readonly at: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly error?: SerializedError;
  /** What the handler returned (JSON-compatible). */
  readonly result?: unknown;
}

export interface FunctionLogLine {
  readonly functionLogicalId: string;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

export interface FunctionHostOptions {
  readonly clock: SimulatedClock;
  readonly onLog?: (line: FunctionLogLine) => void;
  readonly onInvocation?: (record: InvocationRecord) => void;
}

export type Availability =
  | { readonly available: true }
  | { readonly available: false; readonly reason: string };

interface WorkerHandle {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly pending: Map<number, (message: FromWorker) => void>;
  dead: boolean;
}

const bootstrap = new URL('./bootstrap.mjs', import.meta.url);

/** Why an invocation could not start (the function's module failed to load, or the sandbox is closing). */
class StartFailure extends Error {
  constructor(readonly detail: SerializedError) {
    super(detail.errorMessage);
  }
}

export class FunctionHost {
  readonly #idle: WorkerHandle[] = [];
  readonly #all = new Set<WorkerHandle>();
  readonly #waiting: ((handle: WorkerHandle) => void)[] = [];
  /** The environment `warm()` is starting, handed to the first invocation that needs one. */
  #warming: WorkerHandle | undefined;
  #nextId = 1;
  #closed = false;
  #lastInitError: SerializedError | undefined;

  constructor(
    readonly spec: FunctionSpec,
    private readonly options: FunctionHostOptions,
  ) {}

  /** Whether the handler source exists (it is imported on the first invocation). */
  get availability(): Availability {
    if (!this.spec.entry || !this.spec.entryPath) {
      return { available: false, reason: 'not a BridgeFunction: the template names no source entry' };
    }
    if (!fs.existsSync(this.spec.entryPath))
      return { available: false, reason: `${this.spec.entry} does not exist yet` };
    if (this.#lastInitError) {
      return {
        available: false,
        reason: `${this.spec.entry} failed to load: ${this.#lastInitError.errorMessage}`,
      };
    }
    return { available: true };
  }

  /** Workers currently alive (warm environments). */
  get warmCount(): number {
    return this.#all.size;
  }

  /** Starts one environment ahead of the first invocation; failures show up in `availability`. */
  async warm(): Promise<void> {
    if (this.#all.size > 0 || !this.availability.available) return;
    const handle = this.#spawn();
    this.#warming = handle;
    try {
      await handle.ready;
    } catch {
      // Reported through availability and on the first invocation.
    }
    if (this.#warming === handle) {
      this.#warming = undefined;
      this.#release(handle);
    }
  }

  /** `requestId`: an asynchronous invocation's retries keep the first attempt's, as Lambda's do. */
  async invoke(
    event: unknown,
    trigger: string,
    requestId: string = randomUUID(),
  ): Promise<InvocationOutcome> {
    const at = this.options.clock.now().toISOString();
    const started = performance.now();
    const finish = (outcome: InvocationOutcome): InvocationOutcome => {
      this.options.onInvocation?.({
        requestId,
        functionLogicalId: this.spec.logicalId,
        trigger,
        at,
        durationMs: outcome.durationMs,
        ok: outcome.ok,
        ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
      });
      return outcome;
    };
    const failed = (error: SerializedError) =>
      finish({ ok: false, error, requestId, durationMs: performance.now() - started });

    const availability = this.availability;
    if (!availability.available && !this.#lastInitError) {
      return failed({ errorType: 'Sandbox.HandlerNotAvailable', errorMessage: availability.reason });
    }
    let handle: WorkerHandle;
    try {
      handle = await this.#acquire();
    } catch (error) {
      return failed(
        error instanceof StartFailure
          ? error.detail
          : { errorType: 'Sandbox.Error', errorMessage: String(error) },
      );
    }
    const id = this.#nextId++;
    const deadline = Date.now() + this.spec.timeoutMs;
    const reply = await new Promise<FromWorker | 'timeout'>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), this.spec.timeoutMs);
      handle.pending.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      const message: ToWorker = { type: 'invoke', id, requestId, event, deadline };
      handle.worker.postMessage(message);
    });
    handle.pending.delete(id);
    const durationMs = performance.now() - started;
    if (reply === 'timeout') {
      this.#discard(handle);
      return failed({
        errorType: 'Sandbox.Timedout',
        errorMessage: `Task timed out after ${(this.spec.timeoutMs / 1000).toFixed(2)} seconds`,
      });
    }
    if (reply.type !== 'result') {
      this.#discard(handle);
      return failed(
        reply.type === 'init-error'
          ? reply.error
          : { errorType: 'Runtime.ExitError', errorMessage: 'The worker exited' },
      );
    }
    this.#release(handle);
    if (!reply.ok) return failed(reply.error);
    return finish({ ok: true, result: JSON.parse(reply.payload) as unknown, requestId, durationMs });
  }

  /** Drops every warm environment, so the next invocation imports the handler source afresh. */
  async reload(): Promise<void> {
    this.#lastInitError = undefined;
    await Promise.all([...this.#all].map((handle) => this.#discard(handle)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#all].map((handle) => this.#discard(handle)));
  }

  async #acquire(): Promise<WorkerHandle> {
    if (this.#closed)
      throw new StartFailure({ errorType: 'Sandbox.Closed', errorMessage: 'The sandbox is shutting down' });
    const idle = this.#idle.pop();
    if (idle) return idle;
    const warming = this.#warming;
    if (warming) {
      this.#warming = undefined;
      await warming.ready;
      return warming;
    }
    if (this.#all.size < this.spec.maxConcurrency) {
      const handle = this.#spawn();
      await handle.ready;
      return handle;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(handle: WorkerHandle) {
    if (handle.dead) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter(handle);
    else this.#idle.push(handle);
  }

  async #discard(handle: WorkerHandle) {
    handle.dead = true;
    this.#all.delete(handle);
    const index = this.#idle.indexOf(handle);
    if (index >= 0) this.#idle.splice(index, 1);
    await handle.worker.terminate();
  }

  #spawn(): WorkerHandle {
    const { spec } = this;
    const setup: WorkerSetup = {
      entryPath: spec.entryPath ?? '',
      handlerExport: spec.handlerExport,
      functionName: spec.functionName,
      functionArn: spec.functionArn,
      memorySize: spec.memorySize,
      clock: this.options.clock.buffer,
    };
    const worker = new Worker(bootstrap, {
      workerData: setup,
      env: { ...spec.environment },
      execArgv: [],
      stdout: true,
      stderr: true,
    });
    const pending = new Map<number, (message: FromWorker) => void>();
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: worker[stream] }).on('line', (line) =>
        this.options.onLog?.({ functionLogicalId: spec.logicalId, stream, line }),
      );
    }
    let handle: WorkerHandle;
    const ready = new Promise<void>((resolve, reject) => {
      const failAll = (error: SerializedError) => {
        reject(new StartFailure(error));
        for (const respond of pending.values()) respond({ type: 'init-error', error });
        pending.clear();
        if (!handle.dead) void this.#discard(handle);
      };
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          this.#lastInitError = undefined;
          resolve();
        } else if (message.type === 'init-error') {
          this.#lastInitError = message.error;
          failAll(message.error);
        } else {
          pending.get(message.id)?.(message);
        }
      });
      worker.on('error', (error) => failAll({ errorType: error.name, errorMessage: error.message }));
      worker.on('exit', (code) =>
        failAll({
          errorType: 'Runtime.ExitError',
          errorMessage: `The function's worker exited with code ${code}`,
        }),
      );
    });
    // Rejections are delivered to whoever awaits `ready`; this keeps an unawaited one quiet.
    ready.catch(() => {});
    handle = { worker, ready, pending, dead: false };
    this.#all.add(handle);
    return handle;
  }
}
