import * as z from 'zod';

/**
 * Shapes of the SaaSus Auth and Pricing APIs (v1.13.8), written from the official OpenAPI documents.
 * Responses keep the specs' required fields required; fields the specs leave optional may also come
 * back as `null` and read as `undefined`. Unknown extra fields are accepted (and dropped), and enum-like
 * strings the bridge does not branch on stay plain strings, so an API that grows new values still parses.
 */

/** An optional field that may also be sent as `null`; both read as `undefined`. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === null ? undefined : value), schema.optional());

const attributes = z.record(z.string(), z.unknown());
const integer = z.number().int();

// --- credentials -----------------------------------------------------------------------------------

/** The Secrets Manager secret holding the SaaSus API credentials. */
export const saasusCredentialsSchema = z.object({
  saasId: z.string().min(1),
  apiKey: z.string().min(1),
  secretKey: z.string().min(1),
});

// --- errors ----------------------------------------------------------------------------------------

/** `Error`: `{ type, message }` (Auth adds an optional `data` object). */
export const errorBodySchema = z.object({
  type: z.string(),
  message: z.string(),
  data: optional(attributes),
});

// --- tenants ---------------------------------------------------------------------------------------

export const attributeSchema = z.object({
  attribute_name: z.string(),
  display_name: z.string(),
  /** `string`, `number`, `bool` or `date` (YYYY-MM-DD). */
  attribute_type: z.string(),
});

export const tenantAttributesSchema = z.object({ tenant_attributes: z.array(attributeSchema) });

export const billingInfoSchema = z.object({
  name: z.string(),
  address: z.object({
    street: z.string(),
    city: z.string(),
    state: z.string(),
    country: z.string(),
    postal_code: z.string(),
    additional_address_info: optional(z.string()),
  }),
  invoice_language: z.string(),
});

export const planHistorySchema = z.object({
  plan_id: z.string(),
  /** Unix seconds. */
  plan_applied_at: integer,
  tax_rate_id: optional(z.string()),
  proration_behavior: optional(z.string()),
  delete_usage: optional(z.boolean()),
});

export const tenantSchema = z.object({
  id: z.string(),
  plan_id: optional(z.string()),
  billing_info: optional(billingInfoSchema),
  name: z.string(),
  attributes,
  back_office_staff_email: z.string(),
  next_plan_id: optional(z.string()),
  /** Unix seconds. */
  using_next_plan_from: optional(integer),
  next_plan_tax_rate_id: optional(z.string()),
  proration_behavior: optional(z.string()),
  delete_usage: optional(z.boolean()),
  plan_histories: z.array(planHistorySchema),
});

export const tenantDetailSchema = tenantSchema.extend({
  current_plan_period_start: optional(integer),
  current_plan_period_end: optional(integer),
});

export const tenantsSchema = z.object({ tenants: z.array(tenantSchema) });

// --- users -----------------------------------------------------------------------------------------

export const saasUserSchema = z.object({
  id: z.string(),
  /** Empty for sign-in-id users. */
  email: z.string(),
  /** Empty for email users; absent in older API versions (the official SDK 1.11 has no such field). */
  sign_in_id: optional(z.string()),
  attributes,
  /** Unix seconds; absent until the first sign-in. */
  last_login_at: optional(integer),
});

export const createdSaasUserSchema = saasUserSchema.extend({
  /** Only for sign-in-id users created without a password. */
  password: optional(z.string()),
});

export const saasUsersSchema = z.object({ users: z.array(saasUserSchema) });

export const roleSchema = z.object({ role_name: z.string(), display_name: z.string() });

export const userEnvSchema = z.object({
  id: integer,
  name: z.string(),
  display_name: optional(z.string()),
  roles: z.array(roleSchema),
});

/** A user as a member of one tenant. */
export const tenantUserSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  tenant_name: z.string(),
  email: z.string(),
  sign_in_id: optional(z.string()),
  attributes,
  envs: z.array(userEnvSchema),
});

export const tenantUsersSchema = z.object({ users: z.array(tenantUserSchema) });

