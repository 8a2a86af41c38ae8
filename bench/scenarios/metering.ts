import os from 'node:os';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse } from 'aws-lambda';
import { accountRate } from '../../functions/shared/metering/account-rate-limit.js';
import { isQuotaItem } from '../../functions/shared/tables.js';
import { type Host, startHost } from '../lib/host.js';
import { seedMeteringLicenses, sqsEvent } from '../lib/metering-seed.js';
import { round, sleep, summarize } from '../lib/stats.js';
import { functionByEntry, type Synthesis } from '../lib/synth.js';
import { startWorld } from '../lib/world.js';

/**
 * Metering throughput: one hour for N licenses × D dimensions through the real pipeline as
 * deployed. The Marketplace emulator enforces the BatchMeterUsage quota (10 calls/s) and answers
 * in 50 ms; SaaSus and DynamoDB (dynalite) answer after the case's added latencies. The hourly fan-out (the schedule bundle) queues the licenses;
 * the configured number of worker bundles (the template's METERING_WORKERS, one process each, one
 * SQS batch of the template's batch size at a time, as the event source mapping delivers) share
 * the quota through the limiter item in the ledger table. A time-compressed run multiplies the
 * emulator's quota and the configured quota (`metering.batchMeterUsageQuotaPerSecond`) by the same
 * factor and reports the ratio.
 */

/** The business time of the run: licenses active since 09:20, the 09:00 hour due at 10:05. */
const RUN_DAY = '2026-11-22';
const ACTIVE_AT = new Date(`${RUN_DAY}T09:20:00.000Z`);
const USAGE_AT = new Date(`${RUN_DAY}T09:40:00.000Z`);
const SCHEDULED_AT = `${RUN_DAY}T10:05:00.000Z`;
const CLOCK_START = Date.parse(`${RUN_DAY}T10:06:00.000Z`);
const QUOTA_CALLS_PER_SECOND = 10;
const RECORDS_PER_CALL = 25;
const MAX_RECEIVES = 5;

export interface MeteringCase {
  readonly licenses: number;
  /** Dimensions metered (the first N units of the example config). */
  readonly dimensions: number;
  /** Added to every DynamoDB request. */
  readonly dynamoLatencyMs: number;
  /** Added to every SaaSus call. */
  readonly saasusLatencyMs: number;
  /** Quota and client rate multiplied by this (1 = real time). */
  readonly compression: number;
  /** Listings sharing the quota, the licenses spread over them in turn (default 1). */
  readonly products?: number;
}

/** A figure an earlier run measured for the same size (kept when a rerun replaces it). */
export interface MeteringHistory {
  readonly licenses: number;
  readonly recordsPerSecond: number;
  readonly ratio: number;
  readonly msPerThousandRecords?: number;
  readonly runAt: string;
}

export interface MeteringFigure {
  /** When the run that measured this figure started (set by run.ts). */
  readonly runAt?: string;
  readonly licenses: number;
  readonly dimensions?: number;
  /** Listings sharing the quota (absent: one). */
  readonly products?: number;
  readonly dynamoLatencyMs?: number;
  readonly saasusLatencyMs?: number;
  /** os.loadavg() right before the run (1, 5, 15 minutes). */
  readonly loadAverageBefore?: number[];
  readonly compression: number;
  readonly workers: number;
  readonly batchSize: number;
  readonly recordsExpected: number;
  readonly recordsBilled: number;
  readonly messages: number;
  readonly invocations: number;
  readonly redeliveries: number;
  readonly deadLettered: number;
  readonly calls: {
    readonly total: number;
    readonly accepted: number;
    readonly throttled: number;
    readonly other: number;
  };
  readonly recordsPerAcceptedCall: number;
  /** DynamoDB requests on the limiter's item per BatchMeterUsage call (every call takes one slot). */
  readonly limiterRequestsPerCall?: number;
  /** DynamoDB requests of the whole run (workers, limiter, the harness's probe) per billed record. */
  readonly dynamoRequestsPerRecord?: number;
  /** The most calls (any outcome) that reached the emulator within one sliding second. */
  readonly maxCallsInSlidingSecond?: number;
  readonly seedSeconds: number;
  readonly fanoutSeconds: number;
  /** From the first worker invocation to the last one's end. */
  readonly wallSeconds: number;
  /** From the first to the last BatchMeterUsage call that was accepted. */
  readonly sendWindowSeconds: number;
  /** From the first worker invocation to the first accepted call (start-up: planning the first batch). */
  readonly firstCallSeconds: number;
  /** From the last accepted call to the end of the last invocation. */
  readonly tailSeconds: number;
  readonly recordsPerSecond: number;
  readonly quotaRecordsPerSecond: number;
  /** recordsPerSecond / quotaRecordsPerSecond: the figure with a goal (≥ 0.9). */
  readonly ratio: number;
  readonly ratioSendWindow: number;
  /** What the shared limiter grants with the records per call seen, / quota. */
  readonly designCeilingRatio: number;
  /** Accepted calls per second in 1-second buckets of the send window. */
  readonly callsPerSecond: ReturnType<typeof summarize>;
  /** A DynamoDB GetItem sampled every 250 ms during the run, from the harness process. */
  readonly dynamoReadMs?: ReturnType<typeof summarize>;
  /** os.loadavg() right after the run (1, 5, 15 minutes): other work on the machine. */
  readonly loadAverage?: number[];
  readonly msPerThousandRecords: number;
  readonly peakWorkerRssMiB: number;
  readonly workerRssMiB: number[];
  /** CPU busy share of each party over the wall time (1 = one core). */
  readonly cpu: { readonly dynalite: number | undefined; readonly workers: number; readonly harness: number };
  readonly correctness: {
    readonly ledgerItems: number;
    readonly ledgerAccepted: number;
    readonly ledgerPending: number;
    readonly billedDuplicates: number;
    readonly ledgerMatchesBilled: boolean;
    readonly mismatches: string[];
    readonly ok: boolean;
  };
}

