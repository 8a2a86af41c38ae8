import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import type { DeploymentConfig } from '../config.js';
import { type Entitlement, entitlementFilterFor, getAllEntitlements } from '../marketplace/entitlements.js';
import type { SaasusClient } from '../saasus/client.js';
import { accountRate, SharedRateLimiter } from './account-rate-limit.js';
import { describeError } from './errors.js';
import type { DayCountReader, EntitlementReader, MeteringDeps, MeteringLogger } from './run-context.js';
import { createUsageSender, limitRate } from './send.js';
import { createLedgerStore, type MeteringStateLicenses } from './store.js';

/**
 * What a metering run reads from outside (SaaSus day counts, Marketplace entitlements), and the
 * deps of a deployed worker built from the runtime's clients.
 */

/** Day counts from SaaSus: one call per tenant and day, every unit at once. */
export const saasusDayCounts =
  (saasus: Pick<SaasusClient, 'getMeteringCountsForDate'>): DayCountReader =>
  async (tenantId, day) =>
    Object.fromEntries(
      (await saasus.getMeteringCountsForDate(tenantId, day)).map((count) => [
        count.metering_unit_name,
        count.count,
      ]),
    );

/**
 * Entitled quantities from GetEntitlements: per dimension the largest whole quantity among the
 * unexpired entitlements (a boolean or text entitlement entitles no quantity).
 */
export const entitledQuantities = (
  entitlements: readonly Entitlement[],
  at: Date,
): Record<string, number> => {
  const quantities: Record<string, number> = {};
  for (const entitlement of entitlements) {
    if (entitlement.expirationDate !== undefined && entitlement.expirationDate <= at) continue;
    if (typeof entitlement.value !== 'number' || !Number.isFinite(entitlement.value)) continue;
    const quantity = Math.max(0, Math.floor(entitlement.value));
    quantities[entitlement.dimension] = Math.max(quantities[entitlement.dimension] ?? 0, quantity);
  }
  return quantities;
};

export const marketplaceEntitlements =
  (client: Parameters<typeof getAllEntitlements>[0], now: () => Date = () => new Date()): EntitlementReader =>
  async (identity, productCode) =>
    entitledQuantities(
      await getAllEntitlements(client, {
        productCode,
        filter: entitlementFilterFor(identity),
      }),
      now(),
    );

/** The runtime pieces the metering deps are built from (a `Runtime` fits). */
export interface MeteringRuntime {
  readonly config: DeploymentConfig;
  readonly env: { readonly METERING_LEDGER_TABLE: string };
  dynamo(): Parameters<typeof createLedgerStore>[0]['client'];
  licenses(): MeteringStateLicenses;
  saasus(): Pick<SaasusClient, 'getMeteringCountsForDate'>;
  meteringClient(): MarketplaceMeteringClient;
  entitlementClient(): Parameters<typeof getAllEntitlements>[0];
}

/**
 * The deps of a metering worker: the runtime's clients, and BatchMeterUsage behind the
 * account-wide limiter every worker shares (`metering.batchMeterUsageQuotaPerSecond`).
 */
export const meteringDepsFromRuntime = (
  runtime: MeteringRuntime,
  options: { readonly workers: number; readonly logger?: MeteringLogger; readonly now?: () => Date },
): MeteringDeps => {
  const { config } = runtime;
  const ratePerSecond = accountRate({ quotaPerSecond: config.metering.batchMeterUsageQuotaPerSecond });
  const limiter = new SharedRateLimiter({
    client: runtime.dynamo(),
    tableName: runtime.env.METERING_LEDGER_TABLE,
    ratePerSecond,
    // Each worker holds at most one reservation: a backlog of one slot per worker, twice over.
    maxAheadMs: Math.max(60_000, (2 * options.workers * 1000) / ratePerSecond),
  });
  return {
    config,
    licenses: runtime.licenses(),
    ledger: createLedgerStore({ client: runtime.dynamo(), tableName: runtime.env.METERING_LEDGER_TABLE }),
    readDayCounts: saasusDayCounts(runtime.saasus()),
    sender: createUsageSender({
      client: limitRate(runtime.meteringClient(), limiter),
      ...(options.logger
        ? {
            onRetry: (error: unknown, attempt: number, delayMs: number) =>
              options.logger?.warn('BatchMeterUsage retry after backoff', {
                error: describeError(error),
                attempt,
                delayMs,
              }),
          }
        : {}),
    }),
    ...(config.products.some((product) => product.pricingModel === 'contract-with-consumption')
      ? { readEntitlements: marketplaceEntitlements(runtime.entitlementClient(), options.now) }
      : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  };
};
