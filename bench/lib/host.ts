import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { cpuSecondsOf } from './machine.js';

/**
 * A handler bundle running in a process of its own (see lambda-host.mjs): one Lambda execution
 * environment. `invoke` sends an event and resolves with the handler's result and its duration
 * measured inside the process.
 */

const HOST_SCRIPT = path.join(import.meta.dirname, 'lambda-host.mjs');

export interface Invocation<T = unknown> {
  readonly ok: boolean;
  readonly value?: T;
  readonly error?: string;
  /** Handler time inside the process, ms. */
  readonly ms: number;
  /** Process-relative time (ms since the process started) when the invocation ended. */
  readonly at: number;
  /**
   * CPU time (user + system, all threads) the process had used when the invocation ended, ms:
   * unlike `at`, it hardly grows when other processes compete for the cores.
   */
  readonly cpuMs?: number;
}

export interface HostMemory {
  readonly rss: number;
  /** Highest RSS sampled every 50 ms. */
  readonly peakRss: number;
  /** The OS high-water mark (getrusage maxrss). */
  readonly maxRssOs: number;
}

export interface Host {
  readonly pid: number;
  /** Process-relative ms when the import started and ended. */
  readonly importStartedMs: number;
  readonly importedMs: number;
  /** Wall-clock ms from fork to the end of the import, measured by the parent. */
  readonly readyAfterMs: number;
  invoke<T = unknown>(event: unknown): Promise<Invocation<T>>;
  memory(): Promise<HostMemory>;
  cpuSeconds(): number | undefined;
  close(): Promise<void>;
}

type Message =
  | { type: 'ready'; importStartedMs: number; importedMs: number }
  | { type: 'failed'; error: string }
  | ({ type: 'result'; id: number } & Invocation)
  | ({ type: 'memory'; id: number } & HostMemory);

export interface StartHostOptions {
  readonly bundlePath: string;
  readonly env: Record<string, string>;
  readonly cwd?: string;
  /** Where the handler's stdout/stderr go (default: discarded, as CloudWatch would take them). */
  readonly output?: 'ignore' | 'inherit';
}

export const startHost = async (options: StartHostOptions): Promise<Host> => {
  const forkedAt = performance.now();
  // Only the function's own environment (plus PATH), as Lambda gives it.
  const child: ChildProcess = fork(HOST_SCRIPT, [options.bundlePath], {
    cwd: options.cwd ?? path.dirname(options.bundlePath),
    env: { PATH: process.env.PATH ?? '', ...options.env },
    execArgv: [],
    stdio: ['ignore', options.output ?? 'ignore', options.output ?? 'ignore', 'ipc'],
  });
  let nextId = 0;
  const pending = new Map<number, (message: Message) => void>();
  let exited = false;
  const ready = new Promise<{ importStartedMs: number; importedMs: number }>((resolve, reject) => {
    child.on('message', (message: Message) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(new Error(`handler import failed: ${message.error}`));
      else pending.get(message.id)?.(message);
    });
    child.once('exit', (code) => {
      exited = true;
      reject(new Error(`host exited (${code}) before it was ready`));
      for (const [id, settle] of pending) {
        settle({ type: 'result', id, ok: false, error: `host exited (${code})`, ms: 0, at: 0 });
      }
      pending.clear();
    });
    child.once('error', reject);
  });
  const timing = await ready;
  const readyAfterMs = performance.now() - forkedAt;
  const request = <M extends Message>(payload: Record<string, unknown>): Promise<M> => {
    const id = nextId++;
    return new Promise<M>((resolve) => {
      pending.set(id, (message) => {
        pending.delete(id);
        resolve(message as M);
      });
      child.send({ ...payload, id });
    });
  };
  return {
    pid: child.pid ?? 0,
    importStartedMs: timing.importStartedMs,
    importedMs: timing.importedMs,
    readyAfterMs,
    invoke: async <T>(event: unknown) => {
      const {
        type: _type,
        id: _id,
        ...result
      } = await request<{ type: 'result'; id: number } & Invocation<T>>({
        type: 'invoke',
        event,
      });
      return result;
    },
    memory: async () => {
      const {
        type: _type,
        id: _id,
        ...memory
      } = await request<{ type: 'memory'; id: number } & HostMemory>({
        type: 'memory',
      });
      return memory;
    },
    cpuSeconds: () => (child.pid ? cpuSecondsOf(child.pid) : undefined),
    close: async () => {
      if (exited || child.exitCode !== null) return;
      const done = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(timer);
    },
  };
};
