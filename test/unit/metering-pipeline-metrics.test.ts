import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import {
  METERING_SERVICE,
  meteringMetrics,
  publishFanoutMetrics,
  publishRunMetrics,
} from '#shared/metering/metrics';
import type { RunReport } from '#shared/metering/pipeline';

const metricsFor = () => new Metrics({ namespace: 'MarketplaceBridge', serviceName: METERING_SERVICE });

/** The EMF document's values and units by metric name. */
const emf = (metrics: Metrics) => {
  const output = metrics.serializeMetrics() as unknown as Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: Array<{
        Namespace: string;
        Dimensions: string[][];
        Metrics: Array<{ Name: string; Unit: string }>;
      }>;
    };
  };
  const [directive] = output._aws.CloudWatchMetrics;
  return {
    namespace: directive?.Namespace,
    dimensions: directive?.Dimensions,
    service: output.service,
    units: Object.fromEntries((directive?.Metrics ?? []).map((metric) => [metric.Name, metric.Unit])),
    value: (name: string) => output[name],
  };
};

const report: RunReport = {
  now: new Date('2026-11-22T13:05:00.000Z'),
  licenses: 8,
  metered: 7,
  skipped: { nothingDue: 1 },
  itemsWritten: 21,
  recordsSent: 24,
  outcomes: {
    UsageRecordAccepted: 20,
    UsageRecordUnprocessed: 1,
    CustomerNotSubscribed: 1,
    UsageRecordDuplicate: 0,
    UsageRecordRejected: 1,
    UsageRecordExpired: 1,
  },
  requests: 3,
  retries: 2,
  stillPending: 1,
  stoppedLicenses: ['a'],
  failures: [],
};

describe('metering metrics (EMF)', () => {
  it('publishes a run: licenses, records by status, retries and calls, under the metering service', () => {
    const metrics = metricsFor();
    publishRunMetrics(metrics, report);
    const document = emf(metrics);
    expect(document.namespace).toBe('MarketplaceBridge');
    expect(document.dimensions).toEqual([['service']]);
    expect(document.service).toBe('metering');
    expect(document.value(meteringMetrics.licenses)).toBe(7);
    expect(document.value(meteringMetrics.accepted)).toBe(20);
    expect(document.value(meteringMetrics.unprocessed)).toBe(1);
    expect(document.value(meteringMetrics.notSubscribed)).toBe(1);
    expect(document.value(meteringMetrics.rejected)).toBe(1);
    expect(document.value(meteringMetrics.expired)).toBe(1);
    // Zeros are published too, so the alarms always have data.
    expect(document.value(meteringMetrics.duplicate)).toBe(0);
    expect(document.value(meteringMetrics.retries)).toBe(2);
    expect(document.value(meteringMetrics.requests)).toBe(3);
    expect(document.value(meteringMetrics.recordsSent)).toBe(24);
    expect(document.units[meteringMetrics.accepted]).toBe('Count');
  });

  it('publishes the fan-out with the lag of the oldest unreported hour in seconds', () => {
    const metrics = metricsFor();
    publishFanoutMetrics(metrics, {
      runHour: '2026-11-22T13:00:00.000Z',
      dueLicenses: 100,
      pendingOnlyLicenses: 2,
      stoppedLicenses: 1,
      messages: 13,
      expired: 4,
      oldestUnreportedHourLagSeconds: 3900,
    });
    const document = emf(metrics);
    expect(document.value(meteringMetrics.oldestUnreportedHourLag)).toBe(3900);
    expect(document.units[meteringMetrics.oldestUnreportedHourLag]).toBe('Seconds');
    expect(document.value(meteringMetrics.dueLicenses)).toBe(100);
    expect(document.value(meteringMetrics.messages)).toBe(13);
    expect(document.value(meteringMetrics.expired)).toBe(4);
  });

  it('beats the heartbeat once per completed fan-out, also when no license is due', () => {
    const metrics = metricsFor();
    publishFanoutMetrics(metrics, {
      runHour: '2026-11-22T13:00:00.000Z',
      dueLicenses: 0,
      pendingOnlyLicenses: 0,
      stoppedLicenses: 0,
      messages: 0,
      expired: 0,
      oldestUnreportedHourLagSeconds: 0,
    });
    const document = emf(metrics);
    // The name the heartbeat alarm (lib/constructs/metering.ts) watches.
    expect(document.value('FanOutCompleted')).toBe(1);
    expect(document.units.FanOutCompleted).toBe('Count');
    expect(document.dimensions).toEqual([['service']]);
  });
});
