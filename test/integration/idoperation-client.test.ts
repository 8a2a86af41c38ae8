import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type IdoperationEmulator, startIdoperationEmulator } from '#sandbox/emulators/idoperation';
import { ConfigError } from '#shared/config';
import {
  createIdoperationClient,
  IdoperationAuthError,
  type IdoperationClient,
  type IdoperationClientOptions,
  IdoperationConflictError,
  IdoperationNotFoundError,
  IdoperationResponseError,
  IdoperationTimeoutError,
  IdoperationUnavailableError,
  IdoperationValidationError,
  type RegisterUserInput,
} from '#shared/idoperation/index';
import { staticSecretSource } from '#shared/secrets';

const authorization = 'Bearer idop-test-token-5b1c';
const secretName = 'idoperation';
const rootGroupId = '43b8f00b-933f-4a87-b907-3fec64a41f6e';
const unknownUserId = 'df87eb73-9135-41ad-95a7-6954f95e6302';
const silentLogger = { debug: () => {}, warn: () => {} };

let counter = 0;
const newUser = (overrides: Partial<RegisterUserInput> = {}): RegisterUserInput => ({
  login_id: `buyer-${++counter}@example.com`,
  password: 'Initial-Passw0rd!',
  name: 'Yamada Taro',
  ...overrides,
});

