import type { DesiredEffects } from './effects.js';

/**
 * Domain events for one transition of a license, from the desired effects before and after a
 * signal. The names are those of the catalogue in `functions/shared/domain-events.ts`
 * (`domainEventTypes`), repeated as plain strings so this module stays free of AWS clients.
 */
export const licenseDomainEventTypes = {
  licenseActivated: 'License Activated',
  entitlementsChanged: 'Entitlements Changed',
  licenseEnding: 'License Ending',
  licenseRevoked: 'License Revoked',
  licenseReinstated: 'License Reinstated',
  meteringStopped: 'Metering Stopped',
} as const;

export interface DomainEventDraft {
  readonly detailType: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((item, index) => item === b[index]);

const planIdOf = (effects: DesiredEffects) => (effects.plan.kind === 'set' ? effects.plan.planId : undefined);

/**
 * - `License Activated`: access granted for the first time (from `pending` or `failed`).
 * - `License Reinstated`: access granted again after a revocation.
 * - `Entitlements Changed`: access stays granted and the entitled dimensions or the plan changed.
 * - `License Ending`: the final-usage window opened.
 * - `License Revoked`: the license ended (deprovisioned), or access was withdrawn without an
 *   ending (a lapsed contract's empty entitlements, a failed subscription).
 * - `Metering Stopped`: metering closed.
 * `subject` (e.g. licenseKey, tenantId) is copied into every detail.
 */
export const domainEventsFor = (
  before: DesiredEffects,
  after: DesiredEffects,
  subject: Readonly<Record<string, string>> = {},
): DomainEventDraft[] => {
  const planId = planIdOf(after);
  const detail = (extra: Record<string, unknown> = {}) => ({
    ...subject,
    status: after.status.status,
    ...(planId === undefined ? {} : { planId }),
    entitledDimensions: [...after.entitledDimensions],
    ...extra,
  });
  const events: DomainEventDraft[] = [];
  const granted = before.access !== 'enabled' && after.access === 'enabled';
  if (granted) {
    const first = before.status.status === 'pending' || before.status.status === 'failed';
    events.push({
      detailType: first
        ? licenseDomainEventTypes.licenseActivated
        : licenseDomainEventTypes.licenseReinstated,
      detail: detail({ activeSince: after.status.activeSince }),
    });
  }
  if (
    before.access === 'enabled' &&
    after.access === 'enabled' &&
    (!sameList(before.entitledDimensions, after.entitledDimensions) || planIdOf(before) !== planId)
  ) {
    events.push({
      detailType: licenseDomainEventTypes.entitlementsChanged,
      detail: detail({
        previousDimensions: [...before.entitledDimensions],
        previousPlanId: planIdOf(before),
      }),
    });
  }
  if (after.status.status === 'ending' && before.status.status !== 'ending') {
    events.push({
      detailType: licenseDomainEventTypes.licenseEnding,
      detail: detail({
        endingSince: after.status.endingSince,
        finalUsageWindowEndsAt: after.status.finalUsageWindowEndsAt,
      }),
    });
  }
  const ended = after.status.status === 'ended' && before.status.status !== 'ended';
  const withdrawn =
    before.access !== 'revoked' && after.access === 'revoked' && after.status.status !== 'ending';
  if (ended || withdrawn) {
    events.push({
      detailType: licenseDomainEventTypes.licenseRevoked,
      detail: detail({ reason: after.revocationReason, endedAt: after.status.endedAt }),
    });
  }
  if (before.metering === 'open' && after.metering === 'closed') {
    events.push({ detailType: licenseDomainEventTypes.meteringStopped, detail: detail() });
  }
  return events;
};
