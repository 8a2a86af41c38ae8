import * as z from 'zod';

/**
 * The iDoperation user API's wire shapes (snake_case, as the API names them), from the public
 * "update user" page and our research notes. Flags are integers: 0 = off, 1 = on (`is_disabled: 1`
 * prohibits sign-in). `services` lists service codes: 1 = PAM, 2 = EPM.
 *
 * Request schemas are strict and validated before anything is sent; the emulator validates with
 * the same schemas, so both sides enforce the documented limits from one place. Messages never
 * quote the offending value (it may be a password).
 */

export const idoperationFieldLimits = {
  name: 64,
  memo: 512,
  password: 256,
} as const;

export const idoperationServices = { pam: 1, epm: 2 } as const;

const flag = z.union([z.literal(0), z.literal(1)], { message: 'must be 0 or 1' });

const serviceCode = z.union([z.literal(idoperationServices.pam), z.literal(idoperationServices.epm)], {
  message: 'must be 1 (PAM) or 2 (EPM)',
});

const services = z.array(serviceCode, { message: 'must be an array of service codes' }).min(1, {
  message: 'must list at least one service',
});

const loginId = z.email({ message: 'must be an email address' });

const name = z
  .string({ message: 'must be a string' })
  .trim()
  .min(1, { message: 'must not be empty' })
  .max(idoperationFieldLimits.name, { message: `must be at most ${idoperationFieldLimits.name} characters` });

const password = z
  .string({ message: 'must be a string' })
  .min(1, { message: 'must not be empty' })
  .max(idoperationFieldLimits.password, {
    message: `must be at most ${idoperationFieldLimits.password} characters`,
  });

const memo = z
  .string({ message: 'must be a string' })
  .max(idoperationFieldLimits.memo, { message: `must be at most ${idoperationFieldLimits.memo} characters` });

const locale = z.enum(['ja', 'en'], { message: 'must be "ja" or "en"' });

export const userIdSchema = z.uuid({ message: 'must be a user id (uuid)' });

/** Group membership in a request. The public page does not show the item shape; `{ id }` is assumed. */
const userGroupReference = z.strictObject({ id: z.uuid({ message: 'must be a user group id (uuid)' }) });

const userGroups = z.array(userGroupReference, { message: 'must be an array of { id } objects' });

/** Body of "register user". Local users (`is_external` 0, the default) need a password. */
export const registerUserSchema = z
  .strictObject({
    login_id: loginId,
    is_external: flag.optional(),
    password: password.optional(),
    use_totp: flag.optional(),
    is_password_expired: flag.optional(),
    services: services.optional(),
    name,
    is_administrator: flag.optional(),
    is_disabled: flag.optional(),
    locale: locale.optional(),
    is_notified: flag.optional(),
    memo: memo.optional(),
    user_groups: userGroups.optional(),
  })
  .superRefine((user, ctx) => {
    if ((user.is_external ?? 0) === 0 && user.password === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'is required for a local (non-external) user',
      });
    }
  });

/** Body of "change user": a partial update; `is_external` cannot be changed. */
export const changeUserSchema = z
  .strictObject({
    login_id: loginId.optional(),
    password: password.optional(),
    use_totp: flag.optional(),
    is_password_expired: flag.optional(),
    services: services.optional(),
    name: name.optional(),
    is_administrator: flag.optional(),
    is_disabled: flag.optional(),
    locale: locale.optional(),
    is_notified: flag.optional(),
    memo: memo.optional(),
    user_groups: userGroups.optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, {
    message: 'must change at least one field',
    // Only when the fields themselves are fine: unknown fields alone would also look "empty".
    when: (payload) => payload.issues.length === 0,
  });

/** The user object returned by get, change and (assumed) register. Unknown extra fields are accepted. */
export const idoperationUserSchema = z.object({
  id: z.string().min(1),
  login_id: z.string(),
  is_external: flag,
  // Codes beyond PAM/EPM may appear as the product grows; they are kept, not rejected.
  services: z.array(z.number().int()),
  name: z.string(),
  is_initial_user: flag,
  is_administrator: flag,
  logged_in_at: z.string().nullable(),
  is_disabled: flag,
  locale: z.string(),
  is_notified: flag,
  memo: z.string().nullable(),
  user_groups: z.array(z.object({ id: z.string(), name: z.string() })),
});

/** The documented error body: 400 `{ message, errors: { field: [messages] } }`, 404 `{ message }`. */
export const idoperationErrorBodySchema = z.object({
  message: z.string(),
  errors: z.record(z.string(), z.array(z.string())).optional(),
});

export type IdoperationFlag = 0 | 1;
export type RegisterUserInput = z.input<typeof registerUserSchema>;
export type ChangeUserInput = z.input<typeof changeUserSchema>;
export type IdoperationUser = z.output<typeof idoperationUserSchema>;
export type IdoperationFieldErrors = Record<string, string[]>;

/** Turns zod issues into the API's `errors` shape: field → messages (`(body)` for whole-body issues). */
export const fieldErrorsFromZod = (error: z.ZodError): IdoperationFieldErrors => {
  const fieldErrors: IdoperationFieldErrors = {};
  const add = (field: string, message: string) => {
    const messages = fieldErrors[field] ?? [];
    messages.push(message);
    fieldErrors[field] = messages;
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add(key, 'is not a known field');
    } else {
      add(issue.path.length > 0 ? issue.path.join('.') : '(body)', issue.message);
    }
  }
  return fieldErrors;
};

export const describeFieldErrors = (fieldErrors: IdoperationFieldErrors): string =>
  Object.entries(fieldErrors)
    .map(([field, messages]) => `${field}: ${messages.join('; ')}`)
    .join(', ');
