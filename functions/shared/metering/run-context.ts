import type { Logger } from '@aws-lambda-powertools/logger';
import type { DeploymentConfig } from '../config.js';
import type { BuyerIdentity } from '../marketplace/identity.js';
import type { LicenseItem } from '../store/licenses.js';
import { type CrashPoint, type CrashStep, InjectedCrash } from './crash.js';
import type { MeteringMetric } from './outcomes.js';
import type { PlanningSlots } from './plan.js';
import type { UsageSender } from './send.js';
import {
  type ActivationBaseline,
  createMeteringStateStore,
  type LedgerStore,
  type MeteringStateLicenses,
  type MeteringStateStore,
} from './store.js';

/**
 * What every step of a metering run shares: its dependencies, its report, and the run context
 * (clock, mode, counters, the crash checkpoint, the SaaSus day counts read once per run).
 */

export type MeteringConfig = Pick<DeploymentConfig, 'products' | 'revocation' | 'metering' | 'idoperation'>;

/** SaaSus unit name → that day's count, for one tenant and day. */
export type DayCountReader = (tenantId: string, day: string) => Promise<Readonly<Record<string, number>>>;

/** Dimension → entitled quantity of the license (contract-with-consumption). */
export type EntitlementReader = (
  identity: BuyerIdentity,
  productCode: string,
) => Promise<Readonly<Record<string, number>>>;

/** The logger methods metering uses; a Powertools Logger fits. */
export type MeteringLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface MeteringDeps {
  readonly config: MeteringConfig;
  readonly licenses: MeteringStateLicenses;
  readonly ledger: LedgerStore;
  readonly readDayCounts: DayCountReader;
  readonly sender: UsageSender;
  /** Required for contract-with-consumption pricing: only usage above the entitlement is billed. */
  readonly readEntitlements?: EntitlementReader;
  readonly logger?: MeteringLogger;
  /** Fault injection: return true to crash the run after `point`. */
  readonly crashAt?: (point: CrashPoint) => boolean;
  /**
   * Where licenses wait for their turn to be planned (SaaSus and DynamoDB reads overlap, calls go
   * out as soon as planned licenses fill them). @default `planningSlots(32)` for this run
   */
  readonly planning?: PlanningSlots;
  /** See quantities.ts. */
  readonly lateUsageHours?: number;
}

export interface RunFailure {
  readonly licenseKey?: string;
  readonly message: string;
  /** Retrying will not help (configuration, permissions, a bug): alarm. */
  readonly fatal: boolean;
}

export interface RunReport {
  readonly now: Date;
  /** Licenses asked for. */
  readonly licenses: number;
  /** Licenses whose hours were computed this run. */
  readonly metered: number;
  /** Why licenses computed nothing new (a reason → count). */
  readonly skipped: Record<string, number>;
  /** Ledger items this run created. */
  readonly itemsWritten: number;
  /** Records handed to BatchMeterUsage (retries not counted). */
  readonly recordsSent: number;
  /** Outcomes by metric name (accepted, unprocessed, not subscribed, duplicate, rejected, expired). */
  readonly outcomes: Record<MeteringMetric, number>;
  readonly requests: number;
  readonly retries: number;
  /** Items still pending when the run ended (sent again next run). */
  readonly stillPending: number;
  readonly stoppedLicenses: string[];
  readonly failures: RunFailure[];
}

/** One record a dry run would send, or found pending. */
export interface PlannedRecord {
  readonly licenseKey: string;
  readonly dimension: string;
  readonly usageHour: string;
  readonly quantity: number;
  readonly usageByDay: Readonly<Record<string, number>>;
  /** `new`: computed now; `pending`: already in the ledger, waiting to be (re)sent. */
  readonly source: 'new' | 'pending';
  /** `send`: goes to BatchMeterUsage; `recordOnly`: ledger only; `expired`: out of the window. */
  readonly action: 'send' | 'recordOnly' | 'expired';
}