const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** The worker's environment with the configured BatchMeterUsage quota multiplied by `k`. */
const compressed = (env: Record<string, string>, k: number): Record<string, string> => {
  if (k === 1 || env.BRIDGE_CONFIG === undefined) return env;
  const config = JSON.parse(env.BRIDGE_CONFIG) as { metering: { batchMeterUsageQuotaPerSecond?: number } };
  config.metering.batchMeterUsageQuotaPerSecond = QUOTA_CALLS_PER_SECOND * k;
  return { ...env, BRIDGE_CONFIG: JSON.stringify(config) };
};

export const runMeteringCase = async (
  synthesis: Synthesis,
  testCase: MeteringCase,
  log: (line: string) => void,
): Promise<MeteringFigure> => {
  const workerFn = functionByEntry(synthesis, 'functions/metering/worker.ts');
  const scheduleFn = functionByEntry(synthesis, 'functions/metering/schedule.ts');
  const k = testCase.compression;
  const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
  const world = await startWorld({
    saasusLatencyMs: testCase.saasusLatencyMs,
    dynamoLatencyMs: testCase.dynamoLatencyMs,
    meteringDimensions: testCase.dimensions,
    ...(testCase.products ? { products: testCase.products } : {}),
    marketplaceLatencyMs: 50,
    marketplaceCallsPerSecond: QUOTA_CALLS_PER_SECOND * k,
    clockOffsetMs: CLOCK_START - Date.now(),
  });
  const hosts: Host[] = [];
  try {
    const workerEnv = compressed(world.environmentFor(synthesis, workerFn), k);
    const workers = Number(workerEnv.METERING_WORKERS ?? '1');
    const batchSize = synthesis.batchSizes[workerFn.logicalId] ?? 10;

    const seedStarted = performance.now();
    await seedMeteringLicenses(world, { count: testCase.licenses, activeAt: ACTIVE_AT, usageAt: USAGE_AT });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    log(`metering ${testCase.licenses}: seeded in ${seedSeconds.toFixed(1)} s`);

    const schedule = await startHost({
      bundlePath: scheduleFn.bundlePath,
      env: world.environmentFor(synthesis, scheduleFn),
    });
    hosts.push(schedule);
    const fanout = await schedule.invoke({ scheduledTime: SCHEDULED_AT });
    if (!fanout.ok) throw new Error(`metering fan-out failed: ${fanout.error}`);
    await schedule.close();
    const messages = world.queued.splice(0).map((message) => ({ ...message, receives: 0 }));
    const queuedMessages = messages.length;
    log(
      `metering ${testCase.licenses}: fan-out queued ${messages.length} messages in ${(fanout.ms / 1000).toFixed(1)} s`,
    );

    hosts.push(
      ...(await Promise.all(
        Array.from({ length: workers }, () =>
          startHost({
            bundlePath: workerFn.bundlePath,
            env: workerEnv,
            ...(process.env.BENCH_WORKER_LOGS ? { output: 'inherit' as const } : {}),
          }),
        ),
      )),
    );
    const workerHosts = hosts.slice(1);
    const cpuBefore = { world: world.cpu(), workers: workerHosts.map((host) => host.cpuSeconds() ?? 0) };
    const dynamoStats = async () =>
      (await (await fetch(`${world.dynamo.endpoint}/__stats`)).json()) as {
        requests: number;
        quotaRequests: number;
      };
    const statsBefore = await dynamoStats();
    const queueArn = `arn:aws:sqs:us-east-1:123456789012:bench-work`;
    world.marketplace.clearCalls();

    let invocations = 0;
    let redeliveries = 0;
    let deadLettered = 0;
    let inFlight = 0;
    // How long one DynamoDB read takes while the workers run (the pipeline's writes are sequential).
    const dynamoProbe: number[] = [];
    const probeKey = { licenseKey: 'bench-probe-missing' };
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const before = performance.now();
        await world.dynamo.documents.send(
          new GetCommand({ TableName: world.tables.Licenses, Key: probeKey }),
        );
        dynamoProbe.push(performance.now() - before);
        await sleep(250);
      }
    })();
    const started = performance.now();
    const startedWallMs = Date.now();
    const progress = setInterval(() => {
      log(
        `metering ${testCase.licenses}: ${world.marketplace.billedRecords().length} records billed, ${messages.length} messages waiting`,
      );
    }, 30_000);
    await Promise.all(
      workerHosts.map(async (host) => {
        for (;;) {
          const batch = messages.splice(0, batchSize);
          if (batch.length === 0) {
            if (inFlight === 0) return;
            await sleep(20);
            continue;
          }
          inFlight++;
          invocations++;
          for (const message of batch) message.receives++;
          const result = await host.invoke<SQSBatchResponse>(sqsEvent(batch, queueArn));
          const failed = result.ok
            ? new Set((result.value?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier))
            : new Set(batch.map((message) => message.messageId));
          for (const message of batch) {
            if (!failed.has(message.messageId)) continue;
            if (message.receives >= MAX_RECEIVES) deadLettered++;
            else {
              redeliveries++;
              messages.push(message);
            }
          }
          inFlight--;
        }
      }),
    );
    clearInterval(progress);
    probing = false;
    await prober;
    const wallSeconds = (performance.now() - started) / 1000;
    const cpuAfter = { world: world.cpu(), workers: workerHosts.map((host) => host.cpuSeconds() ?? 0) };
    const memories = await Promise.all(workerHosts.map((host) => host.memory()));

    const statsAfter = await dynamoStats();
    const calls = world.marketplace.calls('BatchMeterUsage');
    let maxCallsInSlidingSecond = 0;
    for (let first = 0, last = 0; last < calls.length; last++) {
      const landed = (index: number) => calls[index]?.wallClockMs ?? 0;
      while (landed(last) - landed(first) >= 1000) first++;
      maxCallsInSlidingSecond = Math.max(maxCallsInSlidingSecond, last - first + 1);
    }
    const accepted = calls.filter((call) => call.outcome === 'Success');
    const throttled = calls.filter((call) => call.outcome === 'ThrottlingException').length;
    const billed = world.marketplace.billedRecords();
    const firstCall = accepted[0]?.wallClockMs ?? 0;
    const lastCall = accepted.at(-1)?.wallClockMs ?? 0;
    const sendWindowSeconds = (lastCall - firstCall) / 1000;
    const buckets = new Map<number, number>();
    for (const call of accepted) {
      const second = Math.floor((call.wallClockMs - firstCall) / 1000);
      buckets.set(second, (buckets.get(second) ?? 0) + 1);
    }
    const fullSeconds = Math.floor(sendWindowSeconds);
    const perSecond = Array.from(
      { length: Math.max(1, fullSeconds) },
      (_, second) => buckets.get(second) ?? 0,
    );

    // Correctness: every ledger item accepted, and the ledger equals what the Marketplace billed.
    const ledger = (await world.scan('MeteringLedger')).filter((item) => !isQuotaItem(item));
    const keyOf = (licenseKey: string, dimension: string, hour: string, quantity: number) =>
      `${licenseKey}|${dimension}|${hour}|${quantity}`;
    const billedKeys = billed.map((record) =>
      keyOf(record.licenseArn, record.dimension, record.hour.toISOString(), record.quantity),
    );
    const billedSet = new Set(billedKeys);
    const ledgerAcceptedKeys = ledger
      .filter((item) => item.status === 'accepted')
      .map((item) =>
        keyOf(
          String(item.licenseKey),
          String(item.dimension),
          new Date(String(item.usageHour)).toISOString(),
          Number(item.quantity),
        ),
      );
    const ledgerSet = new Set(ledgerAcceptedKeys);
    const mismatches = [
      ...[...ledgerSet].filter((key) => !billedSet.has(key)).map((key) => `ledger only: ${key}`),
      ...[...billedSet].filter((key) => !ledgerSet.has(key)).map((key) => `billed only: ${key}`),
    ];
    const recordsExpected = testCase.licenses * world.product.meteringUnits.length;
    const ledgerPending = ledger.filter((item) => item.status === 'pending').length;
    const billedDuplicates = billedKeys.length - billedSet.size;
    const ledgerMatchesBilled = mismatches.length === 0 && ledgerAcceptedKeys.length === billed.length;

    const recordsPerSecond = billed.length / wallSeconds;
    const quotaRecordsPerSecond = QUOTA_CALLS_PER_SECOND * RECORDS_PER_CALL * k;
    const recordsPerAcceptedCall = accepted.length === 0 ? 0 : billed.length / accepted.length;
    const clientCallsPerSecond = accountRate({ quotaPerSecond: QUOTA_CALLS_PER_SECOND * k });
    const busy = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined ? undefined : round((after - before) / wallSeconds, 2);
    const workerCpu =
      cpuAfter.workers.reduce((sum, value) => sum + value, 0) -
      cpuBefore.workers.reduce((sum, value) => sum + value, 0);
    const rss = memories.map((memory) => Math.max(memory.peakRss, memory.maxRssOs));
    return {
      licenses: testCase.licenses,
      dimensions: world.product.meteringUnits.length,
      ...(world.products.length > 1 ? { products: world.products.length } : {}),
      dynamoLatencyMs: testCase.dynamoLatencyMs,
      saasusLatencyMs: testCase.saasusLatencyMs,
      loadAverageBefore,
      compression: k,
      workers,
      batchSize,
      recordsExpected,
      recordsBilled: billed.length,
      messages: queuedMessages,
      invocations,
      redeliveries,
      deadLettered,
      calls: {
        total: calls.length,
        accepted: accepted.length,
        throttled,
        other: calls.length - accepted.length - throttled,
      },
      recordsPerAcceptedCall: round(recordsPerAcceptedCall, 2),
      limiterRequestsPerCall: round(
        (statsAfter.quotaRequests - statsBefore.quotaRequests) / Math.max(1, calls.length),
        2,
      ),
      maxCallsInSlidingSecond,
      dynamoRequestsPerRecord: round(
        (statsAfter.requests - statsBefore.requests) / Math.max(1, billed.length),
        2,
      ),
      seedSeconds: round(seedSeconds, 1),
      fanoutSeconds: round(fanout.ms / 1000, 2),
      wallSeconds: round(wallSeconds, 2),
      sendWindowSeconds: round(sendWindowSeconds, 2),
      firstCallSeconds: round((firstCall - startedWallMs) / 1000, 2),
      tailSeconds: round(wallSeconds - (lastCall - startedWallMs) / 1000, 2),
      recordsPerSecond: round(recordsPerSecond, 1),
      quotaRecordsPerSecond,
      ratio: round(recordsPerSecond / quotaRecordsPerSecond, 3),
      ratioSendWindow: round(
        sendWindowSeconds > 0 ? billed.length / sendWindowSeconds / quotaRecordsPerSecond : 0,
        3,
      ),
      designCeilingRatio: round((clientCallsPerSecond * recordsPerAcceptedCall) / quotaRecordsPerSecond, 3),
      callsPerSecond: summarize(perSecond),
      dynamoReadMs: summarize(dynamoProbe),
      loadAverage: os.loadavg().map((value) => round(value, 2)),
      msPerThousandRecords: round((wallSeconds * 1000 * 1000) / Math.max(1, billed.length), 1),
      peakWorkerRssMiB: mib(Math.max(...rss)),
      workerRssMiB: rss.map(mib),
      cpu: {
        dynalite: busy(cpuBefore.world.dynalite, cpuAfter.world.dynalite),
        workers: round(workerCpu / wallSeconds, 2),
        harness: busy(cpuBefore.world.harness, cpuAfter.world.harness) ?? 0,
      },
      correctness: {
        ledgerItems: ledger.length,
        ledgerAccepted: ledgerAcceptedKeys.length,
        ledgerPending,
        billedDuplicates,
        ledgerMatchesBilled,
        mismatches: mismatches.slice(0, 10),
        ok:
          ledgerMatchesBilled &&
          billed.length === recordsExpected &&
          ledgerPending === 0 &&
          billedDuplicates === 0 &&
          deadLettered === 0,
      },
    };
  } finally {
    await Promise.all(hosts.map((host) => host.close()));
    await world.close();
  }
};
