import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSessionSealer } from '#shared/signup/session';
import {
  browserFlow,
  csrfFrom,
  type HttpResult,
  pageText,
  type SignUpHarness,
  sessionCookieFrom,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

// The logger reads its level once, when its module loads; this file inspects what it prints.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
});

/**
 * Every way the sign-up flow can fail, with the page and status it answers and proof that
 * nothing was written: no license item for a failed fulfillment, no SaaSus change for a
 * refused submit. Also the session cookie, the token's absence from URLs and logs, the page
 * language and escaping.
 */

let h: SignUpHarness;
let flow: ReturnType<typeof browserFlow>;
/** Every response of this file, to check Location headers. */
const responses: HttpResult[] = [];
/** Every registration token used in this file. */
const tokens: string[] = [];

beforeAll(async () => {
  h = await startSignUpHarness();
  flow = browserFlow(async (request) => {
    const result = await h.invoke(request);
    responses.push(result);
    return result;
  });
});
afterAll(async () => {
  await h?.close();
});

const buyer = (options?: Parameters<SignUpHarness['newBuyer']>[0]) => {
  const created = h.newBuyer(options);
  tokens.push(created.token);
  return created;
};

const licenseCount = async () => (await h.licenseItems()).length;
const form = 'application/x-www-form-urlencoded';

const tokenAdvice = 'Return to AWS Marketplace and click "Set up your account" again.';

/** Runs a failing fulfillment and checks that it wrote nothing. */
const fulfillmentFails = async (send: () => Promise<HttpResult>) => {
  const licensesBefore = await licenseCount();
  const writesBefore = h.saasusWrites();
  const result = await send();
  expect(await licenseCount()).toBe(licensesBefore);
  expect(h.saasusWrites()).toBe(writesBefore);
  expect(sessionCookieFrom(result)).toBeUndefined();
  expect(result.headers.location).toBeUndefined();
  expect(result.headers['content-type']).toBe('text/html; charset=utf-8');
  return result;
};

const expectNoStackTrace = (result: HttpResult) => {
  expect(result.body).not.toMatch(/\bat .+:\d+:\d+|Error:|Exception|Saasus|Marketplace[A-Z]/);
};

describe('fulfillment errors', () => {
  it.each([
    ['no token field', 'other=1'],
    ['an empty token', 'x-amzn-marketplace-token='],
    ['a blank token', 'x-amzn-marketplace-token=%20%20'],
    ['an oversized token', `x-amzn-marketplace-token=${'a'.repeat(5000)}`],
    ['an oversized body', `x-amzn-marketplace-token=abc&pad=${'p'.repeat(70_000)}`],
    ['a token with markup', 'x-amzn-marketplace-token=%3Cscript%3E'],
    ['no body at all', undefined],
  ])('%s → 400 "could not read this request"', async (_case, body) => {
    const result = await fulfillmentFails(() =>
      h.invoke({ method: 'POST', path: '/', headers: { 'content-type': form }, ...(body ? { body } : {}) }),
    );
    expect(result.statusCode).toBe(400);
    expect(pageText(result.body)).toContain('We could not read this request');
  });

  it('a JSON body → 415', async () => {
    const result = await fulfillmentFails(() =>
      h.invoke({
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ 'x-amzn-marketplace-token': buyer().token }),
      }),
    );
    expect(result.statusCode).toBe(415);
  });

  it('an unknown token → 400 asking to start again from AWS Marketplace', async () => {
    const result = await fulfillmentFails(() => flow.fulfill('bm90LWEtcmVhbC10b2tlbg'));
    expect(result.statusCode).toBe(400);
    expect(pageText(result.body)).toContain(tokenAdvice);
  });

  it('an expired token → 400 asking to start again from AWS Marketplace', async () => {
    const expired = buyer();
    h.advanceMarketplaceClock(4 * 3_600_000 + 1_000);
    const result = await fulfillmentFails(() => flow.fulfill(expired.token));
    expect(result.statusCode).toBe(400);
    expect(pageText(result.body)).toContain(tokenAdvice);
    expect(h.marketplace.calls('ResolveCustomer').at(-1)?.outcome).toBe('ExpiredTokenException');
  });

  it('a token for another product → 400 "for another product"', async () => {
    const foreign = buyer({ productCode: 'someoneelsesproduct' });
    const result = await fulfillmentFails(() => flow.fulfill(foreign.token));
    expect(result.statusCode).toBe(400);
    expect(pageText(result.body)).toContain('This subscription is for another product');
  });

  it.each(['ThrottlingException', 'InternalServiceErrorException'])(
    'ResolveCustomer failing with %s (after the SDK retries) → 503 "try again in a minute", and the same token works afterwards',
    async (exception) => {
      const later = buyer();
      h.marketplace.faults.failNext('ResolveCustomer', exception, 3);
      const busy = await fulfillmentFails(() => flow.fulfill(later.token));
      expect(busy.statusCode).toBe(503);
      expect(busy.headers['retry-after']).toBe('60');
      expect(pageText(busy.body)).toContain('Please try again in a minute.');

      const retried = await flow.fulfill(later.token);
      expect(retried.statusCode).toBe(303);
      expect(retried.headers.location).toBe('/register');
      expect(await h.store.get(later.licenseKey)).toBeDefined();
    },
  );

  it('a failure nobody planned for (ResolveCustomer disabled) → 500 without a stack trace', async () => {
    const unlucky = buyer();
    h.marketplace.faults.failNext('ResolveCustomer', 'DisabledApiException');
    const result = await fulfillmentFails(() => flow.fulfill(unlucky.token));
    expect(result.statusCode).toBe(500);
    expect(pageText(result.body)).toContain('Something went wrong on our side');
    expectNoStackTrace(result);
    expect(h.logs.some((line) => line.includes('Sign-up failed'))).toBe(true);
  });
});

