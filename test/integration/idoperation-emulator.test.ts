import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdoperationEmulator, startIdoperationEmulator } from '#sandbox/emulators/idoperation';

const authorization = 'Bearer emulator-token';

/** Raw HTTP against the emulator: the wire contract the client relies on, without the client. */
describe('iDoperation emulator', () => {
  let emulator: IdoperationEmulator;

  const request = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${emulator.url}${path}`, {
      method,
      headers: {
        Authorization: authorization,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    emulator = await startIdoperationEmulator({ authorization });
  });
  afterAll(() => emulator.close());

  it('answers 401 { message } to a wrong Authorization value, without echoing it', async () => {
    const reply = await request('GET', '/users/df87eb73-9135-41ad-95a7-6954f95e6302', undefined, {
      Authorization: 'guess',
    });
    expect(reply).toEqual({ status: 401, body: { message: 'Unauthenticated.' } });
    expect(emulator.calls().at(-1)).toMatchObject({ authorized: false, status: 401 });
  });

  it('answers 400 { message, errors } with a message per bad field', async () => {
    const reply = await request('POST', '/users', {
      login_id: 'nope',
      name: 'n'.repeat(65),
      password: 'secret-pw',
      is_disabled: 2,
      unknown_field: true,
    });
    expect(reply).toEqual({
      status: 400,
      body: {
        message: 'The given data was invalid.',
        errors: {
          login_id: [expect.stringContaining('email')],
          name: [expect.stringContaining('64')],
          is_disabled: [expect.stringContaining('0 or 1')],
          unknown_field: [expect.any(String)],
        },
      },
    });
    expect(emulator.users()).toEqual([]);
  });

  it('answers 400 to a body that is not JSON and 415 to a body that is not declared as JSON', async () => {
    expect((await request('POST', '/users', '{"login_id":')).status).toBe(400);
    expect((await request('POST', '/users', 'x', { 'Content-Type': 'text/plain' })).status).toBe(415);
  });

  it('registers, reads and changes a user, then answers a taken login_id as 400 with errors.login_id by default', async () => {
    const created = await request('POST', '/users', { login_id: 'a@example.com', password: 'pw', name: 'A' });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    expect(await request('GET', `/users/${id}`)).toEqual({ status: 200, body: created.body });

    const changed = await request('PATCH', `/users/${id}`, { is_disabled: 1, memo: 'revoked' });
    expect(changed.body).toEqual({ ...created.body, is_disabled: 1, memo: 'revoked' });

    const duplicate = await request('POST', '/users', {
      login_id: 'A@example.com',
      password: 'pw',
      name: 'B',
    });
    expect(duplicate).toEqual({
      status: 400,
      body: { message: expect.any(String), errors: { login_id: [expect.any(String)] } },
    });
    expect(emulator.users()).toHaveLength(1);
  });

  it.each([
    ['conflict', 409],
    ['unprocessable', 422],
    ['validation', 400],
  ] as const)('can answer a taken login_id as %s (%i), on register and on change', async (answer, status) => {
    emulator.answerTakenLoginIdWith(answer);
    const taken = `${answer}@example.com`;
    await request('POST', '/users', { login_id: taken, password: 'pw', name: 'A' });
    const other = await request('POST', '/users', { login_id: `other-${taken}`, password: 'pw', name: 'B' });
    const registered = await request('POST', '/users', { login_id: taken, password: 'pw', name: 'C' });
    expect(registered.status).toBe(status);
    expect(registered.body).toMatchObject({ errors: { login_id: [expect.any(String)] } });
    expect((await request('PATCH', `/users/${String(other.body.id)}`, { login_id: taken })).status).toBe(
      status,
    );
  });

  it('answers 404 { message } to an unknown user or route, and 405 to an unknown method', async () => {
    expect(await request('GET', '/users/00000000-0000-4000-8000-000000000000')).toEqual({
      status: 404,
      body: { message: 'User not found' },
    });
    expect((await request('GET', '/groups')).status).toBe(404);
    expect((await request('DELETE', '/users/00000000-0000-4000-8000-000000000000')).status).toBe(405);
  });

  it('injects the next n failures before any other check', async () => {
    emulator.failNext(2, 503);
    expect(await request('GET', '/users/x', undefined, { Authorization: 'guess' })).toEqual({
      status: 503,
      body: { message: 'Injected failure (503)' },
    });
    expect((await request('GET', '/users/x')).status).toBe(503);
    expect((await request('GET', '/users/x')).status).toBe(404);
  });
});
