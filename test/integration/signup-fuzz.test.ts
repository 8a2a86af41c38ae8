import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browserFlow,
  csrfFrom,
  type HttpRequest,
  type SignUpHarness,
  sessionCookieFrom,
  startSignUpHarness,
} from '../support/signup-harness.js';

/**
 * Thousands of malformed requests against the real handler: random methods, paths, headers,
 * cookies and bodies (urlencoded, multipart, base64, broken versions of each, huge fields, markup).
 * None may answer 5xx, write anything, or reflect markup unescaped.
 */

const RUNS = 5_000;
const SEED = 20_261_122;

let h: SignUpHarness;
/** A live registration session, its CSRF token, and a session that went through SaaSus sign-in. */
let session: { cookie: string; csrf: string; licenseKey: string };
let linked: { cookie: string; csrf: string };
/** A snapshot of everything the flow can write. */
let before: { licenses: string; saasusWrites: number; directoryUsers: number; events: number };

const snapshot = async () => ({
  licenses: JSON.stringify((await h.licenseItems()).sort((a, b) => (a.licenseKey < b.licenseKey ? -1 : 1))),
  saasusWrites: h.saasusWrites(),
  directoryUsers: h.idoperation.users().length,
  events: h.domainEvents().length,
});

beforeAll(async () => {
  h = await startSignUpHarness();
  const flow = browserFlow(h.invoke);
  const buyer = h.newBuyer();
  const { cookie } = await flow.begin(buyer.token);
  const page = await flow.registrationPage(cookie);
  session = { cookie, csrf: csrfFrom(page.body), licenseKey: buyer.licenseKey };

  const email = 'fuzz-owner@existing.example';
  const user = h.saasus.seedUser({ email });
  const tenant = h.saasus.seedTenant({
    name: 'Fuzz Tenant',
    back_office_staff_email: 'backoffice@example.com',
  });
  await h.saasusClient.createTenantUser(String(tenant.id), { email, attributes: {} });
  // Only a tenant administrator is offered the tenant (and gets a signed-in session).
  await h.saasusClient.addTenantUserRoles(
    String(tenant.id),
    String(user.id),
    h.config.saasus.envId,
    h.config.saasus.adminRoleNames,
  );
  const other = h.newBuyer();
  const otherSession = await flow.begin(other.token);
  const { code } = h.saasus.mintUserCredentials(String(user.id));
  const link = await flow.startLink(otherSession.cookie);
  const choice = await flow.linkCallback(link.cookie, link.state, code);
  linked = { cookie: sessionCookieFrom(choice) ?? '', csrf: csrfFrom(choice.body) };
  before = await snapshot();
});

afterAll(async () => {
  await h?.close();
});

const fieldNames = [
  'x-amzn-marketplace-token',
  'x-amzn-marketplace-offer-type',
  'csrf',
  'tenantName',
  'adminEmail',
  'adminName',
  'tenantId',
  'code',
];

/** Markup that must never come back unescaped; every variant carries the run's marker. */
const hostile = (marker: string) =>
  fc.constantFrom(
    `<script>alert("${marker}")</script>`,
    `"><script>${marker}</script>`,
    `'><svg onload=${marker}>`,
    `</title><img src=x onerror=${marker}>`,
    `javascript:${marker}<iframe>`,
    `${marker}\r\nSet-Cookie: injected=${marker}`,
  );

const text = (marker: string) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 4, arbitrary: hostile(marker) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('', ' ', '%', '%zz', '&&', '==', '\u0000', '\uFFFD', '+', '\uD800'),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 80_000 }).map((length) => 'A'.repeat(length)) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9+/=_.:~-]{1,60}$/) },
  );

const fields = (marker: string) =>
  fc
    .tuple(
      fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), fc.string({ maxLength: 12 })), text(marker), {
        maxKeys: 6,
      }),
      fc.constantFrom('none', 'valid-registration', 'valid-link', 'other'),
    )
    .map(([values, csrf]) => {
      const result: Record<string, string> = { ...values };
      if (csrf === 'valid-registration' || csrf === 'valid-link') {
        result.csrf = csrf === 'valid-link' ? linked.csrf : session.csrf;
        // With a valid CSRF token the form is validated: keep it invalid, so nothing is provisioned.
        result.adminEmail = `<${marker}>@example.com`;
      }
      return result;
    });

const multipart = (values: Record<string, string>, boundary: string) =>
  `${Object.entries(values)
    .map(
      ([name, value]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
    )
    .join('')}--${boundary}--\r\n`;

type Body = Pick<HttpRequest, 'body' | 'isBase64Encoded'> & { contentType?: string };

