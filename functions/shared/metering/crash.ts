/**
 * Fault injection for the metering run: the step boundaries where a test can make a run die as a
 * crashed Lambda would, so the exactly-once invariants can be checked after a crash at each one.
 */

/** Step boundaries where a test can make the run die, as a crashed Lambda would. */
export type CrashStep =
  | 'licenseRead'
  | 'usageRead'
  | 'baselineCaptured'
  | 'ledgerItemWritten'
  | 'cursorAdvanced'
  | 'batchSent'
  | 'outcomeRecorded'
  | 'meteringStopped';

export const crashSteps: readonly CrashStep[] = [
  'licenseRead',
  'usageRead',
  'baselineCaptured',
  'ledgerItemWritten',
  'cursorAdvanced',
  'batchSent',
  'outcomeRecorded',
  'meteringStopped',
];

export interface CrashPoint {
  readonly step: CrashStep;
  readonly licenseKey?: string;
}

/** Thrown by a run that `crashAt` stopped; it aborts the whole run like a dead process. */
export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
  constructor(readonly point: CrashPoint) {
    super(`injected crash after ${point.step}${point.licenseKey ? ` (${point.licenseKey})` : ''}`);
  }
}
