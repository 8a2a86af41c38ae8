import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FanoutReport } from './fanout.js';
import type { MeteringMetric } from './outcomes.js';
import type { RunReport } from './run-context.js';

/**
 * The metering functions' business metrics, as EMF through the shared Powertools `metrics`
 * (namespace `MarketplaceBridge`, dimension `service` = `metering`; the handlers flush them with
 * the `logMetrics` middleware). The CDK alarms read the same names from here.
 */

/** Powertools service name of both metering functions: the `service` dimension of every metric. */
export const METERING_SERVICE = 'metering';

export const meteringMetrics = {
  /** Licenses whose hours a worker computed. */
  licenses: 'MeteredLicenses',
  /** Ledger items created (quantities fixed). */
  itemsWritten: 'UsageRecordsComputed',
  /** Records handed to BatchMeterUsage. */
  recordsSent: 'UsageRecordsSent',
  requests: 'BatchMeterUsageCalls',
  /** Backoff retries after throttling or a transient failure. */
  retries: 'BatchMeterUsageRetries',
  /** Licenses that failed, and request failures retrying cannot fix. */
  failures: 'MeteringFailures',
  /** Records still pending after a run (sent again next run). */
  stillPending: 'UsageRecordsStillPending',
  /** Hourly fan-out. */
  /** 1 per fan-out run that completed: the heartbeat whose absence alarms. */
  fanOutCompleted: 'FanOutCompleted',
  dueLicenses: 'LicensesDue',
  messages: 'MeteringMessagesQueued',
  /** Seconds since the start of the oldest completed hour not yet reported. */
  oldestUnreportedHourLag: 'OldestUnreportedHourLag',
  /** Outcome metrics, one per record (names from outcomes.ts). */
  accepted: 'UsageRecordAccepted',
  unprocessed: 'UsageRecordUnprocessed',
  notSubscribed: 'CustomerNotSubscribed',
  duplicate: 'UsageRecordDuplicate',
  rejected: 'UsageRecordRejected',
  expired: 'UsageRecordExpired',
} as const satisfies Record<string, string>;

/** The part of Powertools Metrics used here. */
export type MetricsSink = Pick<Metrics, 'addMetric'>;

const outcomeMetrics: readonly MeteringMetric[] = [
  meteringMetrics.accepted,
  meteringMetrics.unprocessed,
  meteringMetrics.notSubscribed,
  meteringMetrics.duplicate,
  meteringMetrics.rejected,
  meteringMetrics.expired,
];

/** Adds one worker run's metrics (every count, zeros included, so alarms see data). */
export const publishRunMetrics = (sink: MetricsSink, report: RunReport): void => {
  sink.addMetric(meteringMetrics.licenses, MetricUnit.Count, report.metered);
  sink.addMetric(meteringMetrics.itemsWritten, MetricUnit.Count, report.itemsWritten);
  sink.addMetric(meteringMetrics.recordsSent, MetricUnit.Count, report.recordsSent);
  sink.addMetric(meteringMetrics.requests, MetricUnit.Count, report.requests);
  sink.addMetric(meteringMetrics.retries, MetricUnit.Count, report.retries);
  sink.addMetric(meteringMetrics.stillPending, MetricUnit.Count, report.stillPending);
  sink.addMetric(meteringMetrics.failures, MetricUnit.Count, report.failures.length);
  for (const metric of outcomeMetrics) sink.addMetric(metric, MetricUnit.Count, report.outcomes[metric]);
};

/** Adds a completed fan-out's metrics: the heartbeat and the oldest-unreported-hour lag among them. */
export const publishFanoutMetrics = (sink: MetricsSink, report: FanoutReport): void => {
  sink.addMetric(meteringMetrics.fanOutCompleted, MetricUnit.Count, 1);
  sink.addMetric(meteringMetrics.dueLicenses, MetricUnit.Count, report.dueLicenses);
  sink.addMetric(meteringMetrics.messages, MetricUnit.Count, report.messages);
  sink.addMetric(meteringMetrics.expired, MetricUnit.Count, report.expired);
  sink.addMetric(
    meteringMetrics.oldestUnreportedHourLag,
    MetricUnit.Seconds,
    report.oldestUnreportedHourLagSeconds,
  );
};
