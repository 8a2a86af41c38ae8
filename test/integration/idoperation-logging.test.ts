import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type IdoperationEmulator, startIdoperationEmulator } from '#sandbox/emulators/idoperation';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from '#sandbox/emulators/secrets-manager';
import { createIdoperationClient } from '#shared/idoperation/index';
import { secretsManagerSource } from '#shared/secrets';

const authorization = 'Token sEcReT-4f9a1c77-idop';
const password = 'Initial-Passw0rd!-7d2e';
const unknownUserId = 'df87eb73-9135-41ad-95a7-6954f95e6302';

/**
 * Captures every line a Powertools Logger prints. With POWERTOOLS_DEV (set for tests) the Logger
 * writes through the global console; otherwise through a Console on process.stdout/stderr. Both
 * paths are intercepted so the test does not depend on the mode.
 */
const captureOutput = () => {
  const lines: string[] = [];
  const record = (...args: unknown[]) => {
    lines.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
  };
  const spies = [
    ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation(record),
    ),
    ...[process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        record(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      }),
    ),
  ];
  return {
    lines,
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
};

describe('iDoperation client logging', () => {
  let idoperation: IdoperationEmulator;
  let secretsManager: SecretsManagerEmulator;
  let secretsClient: SecretsManagerClient;

  beforeAll(async () => {
    idoperation = await startIdoperationEmulator({ authorization });
    secretsManager = await startSecretsManagerEmulator({
      secrets: {
        idoperation: { authorization },
        'idoperation-wrong': { authorization: `${authorization}-revoked` },
        'idoperation-broken': { authorization: `${authorization}\r\nX-Injected: 1` },
      },
    });
    secretsClient = new SecretsManagerClient({
      endpoint: secretsManager.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    secretsClient.destroy();
    await Promise.all([idoperation.close(), secretsManager.close()]);
  });

  it('never prints the Authorization secret or a password, on success or failure', async () => {
    const output = captureOutput();
    try {
      const logger = new Logger({ serviceName: 'idoperation-log-test', logLevel: 'DEBUG' });
      const secrets = secretsManagerSource(secretsClient);
      const clientWith = (secretName: string, timeoutMs?: number) =>
        createIdoperationClient({
          baseUrl: idoperation.url,
          secrets,
          secretName,
          logger,
          retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 },
          ...(timeoutMs ? { timeoutMs } : {}),
        });
      const client = clientWith('idoperation');
      // What a handler would do: log the outcome of each call, including the errors it catches.
      const attempt = async (label: string, call: () => Promise<unknown>) => {
        try {
          logger.info(`${label} succeeded`, { result: await call() });
        } catch (error) {
          logger.error(`${label} failed`, error as Error);
        }
      };

      await attempt('register', () =>
        client.registerUser({ login_id: 'buyer@example.com', password, name: 'Buyer' }),
      );
      const userId = idoperation.users()[0]?.id ?? unknownUserId;
      await attempt('duplicate register', () =>
        client.registerUser({ login_id: 'buyer@example.com', password, name: 'Buyer' }),
      );
      await attempt('too long password', () =>
        client.changeUser(userId, { password: `${password}${'x'.repeat(256)}` }),
      );
      idoperation.failNext(1, 503);
      await attempt('disable after a 503', () => client.disableUser(userId));
      await attempt('unknown user', () => client.getUser(unknownUserId));
      idoperation.failNext(3, 500);
      await attempt('persistent 500', () => client.getUser(userId));
      idoperation.failNext(1, 400, { message: 'Error message', errors: { password: ['is too weak'] } });
      await attempt('server validation', () => client.changeUser(userId, { password }));
      await attempt('revoked credentials', () => clientWith('idoperation-wrong').getUser(userId));
      await attempt('broken secret', () => clientWith('idoperation-broken').getUser(userId));
      await attempt('missing secret', () => clientWith('idoperation-missing').getUser(userId));
      const slow = await startIdoperationEmulator({ authorization, latencyMs: 200 });
      try {
        await attempt('timeout', () =>
          createIdoperationClient({
            baseUrl: slow.url,
            secrets,
            secretName: 'idoperation',
            logger,
            timeoutMs: 20,
            retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 },
          }).getUser(userId),
        );
      } finally {
        await slow.close();
      }
    } finally {
      output.restore();
    }

    const { lines } = output;
    for (const line of lines) {
      expect(line).not.toContain(authorization);
      expect(line).not.toContain('sEcReT');
      expect(line).not.toContain(password);
    }
    // The capture worked and saw the interesting lines, so the absence checks below mean something.
    expect(lines.some((line) => line.includes('iDoperation response'))).toBe(true);
    expect(lines.some((line) => line.includes('Retrying iDoperation call'))).toBe(true);
    for (const failure of [
      'IdoperationConflictError',
      'IdoperationValidationError',
      'IdoperationNotFoundError',
      'IdoperationUnavailableError',
      'IdoperationAuthError',
      'IdoperationTimeoutError',
      'SecretError',
      'ResourceNotFoundException',
    ]) {
      expect(
        lines.some((line) => line.includes(failure)),
        failure,
      ).toBe(true);
    }
    expect(lines.some((line) => line.includes('disable after a 503 succeeded'))).toBe(true);
  });
});