export interface DryRunReport {
  readonly now: string;
  readonly licenseKey: string;
  readonly status?: string;
  readonly skipped?: string;
  readonly hours: string[];
  readonly skippedHours: number;
  readonly days: string[];
  readonly baseline?: ActivationBaseline;
  readonly records: PlannedRecord[];
}

export type Mode = 'hourly' | 'flush' | 'dryRun';

const emptyOutcomes = (): Record<MeteringMetric, number> => ({
  UsageRecordAccepted: 0,
  UsageRecordUnprocessed: 0,
  CustomerNotSubscribed: 0,
  UsageRecordDuplicate: 0,
  UsageRecordRejected: 0,
  UsageRecordExpired: 0,
});

export interface RunState {
  crashed?: InjectedCrash;
  metered: number;
  itemsWritten: number;
  recordsSent: number;
  requests: number;
  retries: number;
  stillPending: number;
  readonly skipped: Record<string, number>;
  readonly outcomes: Record<MeteringMetric, number>;
  readonly failures: RunFailure[];
  readonly stopped: Set<string>;
}

export interface RunContext {
  readonly deps: MeteringDeps;
  readonly config: MeteringConfig;
  readonly now: Date;
  readonly mode: Mode;
  /** False in a dry run: nothing is written or sent. */
  readonly write: boolean;
  /** `metering.allowedWindowHours`. */
  readonly window: number;
  readonly stateStore: MeteringStateStore;
  readonly state: RunState;
  /** License key → the activation episode it is metered in (for stopping it). */
  readonly episodes: Map<string, string>;
  /** Dies here if `crashAt` says so (or another step already died). */
  checkpoint(step: CrashStep, licenseKey?: string): void;
  skip(reason: string): void;
  /** Reads the run's licenses in batches (BatchGetItem) the first time one is asked for. */
  readLicense(licenseKey: string): Promise<LicenseItem | undefined>;
  /** SaaSus day counts, one call per tenant and day in a run. */
  readCounts(tenantId: string, day: string): Promise<Readonly<Record<string, number>>>;
}

export const createRunContext = (
  deps: MeteringDeps,
  now: Date,
  mode: Mode,
  licenseKeys: readonly string[],
): RunContext => {
  const state: RunState = {
    metered: 0,
    itemsWritten: 0,
    recordsSent: 0,
    requests: 0,
    retries: 0,
    stillPending: 0,
    skipped: {},
    outcomes: emptyOutcomes(),
    failures: [],
    stopped: new Set(),
  };
  const countCache = new Map<string, Promise<Readonly<Record<string, number>>>>();
  const { getMany } = deps.licenses;
  let licenses: Promise<Map<string, LicenseItem>> | undefined;
  return {
    deps,
    config: deps.config,
    now,
    mode,
    write: mode !== 'dryRun',
    window: deps.config.metering.allowedWindowHours,
    stateStore: createMeteringStateStore(deps.licenses),
    state,
    episodes: new Map(),
    checkpoint(step, licenseKey) {
      if (state.crashed) throw state.crashed;
      const point: CrashPoint = licenseKey === undefined ? { step } : { step, licenseKey };
      if (deps.crashAt?.(point)) {
        state.crashed = new InjectedCrash(point);
        throw state.crashed;
      }
    },
    skip(reason) {
      state.skipped[reason] = (state.skipped[reason] ?? 0) + 1;
    },
    async readLicense(licenseKey) {
      if (!getMany) return deps.licenses.get(licenseKey);
      licenses ??= getMany.call(deps.licenses, licenseKeys);
      return (await licenses).get(licenseKey);
    },
    readCounts(tenantId, day) {
      const key = `${tenantId}\u0000${day}`;
      let counts = countCache.get(key);
      if (!counts) {
        counts = deps.readDayCounts(tenantId, day);
        countCache.set(key, counts);
        counts.catch(() => countCache.delete(key));
      }
      return counts;
    },
  };
};
