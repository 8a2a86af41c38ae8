import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from '#sandbox/emulators/secrets-manager';
import { SecretError, secretsManagerSource } from '#shared/secrets';

const credentialsSchema = z.object({ saasId: z.string(), apiKey: z.string(), secretKey: z.string() });

describe('secretsManagerSource against the Secrets Manager emulator', () => {
  let emulator: SecretsManagerEmulator;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    emulator = await startSecretsManagerEmulator({
      secrets: {
        saasus: { saasId: 'saas-1', apiKey: 'key-1', secretKey: 'very-secret-signing-key' },
        'not-json': 'plain-text-secret-value',
        malformed: { saasId: 'saas-1', apiKey: 'key-2', secretKey: 12345678 },
      },
    });
    client = new SecretsManagerClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await emulator.close();
  });

  it('reads a secret and parses it with the schema', async () => {
    const source = secretsManagerSource(client);
    await expect(source.getJson('saasus', credentialsSchema)).resolves.toEqual({
      saasId: 'saas-1',
      apiKey: 'key-1',
      secretKey: 'very-secret-signing-key',
    });
  });

  it('caches a value: the second read makes no call', async () => {
    const source = secretsManagerSource(client);
    const before = emulator.callCount('saasus');
    await source.getJson('saasus', credentialsSchema);
    await source.getJson('saasus', credentialsSchema);
    expect(emulator.callCount('saasus') - before).toBe(1);
  });

  it('reads again once the cached value has expired, and sees a new version', async () => {
    let clock = 0;
    const source = secretsManagerSource(client, { ttlMs: 1_000, now: () => clock });
    emulator.putSecret('rotating', { authorization: 'first' });
    const schema = z.object({ authorization: z.string() });
    await expect(source.getJson('rotating', schema)).resolves.toEqual({ authorization: 'first' });
    emulator.putSecret('rotating', { authorization: 'second' });
    clock = 999;
    await expect(source.getJson('rotating', schema)).resolves.toEqual({ authorization: 'first' });
    clock = 1_000;
    await expect(source.getJson('rotating', schema)).resolves.toEqual({ authorization: 'second' });
    expect(emulator.callCount('rotating')).toBe(2);
  });

  it('names the malformed field without revealing the secret value', async () => {
    const source = secretsManagerSource(client);
    const error = await source.getJson('malformed', credentialsSchema).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toContain('malformed');
    expect((error as Error).message).toContain('secretKey');
    expect((error as Error).message).not.toContain('key-2');
    expect((error as Error).message).not.toContain('12345678');
  });

  it('rejects a secret that is not JSON without quoting it', async () => {
    const source = secretsManagerSource(client);
    const error = await source.getJson('not-json', credentialsSchema).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toBe('Secret not-json is not JSON');
  });

  it('reports an unknown secret by name and does not cache the failure', async () => {
    const source = secretsManagerSource(client);
    const error = await source.getJson('missing', credentialsSchema).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toBe('Secret missing not found');
    emulator.putSecret('missing', { saasId: 's', apiKey: 'a', secretKey: 'k' });
    await expect(source.getJson('missing', credentialsSchema)).resolves.toMatchObject({ saasId: 's' });
    expect(emulator.callCount('missing')).toBe(2);
  });
});