describe('provisioning errors', () => {
  it('a SaaSus answer of the wrong shape → 500 without a stack trace, and the next submit finishes', async () => {
    const target = buyer();
    const { cookie } = await flow.begin(target.token);
    await h.activate(target.licenseKey);
    h.saasus.faults.failNext(
      1,
      { status: 200, body: { tenants: 'not a list' } },
      { operation: 'GetTenants' },
    );
    const { csrf, result } = await flow.register(cookie, validRegistration());
    expect(result.statusCode).toBe(500);
    expect(pageText(result.body)).toContain('Something went wrong on our side');
    expectNoStackTrace(result);
    expect(result.body).not.toContain('not a list');
    expect(h.tenantsOf(target.licenseKey)).toEqual([]);

    const retried = await flow.submit(cookie, { csrf, ...validRegistration() });
    expect(retried.statusCode).toBe(200);
    expect(h.tenantsOf(target.licenseKey)).toHaveLength(1);
  });
});

describe('a step that keeps failing', () => {
  it('marks the license as needing attention after 3 runs, tells the buyer the seller knows, and a later run clears it', async () => {
    const target = buyer();
    const { cookie } = await flow.begin(target.token);
    await h.activate(target.licenseKey);
    // CreateTenantUser declares only 500 for any failure: the status alone cannot say "permanent".
    h.saasus.faults.failNext(3, { status: 500 }, { operation: 'CreateTenantUser' });
    const registration = validRegistration();
    const first = await flow.register(cookie, registration);
    expect(first.result.statusCode).toBe(503);
    expect(pageText(first.result.body)).toContain('Please try again in a minute');
    expect((await h.store.get(target.licenseKey))?.provisioningFailures).toMatchObject({
      step: 'tenantUser',
      attempts: 1,
    });
    const second = await flow.submit(cookie, { csrf: first.csrf, ...registration });
    expect(second.statusCode).toBe(503);
    const third = await flow.submit(cookie, { csrf: first.csrf, ...registration });
    expect(third.statusCode).toBe(503);
    expect(pageText(third.body)).toContain('The seller has been told');
    expectNoStackTrace(third);
    const flagged = await h.store.get(target.licenseKey);
    expect(flagged?.needsAttention).toMatchObject({
      step: 'tenantUser',
      attempts: 3,
      reason: expect.stringContaining('/users failed: 500'),
      since: expect.any(String),
    });
    expect(h.logs.some((line) => line.includes('Provisioning needs attention'))).toBe(true);

    const later = await flow.submit(cookie, { csrf: first.csrf, ...registration });
    expect(later.statusCode).toBe(200);
    const cleared = await h.store.get(target.licenseKey);
    expect(cleared?.needsAttention ?? undefined).toBeUndefined();
    expect(cleared?.provisioningFailures ?? undefined).toBeUndefined();
    expect(h.tenantsOf(target.licenseKey)).toHaveLength(1);
  });
});