describe('iDoperation client against the emulator', () => {
  let emulator: IdoperationEmulator;
  let client: IdoperationClient;
  let callsBefore: number;

  const clientFor = (overrides: Partial<IdoperationClientOptions> = {}) =>
    createIdoperationClient({
      baseUrl: `${emulator.url}/api/v1/`,
      secrets: staticSecretSource({ [secretName]: { authorization } }),
      secretName,
      retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 5 },
      logger: silentLogger,
      ...overrides,
    });
  const newCalls = () => emulator.calls().slice(callsBefore);

  beforeAll(async () => {
    emulator = await startIdoperationEmulator({ authorization, basePath: '/api/v1' });
  });
  afterAll(() => emulator.close());
  beforeEach(() => {
    client = clientFor();
    callsBefore = emulator.calls().length;
  });

  describe('happy paths', () => {
    it('registers a user with the documented defaults and returns its id', async () => {
      const user = await client.registerUser(
        newUser({ services: [1, 2], locale: 'en', user_groups: [{ id: rootGroupId }] }),
      );

      expect(user).toMatchObject({
        is_external: 0,
        services: [1, 2],
        name: 'Yamada Taro',
        is_disabled: 0,
        locale: 'en',
        user_groups: [{ id: rootGroupId, name: 'Root' }],
      });
      expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(user).not.toHaveProperty('password');
      expect(emulator.users().map((stored) => stored.id)).toContain(user.id);
    });

    it('sends the Authorization, Accept, Content-Type and a descriptive User-Agent', async () => {
      await client.registerUser(newUser());

      expect(newCalls()).toEqual([
        {
          method: 'POST',
          path: '/api/v1/users',
          status: 201,
          authorized: true,
          accept: 'application/json',
          contentType: 'application/json',
          userAgent: expect.stringContaining('marketplace-bridge'),
        },
      ]);
    });

    it('gets a user by id', async () => {
      const registered = await client.registerUser(newUser({ memo: 'from the Marketplace' }));
      await expect(client.getUser(registered.id)).resolves.toEqual(registered);
      expect(newCalls().at(-1)).toMatchObject({ method: 'GET', contentType: undefined });
    });

    it('changes only the fields given and disables sign-in with is_disabled 1', async () => {
      const registered = await client.registerUser(newUser());

      const renamed = await client.changeUser(registered.id, { name: 'Sato Hanako', services: [2] });
      expect(renamed).toEqual({ ...registered, name: 'Sato Hanako', services: [2] });

      const disabled = await client.disableUser(registered.id);
      expect(disabled.is_disabled).toBe(1);
      expect(disabled.name).toBe('Sato Hanako');
      expect(
        newCalls()
          .slice(1)
          .map((call) => `${call.method} ${call.path}`),
      ).toEqual([`PATCH /api/v1/users/${registered.id}`, `PATCH /api/v1/users/${registered.id}`]);
    });

    it('uses overridden paths', async () => {
      const { url, close } = await startIdoperationEmulator({ authorization, basePath: '/v2' });
      try {
        const custom = clientFor({
          baseUrl: url,
          paths: { register: { method: 'POST', path: '/v2/users' } },
        });
        await expect(custom.registerUser(newUser())).resolves.toMatchObject({ name: 'Yamada Taro' });
      } finally {
        await close();
      }
    });
  });

  describe('validation before sending', () => {
    const rejected = async (attempt: Promise<unknown>) => {
      const error = await attempt.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationValidationError);
      expect(newCalls()).toEqual([]);
      return error as IdoperationValidationError;
    };

    it('refuses a 65-character name without making an HTTP call', async () => {
      const error = await rejected(client.registerUser(newUser({ name: 'x'.repeat(65) })));
      expect(error.fieldErrors).toEqual({ name: ['must be at most 64 characters'] });
      expect(error.status).toBeUndefined();
      expect(error.message).toBe(
        'iDoperation register user: invalid request: name: must be at most 64 characters',
      );
    });

    it('accepts a name of exactly 64 characters', async () => {
      await expect(client.registerUser(newUser({ name: 'x'.repeat(64) }))).resolves.toMatchObject({
        name: 'x'.repeat(64),
      });
    });

    it('names every bad field at once and never quotes the values', async () => {
      const error = await rejected(
        client.registerUser({
          login_id: 'not-an-email',
          password: 'p'.repeat(257),
          name: 'ok',
          memo: 'm'.repeat(513),
          locale: 'fr' as 'ja',
          services: [3 as 1],
          is_administrator: 2 as 1,
        }),
      );
      expect(error.fieldErrors).toEqual({
        login_id: ['must be an email address'],
        password: ['must be at most 256 characters'],
        memo: ['must be at most 512 characters'],
        locale: ['must be "ja" or "en"'],
        'services.0': ['must be 1 (PAM) or 2 (EPM)'],
        is_administrator: ['must be 0 or 1'],
      });
      expect(error.message).not.toContain('not-an-email');
      expect(error.message).not.toContain('ppp');
    });

    it('requires a password for a local user but not for an external one', async () => {
      const { password: _omitted, ...withoutPassword } = newUser();
      const error = await rejected(client.registerUser(withoutPassword));
      expect(error.fieldErrors).toEqual({ password: ['is required for a local (non-external) user'] });

      await expect(client.registerUser({ ...withoutPassword, is_external: 1 })).resolves.toMatchObject({
        is_external: 1,
      });
    });

    it('refuses an empty change, unknown fields and a user id that is not a uuid', async () => {
      expect((await rejected(client.changeUser(unknownUserId, {}))).fieldErrors).toEqual({
        '(body)': ['must change at least one field'],
      });
      expect(
        (await rejected(client.changeUser(unknownUserId, { is_external: 1 } as never))).fieldErrors,
      ).toEqual({ is_external: ['is not a known field'] });
      expect((await rejected(client.getUser('../admin'))).fieldErrors).toEqual({
        userId: ['must be a user id (uuid)'],
      });
    });
  });

  describe('error mapping', () => {
    it('maps a 400 { message, errors } to IdoperationValidationError with the field errors', async () => {
      const error = await client
        .registerUser(newUser({ user_groups: [{ id: unknownUserId }] }))
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(IdoperationValidationError);
      expect(error).toMatchObject({
        status: 400,
        operation: 'register',
        fieldErrors: { user_groups: ['refers to an unknown user group'] },
      });
      expect((error as Error).message).toBe(
        'iDoperation register user: rejected (400 The given data was invalid.): user_groups: refers to an unknown user group',
      );
    });

    it('maps the seed page 400 sample body', async () => {
      emulator.failNext(1, 400, {
        message: 'Error message',
        errors: { key1: ['Error details for key1'], key2: ['Error details for key2'] },
      });
      const error = await client.getUser(unknownUserId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationValidationError);
      expect((error as IdoperationValidationError).fieldErrors).toEqual({
        key1: ['Error details for key1'],
        key2: ['Error details for key2'],
      });
    });

    it('maps a 404 { message } to IdoperationNotFoundError', async () => {
      const error = await client.getUser(unknownUserId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationNotFoundError);
      expect(error).toMatchObject({
        status: 404,
        message: 'iDoperation get user: not found (404 User not found)',
      });
      await expect(client.disableUser(unknownUserId)).rejects.toBeInstanceOf(IdoperationNotFoundError);
    });

    it('maps 401 and 403 to IdoperationAuthError without retrying', async () => {
      const wrongKey = clientFor({
        secrets: staticSecretSource({ [secretName]: { authorization: 'wrong' } }),
      });
      const error = await wrongKey.getUser(unknownUserId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationAuthError);
      expect(error).toMatchObject({ status: 401 });

      emulator.failNext(1, 403, { message: 'Forbidden' });
      await expect(client.getUser(unknownUserId)).rejects.toMatchObject({
        name: 'IdoperationAuthError',
        status: 403,
      });
      expect(newCalls().map((call) => call.status)).toEqual([401, 403]);
    });

    it.each([
      ['conflict', 409],
      ['validation', 400],
      ['unprocessable', 422],
    ] as const)(
      'maps a taken login_id answered as %s (%i) to IdoperationConflictError',
      async (answer, status) => {
        emulator.answerTakenLoginIdWith(answer);
        const first = newUser();
        await client.registerUser(first);
        const error = await client
          .registerUser({ ...first, login_id: first.login_id.toUpperCase() })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(IdoperationConflictError);
        expect(error).toMatchObject({ status, retryable: false });
      },
    );

    it('keeps a 400 about other fields a validation error', async () => {
      emulator.failNext(1, 400, { message: 'The given data was invalid.', errors: { name: ['too long'] } });
      const error = await client.registerUser(newUser()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationValidationError);
    });

    it('maps a malformed success body to IdoperationResponseError naming the bad fields', async () => {
      emulator.failNext(1, 200, { id: unknownUserId, login_id: 'a@example.com' });
      const error = await client.getUser(unknownUserId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationResponseError);
      expect((error as Error).message).toContain('is_external');
    });

    it('accepts unknown extra fields in a user object', async () => {
      const registered = await client.registerUser(newUser());
      emulator.failNext(1, 200, { ...registered, added_later: true });
      await expect(client.getUser(registered.id)).resolves.toEqual(registered);
    });

    it('fails with a clear error when the secret is missing', async () => {
      const noSecret = clientFor({ secrets: staticSecretSource({}) });
      await expect(noSecret.getUser(unknownUserId)).rejects.toThrow('Secret idoperation not found');
      expect(newCalls()).toEqual([]);
    });

    it('refuses a bad base URL or path table when the client is created', () => {
      expect(() => clientFor({ baseUrl: 'ftp://example.com' })).toThrow(ConfigError);
      expect(() => clientFor({ paths: { get: { method: 'GET', path: '/users' } } })).toThrow(
        'iDoperation paths.get: expected a path containing {userId}',
      );
    });
  });

  describe('retries', () => {
    it('retries a PATCH after a 503 and then succeeds', async () => {
      const registered = await client.registerUser(newUser());
      emulator.failNext(1, 503, { message: 'Service Unavailable' });

      await expect(client.disableUser(registered.id)).resolves.toMatchObject({ is_disabled: 1 });
      expect(newCalls().map((call) => `${call.method} ${call.status}`)).toEqual([
        'POST 201',
        'PATCH 503',
        'PATCH 200',
      ]);
    });

    it('retries a GET after a 429', async () => {
      const registered = await client.registerUser(newUser());
      emulator.failNext(2, 429, { message: 'Too Many Requests' });
      await expect(client.getUser(registered.id)).resolves.toEqual(registered);
      expect(newCalls()).toHaveLength(4);
    });

    it('gives up on a GET after the configured retries with IdoperationUnavailableError', async () => {
      emulator.failNext(3, 502);
      const error = await client.getUser(unknownUserId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationUnavailableError);
      expect(error).toMatchObject({ status: 502 });
      expect(newCalls()).toHaveLength(3);
    });

    it('does not retry a register (POST) after a 503', async () => {
      emulator.failNext(1, 503);
      const error = await client.registerUser(newUser()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdoperationUnavailableError);
      expect(newCalls()).toHaveLength(1);
    });

    it('does not retry a 404', async () => {
      await expect(client.getUser(unknownUserId)).rejects.toBeInstanceOf(IdoperationNotFoundError);
      expect(newCalls()).toHaveLength(1);
    });
  });

  describe('timeouts and network failures', () => {
    it('times out a slow call with IdoperationTimeoutError', async () => {
      const slow = await startIdoperationEmulator({ authorization, latencyMs: 300 });
      try {
        const impatient = clientFor({ baseUrl: slow.url, timeoutMs: 50, retry: { retries: 0 } });
        const error = await impatient.getUser(unknownUserId).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(IdoperationTimeoutError);
        expect(error).toBeInstanceOf(IdoperationUnavailableError);
        expect((error as Error).message).toBe('iDoperation get user: no response within 50 ms');
        await expect(impatient.registerUser(newUser())).rejects.toThrow(
          'iDoperation register user: no response within 50 ms (the user may have been registered)',
        );
      } finally {
        await slow.close();
      }
    });

    it('reports a refused connection as IdoperationUnavailableError', async () => {
      const closed = await startIdoperationEmulator({ authorization });
      await closed.close();
      const unreachable = clientFor({ baseUrl: closed.url, retry: { retries: 0 } });
      await expect(unreachable.getUser(unknownUserId)).rejects.toBeInstanceOf(IdoperationUnavailableError);
    });
  });
});
