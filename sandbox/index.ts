import { type Sandbox, type SandboxOptions, startSandbox as startRunner } from './runner.js';
import { createWebHandler } from './web/server.js';

/**
 * The sandbox as `npm start` and the tests run it: the runner (emulators, local tables, the
 * stack's functions, queues, schedules) with the web layer on its port (buyer simulator,
 * dashboard, the stack's HTTP APIs). The web layer depends on the runner, never the reverse.
 */
export type { Sandbox, SandboxOptions };

export const startSandbox = (options: SandboxOptions = {}): Promise<Sandbox> =>
  startRunner({ web: createWebHandler, ...options });
