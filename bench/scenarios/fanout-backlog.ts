import os from 'node:os';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Product } from '../../functions/shared/config.js';
import { hourKey } from '../../functions/shared/metering/hours.js';
import { LEDGER_RETENTION_DAYS, pendingShardOf } from '../../functions/shared/metering/store.js';
import { ledgerUsageKey } from '../../functions/shared/tables.js';
import { startHost } from '../lib/host.js';
import { seedMeteringLicenses } from '../lib/metering-seed.js';
import { mapConcurrent, round } from '../lib/stats.js';
import { functionByEntry, type Synthesis } from '../lib/synth.js';
import { startWorld } from '../lib/world.js';

/**
 * The hourly fan-out after an outage: N licenses × 3 dimensions whose hours are due, each with
 * pending ledger items from an hour that has left the metering window (what a day in which
 * BatchMeterUsage failed leaves: every hour's records pending, the oldest expiring each hour).
 * The schedule bundle runs once; the figure is its duration against the function's 10-minute
 * timeout, and whether everything was expired and queued.
 */

const RUN_DAY = '2026-11-22';
const ACTIVE_AT = new Date(`${RUN_DAY}T09:20:00.000Z`);
const USAGE_AT = new Date(`${RUN_DAY}T09:40:00.000Z`);
/** Hours of pending items per license and dimension that left the window before the run. */
const EXPIRED_HOURS = [`${RUN_DAY}T09:00:00.000Z`];
const SCHEDULED_AT = `${RUN_DAY}T17:05:00.000Z`;
const CLOCK_START = Date.parse(`${RUN_DAY}T17:06:00.000Z`);

export interface BacklogFigure {
  readonly licenses: number;
  readonly expiredItems: number;
  readonly dynamoLatencyMs: number;
  readonly seedSeconds: number;
  readonly fanoutSeconds: number;
  readonly timeoutSeconds: number;
  readonly messages: number;
  readonly expired: number;
  readonly dueLicenses: number;
  readonly loadAverageBefore: number[];
  readonly loadAverageAfter: number[];
  readonly ok: boolean;
}

export const runFanoutBacklog = async (
  synthesis: Synthesis,
  { licenses, dynamoLatencyMs }: { readonly licenses: number; readonly dynamoLatencyMs: number },
  log: (line: string) => void,
): Promise<BacklogFigure> => {
  const scheduleFn = functionByEntry(synthesis, 'functions/metering/schedule.ts');
  const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
  const world = await startWorld({ dynamoLatencyMs, clockOffsetMs: CLOCK_START - Date.now() });
  try {
    const seedStarted = performance.now();
    const seeded = await seedMeteringLicenses(world, {
      count: licenses,
      activeAt: ACTIVE_AT,
      usageAt: USAGE_AT,
    });
    const { config } = world;
    // The bench's example config is one product.
    const [product] = config.products as [Product, ...Product[]];
    const items = seeded.flatMap((license) =>
      product.meteringUnits.flatMap((unit) =>
        EXPIRED_HOURS.map((hour) => ({
          licenseKey: license.licenseKey,
          usageKey: ledgerUsageKey(new Date(hour), unit.dimension),
          dimension: unit.dimension,
          usageHour: hourKey(new Date(hour)),
          quantity: 0,
          usageByDay: {},
          status: 'pending',
          productCode: product.productCode,
          identity: {
            mode: 'license',
            licenseArn: license.licenseKey,
            customerAwsAccountId: license.account,
          },
          createdAt: hour,
          attempts: 1,
          pendingShard: pendingShardOf(license.licenseKey),
          expiresAt: Math.floor(Date.parse(hour) / 1000) + LEDGER_RETENTION_DAYS * 86_400,
        })),
      ),
    );
    const chunks: (typeof items)[] = [];
    for (let start = 0; start < items.length; start += 25) chunks.push(items.slice(start, start + 25));
    const tableName = world.tables.MeteringLedger as string;
    await mapConcurrent(chunks, 8, async (chunk) => {
      let requests: Record<string, unknown>[] = chunk.map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const result = await world.dynamo.documents.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: requests as never } }),
        );
        requests = (result.UnprocessedItems?.[tableName] ?? []) as Record<string, unknown>[];
      }
    });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    log(`fan-out backlog ${licenses}: seeded ${items.length} pending items in ${seedSeconds.toFixed(1)} s`);

    const schedule = await startHost({
      bundlePath: scheduleFn.bundlePath,
      env: world.environmentFor(synthesis, scheduleFn),
    });
    try {
      const result = await schedule.invoke<{ messages: number; expired: number; dueLicenses: number }>({
        scheduledTime: SCHEDULED_AT,
      });
      if (!result.ok) throw new Error(`fan-out failed: ${result.error}`);
      const report = result.value;
      const fanoutSeconds = result.ms / 1000;
      const queuedLicenses = world.queued
        .map((message) => JSON.parse(message.body) as { licenseKeys?: string[] })
        .reduce((sum, message) => sum + (message.licenseKeys?.length ?? 0), 0);
      return {
        licenses,
        expiredItems: items.length,
        dynamoLatencyMs,
        seedSeconds: round(seedSeconds, 1),
        fanoutSeconds: round(fanoutSeconds, 2),
        timeoutSeconds: 600,
        messages: report?.messages ?? 0,
        expired: report?.expired ?? 0,
        dueLicenses: report?.dueLicenses ?? 0,
        loadAverageBefore,
        loadAverageAfter: os.loadavg().map((value) => round(value, 2)),
        ok: report?.expired === items.length && queuedLicenses === licenses,
      };
    } finally {
      await schedule.close();
    }
  } finally {
    await world.close();
  }
};
