import { type DeploymentConfig, productFor } from '#shared/config';
import type { LedgerItem } from '#shared/metering/store';
import type { SaasusClient } from '#shared/saasus/client';

/**
 * A month of one license and dimension, three ways: what SaaSus counted, what the ledger billed
 * and what AWS accepted (with the MeteringRecordIds), and every difference explained.
 */
export interface ReconcileRow {
  readonly licenseKey: string;
  /** The license's product: its metering units and pricing model apply. */
  readonly productCode: string;
  readonly tenantId?: string;
  readonly dimension: string;
  readonly saasusUnit: string;
  readonly aggregation: 'sum' | 'gauge';
  /** The month's SaaSus count (sum units; gauges have no monthly total). */
  readonly saasusCount?: number;
  /** Quantities the ledger holds for the month, by outcome. */
  readonly ledgerByStatus: Readonly<Record<string, number>>;
  /** What AWS accepted: the `accepted` quantities and their MeteringRecordIds. */
  readonly awsAccepted: number;
  readonly meteringRecordIds: readonly string[];
  /** SaaSus count − AWS accepted (sum units). */
  readonly difference?: number;
  /** Each part of the difference, with its reason. */
  readonly explanations: readonly { readonly quantity: number; readonly reason: string }[];
  /** Whether the explanations add up to the difference. */
  readonly explained: boolean;
}

const statusReasons: Record<string, string> = {
  pending: 'pending: recorded, to be sent on the next run',
  rejected: 'rejected by AWS (billed again once the cause is fixed)',
  expired: 'expired: left the BatchMeterUsage window unsent',
  expiredUnconfirmed: 'expired: left the window, AWS may have billed it (unconfirmed)',
  notSubscribed: 'not subscribed: AWS refused it (the license was not active)',
  duplicate: 'duplicate: AWS already held another quantity for that hour',
  unsentZero: 'zero usage, not sent',
};

/** `YYYY-MM` → its calendar days `YYYY-MM-DD`. */
export const daysOfMonth = (month: string): string[] => {
  const [year, monthNumber] = month.split('-').map(Number);
  const last = new Date(Date.UTC(year ?? 0, monthNumber ?? 0, 0)).getUTCDate();
  return Array.from({ length: last }, (_, index) => `${month}-${String(index + 1).padStart(2, '0')}`);
};

export interface ReconcileLicense {
  readonly licenseKey: string;
  /** The license's product: its metering units and pricing model apply. */
  readonly productCode: string;
  readonly tenantId?: string;
  /** The day counts metering captured at activation (usage before it is never billed). */
  readonly baseline?: { readonly day: string; readonly counts: Readonly<Record<string, number>> };
}

/** Reconciles one license for a month; `ledger` holds its items (any hours; filtered here). */
export const reconcileLicense = async (
  config: DeploymentConfig,
  saasus: Pick<SaasusClient, 'getMeteringCountsForDate'>,
  license: ReconcileLicense,
  ledger: readonly LedgerItem[],
  month: string,
): Promise<ReconcileRow[]> => {
  const days = daysOfMonth(month);
  const inMonth = (item: LedgerItem) => {
    const itemDays = Object.keys(item.usageByDay);
    return itemDays.length > 0
      ? itemDays.some((day) => day.startsWith(month))
      : item.usageHour.toISOString().startsWith(month);
  };
  const counts = new Map<string, number>();
  if (license.tenantId) {
    const tenantId = license.tenantId;
    const perDay = await Promise.all(days.map((day) => saasus.getMeteringCountsForDate(tenantId, day)));
    for (const dayCounts of perDay) {
      for (const count of dayCounts)
        counts.set(count.metering_unit_name, (counts.get(count.metering_unit_name) ?? 0) + count.count);
    }
  }
  const product = productFor(config, license.productCode);
  return product.meteringUnits.map((unit) => {
    const items = ledger.filter((item) => item.dimension === unit.dimension && inMonth(item));
    const ledgerByStatus: Record<string, number> = {};
    for (const item of items)
      ledgerByStatus[item.status] = (ledgerByStatus[item.status] ?? 0) + item.quantity;
    const accepted = items.filter((item) => item.status === 'accepted');
    const awsAccepted = accepted.reduce((total, item) => total + item.quantity, 0);
    const meteringRecordIds = accepted.flatMap((item) =>
      item.meteringRecordId ? [item.meteringRecordId] : [],
    );
    const base = {
      licenseKey: license.licenseKey,
      productCode: license.productCode,
      ...(license.tenantId ? { tenantId: license.tenantId } : {}),
      dimension: unit.dimension,
      saasusUnit: unit.saasusUnit,
      aggregation: unit.aggregation,
      ledgerByStatus,
      awsAccepted,
      meteringRecordIds,
    };
    if (unit.aggregation === 'gauge') {
      return {
        ...base,
        explanations: [
          {
            quantity: 0,
            reason: 'gauge: each hour bills the level SaaSus held, so there is no monthly count to compare',
          },
        ],
        explained: true,
      };
    }
    const saasusCount = license.tenantId ? (counts.get(unit.saasusUnit) ?? 0) : 0;
    const explanations: { quantity: number; reason: string }[] = [];
    const add = (quantity: number, reason: string) => {
      if (quantity !== 0) explanations.push({ quantity, reason });
    };
    if (!license.tenantId) add(0, 'no SaaSus tenant yet: nothing to count');
    const baseline = license.baseline?.day.startsWith(month)
      ? (license.baseline.counts[unit.saasusUnit] ?? 0)
      : 0;
    add(
      baseline,
      `before activation: the count on ${license.baseline?.day ?? ''} when metering first saw the license (never billed)`,
    );
    for (const [status, quantity] of Object.entries(ledgerByStatus)) {
      if (status !== 'accepted') add(quantity, statusReasons[status] ?? status);
    }
    const accounted = items.reduce(
      (total, item) =>
        total +
        Object.entries(item.usageByDay).reduce(
          (sum, [day, value]) => sum + (day.startsWith(month) ? value : 0),
          0,
        ),
      0,
    );
    const ledgerTotal = items.reduce((total, item) => total + item.quantity, 0);
    add(
      accounted - ledgerTotal,
      product.pricingModel === 'contract-with-consumption'
        ? 'within the entitlement: usage the contract already pays for'
        : 'counted by the ledger but not billed (a count lowered by a direct overwrite)',
    );
    add(
      saasusCount - baseline - accounted,
      'not metered yet: usage after the last run (or reported to SaaSus late), billed by a later run',
    );
    const difference = saasusCount - awsAccepted;
    const explainedTotal = explanations.reduce((total, part) => total + part.quantity, 0);
    return { ...base, saasusCount, difference, explanations, explained: explainedTotal === difference };
  });
};
