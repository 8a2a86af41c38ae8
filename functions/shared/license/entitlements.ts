/**
 * What the license is entitled to, as last read from GetEntitlements. Kept in the license record
 * so every later event sees the same entitlements; a newer snapshot replaces an older one.
 */
export interface EntitlementSnapshot {
  /**
   * The time the snapshot stands for: the event time of the License Updated / entitlement-updated
   * signal that triggered the read (or the sign-up time). Ordering snapshots by the triggering
   * event, not by wall-clock fetch time, keeps the record independent of delivery order.
   */
  readonly observedAt: string;
  /** Entitled, unexpired dimensions, sorted and unique. */
  readonly dimensions: readonly string[];
}

/** The structural part of an entitlement we need (matches `marketplace/entitlements.ts`). */
export interface EntitlementLike {
  readonly dimension: string;
  readonly value: number | boolean | string | undefined;
  readonly expirationDate?: Date;
}

/** Whether an entitlement value grants anything: a positive quantity, `true` or a non-empty string. */
const grants = (value: EntitlementLike['value']): boolean => {
  if (typeof value === 'number') return value > 0;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.trim() !== '';
  // A dimension listed without a value is an entitlement (AWS omits Value for some contracts).
  return true;
};

/** Builds a snapshot from GetEntitlements results: granted and not expired at `at`. */
export const snapshotFromEntitlements = (
  entitlements: readonly EntitlementLike[],
  observedAt: string,
  at: Date = new Date(observedAt),
): EntitlementSnapshot => ({
  observedAt: new Date(observedAt).toISOString(),
  dimensions: [
    ...new Set(
      entitlements
        .filter((entitlement) => grants(entitlement.value))
        .filter((entitlement) => !entitlement.expirationDate || entitlement.expirationDate > at)
        .map((entitlement) => entitlement.dimension),
    ),
  ].sort(),
});

/**
 * The dimensions that map to a plan, in `byDimension` order. The first one decides the plan when
 * several are entitled: the seller lists dimensions from the plan to prefer downwards, and the
 * choice never depends on the order AWS returned the entitlements in.
 */
export const mappedDimensions = (
  dimensions: readonly string[],
  byDimension: Readonly<Record<string, string>>,
): string[] => {
  const entitled = new Set(dimensions);
  return Object.keys(byDimension).filter((dimension) => entitled.has(dimension));
};

/** Newer snapshot wins; equal times fall back to a content order so the merge is commutative. */
export const newerSnapshot = (
  a: EntitlementSnapshot | undefined,
  b: EntitlementSnapshot | undefined,
): EntitlementSnapshot | undefined => {
  if (!a) return b;
  if (!b) return a;
  if (a.observedAt !== b.observedAt) return a.observedAt > b.observedAt ? a : b;
  return a.dimensions.join('\u0000') >= b.dimensions.join('\u0000') ? a : b;
};
