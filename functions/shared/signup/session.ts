import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import * as z from 'zod';

/**
 * The registration session the browser carries between the fulfillment POST and the registration
 * submit. It is sealed with AES-256-GCM (opaque and tamper-proof) under a key derived from a
 * Secrets Manager secret, expires quickly, and never contains the Marketplace token: only the
 * license key the server resolved from it.
 */

export const SESSION_COOKIE = 'mb_registration';

const sessionSchema = z.object({
  /** Session id: binds the CSRF token to this session. */
  sid: z.string().min(16),
  /** The license key resolved from the registration token. */
  lk: z.string().min(1),
  /** Expiry, epoch ms. */
  exp: z.number().int(),
  /** For the "link an existing account" flow: the SaaSus user id proven through SaaSus sign-in. */
  uid: z.string().optional(),
  /** The link flow's `state`: set by `GET /link`, required (once) by the callback. */
  ls: z.string().min(16).max(64).optional(),
  /**
   * The id of the tenants the callback found that user administers, kept server-side (any number
   * of them fits; the cookie stays small). Earlier releases sealed the list itself (`tids`, then
   * `atids`): such a session cannot link (an unknown field is dropped).
   */
  lc: z.string().min(16).max(64).optional(),
});

export type RegistrationSession = z.output<typeof sessionSchema>;

export class SessionError extends Error {
  override readonly name = 'SessionError';
}

const deriveKey = (secret: string, purpose: string): Buffer =>
  Buffer.from(hkdfSync('sha256', secret, 'marketplace-bridge', purpose, 32));

export interface SessionSealer {
  seal(session: Omit<RegistrationSession, 'sid' | 'exp'> & { sid?: string }): {
    cookieValue: string;
    session: RegistrationSession;
  };
  open(cookieValue: string | undefined): RegistrationSession;
  csrfToken(session: RegistrationSession): string;
  verifyCsrf(session: RegistrationSession, token: unknown): boolean;
}

/** `secret` is the session-key secret's value (at least 32 characters). */
export const createSessionSealer = (
  secret: string,
  { ttlMs = 30 * 60_000, now = () => Date.now() }: { ttlMs?: number; now?: () => number } = {},
): SessionSealer => {
  if (secret.length < 32) throw new SessionError('The session key secret must be at least 32 characters');
  const encryptionKey = deriveKey(secret, 'session-encryption');
  const csrfKey = deriveKey(secret, 'csrf');

  return {
    seal(input) {
      const session: RegistrationSession = {
        ...input,
        sid: input.sid ?? randomBytes(16).toString('base64url'),
        exp: now() + ttlMs,
      };
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encryptionKey, iv);
      const sealed = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
      const cookieValue = [iv, cipher.getAuthTag(), sealed]
        .map((part) => part.toString('base64url'))
        .join('.');
      return { cookieValue, session };
    },

    open(cookieValue) {
      if (!cookieValue) throw new SessionError('No registration session');
      const parts = cookieValue.split('.');
      if (parts.length !== 3 || cookieValue.length > 4096)
        throw new SessionError('Malformed registration session');
      const [iv, tag, sealed] = parts.map((part) => Buffer.from(part, 'base64url')) as [
        Buffer,
        Buffer,
        Buffer,
      ];
      if (iv.length !== 12 || tag.length !== 16) throw new SessionError('Malformed registration session');
      let json: string;
      try {
        const decipher = createDecipheriv('aes-256-gcm', encryptionKey, iv);
        decipher.setAuthTag(tag);
        json = Buffer.concat([decipher.update(sealed), decipher.final()]).toString('utf8');
      } catch {
        throw new SessionError('Registration session was altered or sealed with another key');
      }
      const parsed = sessionSchema.safeParse(JSON.parse(json));
      if (!parsed.success) throw new SessionError('Malformed registration session');
      if (parsed.data.exp <= now()) throw new SessionError('Registration session expired');
      return parsed.data;
    },

    csrfToken(session) {
      return createHmac('sha256', csrfKey).update(session.sid).digest('base64url');
    },

    verifyCsrf(session, token) {
      if (typeof token !== 'string') return false;
      const expected = Buffer.from(this.csrfToken(session));
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
};

/** The Set-Cookie value for the session: HttpOnly, Secure, SameSite=Lax, scoped to the site. */
export const sessionCookie = (cookieValue: string, maxAgeSeconds: number): string =>
  `${SESSION_COOKIE}=${cookieValue}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Lax`;

export const clearedSessionCookie = (): string =>
  `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`;

/** Reads one cookie from the `cookies` array of a payload-v2 event (or a Cookie header). */
export const readCookie = (cookies: readonly string[] | undefined, name: string): string | undefined => {
  for (const header of cookies ?? []) {
    for (const pair of header.split(';')) {
      const separator = pair.indexOf('=');
      if (separator > 0 && pair.slice(0, separator).trim() === name) return pair.slice(separator + 1).trim();
    }
  }
  return undefined;
};
