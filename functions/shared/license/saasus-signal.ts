/**
 * What a SaaSus partner event means for our licenses, as the event parser (`events/saasus.ts`)
 * produces it and the license layer decides on it (`saasus-decisions.ts`).
 */

interface SaasusSignalBase {
  readonly eventId: string;
  readonly time: string;
  readonly traceId?: string;
  readonly eventType: string;
}

export type SaasusSignal = SaasusSignalBase &
  (
    | {
        readonly kind: 'tenant-user-created';
        readonly tenantId: string;
        readonly userId: string;
        readonly email?: string;
      }
    | {
        readonly kind: 'tenant-user-deleted';
        /** One tenant for DeleteTenantUser; every tenant the user was in for DeleteSaasUser. */
        readonly tenantIds: readonly string[];
        readonly userId: string;
      }
    | {
        readonly kind: 'tenant-plan-changed';
        readonly tenantId: string;
        /** null: the call removed the plan. */
        readonly planId: string | null;
        /** Set when the change is a reservation for a later time (`using_next_plan_from`). */
        readonly effectiveAt?: string;
      }
    | { readonly kind: 'tenant-deleted'; readonly tenantId: string }
  );

export type SaasusSignalKind = SaasusSignal['kind'];

/** The tenants a signal concerns (the handler looks each up with the `byTenant` index). */
export const saasusSignalTenantIds = (signal: SaasusSignal): readonly string[] =>
  signal.kind === 'tenant-user-deleted' ? signal.tenantIds : [signal.tenantId];
