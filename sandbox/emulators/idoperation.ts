import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { sleep } from '#shared/retry';
import { type RunningServer, sendJson, startServer } from './http.js';
import {
  changeBody as changeUserSchema,
  fieldErrors as fieldErrorsFromZod,
  type DirectoryUser as IdoperationUser,
  registerBody as registerUserSchema,
  type TakenLoginIdAnswer,
  takenLoginIdStatus,
} from './idoperation/wire.js';

export type { TakenLoginIdAnswer } from './idoperation/wire.js';

/**
 * An in-memory iDoperation user directory: register (POST /users), get (GET /users/{id}) and
 * change (PATCH /users/{id}), with the documented error shapes (400 `{ message, errors }`,
 * 404 `{ message }`). Field rules are the emulator's own (`idoperation/wire.ts`), not the client's.
 *
 * Choices where the public docs are silent: a wrong or missing Authorization is 401; a login_id
 * already in use (case-insensitive) is answered as `takenLoginId` says (400 with
 * `errors.login_id` by default, or 409, or 422); register answers 201; unknown user group ids are a 400.
 */

export interface IdoperationEmulatorOptions {
  /** The only Authorization header value accepted. */
  readonly authorization: string;
  readonly port?: number;
  /** Delay before every response, e.g. to exercise client timeouts. */
  readonly latencyMs?: number;
  /** Path prefix the API is served under, e.g. `/api/v1`. */
  readonly basePath?: string;
  /** User groups that exist; default one group, `Root`. */
  readonly groups?: readonly { id: string; name: string }[];
  /** How a taken login_id is answered (undocumented); default `validation` (400 `errors.login_id`). */
  readonly takenLoginId?: TakenLoginIdAnswer;
}

/** One request as the emulator saw it. Header values other than the ones listed are not kept. */
export interface IdoperationCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly authorized: boolean;
  readonly accept: string | undefined;
  readonly contentType: string | undefined;
  readonly userAgent: string | undefined;
}

export interface IdoperationEmulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  /** The stored users (never their passwords). */
  users(): IdoperationUser[];
  calls(): IdoperationCall[];
  /** The next `count` requests get `status` with `body` (default `{ message }`), before any other check. */
  failNext(count: number, status: number, body?: unknown): void;
  /** Changes how a taken login_id is answered from now on. */
  answerTakenLoginIdWith(answer: TakenLoginIdAnswer): void;
  /** Adds a user directly, e.g. one registered before a test starts. */
  seedUser(user: Partial<IdoperationUser> & Pick<IdoperationUser, 'login_id' | 'name'>): IdoperationUser;
}

const defaultGroups = [{ id: '43b8f00b-933f-4a87-b907-3fec64a41f6e', name: 'Root' }];

