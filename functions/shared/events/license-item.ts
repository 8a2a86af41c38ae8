import * as z from 'zod';
import type { DeploymentConfig } from '../config.js';
import {
  type EffectContext,
  effectConfigFor,
  type RegisteredUser,
  type Registration,
} from '../license/effects.js';
import type { SaasusCursor } from '../license/saasus-decisions.js';
import type { DomainEventDraft } from '../license/transitions.js';
import type { EntitlementFilter } from '../marketplace/entitlements.js';
import type { LicenseItem } from '../store/licenses.js';

/**
 * The attributes of a Licenses item that event processing owns, next to what sign-up writes
 * (`tenantId`, `provisioning.*`). Each is read leniently (an unknown extra field never breaks a
 * handler) and written whole with the item's optimistic version, so concurrent handlers merge
 * instead of overwriting each other.
 */
export const eventAttributes = {
  /** The state machine's mergeable record (`license/record.ts`); the metering pipeline reads it. */
  lifecycle: 'lifecycle',
  /** `deriveStatus(lifecycle).status`, kept next to the record for the metering pipeline. */
  status: 'status',
  /** Tenant users the bridge knows beyond the sign-up admin (see `MemberEntry`). */
  members: 'members',
  /** Domain events decided with the last write and not yet published (a transactional outbox). */
  outbox: 'domainOutbox',
  /** Per-subject time of the last applied SaaSus event (`decideSaasusSignal`). */
  saasusCursor: 'saasusCursor',
  /** Set when the license's SaaSus tenant was deleted: `{ at, eventId }`. */
  tenantDeleted: 'tenantDeleted',
} as const;

/** What the bridge records about one SaaSus user of a license's tenant. */
export interface MemberEntry {
  /**
   * true: registered by a SaaSus event (the user counts for revocation and reinstatement);
   * false: the user was deleted from the tenant in SaaSus; absent: no statement (the sign-up
   * admin is registered by the sign-up record itself).
   */
  readonly registered?: boolean;
  readonly email?: string;
  readonly directoryUserId?: string;
  /** When a directory registration was attempted (a 409 after it means "ours, answer lost"). */
  readonly directoryAttemptedAt?: string;
  /** Why the directory user could not be registered; to be linked by hand. */
  readonly directoryUnresolved?: string;
  /** The membership as it was when revocation removed the user; restored on reinstatement. */
  readonly removed?: RemovedMembership;
}

export interface RemovedMembership {
  readonly email?: string;
  readonly signInId?: string;
  /** Env id (as text) → role names. */
  readonly roles: Readonly<Record<string, readonly string[]>>;
}

export type Members = Readonly<Record<string, MemberEntry>>;

const text = z.string().min(1);

const memberSchema = z.looseObject({
  registered: z.boolean().optional(),
  email: text.optional(),
  directoryUserId: text.optional(),
  directoryAttemptedAt: text.optional(),
  directoryUnresolved: text.optional(),
  removed: z
    .looseObject({
      email: text.optional(),
      signInId: text.optional(),
      roles: z.record(z.string(), z.array(z.string())),
    })
    .optional(),
});

const membersSchema = z.record(z.string(), memberSchema);

const outboxEntrySchema = z.object({
  id: text,
  detailType: text,
  detail: z.record(z.string(), z.unknown()),
});

export type OutboxEntry = z.output<typeof outboxEntrySchema>;

const cursorSchema = z.record(z.string(), z.string());

const provisionedSchema = z.looseObject({
  saasUser: z.looseObject({ userId: text }).optional(),
  tenant: z
    .looseObject({ linked: z.boolean().optional(), previousPlanId: z.string().nullable().optional() })
    .optional(),
  tenantUser: z.looseObject({ userId: text }).optional(),
  directoryUser: z.looseObject({ userId: text.optional() }).optional(),
});

