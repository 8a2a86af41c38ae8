/**
 * Injected failures. Each `failNext` queues a fault for the next `count` requests that match; the
 * oldest matching fault is used first. A fault is an answer the real service could give:
 * an error status, a malformed success, or no answer at all.
 */

export type Fault =
  | {
      /** e.g. 500, 503 or 429. */
      readonly status: number;
      /** JSON body to send instead of the default `{ type, message }` error (e.g. a malformed success). */
      readonly body?: unknown;
      /** Raw text body (e.g. an HTML gateway page); wins over `body`. */
      readonly rawBody?: string;
      /** Carry out the request first, then answer with the fault: "applied, but the response was lost". */
      readonly apply?: boolean;
    }
  | {
      /** Never answer (the connection stays open until the client gives up or the emulator closes). */
      readonly hang: true;
      readonly apply?: boolean;
    };

export interface FaultMatch {
  readonly method?: string;
  /** Exact path (without query) or a pattern tested against it. */
  readonly path?: string | RegExp;
  /** Operation id, e.g. `CreateTenant` or `GetTenants`. */
  readonly operation?: string;
}

export interface FaultRequest {
  readonly method: string;
  readonly path: string;
  readonly operation: string;
}

interface QueuedFault {
  remaining: number;
  readonly fault: Fault;
  readonly match: FaultMatch;
}

const matches = (match: FaultMatch, request: FaultRequest): boolean =>
  (match.method === undefined || match.method.toUpperCase() === request.method) &&
  (match.operation === undefined || match.operation === request.operation) &&
  (match.path === undefined ||
    (typeof match.path === 'string' ? match.path === request.path : match.path.test(request.path)));

export class Faults {
  readonly #queue: QueuedFault[] = [];

  /** Fails the next `count` requests matching `match` (all requests when omitted). */
  failNext(count: number, fault: Fault, match: FaultMatch = {}): void {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError('failNext count must be a positive integer');
    this.#queue.push({ remaining: count, fault, match });
  }

  /** Takes the fault for this request, if one is queued. */
  take(request: FaultRequest): Fault | undefined {
    const queued = this.#queue.find((entry) => matches(entry.match, request));
    if (!queued) return undefined;
    queued.remaining--;
    if (queued.remaining === 0) this.#queue.splice(this.#queue.indexOf(queued), 1);
    return queued.fault;
  }

  /** Faults still queued (summed over their remaining counts). */
  pending(): number {
    return this.#queue.reduce((sum, entry) => sum + entry.remaining, 0);
  }

  clear(): void {
    this.#queue.length = 0;
  }
}
