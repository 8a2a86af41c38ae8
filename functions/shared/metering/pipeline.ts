import { describeError } from './errors.js';
import { type LicenseWork, writeLedger } from './ledger-writes.js';
import { planLicense, planningSlots } from './plan.js';
import {
  createRunContext,
  type DryRunReport,
  type MeteringDeps,
  type Mode,
  type RunReport,
} from './run-context.js';
import { createCallQueue, type UsageSender } from './send.js';

/**
 * The metering pipeline: for each license, plan the hours to report, read the SaaSus day counts,
 * fix the quantities in the ledger (conditionally, so a second run computes nothing new), send
 * every pending record with BatchMeterUsage, and record each answer.
 *
 * Order of the steps, and what a crash between any two of them leaves:
 * 1. Read the license and its ledger. (Nothing written yet.)
 * 2. Read the SaaSus counts, capture the activation baseline once.
 * 3. Put one ledger item per new (dimension, hour), `pending` with its quantity fixed. A crash
 *    here leaves some items: the next run finds them and computes only the missing ones, which
 *    account for the usage the found ones already carry.
 * 4. Move the cursor past the computed hours (it only saves work).
 * 5. Send every pending item in the window, ≤ 25 per call, one product per call. A crash before
 *    or after the call leaves the items pending; the next run sends the same records again and
 *    AWS answers the identical resend idempotently (with the same MeteringRecordId).
 * 6. Record each answer on its item. An item leaves `pending` once, so a late duplicate answer
 *    changes nothing.
 * Records that left the window are never sent: they are marked expired and alarmed on.
 */

export { type CrashPoint, type CrashStep, crashSteps, InjectedCrash } from './crash.js';
export {
  entitledQuantities,
  type MeteringRuntime,
  marketplaceEntitlements,
  meteringDepsFromRuntime,
  saasusDayCounts,
} from './deps.js';
export { type PlanningSlots, planningSlots } from './plan.js';
export type {
  DayCountReader,
  DryRunReport,
  EntitlementReader,
  MeteringConfig,
  MeteringDeps,
  MeteringLogger,
  PlannedRecord,
  RunFailure,
  RunReport,
} from './run-context.js';
export {
  type BatchSendResult,
  createUsageSender,
  limitRate,
  type UsageSender,
  type UsageSenderOptions,
} from './send.js';

/**
 * Licenses of one message planned at once: a whole message (25 licenses for 1-3 dimensions), so
 * its calls fill while one SaaSus round trip per license is under way.
 */
const DEFAULT_PLANNING_SLOTS = 32;

const createRun = (deps: MeteringDeps, now: Date, mode: Mode) => {
  const execute = async (
    licenseKeys: readonly string[],
  ): Promise<{ report: RunReport; works: LicenseWork[] }> => {
    const unique = [...new Set(licenseKeys)];
    const run = createRunContext(deps, now, mode, unique);
    const { state } = run;
    const calls = createCallQueue(run);
    // Planning and sending overlap: a call goes out as soon as planned licenses fill it, so the
    // shared rate limit is not left idle while the rest of the message is planned.
    const planning = deps.planning ?? planningSlots(DEFAULT_PLANNING_SLOTS);
    const settled = await Promise.allSettled(
      unique.map(async (licenseKey) => {
        const work = await planning(async () => writeLedger(run, await planLicense(run, licenseKey)));
        if (run.write) await calls.enqueue(work);
        return work;
      }),
    );
    if (run.write) await calls.finish();
    else if (state.crashed) throw state.crashed;

    const works: LicenseWork[] = [];
    settled.forEach((result, index) => {
      if (result.status === 'fulfilled') {
        works.push(result.value);
        return;
      }
      const licenseKey = unique[index];
      const message = describeError(result.reason);
      deps.logger?.error('Metering a license failed', { licenseKey, error: message });
      state.failures.push({ ...(licenseKey === undefined ? {} : { licenseKey }), message, fatal: false });
    });
    return {
      works,
      report: {
        now,
        licenses: unique.length,
        metered: state.metered,
        skipped: state.skipped,
        itemsWritten: state.itemsWritten,
        recordsSent: state.recordsSent,
        outcomes: state.outcomes,
        requests: state.requests,
        retries: state.retries,
        stillPending: state.stillPending,
        stoppedLicenses: [...state.stopped],
        failures: state.failures,
      },
    };
  };

  return { execute };
};

export interface MeterInput {
  readonly licenseKeys: readonly string[];
  /** The run's time: hours completed by then are reported. */
  readonly now: Date;
}

/**
 * The hourly run for a few licenses: every completed hour not yet reported, for licenses whose
 * metering is open, plus every pending record of these licenses still in the window.
 */
export const meterLicenses = async (deps: MeteringDeps, input: MeterInput): Promise<RunReport> =>
  (await createRun(deps, input.now, 'hourly').execute(input.licenseKeys)).report;

/**
 * The final flush of a license whose agreement ended (or was deprovisioned): reports at once
 * everything up to and including the hour in which it ended (the current, partial hour when it
 * ends now) and sends everything pending.
 */
export const flushLicense = async (
  deps: MeteringDeps,
  input: { readonly licenseKey: string; readonly now: Date },
): Promise<RunReport> => (await createRun(deps, input.now, 'flush').execute([input.licenseKey])).report;

/** What a run would compute and send for one license, without writing or sending anything. */
export const dryRunLicense = async (
  deps: Omit<MeteringDeps, 'sender'>,
  input: { readonly licenseKey: string; readonly now: Date },
): Promise<DryRunReport> => {
  const unused: UsageSender = {
    sendBatch: () => Promise.reject(new Error('a dry run never sends')),
  };
  const { works, report } = await createRun({ ...deps, sender: unused }, input.now, 'dryRun').execute([
    input.licenseKey,
  ]);
  const [failure] = report.failures;
  if (failure) throw new Error(`dry run of ${input.licenseKey} failed: ${failure.message}`);
  const [work] = works;
  if (!work?.dryRun) throw new Error(`dry run of ${input.licenseKey} produced no plan`);
  return work.dryRun;
};

/**
 * Whether a queue message should be delivered again: a license failed, or a request failed in a
 * way retrying cannot fix (the message ends in the dead-letter queue, which alarms). A final
 * flush is also redelivered while records are still unsent, because its window is one hour;
 * hourly records left pending are simply sent by the next run.
 */
export const needsRedelivery = (report: RunReport, kind: 'meter' | 'flush'): boolean =>
  report.failures.some((failure) => failure.licenseKey !== undefined || failure.fatal) ||
  (kind === 'flush' && report.stillPending > 0);
