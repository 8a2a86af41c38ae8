import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { z } from 'zod';

/**
 * Where credentials come from. Production reads Secrets Manager (the sandbox talks to an emulated
 * Secrets Manager over HTTP through the same code); tests may pass a static source.
 * Secret values are never logged: errors name the secret, not its content.
 */
export interface SecretSource {
  getJson<T extends z.ZodType>(secretName: string, schema: T): Promise<z.output<T>>;
}

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

const parseSecret = <T extends z.ZodType>(secretName: string, raw: string, schema: T): z.output<T> => {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new SecretError(`Secret ${secretName} is not JSON`);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const fields = result.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
    throw new SecretError(`Secret ${secretName} lacks or has malformed field(s): ${fields}`);
  }
  return result.data;
};

/** Reads secrets from Secrets Manager, caching each value for `ttlMs` (warm invocations reuse it). */
export const secretsManagerSource = (
  client: SecretsManagerClient = new SecretsManagerClient({}),
  { ttlMs = 5 * 60_000, now = Date.now }: { ttlMs?: number; now?: () => number } = {},
): SecretSource => {
  const cache = new Map<string, { raw: Promise<string>; expiresAt: number }>();
  const fetchRaw = async (secretName: string): Promise<string> => {
    const output = await client
      .send(new GetSecretValueCommand({ SecretId: secretName }))
      .catch((error: unknown) => {
        if (error instanceof ResourceNotFoundException) {
          throw new SecretError(`Secret ${secretName} not found`, { cause: error });
        }
        throw error;
      });
    if (output.SecretString === undefined) throw new SecretError(`Secret ${secretName} has no string value`);
    return output.SecretString;
  };
  return {
    async getJson(secretName, schema) {
      let entry = cache.get(secretName);
      if (!entry || entry.expiresAt <= now()) {
        entry = { raw: fetchRaw(secretName), expiresAt: now() + ttlMs };
        cache.set(secretName, entry);
        // A failed read is not cached, so the next call tries again.
        entry.raw.catch(() => cache.delete(secretName));
      }
      return parseSecret(secretName, await entry.raw, schema);
    },
  };
};

/** A fixed set of secrets, for tests and tools. */
export const staticSecretSource = (secrets: Record<string, unknown>): SecretSource => ({
  async getJson(secretName, schema) {
    if (!(secretName in secrets)) throw new SecretError(`Secret ${secretName} not found`);
    return parseSecret(secretName, JSON.stringify(secrets[secretName]), schema);
  },
});
