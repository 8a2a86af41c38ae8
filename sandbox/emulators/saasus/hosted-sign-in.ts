import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml } from '../../web/html.js';
import type { SaasusState } from './state.js';

/**
 * A stand-in for the SaaSus hosted sign-in the link flow sends a buyer to (`saasus.linkSignInUrl`):
 * pick a SaaS user, and the browser is sent to the configured callback URL with a fresh temporary
 * code and the `state` the sign-in was started with, as the seller's sign-in route would forward
 * them. A sandbox convenience, not a SaaSus API: no signature, no partner events. It also offers
 * to seed an "existing customer" (a SaaS user administering a new tenant) so linking can be tried
 * on a machine where every tenant belongs to a subscription already.
 */

export const HOSTED_SIGN_IN_PATH = '/sign-in';

export interface HostedSignInOptions {
  /** Where the sign-in returns with `?code=&state=` (the bridge's `/link/callback`). */
  readonly callbackUrl: string;
  /** The env and role an "existing customer" is seeded with (the bridge's admin check). */
  readonly envId: number;
  readonly adminRoleName: string;
}

const page = (state: string, users: readonly Record<string, unknown>[], message = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SaaSus sign-in (sandbox stand-in)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}button{margin:.25rem 0;padding:.5rem 1rem}
.note{color:#5a6773}.error{color:#c62828}input{padding:.4rem;width:100%}</style></head>
<body><h1>SaaSus sign-in</h1>
<p class="note">Sandbox stand-in for the SaaSus hosted sign-in. Choosing a user sends you back to the bridge with a temporary code, as your SaaS's sign-in route would.</p>
${message ? `<p class="error">${escapeHtml(message)}</p>` : ''}
<form method="post" action="${HOSTED_SIGN_IN_PATH}">
<input type="hidden" name="state" value="${escapeHtml(state)}">
${users.length === 0 ? '<p>No SaaS users yet.</p>' : users.map((user) => `<div><button name="userId" value="${escapeHtml(user.id)}">Sign in as ${escapeHtml(user.email ?? user.sign_in_id)}</button></div>`).join('\n')}
</form>
<h2>Seed an existing customer</h2>
<p class="note">A SaaS user who administers a new tenant that no subscription holds yet.</p>
<form method="post" action="${HOSTED_SIGN_IN_PATH}">
<input type="hidden" name="state" value="${escapeHtml(state)}">
<input type="hidden" name="seed" value="yes">
<label>Email <input name="email" type="email" required value="customer-${Date.now().toString(36)}@existing.example"></label>
<label>Tenant name <input name="tenantName" required value="Existing customer"></label>
<button type="submit">Create and sign in</button>
</form></body></html>`;

const readBody = (request: IncomingMessage, rawBody: string) =>
  new URLSearchParams(request.headers['content-type']?.includes('urlencoded') ? rawBody : '');

/** Serves the stand-in; false when the request is not for it (the API handles it). */
export const serveHostedSignIn = (
  request: IncomingMessage,
  rawBody: string,
  response: ServerResponse,
  saasus: SaasusState,
  options: HostedSignInOptions | undefined,
): boolean => {
  const url = new URL(request.url ?? '/', 'http://emulator');
  if (!options || url.pathname !== HOSTED_SIGN_IN_PATH) return false;
  const method = (request.method ?? 'GET').toUpperCase();
  const send = (status: number, body: string, headers: Record<string, string> = {}) => {
    response.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    });
    response.end(body);
  };
  const users = () => saasus.listSaasUsers().users as Record<string, unknown>[];
  if (method === 'GET') {
    send(200, page(url.searchParams.get('state') ?? '', users()));
    return true;
  }
  if (method !== 'POST') {
    send(405, 'Method not allowed', { allow: 'GET, POST' });
    return true;
  }
  const form = readBody(request, rawBody);
  const state = form.get('state') ?? '';
  let userId = form.get('userId') ?? '';
  if (form.get('seed') === 'yes') {
    const email = (form.get('email') ?? '').trim();
    const tenantName = (form.get('tenantName') ?? '').trim() || 'Existing customer';
    try {
      userId = String(saasus.seedUser({ email }).id);
      const tenant = saasus.seedTenant({
        name: tenantName,
        back_office_staff_email: 'backoffice@example.com',
      });
      saasus.createTenantUser(String(tenant.id), { email, attributes: {} });
      saasus.addTenantUserRoles(String(tenant.id), userId, String(options.envId), {
        role_names: [options.adminRoleName],
      });
    } catch (error) {
      send(400, page(state, users(), error instanceof Error ? error.message : String(error)));
      return true;
    }
  }
  if (!users().some((user) => String(user.id) === userId)) {
    send(400, page(state, users(), 'Choose a SaaS user.'));
    return true;
  }
  const { code } = saasus.mintUserCredentials(userId);
  const callback = new URL(options.callbackUrl);
  callback.searchParams.set('code', code);
  if (state) callback.searchParams.set('state', state);
  send(303, '', { location: callback.toString() });
  return true;
};
