import { describe, expect, it } from 'vitest';
import { administeredTenants, type LinkableTenant } from '#shared/signup/app';
import { createPages, escapeHtml, languageFrom, validateRegistrationForm } from '#shared/signup/pages';
import { FormRequestError, parseFormBody, parseFulfillmentRequest } from '#shared/signup/request';
import {
  createSessionSealer,
  readCookie,
  SESSION_COOKIE,
  SessionError,
  sessionCookie,
} from '#shared/signup/session';
import { exampleConfig } from '../support/config.js';

const secret = 'k'.repeat(48);
const { errorPage, finishPage, registrationPage, tenantChoicePage } = createPages(exampleConfig().branding);

describe('registration session', () => {
  it('round-trips a sealed session that does not reveal its contents', () => {
    const sealer = createSessionSealer(secret);
    const { cookieValue, session } = sealer.seal({ lk: 'arn:aws:license-manager::1:license:l-1' });
    expect(cookieValue).not.toContain('license');
    expect(sealer.open(cookieValue)).toEqual(session);
  });

  it('rejects a tampered, foreign-key or expired session', () => {
    let clock = 1_000_000;
    const sealer = createSessionSealer(secret, { ttlMs: 1000, now: () => clock });
    const { cookieValue } = sealer.seal({ lk: 'l-1' });
    const [iv, tag, body] = cookieValue.split('.') as [string, string, string];
    const flipped = `${iv}.${tag}.${body.slice(0, -2)}${body.endsWith('A') ? 'B' : 'A'}${body.slice(-1)}`;
    expect(() => sealer.open(flipped)).toThrow(SessionError);
    expect(() => createSessionSealer('x'.repeat(48)).open(cookieValue)).toThrow(
      'altered or sealed with another key',
    );
    clock += 1001;
    expect(() => sealer.open(cookieValue)).toThrow('expired');
    expect(() => sealer.open(undefined)).toThrow('No registration session');
    expect(() => sealer.open('not.a.session')).toThrow(SessionError);
  });

  it('binds the CSRF token to the session', () => {
    const sealer = createSessionSealer(secret);
    const a = sealer.seal({ lk: 'l-1' }).session;
    const b = sealer.seal({ lk: 'l-1' }).session;
    expect(sealer.verifyCsrf(a, sealer.csrfToken(a))).toBe(true);
    expect(sealer.verifyCsrf(a, sealer.csrfToken(b))).toBe(false);
    expect(sealer.verifyCsrf(a, undefined)).toBe(false);
  });

  it('refuses a short key and sets a locked-down cookie', () => {
    expect(() => createSessionSealer('short')).toThrow('at least 32');
    expect(sessionCookie('v', 60)).toBe(
      `${SESSION_COOKIE}=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax`,
    );
    expect(readCookie(['a=1', `${SESSION_COOKIE}=abc.def.ghi`], SESSION_COOKIE)).toBe('abc.def.ghi');
    expect(readCookie(['a=1; mb_registration=xyz'], SESSION_COOKIE)).toBe('xyz');
    expect(readCookie(undefined, SESSION_COOKIE)).toBeUndefined();
  });
});

