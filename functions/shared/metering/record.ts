import { type RecordOutcome, transitionFor } from './outcomes.js';
import type { RunContext } from './run-context.js';
import type { LedgerItem } from './store.js';
import { ledgerItemKey } from './store.js';

/**
 * Step 6 of the run (see pipeline.ts): record each answer on its ledger item. An item leaves
 * `pending` once, so a late duplicate answer changes nothing; an answer that keeps the item
 * pending counts an attempt. CustomerNotSubscribed stops metering the license for its episode.
 */

const stopLicense = async (run: RunContext, licenseKey: string, reason: string) => {
  const episode = run.episodes.get(licenseKey);
  if (run.state.stopped.has(licenseKey) || episode === undefined) return;
  run.state.stopped.add(licenseKey);
  await run.stateStore.stop(licenseKey, episode, run.now, reason);
  run.deps.logger?.warn('Metering stopped for a license: AWS reports the customer is not subscribed', {
    licenseKey,
  });
  run.checkpoint('meteringStopped', licenseKey);
};

export const recordOutcome = async (run: RunContext, outcome: RecordOutcome<LedgerItem>): Promise<void> => {
  const { deps, now, state } = run;
  const transition = transitionFor(outcome);
  const item = outcome.record;
  state.outcomes[transition.metric]++;
  if (transition.retryNextRun) {
    await deps.ledger.recordAttempt(item, transition.reason ?? outcome.status, now);
  } else {
    const written = await deps.ledger.recordOutcome(item, transition, now);
    if (written.result === 'alreadyFinal' && written.status !== transition.status) {
      deps.logger?.warn('Ledger item already has another final status; keeping it', {
        key: ledgerItemKey(item),
        stored: written.status,
        answer: transition.status,
      });
    }
  }
  if (transition.alarm) {
    deps.logger?.error('Usage record needs attention', {
      key: ledgerItemKey(item),
      quantity: item.quantity,
      status: transition.status,
      reason: transition.reason,
    });
  }
  run.checkpoint('outcomeRecorded', item.licenseKey);
  if (transition.stopMeteringLicense)
    await stopLicense(run, item.licenseKey, transition.reason ?? outcome.status);
};