export const userAvailableTenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  completed_sign_up: z.boolean(),
  envs: z.array(userEnvSchema),
  user_attribute: attributes,
  back_office_staff_email: z.string(),
  plan_id: optional(z.string()),
  is_paid: optional(z.boolean()),
});

export const userInfoSchema = z.object({
  id: z.string(),
  email: z.string(),
  sign_in_id: optional(z.string()),
  user_attribute: attributes,
  tenants: z.array(userAvailableTenantSchema),
});

// --- envs and sign-in ------------------------------------------------------------------------------

export const envSchema = z.object({ id: integer, name: z.string(), display_name: optional(z.string()) });

export const envsSchema = z.object({ envs: z.array(envSchema) });

/** `MeteringUnit` (GetMeteringUnits). */
export const meteringUnitSchema = z.object({ id: z.string(), unit_name: z.string(), used: z.boolean() });
export const meteringUnitsSchema = z.object({ units: z.array(meteringUnitSchema) });

export const authCredentialsSchema = z.object({
  id_token: z.string(),
  access_token: z.string(),
  refresh_token: optional(z.string()),
});

// --- pricing ---------------------------------------------------------------------------------------

export const pricingTierSchema = z.object({
  up_to: integer,
  unit_amount: integer,
  flat_amount: integer,
  inf: z.boolean(),
});

const pricingUnitBase = {
  id: z.string(),
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  currency: z.string(),
  used: z.boolean(),
};

const meteredUnitBase = {
  ...pricingUnitBase,
  upper_count: integer,
  metering_unit_id: z.string(),
  metering_unit_name: z.string(),
  aggregate_usage: optional(z.string()),
  recurring_interval: z.string(),
};

/** `PricingUnit`: one of four unit types, told apart by `type`. */
export const pricingUnitSchema = z.discriminatedUnion('type', [
  z.object({
    ...pricingUnitBase,
    type: z.literal('fixed'),
    unit_amount: integer,
    recurring_interval: z.string(),
  }),
  z.object({ ...meteredUnitBase, type: z.literal('usage'), unit_amount: integer }),
  z.object({ ...meteredUnitBase, type: z.literal('tiered'), tiers: z.array(pricingTierSchema) }),
  z.object({ ...meteredUnitBase, type: z.literal('tiered_usage'), tiers: z.array(pricingTierSchema) }),
]);

export const pricingMenuSchema = z.object({
  id: z.string(),
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  used: z.boolean(),
  units: z.array(pricingUnitSchema),
});

export const pricingPlanSchema = z.object({
  id: z.string(),
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  used: z.boolean(),
  pricing_menus: z.array(pricingMenuSchema),
});

export const pricingPlansSchema = z.object({ pricing_plans: z.array(pricingPlanSchema) });

// --- metering --------------------------------------------------------------------------------------

export const meteringUnitDateCountSchema = z.object({
  metering_unit_name: z.string(),
  /** YYYY-MM-DD. */
  date: z.string(),
  count: integer,
});

export const meteringUnitDateCountsSchema = z.object({ counts: z.array(meteringUnitDateCountSchema) });

export const meteringUnitTimestampCountSchema = z.object({
  metering_unit_name: z.string(),
  /** Unix seconds. */
  timestamp: integer,
  count: integer,
});

// --- request bodies (validated before sending, for a clear error instead of a remote 400/500) ------

export const tenantPropsSchema = z.object({
  name: z.string().trim().min(1, 'expected a tenant name'),
  /** Values of defined tenant attributes; `{}` when there are none. */
  attributes,
  back_office_staff_email: z.email({ message: 'expected an email address' }),
});

export const planReservationSchema = z.object({
  /** The plan to switch to; omit to remove the plan. */
  next_plan_id: z.string().min(1).optional(),
  /** Unix seconds, at least 5 minutes ahead; omit to apply now. */
  using_next_plan_from: integer.positive().optional(),
  next_plan_tax_rate_id: z.string().min(1).optional(),
  proration_behavior: z.enum(['create_prorations', 'none', 'always_invoice']).optional(),
  delete_usage: z.boolean().optional(),
});