/** Reads an attribute with a schema; a value of the wrong shape reads as absent (and is rewritten). */
const readWith = <T extends z.ZodType>(schema: T, value: unknown): z.output<T> | undefined => {
  if (value === undefined || value === null) return undefined;
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
};

export const membersOf = (item: LicenseItem): Members =>
  readWith(membersSchema, item[eventAttributes.members]) ?? {};

export const outboxOf = (item: LicenseItem): OutboxEntry[] =>
  readWith(z.array(outboxEntrySchema), item[eventAttributes.outbox]) ?? [];

export const saasusCursorOf = (item: LicenseItem): SaasusCursor =>
  readWith(cursorSchema, item[eventAttributes.saasusCursor]) ?? {};

/** The sign-up records this module reads (written by `signup/provisioning.ts`). */
export const provisionedOf = (item: LicenseItem) => readWith(provisionedSchema, item.provisioning) ?? {};

/**
 * The license's tenant and its users as the state machine sees them: the sign-up admin (once
 * sign-up added them to the tenant) unless SaaSus reported them deleted, plus every user a SaaSus
 * event registered. Undefined until sign-up attached a tenant.
 */
export const registrationOf = (item: LicenseItem): Registration | undefined => {
  const tenantId = typeof item.tenantId === 'string' && item.tenantId !== '' ? item.tenantId : undefined;
  if (tenantId === undefined) return undefined;
  const members = membersOf(item);
  const provisioned = provisionedOf(item);
  const users: RegisteredUser[] = [];
  const admin = provisioned.tenantUser?.userId;
  if (admin !== undefined && members[admin]?.registered !== false) {
    const directoryUserId = provisioned.directoryUser?.userId ?? members[admin]?.directoryUserId;
    users.push({ userId: admin, ...(directoryUserId ? { directoryUserId } : {}) });
  }
  for (const [userId, entry] of Object.entries(members).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (userId === admin || entry.registered !== true) continue;
    users.push({ userId, ...(entry.directoryUserId ? { directoryUserId: entry.directoryUserId } : {}) });
  }
  const linked = provisioned.tenant?.linked === true;
  if (!linked) return { tenantId, users };
  // Linked: the tenant existed before the license; the bridge added only the sign-up admin, if any.
  const previousPlanId = provisioned.tenant?.previousPlanId;
  return {
    tenantId,
    users,
    preexisting: {
      ...(previousPlanId === undefined ? {} : { planId: previousPlanId }),
      addedUserIds: admin === undefined ? [] : [admin],
    },
  };
};

/** The effect context of a license item. */
export const effectContextOf = (config: DeploymentConfig, item: LicenseItem): EffectContext => {
  const registration = registrationOf(item);
  return { config: effectConfigFor(config, item.productCode), ...(registration ? { registration } : {}) };
};

/** What every domain event about the license carries. */
export const subjectOf = (item: LicenseItem): Record<string, string> => ({
  licenseKey: item.licenseKey,
  ...(typeof item.tenantId === 'string' && item.tenantId !== '' ? { tenantId: item.tenantId } : {}),
});

/** The outbox with `drafts` appended under ids derived from `idPrefix`; ids already there are kept once. */
export const appendToOutbox = (
  outbox: readonly OutboxEntry[],
  drafts: readonly DomainEventDraft[],
  idPrefix: string,
  subject: Readonly<Record<string, string>>,
): OutboxEntry[] => {
  const known = new Set(outbox.map((entry) => entry.id));
  const added = drafts
    .map((draft, index) => ({
      id: `${idPrefix}#${index}`,
      detailType: draft.detailType,
      detail: { ...draft.detail, ...subject },
    }))
    .filter((entry) => !known.has(entry.id));
  return [...outbox, ...added];
};

/** GetEntitlements filter for the buyer of a license item. */
export const entitlementFilterOf = (item: LicenseItem): EntitlementFilter =>
  item.identityMode === 'legacy'
    ? { customerIdentifier: item.customerIdentifier ?? item.licenseKey }
    : { licenseArn: item.licenseArn ?? item.licenseKey };
