import * as z from 'zod';
import { badRequest } from './errors.js';

/**
 * Request bodies the emulator accepts, from the Auth and Pricing OpenAPI documents (v1.13.8):
 * required fields are required, types are checked, unknown fields are ignored as a JSON API would.
 */

const attributes = z.record(z.string(), z.unknown());
const uuidLike = z.string().min(1);

/** `TenantProps` (CreateTenantParam, UpdateTenantParam). */
export const tenantPropsBody = z.object({
  name: z.string().min(1),
  attributes,
  back_office_staff_email: z.string().min(1),
});

/** `PlanReservation` (UpdateTenantPlanParam): every field optional. */
export const planReservationBody = z.object({
  next_plan_id: uuidLike.optional(),
  using_next_plan_from: z.number().int().optional(),
  next_plan_tax_rate_id: uuidLike.optional(),
  proration_behavior: z.enum(['create_prorations', 'none', 'always_invoice']).optional(),
  delete_usage: z.boolean().optional(),
});

/** `Attribute` (CreateTenantAttributeParam). */
export const attributeBody = z.object({
  attribute_name: z.string().min(1),
  display_name: z.string().min(1),
  attribute_type: z.enum(['string', 'number', 'bool', 'date']),
});

const emailOrSignInId = (input: { email?: string | undefined; sign_in_id?: string | undefined }) =>
  Boolean(input.email) !== Boolean(input.sign_in_id);
const exactlyOne = { message: 'specify exactly one of email and sign_in_id' };

/** `CreateSaasUserParam`: exactly one of email / sign_in_id, optional password. */
export const createSaasUserBody = z
  .object({
    email: z.email().optional(),
    sign_in_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,50}$/)
      .optional(),
    password: z.string().min(1).optional(),
  })
  .refine(emailOrSignInId, exactlyOne);

/** `CreateTenantUserParam`: `attributes` required, exactly one of email / sign_in_id. */
export const createTenantUserBody = z
  .object({ email: z.string().optional(), sign_in_id: z.string().optional(), attributes })
  .refine(emailOrSignInId, exactlyOne);

/** `CreateTenantUserRolesParam`. */
export const createTenantUserRolesBody = z.object({ role_names: z.array(z.string().min(1)).min(1) });

/** `UpdateMeteringUnitTimestampCountParam` / `...NowParam`. */
export const meteringCountBody = z.object({
  method: z.enum(['add', 'sub', 'direct']),
  count: z.number().int(),
});

/** Parses a request body or answers 400 naming each bad field. */
export const parseBody = <T extends z.ZodType>(schema: T, body: unknown): z.output<T> => {
  const result = schema.safeParse(body);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
      .join('; ');
    throw badRequest(`invalid request body: ${problems}`);
  }
  return result.data;
};