describe('routing', () => {
  it.each([
    ['GET', '/', 'POST'],
    ['PUT', '/', 'POST'],
    ['DELETE', '/register', 'GET, POST'],
    ['PATCH', '/link', 'GET, POST'],
    ['POST', '/link/callback', 'GET'],
    ['HEAD', '/register', 'GET, POST'],
  ])('%s %s → 405 with Allow: %s', async (method, path, allow) => {
    const result = await fulfillmentFails(() => h.invoke({ method, path }));
    expect(result.statusCode).toBe(405);
    expect(result.headers.allow).toBe(allow);
  });

  it('an unknown path → 404', async () => {
    const result = await fulfillmentFails(() => h.invoke({ method: 'POST', path: '/wp-admin/setup.php' }));
    expect(result.statusCode).toBe(404);
  });

  it('sends the security headers on every page', async () => {
    const result = await h.invoke({ method: 'GET', path: '/' });
    expect(result.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
    expect(result.headers['content-security-policy']).toContain("default-src 'none'");
    expect(result.headers['content-security-policy']).toContain("form-action 'self'");
    // middy's set beyond the hand-written one; none of its policy directives that would break our forms.
    expect(result.headers).toMatchObject({
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'cross-origin-opener-policy': 'same-origin',
    });
    expect(result.headers['permissions-policy']).toContain('camera=()');
    expect(result.headers['content-security-policy']).not.toMatch(
      /sandbox|upgrade-insecure-requests|navigate-to/,
    );
  });
});

describe('the registration session', () => {
  it('is a sealed HttpOnly, Secure, SameSite=Lax cookie that does not contain the token', async () => {
    const { token } = buyer();
    const { result } = await flow.begin(token);
    const [setCookie, ...more] = result.cookies ?? [];
    expect(more).toEqual([]);
    expect(setCookie).toMatch(/^mb_registration=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; /);
    const attributes = (setCookie ?? '').split('; ').slice(1);
    expect(attributes).toEqual(['Path=/', 'Max-Age=1800', 'HttpOnly', 'Secure', 'SameSite=Lax']);
    expect(setCookie).not.toContain(token);
    expect(result.headers.location).toBe('/register');
  });

  it.each([
    ['no cookie', undefined],
    ['a garbage cookie', 'mb_registration=garbage'],
    [
      'a cookie sealed with another key',
      `mb_registration=${createSessionSealer('z'.repeat(64)).seal({ lk: 'x' }).cookieValue}`,
    ],
  ])('%s → 400 "session has expired"', async (_case, cookie) => {
    const result = await flow.registrationPage(cookie);
    expect(result.statusCode).toBe(400);
    expect(pageText(result.body)).toContain('Your registration session has expired');
  });

  it('a session for a license that does not exist → 400 on the page and on submit, nothing written', async () => {
    const { cookieValue, session } = h.sealer.seal({
      lk: 'arn:aws:license-manager::111111111111:license:l-gone',
    });
    const cookie = `mb_registration=${cookieValue}`;
    expect((await flow.registrationPage(cookie)).statusCode).toBe(400);
    const licensesBefore = await licenseCount();
    const writesBefore = h.saasusWrites();
    const submitted = await flow.submit(cookie, {
      csrf: h.sealer.csrfToken(session),
      ...validRegistration(),
    });
    expect(submitted.statusCode).toBe(400);
    expect(pageText(submitted.body)).toContain('Your registration session has expired');
    expect(await licenseCount()).toBe(licensesBefore);
    expect(h.saasusWrites()).toBe(writesBefore);
  });

  it('an expired session → 400', async () => {
    const { licenseKey, token } = buyer();
    await flow.begin(token);
    const stale = createSessionSealer(h.sessionKey, { now: () => Date.now() - 31 * 60_000 });
    const result = await flow.registrationPage(
      `mb_registration=${stale.seal({ lk: licenseKey }).cookieValue}`,
    );
    expect(result.statusCode).toBe(400);
  });
});

describe('the registration form', () => {
  /** A buyer on the registration page: cookie, CSRF token, and a snapshot of the world. */
  const onTheForm = async (lang?: string) => {
    const target = buyer();
    const { cookie } = await flow.begin(target.token);
    const page = await flow.registrationPage(cookie, lang);
    expect(page.statusCode).toBe(200);
    return { ...target, cookie, page, csrf: csrfFrom(page.body) };
  };

  /** Submits and checks that neither our record nor SaaSus, iDoperation or the bus changed. */
  const refusedSubmit = async (
    at: Awaited<ReturnType<typeof onTheForm>>,
    fields: Record<string, string>,
    lang?: string,
  ) => {
    const writesBefore = h.saasusWrites();
    const directoryBefore = h.idoperation.users().length;
    const eventsBefore = h.domainEvents().length;
    const result = await flow.submit(at.cookie, fields, lang);
    const license = await h.store.get(at.licenseKey);
    expect(license?.provisioning).toBeUndefined();
    expect(license?.tenantId).toBeUndefined();
    expect(h.saasusWrites()).toBe(writesBefore);
    expect(h.idoperation.users()).toHaveLength(directoryBefore);
    expect(h.domainEvents()).toHaveLength(eventsBefore);
    return result;
  };

  it.each([
    ['without a CSRF token', () => ({})],
    ['with a wrong CSRF token', () => ({ csrf: 'A'.repeat(43) })],
  ])('refuses a submit %s (403) and writes nothing', async (_case, csrf) => {
    const at = await onTheForm();
    const result = await refusedSubmit(at, { ...csrf(), ...validRegistration() });
    expect(result.statusCode).toBe(403);
    expect(pageText(result.body)).toContain('This request was refused');
  });

  it('refuses the CSRF token of another session (403)', async () => {
    const other = await onTheForm();
    const at = await onTheForm();
    const result = await refusedSubmit(at, { csrf: other.csrf, ...validRegistration() });
    expect(result.statusCode).toBe(403);
  });

  const fieldError = (html: string, field: string) =>
    new RegExp(
      `id="${field}"[^>]*aria-invalid="true" aria-describedby="${field}-error">\\n<p class="error" id="${field}-error">([^<]+)</p>`,
    ).exec(html)?.[1];

  it.each([
    ['tenantName', '', 'Enter your company or team name.', '会社名またはチーム名を入力してください。'],
    ['tenantName', 'x'.repeat(101), 'Use at most 100 characters.', '100 文字以内で入力してください。'],
    ['tenantName', 'Acme\u0007Corp', 'Remove control characters.', '制御文字を含めないでください。'],
    [
      'adminEmail',
      'not-an-email',
      'Enter a valid email address, e.g. name@example.com.',
      '有効なメールアドレスを入力してください(例: name@example.com)。',
    ],
    [
      'adminEmail',
      `${'a'.repeat(250)}@example.com`,
      'Enter a valid email address, e.g. name@example.com.',
      '有効なメールアドレスを入力してください(例: name@example.com)。',
    ],
    ['adminName', '   ', "Enter the administrator's name.", '管理者の氏名を入力してください。'],
    ['adminName', 'n'.repeat(65), 'Use at most 64 characters.', '64 文字以内で入力してください。'],
  ])(
    '%s = %j → 400 with the message next to the field, in English and Japanese',
    async (field, value, en, ja) => {
      for (const [lang, message] of [
        ['en-US,en;q=0.9', en],
        ['ja,en-US;q=0.8', ja],
      ] as const) {
        const at = await onTheForm(lang);
        const fields = { csrf: at.csrf, ...validRegistration(), [field]: value };
        const result = await refusedSubmit(at, fields, lang);
        expect(result.statusCode).toBe(400);
        expect(result.body).toContain(`<html lang="${lang.slice(0, 2)}">`);
        expect(fieldError(result.body, field)).toBe(
          message.replaceAll("'", '&#39;').replaceAll('/', '&#47;'),
        );
        // Only the bad field is marked; the others keep what the buyer typed.
        for (const other of ['tenantName', 'adminEmail', 'adminName'].filter((name) => name !== field)) {
          expect(fieldError(result.body, other)).toBeUndefined();
          expect(result.body).toContain(`id="${other}"`);
        }
        // The form can be submitted again: same session, a CSRF token for it.
        expect(csrfFrom(result.body)).toBe(at.csrf);
      }
    },
  );

  it('renders the registration page and error pages in Japanese for Accept-Language: ja', async () => {
    const at = await onTheForm('ja');
    expect(at.page.body).toContain('<html lang="ja">');
    expect(pageText(at.page.body)).toContain('アカウントの設定');
    expect(pageText(at.page.body)).toContain('既存のアカウントに紐付ける');
    const english = await flow.registrationPage(at.cookie, 'en');
    expect(pageText(english.body)).toContain('Set up your account');

    const invalid = await fulfillmentFails(() => flow.fulfill('dW5rbm93bg', {}, 'ja'));
    expect(invalid.body).toContain('<html lang="ja">');
    expect(pageText(invalid.body)).toContain(
      'AWS Marketplace に戻り、「アカウントを設定」をもう一度クリックしてください。',
    );
  });

  it('escapes everything it echoes', async () => {
    const at = await onTheForm();
    const hostile = {
      tenantName: `"><script>alert('tenant')</script>`,
      adminEmail: `"onfocus="alert(1)" autofocus="`,
      adminName: `<img src=x onerror=alert(2)>`,
    };
    const result = await refusedSubmit(at, { csrf: at.csrf, ...hostile });
    expect(result.statusCode).toBe(400);
    // The brand's logo is the one image the page has.
    expect(result.body.replace(/<img class="logo" [^>]*>/, '')).not.toMatch(
      /<script|<img|onerror=|"onfocus/i,
    );
    expect(result.body).toContain(
      'value="&quot;&gt;&lt;script&gt;alert(&#39;tenant&#39;)&lt;&#47;script&gt;"',
    );
    expect(result.body).toContain('value="&lt;img src&#61;x onerror&#61;alert(2)&gt;"');
    expect(result.body).toContain('value="&quot;onfocus&#61;&quot;alert(1)&quot; autofocus&#61;&quot;"');
  });
});

describe('the token stays out of URLs and logs', () => {
  it('appears in no Location header and no log line, on the happy path and the error paths', async () => {
    const logsBefore = h.logs.length;
    // Happy path.
    const happy = buyer();
    const { cookie } = await flow.begin(happy.token);
    await h.activate(happy.licenseKey);
    const { result } = await flow.register(cookie, validRegistration());
    expect(result.statusCode).toBe(200);
    // A returning buyer, an unknown product, throttling, and an unplanned failure.
    await flow.fulfill(
      h.marketplace.mintToken({ customerAwsAccountId: happy.account, licenseArn: happy.licenseKey }),
    );
    await flow.fulfill(buyer({ productCode: 'anotherproduct' }).token);
    const throttled = buyer();
    h.marketplace.faults.failNext('ResolveCustomer', 'ThrottlingException', 3);
    expect((await flow.fulfill(throttled.token)).statusCode).toBe(503);
    const broken = buyer();
    h.marketplace.faults.failNext('ResolveCustomer', 'DisabledApiException');
    expect((await flow.fulfill(broken.token)).statusCode).toBe(500);
    const invalid = `${buyer().token}x`;
    tokens.push(invalid);
    expect((await flow.fulfill(invalid)).statusCode).toBe(400);

    const lines = h.logs.slice(logsBefore);
    expect(lines.some((line) => line.includes('Registration token resolved'))).toBe(true);
    expect(lines.some((line) => line.includes('Dependency unavailable'))).toBe(true);
    expect(lines.some((line) => line.includes('Sign-up failed'))).toBe(true);
    expect(lines.some((line) => line.includes('SaaSus API call'))).toBe(true);
    for (const token of tokens) {
      for (const line of h.logs) expect(line).not.toContain(token);
      for (const response of responses) {
        expect(response.headers.location ?? '').not.toContain(token);
        for (const setCookie of response.cookies ?? []) expect(setCookie).not.toContain(token);
      }
    }
    expect(responses.filter((response) => response.headers.location).length).toBeGreaterThan(3);
    expect(tokens.length).toBeGreaterThan(10);
  });
});
