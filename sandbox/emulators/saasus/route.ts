import type { SaasusState } from './state.js';

/** One operation the emulator serves: what a route sees and what it answers. */
export interface RouteContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly state: SaasusState;
}

export interface RouteResult {
  readonly status: number;
  /** Omitted for operations that answer without a body. */
  readonly body?: unknown;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly pattern: string;
  readonly operation: string;
  readonly eventType?: string;
  readonly handle: (context: RouteContext) => RouteResult;
}