describe('fulfillment request', () => {
  const form = 'application/x-www-form-urlencoded';
  const problem = async (request: Parameters<typeof parseFulfillmentRequest>[0]) => {
    try {
      await parseFulfillmentRequest(request);
    } catch (error) {
      if (error instanceof FormRequestError) return error.problem;
      throw error;
    }
    return 'accepted';
  };

  it('reads the token from urlencoded, base64-encoded and multipart bodies', async () => {
    const body = 'x-amzn-marketplace-token=abc%2Bdef%2F%3D&x-amzn-marketplace-offer-type=free-trial';
    expect(await parseFulfillmentRequest({ body, headers: { 'content-type': form } })).toEqual({
      token: 'abc+def/=',
      freeTrial: true,
    });
    expect(
      await parseFulfillmentRequest({
        body: Buffer.from(body).toString('base64'),
        isBase64Encoded: true,
        headers: { 'content-type': form },
      }),
    ).toEqual({ token: 'abc+def/=', freeTrial: true });
    const multipart = [
      '--XyZ',
      'Content-Disposition: form-data; name="x-amzn-marketplace-token"',
      '',
      'tok123',
      '--XyZ--',
      '',
    ].join('\r\n');
    expect(
      await parseFulfillmentRequest({
        body: multipart,
        headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
      }),
    ).toEqual({ token: 'tok123', freeTrial: false });
  });

  it('never reads a multipart file part as a field, however its file name is written', async () => {
    const withFile = (disposition: string) =>
      [
        '--XyZ',
        `Content-Disposition: form-data; name="x-amzn-marketplace-token"; ${disposition}`,
        'Content-Type: text/plain',
        '',
        'FILEDATA',
        '--XyZ',
        'Content-Disposition: form-data; name="x-amzn-marketplace-token"',
        '',
        'tok123',
        '--XyZ--',
        '',
      ].join('\r\n');
    const headers = { 'content-type': 'multipart/form-data; boundary="XyZ"' };
    expect(await parseFulfillmentRequest({ body: withFile('filename="token.txt"'), headers })).toEqual({
      token: 'tok123',
      freeTrial: false,
    });
    // RFC 5987's extended file name: a parser that knows it skips the file, one that does not refuses the body.
    const extended = await parseFormBody({ body: withFile("filename*=UTF-8''token.txt"), headers }).then(
      (fields) => fields.get('x-amzn-marketplace-token'),
      (error: unknown) => (error instanceof FormRequestError ? error.problem : error),
    );
    expect(['tok123', 'malformed']).toContain(extended);
  });

  it('names what is wrong with a bad request', async () => {
    expect(await problem({ body: 'other=1', headers: { 'content-type': form } })).toBe('missing-token');
    expect(await problem({ body: 'x-amzn-marketplace-token=%20', headers: { 'content-type': form } })).toBe(
      'empty-token',
    );
    expect(
      await problem({
        body: `x-amzn-marketplace-token=${'a'.repeat(5000)}`,
        headers: { 'content-type': form },
      }),
    ).toBe('oversized');
    expect(await problem({ body: 'x'.repeat(70_000), headers: { 'content-type': form } })).toBe('oversized');
    expect(
      await problem({ body: 'x-amzn-marketplace-token=<script>', headers: { 'content-type': form } }),
    ).toBe('malformed');
    expect(
      await problem({
        body: '{"x-amzn-marketplace-token":"a"}',
        headers: { 'content-type': 'application/json' },
      }),
    ).toBe('unsupported-media-type');
    expect(await problem({ body: '%%%', isBase64Encoded: true, headers: {} })).toBe('malformed');
    expect(await problem({ body: 'garbage', headers: { 'content-type': 'multipart/form-data' } })).toBe(
      'malformed',
    );
  });
});

