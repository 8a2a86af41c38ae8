import * as z from 'zod';

/**
 * The iDoperation user API as the emulator models it, written from the public "update user" and
 * "get user" pages (field names, 0/1 flags, service codes 1 = PAM and 2 = EPM, the length limits
 * name 64, memo 512, password 256) and kept apart from the client's schemas on purpose: where the
 * two disagree, a test fails.
 */

const flag = z.union([z.literal(0), z.literal(1)], { message: 'The field must be 0 or 1.' });
const text = (max: number) =>
  z
    .string({ message: 'The field must be a string.' })
    .max(max, { message: `The field may not be greater than ${max} characters.` });

const common = {
  password: text(256).min(1).optional(),
  use_totp: flag.optional(),
  is_password_expired: flag.optional(),
  services: z
    .array(z.union([z.literal(1), z.literal(2)]), { message: 'The services must be an array.' })
    .min(1, { message: 'The services field is required.' })
    .optional(),
  is_administrator: flag.optional(),
  is_disabled: flag.optional(),
  locale: z.enum(['ja', 'en'], { message: 'The selected locale is invalid.' }).optional(),
  is_notified: flag.optional(),
  memo: text(512).optional(),
  user_groups: z
    .array(z.object({ id: z.string() }), { message: 'The user groups must be an array.' })
    .optional(),
};

const loginId = z.email({ message: 'The login id must be a valid email address.' });
const name = text(64).trim().min(1, { message: 'The name field is required.' });

export const registerBody = z
  .strictObject({ login_id: loginId, name, is_external: flag.optional(), ...common })
  .superRefine((body, context) => {
    if ((body.is_external ?? 0) === 0 && body.password === undefined) {
      context.addIssue({ code: 'custom', path: ['password'], message: 'The password field is required.' });
    }
  });

export const changeBody = z.strictObject({ login_id: loginId.optional(), name: name.optional(), ...common });

export interface DirectoryUser {
  id: string;
  login_id: string;
  is_external: 0 | 1;
  services: number[];
  name: string;
  is_initial_user: 0 | 1;
  is_administrator: 0 | 1;
  logged_in_at: string | null;
  is_disabled: 0 | 1;
  locale: string;
  is_notified: 0 | 1;
  memo: string | null;
  user_groups: { id: string; name: string }[];
}

/** Laravel-style `errors`: field → messages. */
export const fieldErrors = (error: z.ZodError): Record<string, string[]> => {
  const errors: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const fields =
      issue.code === 'unrecognized_keys'
        ? issue.keys
        : [issue.path.length > 0 ? issue.path.join('.') : 'body'];
    for (const field of fields) {
      const message = issue.code === 'unrecognized_keys' ? 'The field is not allowed.' : issue.message;
      errors[field] = [...(errors[field] ?? []), message];
    }
  }
  return errors;
};

/**
 * How iDoperation answers a register or change whose login_id is taken. The public pages document
 * only 400 `{ message, errors }` (validation) and 404; the duplicate case is not documented, so the
 * emulator can play each plausible answer: `validation` (400 with `errors.login_id`, the documented
 * validation shape; the default), `conflict` (409), `unprocessable` (422, Laravel's validation status).
 */
export type TakenLoginIdAnswer = 'validation' | 'conflict' | 'unprocessable';

export const takenLoginIdStatus: Record<TakenLoginIdAnswer, number> = {
  validation: 400,
  conflict: 409,
  unprocessable: 422,
};