export const attributeInputSchema = z.object({
  attribute_name: z.string().trim().min(1, 'expected an attribute name'),
  display_name: z.string().trim().min(1, 'expected a display name'),
  attribute_type: z.enum(['string', 'number', 'bool', 'date']),
});

const signInId = z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, 'expected 1-50 letters, digits, "-" or "_"');

const loginIdentity = {
  email: z.email({ message: 'expected an email address' }).optional(),
  sign_in_id: signInId.optional(),
};

/** Exactly one of `email` and `sign_in_id`: the spec forbids both and needs one. */
const exactlyOneLoginIdentity = [
  (input: { email?: string | undefined; sign_in_id?: string | undefined }) =>
    (input.email === undefined) !== (input.sign_in_id === undefined),
  { message: 'expected exactly one of email and sign_in_id' },
] as const;

type LoginIdentity = { email: string; sign_in_id?: never } | { sign_in_id: string; email?: never };

export const createSaasUserInputSchema = z
  .object({ ...loginIdentity, password: z.string().min(1).optional() })
  .refine(...exactlyOneLoginIdentity);

export const createTenantUserInputSchema = z
  .object({ ...loginIdentity, attributes: attributes.default({}) })
  .refine(...exactlyOneLoginIdentity);

export const meteringCountUpdateSchema = z.object({
  /** `add` and `sub` change the count at the timestamp; `direct` overwrites it. */
  method: z.enum(['add', 'sub', 'direct']),
  count: integer.nonnegative(),
});

// --- types -----------------------------------------------------------------------------------------

export type SaasusApiCredentials = z.output<typeof saasusCredentialsSchema>;
export type Attribute = z.output<typeof attributeSchema>;
export type BillingInfo = z.output<typeof billingInfoSchema>;
export type PlanHistory = z.output<typeof planHistorySchema>;
export type Tenant = z.output<typeof tenantSchema>;
export type TenantDetail = z.output<typeof tenantDetailSchema>;
export type SaasUser = z.output<typeof saasUserSchema>;
export type CreatedSaasUser = z.output<typeof createdSaasUserSchema>;
export type Role = z.output<typeof roleSchema>;
export type UserEnv = z.output<typeof userEnvSchema>;
export type TenantUser = z.output<typeof tenantUserSchema>;
export type UserAvailableTenant = z.output<typeof userAvailableTenantSchema>;
export type UserInfo = z.output<typeof userInfoSchema>;
export type Env = z.output<typeof envSchema>;
export type AuthCredentials = z.output<typeof authCredentialsSchema>;
export type PricingUnit = z.output<typeof pricingUnitSchema>;
export type PricingMenu = z.output<typeof pricingMenuSchema>;
export type PricingPlan = z.output<typeof pricingPlanSchema>;
export type MeteringUnitDateCount = z.output<typeof meteringUnitDateCountSchema>;
export type MeteringUnitTimestampCount = z.output<typeof meteringUnitTimestampCountSchema>;

export type TenantProps = z.input<typeof tenantPropsSchema>;
export type PlanReservation = z.input<typeof planReservationSchema>;
export type AttributeInput = z.input<typeof attributeInputSchema>;
/** `{ email }` (a temporary password is emailed when `password` is omitted) or `{ sign_in_id }`. */
export type CreateSaasUserInput = LoginIdentity & { password?: string };
/** The SaaS user to add, by `email` or `sign_in_id`; `attributes` are user attributes (default `{}`). */
export type CreateTenantUserInput = LoginIdentity & { attributes?: Record<string, unknown> };
export type MeteringCountUpdate = z.input<typeof meteringCountUpdateSchema>;

/** Integration API: where SaaSus sends its partner events (`GET/PUT /v1/integration/eventbridge/info`). */
export const eventBridgeSettingsSchema = z.object({
  aws_account_id: z.union([z.string(), z.number()]).transform(String),
  aws_region: z.string(),
});
export const eventBridgeSettingsInputSchema = z.strictObject({
  aws_account_id: z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id'),
  aws_region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'expected an AWS region such as us-east-1'),
});
export type EventBridgeSettings = z.output<typeof eventBridgeSettingsInputSchema>;
