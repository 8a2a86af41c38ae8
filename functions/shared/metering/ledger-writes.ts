import { partitionByWindow } from './batches.js';
import type { LicensePlan } from './plan.js';
import type { DryRunReport, PlannedRecord, RunContext } from './run-context.js';
import { type LedgerItem, ledgerItemKey } from './store.js';

/**
 * Steps 3-4 of the run (see pipeline.ts): fix the planned quantities in the ledger with
 * conditional puts (a crash between two puts leaves items the next run finds and builds on), move
 * the cursor past the computed hours, and gather what the license now has to send.
 */

/** One license's part of the run, once its ledger items are written. */
export interface LicenseWork {
  readonly licenseKey: string;
  readonly episode?: string;
  readonly toSend: LedgerItem[];
  readonly expired: LedgerItem[];
  readonly dryRun?: DryRunReport;
}

/** Writes a planned license's new items and cursor (not in a dry run); returns what to send. */
export const writeLedger = async (run: RunContext, plan: LicensePlan): Promise<LicenseWork> => {
  const { deps, now, window, write, state, checkpoint } = run;
  const { licenseKey, episode } = plan;
  const created: LedgerItem[] = [];
  if (!write) created.push(...plan.computed);
  else {
    // Independent conditional puts: all at once, each one fixed for good when it lands.
    const stored = await Promise.all(
      plan.computed.map(async (entry) => {
        const result = await deps.ledger.putIfAbsent(entry);
        if (result.created) state.itemsWritten++;
        checkpoint('ledgerItemWritten', licenseKey);
        return result.item;
      }),
    );
    created.push(...stored);
  }
  if (write && plan.cursor && episode !== undefined) {
    await run.stateStore.advanceCursor(licenseKey, episode, plan.cursor.to, plan.cursor.from);
    checkpoint('cursorAdvanced', licenseKey);
  }

  // Everything still to send: pending items already in the ledger plus those just written.
  const pending = new Map<string, LedgerItem>();
  for (const entry of [...plan.ledger, ...created]) {
    if (entry.status === 'pending') pending.set(ledgerItemKey(entry), entry);
  }
  const { sendable, expired } = partitionByWindow([...pending.values()], now, window);
  const newKeys = new Set(created.map(ledgerItemKey));
  const planned = (entry: LedgerItem, action: PlannedRecord['action']): PlannedRecord => ({
    licenseKey,
    dimension: entry.dimension,
    usageHour: entry.usageHour.toISOString(),
    quantity: entry.quantity,
    usageByDay: entry.usageByDay,
    source: newKeys.has(ledgerItemKey(entry)) ? 'new' : 'pending',
    action,
  });
  return {
    licenseKey,
    ...(episode === undefined ? {} : { episode }),
    toSend: sendable,
    expired,
    dryRun: {
      now: now.toISOString(),
      licenseKey,
      ...(plan.status === undefined ? {} : { status: plan.status }),
      ...(plan.skipReason === undefined ? {} : { skipped: plan.skipReason }),
      hours: plan.hours.map((hour) => hour.toISOString()),
      skippedHours: plan.skippedHours,
      days: [...plan.days],
      ...(plan.baseline ? { baseline: plan.baseline } : {}),
      records: [
        ...sendable.map((entry) => planned(entry, 'send')),
        ...created
          .filter((entry) => entry.status === 'unsentZero')
          .map((entry) => planned(entry, 'recordOnly')),
        ...expired.map((entry) => planned(entry, 'expired')),
      ],
    },
  };
};