describe('pages', () => {
  it('chooses the language from Accept-Language', () => {
    expect(languageFrom('ja,en-US;q=0.9')).toBe('ja');
    expect(languageFrom('en-US,en;q=0.9,ja;q=0.8')).toBe('en');
    expect(languageFrom('fr-FR,ja;q=0.5')).toBe('ja');
    expect(languageFrom('en;q=0.2,ja;q=0.9')).toBe('ja');
    expect(languageFrom(undefined)).toBe('en');
  });

  it('escapes everything it echoes', () => {
    const hostile = '"><script>alert(1)</script>';
    const html = registrationPage({
      lang: 'en',
      csrfToken: 'csrf"token',
      values: { tenantName: hostile, adminEmail: hostile, adminName: hostile },
      errors: { adminEmail: 'adminEmailInvalid' },
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain(escapeHtml(hostile));
    expect(html).toContain('value="csrf&quot;token"');
    expect(
      tenantChoicePage({
        lang: 'ja',
        csrfToken: 't',
        tenants: [{ id: '1', name: hostile }],
        signedInAs: hostile,
        awsAccountId: hostile,
      }),
    ).not.toContain('<script>');
    expect(registrationPage({ lang: 'en', csrfToken: 't', awsAccountId: hostile })).not.toContain('<script>');
  });

  it('shows each field error next to its field, in the chosen language', () => {
    const invalid = validateRegistrationForm(new Map([['adminEmail', 'not-an-email']]));
    expect(invalid).toEqual({
      ok: false,
      errors: {
        tenantName: 'tenantNameRequired',
        adminEmail: 'adminEmailInvalid',
        adminName: 'adminNameRequired',
      },
    });
    if (invalid.ok) throw new Error('expected errors');
    const html = registrationPage({ lang: 'ja', csrfToken: 't', errors: invalid.errors });
    expect(html).toContain('<html lang="ja">');
    expect(html).toMatch(
      /id="adminEmail"[^>]*aria-invalid="true"[^>]*>\n<p class="error" id="adminEmail-error">有効な/,
    );
  });

  it('accepts a valid form, trimmed', () => {
    expect(
      validateRegistrationForm(
        new Map([
          ['tenantName', '  Acme  '],
          ['adminEmail', 'admin@acme.example'],
          ['adminName', 'Ada'],
        ]),
      ),
    ).toEqual({ ok: true, form: { tenantName: 'Acme', adminEmail: 'admin@acme.example', adminName: 'Ada' } });
    expect(validateRegistrationForm(new Map([['tenantName', 'a'.repeat(101)]]))).toMatchObject({
      errors: { tenantName: 'tenantNameTooLong' },
    });
  });

  it('renders the finish and error pages with a link to sign in and the token advice', () => {
    expect(finishPage({ lang: 'en', outcome: 'preparing', signInUrl: 'https://a.example/in' })).toContain(
      'being prepared',
    );
    expect(errorPage('en', 'token-invalid')).toContain('click &quot;Set up your account&quot; again');
  });

  it('explains in both languages that only a tenant administrator can link', () => {
    const en = errorPage('en', 'link-admin-required');
    expect(en).toContain('<html lang="en">');
    expect(en).toContain('<h1>Only a tenant administrator can link a subscription</h1>');
    const ja = errorPage('ja', 'link-admin-required');
    expect(ja).toContain('<html lang="ja">');
    expect(ja).toContain('<h1>サブスクリプションを紐付けられるのはテナント管理者のみです</h1>');
    expect(errorPage('en', 'link-not-allowed')).toContain('Only an administrator of an account can link');
    expect(errorPage('ja', 'link-not-allowed')).toContain('そのアカウントの管理者のみです');
  });
});

describe('administeredTenants', () => {
  const saasus = { envId: 3, adminRoleNames: ['admin', 'owner'] };
  const tenant = (id: string, envs: [number, string[]][]): LinkableTenant => ({
    id,
    name: `Tenant ${id}`,
    envs: envs.map(([envId, roles]) => ({
      id: envId,
      roles: roles.map((role) => ({ role_name: role })),
    })),
  });

  it('keeps the tenants where the user holds any configured admin role in the configured env', () => {
    const tenants = [
      tenant('admin', [[3, ['admin']]]),
      tenant('owner-and-member', [[3, ['member', 'owner']]]),
      tenant('no-role', []),
      tenant('member', [[3, ['member']]]),
      tenant('admin-in-another-env', [
        [4, ['admin']],
        [3, ['member']],
      ]),
      tenant('look-alike-role', [[3, ['Admin', 'admin ', 'administrator']]]),
    ];
    expect(administeredTenants(tenants, saasus).map((kept) => kept.id)).toEqual([
      'admin',
      'owner-and-member',
    ]);
    expect(
      administeredTenants(tenants, { envId: 4, adminRoleNames: ['admin'] }).map((kept) => kept.id),
    ).toEqual(['admin-in-another-env']);
    expect(administeredTenants([], saasus)).toEqual([]);
  });
});
