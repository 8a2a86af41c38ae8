/** Messages between the sandbox and a function's worker thread. */

export interface WorkerSetup {
  /** Absolute path of the handler module. */
  readonly entryPath: string;
  readonly handlerExport: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly memorySize: number;
  /** The simulated clock's shared state. */
  readonly clock: SharedArrayBuffer;
}

export interface SerializedError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly stack?: string;
}

export type ToWorker = {
  readonly type: 'invoke';
  readonly id: number;
  readonly requestId: string;
  readonly event: unknown;
  /** Real-time deadline (ms since epoch), for `context.getRemainingTimeInMillis()`. */
  readonly deadline: number;
};

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly payload: string }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly error: SerializedError };

export const serializeError = (error: unknown): SerializedError =>
  error instanceof Error
    ? { errorType: error.name, errorMessage: error.message, ...(error.stack ? { stack: error.stack } : {}) }
    : { errorType: 'Error', errorMessage: String(error) };