export const startIdoperationEmulator = async (
  options: IdoperationEmulatorOptions,
): Promise<IdoperationEmulator> => {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const groups = new Map((options.groups ?? defaultGroups).map((group) => [group.id, group]));
  const users = new Map<string, IdoperationUser>();
  const calls: IdoperationCall[] = [];
  const faults: { status: number; body: unknown }[] = [];
  let takenLoginId: TakenLoginIdAnswer = options.takenLoginId ?? 'validation';

  const loginIdTaken = (loginId: string, exceptUserId?: string) =>
    [...users.values()].some(
      (user) => user.login_id.toLowerCase() === loginId.toLowerCase() && user.id !== exceptUserId,
    );

  type Reply = { status: number; body: unknown };
  const validationFailed = (errors: Record<string, string[]>): Reply => ({
    status: 400,
    body: { message: 'The given data was invalid.', errors },
  });
  const notFound = (message = 'User not found'): Reply => ({ status: 404, body: { message } });
  const duplicate = (): Reply => ({
    status: takenLoginIdStatus[takenLoginId],
    body: {
      message: 'The given data was invalid.',
      errors: { login_id: ['The login id has already been taken.'] },
    },
  });

  const parseBody = <T extends z.ZodType>(
    request: IncomingMessage,
    raw: string,
    schema: T,
  ): { data: z.output<T> } | { reply: Reply } => {
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) {
      return { reply: { status: 415, body: { message: 'Content-Type must be application/json' } } };
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { reply: { status: 400, body: { message: 'The request body is not valid JSON.' } } };
    }
    const result = schema.safeParse(json);
    if (!result.success) return { reply: validationFailed(fieldErrorsFromZod(result.error)) };
    return { data: result.data };
  };

  const resolveGroups = (references: readonly { id: string }[] | undefined) => {
    if (references === undefined) return { groups: undefined };
    const resolved = references.map((reference) => groups.get(reference.id));
    if (resolved.some((group) => group === undefined)) return { error: ['refers to an unknown user group'] };
    return { groups: resolved.filter((group) => group !== undefined).map((group) => ({ ...group })) };
  };

  const register = (request: IncomingMessage, raw: string): Reply => {
    const parsed = parseBody(request, raw, registerUserSchema);
    if ('reply' in parsed) return parsed.reply;
    const input = parsed.data;
    const memberships = resolveGroups(input.user_groups);
    if (memberships.error) return validationFailed({ user_groups: memberships.error });
    if (loginIdTaken(input.login_id)) return duplicate();
    const user: IdoperationUser = {
      id: crypto.randomUUID(),
      login_id: input.login_id,
      is_external: input.is_external ?? 0,
      services: input.services ?? [1],
      name: input.name,
      is_initial_user: 0,
      is_administrator: input.is_administrator ?? 0,
      logged_in_at: null,
      is_disabled: input.is_disabled ?? 0,
      locale: input.locale ?? 'ja',
      // The default of is_notified is not documented; no mail unless asked for.
      is_notified: input.is_notified ?? 0,
      memo: input.memo ?? null,
      user_groups: memberships.groups ?? [],
    };
    users.set(user.id, user);
    return { status: 201, body: user };
  };

  const change = (request: IncomingMessage, raw: string, userId: string): Reply => {
    const user = users.get(userId);
    if (!user) return notFound();
    const parsed = parseBody(request, raw, changeUserSchema);
    if ('reply' in parsed) return parsed.reply;
    const { password: _password, use_totp: _totp, is_password_expired: _expired, ...changes } = parsed.data;
    const memberships = resolveGroups(changes.user_groups);
    if (memberships.error) return validationFailed({ user_groups: memberships.error });
    if (changes.login_id !== undefined && loginIdTaken(changes.login_id, userId)) return duplicate();
    const updated: IdoperationUser = {
      ...user,
      ...changes,
      user_groups: memberships.groups ?? user.user_groups,
    };
    users.set(userId, updated);
    return { status: 200, body: updated };
  };

  const route = (request: IncomingMessage, raw: string, path: string): Reply => {
    if (path === '/users') {
      return request.method === 'POST'
        ? register(request, raw)
        : { status: 405, body: { message: 'Method Not Allowed' } };
    }
    const match = /^\/users\/([^/]+)$/.exec(path);
    if (!match?.[1]) return notFound('Not Found');
    const userId = decodeURIComponent(match[1]);
    if (request.method === 'GET') {
      const user = users.get(userId);
      return user ? { status: 200, body: user } : notFound();
    }
    if (request.method === 'PATCH') return change(request, raw, userId);
    return { status: 405, body: { message: 'Method Not Allowed' } };
  };

  const handle = async (request: IncomingMessage, raw: string, response: ServerResponse) => {
    if (options.latencyMs) await sleep(options.latencyMs);
    const url = new URL(request.url ?? '/', 'http://emulator');
    const authorized = request.headers.authorization === options.authorization;
    let reply: Reply;
    const fault = faults.shift();
    if (fault) reply = fault;
    else if (!authorized) reply = { status: 401, body: { message: 'Unauthenticated.' } };
    else if (!url.pathname.startsWith(`${basePath}/`)) reply = notFound('Not Found');
    else reply = route(request, raw, url.pathname.slice(basePath.length));
    calls.push({
      method: request.method ?? '',
      path: url.pathname,
      status: reply.status,
      authorized,
      accept: request.headers.accept,
      contentType: request.headers['content-type'],
      userAgent: request.headers['user-agent'],
    });
    if (!response.destroyed) sendJson(response, reply.status, reply.body);
  };

  const server: RunningServer = await startServer(handle, options.port ?? 0);
  return {
    url: server.url,
    port: server.port,
    close: () => server.close(),
    users: () => [...users.values()].map((user) => structuredClone(user)),
    calls: () => [...calls],
    failNext(count, status, body) {
      for (let index = 0; index < count; index++) {
        faults.push({ status, body: body ?? { message: `Injected failure (${status})` } });
      }
    },
    answerTakenLoginIdWith(answer) {
      takenLoginId = answer;
    },
    seedUser(seed) {
      const user: IdoperationUser = {
        id: crypto.randomUUID(),
        is_external: 0,
        services: [1],
        is_initial_user: 0,
        is_administrator: 0,
        logged_in_at: null,
        is_disabled: 0,
        locale: 'ja',
        is_notified: 0,
        memo: null,
        user_groups: [],
        ...seed,
      };
      users.set(user.id, user);
      return structuredClone(user);
    },
  };
};