const body = (marker: string): fc.Arbitrary<Body> =>
  fc.oneof(
    fields(marker).map((values) => ({
      body: new URLSearchParams(values).toString(),
      contentType: 'application/x-www-form-urlencoded',
    })),
    fields(marker).map((values) => ({
      body: Buffer.from(new URLSearchParams(values).toString()).toString('base64'),
      isBase64Encoded: true,
      contentType: 'application/x-www-form-urlencoded; charset=UTF-8',
    })),
    fc.tuple(fields(marker), fc.stringMatching(/^[A-Za-z0-9'()+_,-]{1,70}$/)).map(([values, boundary]) => ({
      body: multipart(values, boundary),
      contentType: `multipart/form-data; boundary=${boundary}`,
    })),
    // Broken multipart: wrong or missing boundary, no blank line, a file part, truncated.
    fc
      .tuple(
        fields(marker),
        fc.constantFrom('wrong', 'missing', 'no-blank-line', 'file', 'truncated', 'quoted'),
      )
      .map(([values, broken]) => {
        const whole = multipart(values, 'B0undary');
        const variants: Record<string, Body> = {
          wrong: { body: whole, contentType: 'multipart/form-data; boundary=Other' },
          missing: { body: whole, contentType: 'multipart/form-data' },
          'no-blank-line': {
            body: whole.replaceAll('\r\n\r\n', '\r\n'),
            contentType: 'multipart/form-data; boundary=B0undary',
          },
          file: {
            body: whole.replaceAll('"\r\n\r\n', '"; filename="x.html"\r\n\r\n'),
            contentType: 'multipart/form-data; boundary=B0undary',
          },
          truncated: {
            body: whole.slice(0, whole.length / 2),
            contentType: 'multipart/form-data; boundary=B0undary',
          },
          quoted: { body: whole, contentType: 'multipart/form-data; boundary="B0undary' },
        };
        return variants[broken] ?? { body: whole };
      }),
    // Bad base64 and base64 of bytes that are not UTF-8.
    text(marker).map((value) => ({ body: value, isBase64Encoded: true })),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => ({
      body: Buffer.from(bytes).toString('base64'),
      isBase64Encoded: true,
      contentType: 'application/x-www-form-urlencoded',
    })),
    fc
      .tuple(
        text(marker),
        fc.constantFrom(undefined, 'text/plain', 'application/json', 'text/html', 'x/y; a=b', ''),
      )
      .map(([value, contentType]) => ({
        body: value,
        ...(contentType === undefined ? {} : { contentType }),
      })),
    fc.constant({}),
  );

const tampered = (cookie: string) => {
  const value = cookie.split('=')[1] ?? '';
  const middle = Math.floor(value.length / 2);
  return `mb_registration=${value.slice(0, middle)}${value[middle] === 'A' ? 'B' : 'A'}${value.slice(middle + 1)}`;
};

const cookies = (marker: string) =>
  fc.oneof(
    fc.constant([] as string[]),
    fc.constant(null).map(() => [session.cookie]),
    fc.constant(null).map(() => [linked.cookie]),
    fc.constant(null).map(() => [tampered(session.cookie)]),
    text(marker).map((value) => [`mb_registration=${value}`]),
    fc.array(text(marker), { maxLength: 3 }),
    text(marker).map((value) => [`a=1; mb_registration=${value}; b=2`]),
  );

const paths = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/', '/register', '/link', '/link/callback') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '/register/',
      '//',
      '/link//callback',
      '/../register',
      '/%2e%2e/',
      '/REGISTER',
      '',
    ),
  },
  { weight: 2, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((value) => `/${value}`) },
);

const methods = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'POST') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'post', 'get'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

/** Marks everything the generator injects, so an echo of it is easy to spot. */
const MARKER = 'FZ7marker';

// Built once (not per run with `chain`): generating arbitraries per run is what makes fuzzing slow.
const request = fc.record({
  method: methods,
  path: paths,
  query: fc.oneof(
    fc.constant(''),
    text(MARKER).map((code) => new URLSearchParams({ code }).toString()),
    text(MARKER),
    fc.webQueryParameters(),
  ),
  body: body(MARKER),
  cookies: cookies(MARKER),
  cookieInHeader: fc.boolean(),
  headers: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), text(MARKER), { maxKeys: 3 }),
  language: fc.constantFrom(undefined, 'ja', 'en', 'ja;q=abc,en;q=0.1', '*', 'zz-ZZ,,;;'),
});

describe('fuzzing the sign-up handler', () => {
  it(`answers ${RUNS} malformed requests without a 5xx, a write or an unescaped echo`, async () => {
    let sent = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (generated) => {
        const { body: payload } = generated;
        const headers: Record<string, string> = { ...generated.headers };
        if (payload.contentType !== undefined) headers['content-type'] = payload.contentType;
        if (generated.language) headers['accept-language'] = generated.language;
        if (generated.cookieInHeader && generated.cookies.length > 0)
          headers.cookie = generated.cookies.join('; ');
        const result = await h.invoke({
          method: generated.method,
          path: generated.path,
          query: generated.query,
          headers,
          ...(generated.cookieInHeader ? {} : { cookies: generated.cookies }),
          ...(payload.body === undefined ? {} : { body: payload.body }),
          ...(payload.isBase64Encoded ? { isBase64Encoded: true } : {}),
        });
        sent++;
        statuses.set(result.statusCode, (statuses.get(result.statusCode) ?? 0) + 1);

        expect(result.statusCode).toBeGreaterThanOrEqual(200);
        expect(result.statusCode).toBeLessThan(500);
        // The brand's logo is the one image a page has.
        expect(result.body.replace(/<img class="logo" [^>]*>/, '')).not.toMatch(
          /<script|<svg|<img|<iframe|onload=|onerror=/i,
        );
        expect(result.body).not.toContain(`<${MARKER}`);
        expect(result.body).not.toContain(`"${MARKER}`);
        for (const value of [...Object.values(result.headers), ...(result.cookies ?? [])]) {
          expect(value).not.toContain(MARKER);
          expect(value).not.toMatch(/[\r\n]/);
        }
        if (result.headers.location !== undefined) {
          // The sign-in of the link flow carries a fresh `state`, never anything from the request.
          const location = result.headers.location.replace(/\?state=[\w-]{32}$/, '');
          expect(['/register', h.config.saasus.signInUrl]).toContain(location);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );

    expect(sent).toBe(RUNS);
    // The generator reached the interesting answers, not only 404s.
    for (const status of [200, 303, 400, 403, 404, 405, 415])
      expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(before);
    const license = await h.store.get(session.licenseKey);
    expect(license?.provisioning).toBeUndefined();
    expect(license?.tenantId).toBeUndefined();
  });
});
