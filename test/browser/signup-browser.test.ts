import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LICENSE_ATTRIBUTE } from '#shared/signup/provisioning';
import { launchChromium } from '../support/chromium.js';
import { onlyProduct } from '../support/config.js';
import {
  type HttpResult,
  type SignUpHarness,
  startHttpGateway,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * The sign-up flow in a real browser (Debian Chromium driven by playwright-core). AWS Marketplace
 * is played by a page on another origin that auto-submits the registration token form, as the
 * real "Set up your account" button does. The app is served on http://localhost through a small
 * HTTP-to-payload-v2 gateway; Chromium treats http://localhost as a secure context, so it keeps
 * the session cookie although it is `Secure` (asserted below rather than assumed).
 */

const screenshots = 'test-output';

let h: SignUpHarness;
let gateway: Awaited<ReturnType<typeof startHttpGateway>>;
let marketplace: Server;
let marketplaceUrl: string;
let appUrl: string;
let browser: Browser;
/** The token the Marketplace page posts, per path it is served at. */
const pages = new Map<string, string>();
/** Every response the gateway returned. */
const answered: HttpResult[] = [];

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  h = await startSignUpHarness();
  gateway = await startHttpGateway(async (request) => {
    const result = await h.invoke(request);
    answered.push(result);
    return result;
  });
  appUrl = `http://localhost:${gateway.port}`;
  marketplace = createServer((request, response) => {
    const token = pages.get(new URL(request.url ?? '/', 'http://marketplace').pathname);
    if (!token) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><body>
<p>Redirecting you to the seller…</p>
<form method="post" action="${appUrl}/" enctype="application/x-www-form-urlencoded">
<input type="hidden" name="x-amzn-marketplace-token" value="${token}">
</form>
<script>document.forms[0].submit();</script>
</body></html>`);
  });
  await new Promise<void>((resolve) => marketplace.listen(0, '127.0.0.1', resolve));
  marketplaceUrl = `http://127.0.0.1:${(marketplace.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (marketplace ? marketplace.close(() => resolve()) : resolve()));
  await gateway?.close();
  await h?.close();
});

/** Records every URL the page requested or navigated to, and every Location it was sent to. */
const recordUrls = (page: Page) => {
  const urls: string[] = [];
  page.on('request', (request) => {
    urls.push(request.url());
    const redirectedFrom = request.redirectedFrom();
    if (redirectedFrom) urls.push(redirectedFrom.url());
  });
  page.on('framenavigated', (frame) => urls.push(frame.url()));
  page.on('response', (response) => {
    const location = response.headers().location;
    if (location) urls.push(location);
  });
  return urls;
};

describe('signing up in Chromium', () => {
  it('goes from the Marketplace form post to a provisioned SaaSus tenant, with the token in no URL', async () => {
    const buyer = h.newBuyer();
    const form = validRegistration();
    pages.set('/buyer/setup-account', buyer.token);
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const urls = recordUrls(page);
    const posts: { url: string; body: string | null }[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push({ url: request.url(), body: request.postData() });
    });

    await page.goto(`${marketplaceUrl}/buyer/setup-account`);
    await page.waitForURL(`${appUrl}/register`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Set up your account');
    // The token travelled in the POST body only.
    expect(posts[0]).toEqual({
      url: `${appUrl}/`,
      body: new URLSearchParams({ 'x-amzn-marketplace-token': buyer.token }).toString(),
    });
    // Chromium kept the Secure cookie on http://localhost (a secure context) and sent it back.
    const cookies = await context.cookies(appUrl);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: 'mb_registration',
      domain: 'localhost',
      path: '/',
      secure: true,
      httpOnly: true,
      sameSite: 'Lax',
    });
    expect(cookies[0]?.value).not.toContain(buyer.token);
    // HttpOnly: page scripts cannot read it (the tsconfig has no DOM types, hence the string).
    await expect(page.evaluate('document.cookie')).resolves.toBe('');
    await page.screenshot({ path: `${screenshots}/signup-1-register.png`, fullPage: true });

    // A mistake first: the message appears next to the field and the other values stay.
    await page.fill('#tenantName', form.tenantName);
    await page.fill('#adminEmail', 'not-an-email');
    await page.fill('#adminName', form.adminName);
    await page.click('button[type=submit]');
    await expect(page.locator('#adminEmail-error').textContent()).resolves.toContain(
      'Enter a valid email address',
    );
    await expect(page.inputValue('#tenantName')).resolves.toBe(form.tenantName);
    await page.screenshot({ path: `${screenshots}/signup-2-field-error.png`, fullPage: true });
    expect(h.tenantsOf(buyer.licenseKey)).toEqual([]);

    // The agreement event arrives, the buyer corrects the address and submits.
    await h.activate(buyer.licenseKey);
    await page.fill('#adminEmail', form.adminEmail);
    await page.click('button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Your account is ready');
    await expect(page.locator('a.button').getAttribute('href')).resolves.toBe(h.config.saasus.signInUrl);
    await page.screenshot({ path: `${screenshots}/signup-3-ready.png`, fullPage: true });

    const [tenant, ...others] = h.tenantsOf(buyer.licenseKey);
    expect(others).toEqual([]);
    expect(tenant).toMatchObject({
      name: form.tenantName,
      attributes: { [LICENSE_ATTRIBUTE]: buyer.licenseKey },
      plan_id: onlyProduct(h.config).plans.defaultPlanId,
    });
    const members = h.saasus.state.tenantUsers(String(tenant?.id));
    expect(members.map((member) => member.email)).toEqual([form.adminEmail]);
    expect(h.idoperation.users().filter((user) => user.login_id === form.adminEmail)).toHaveLength(1);
    // The finish page ended the session.
    expect(await context.cookies(appUrl)).toEqual([]);

    expect(urls.length).toBeGreaterThanOrEqual(6);
    expect(urls).toContain(`${appUrl}/register`);
    for (const url of [...urls, page.url()]) {
      expect(url).not.toContain(buyer.token);
      expect(decodeURIComponent(url)).not.toContain(buyer.token);
    }
    for (const result of answered) expect(result.headers.location ?? '').not.toContain(buyer.token);
    await context.close();
  }, 60_000);

  it('shows the registration page in Japanese to a Japanese browser', async () => {
    const buyer = h.newBuyer();
    pages.set('/buyer/ja', buyer.token);
    const context = await browser.newContext({ locale: 'ja-JP' });
    const page = await context.newPage();
    const urls = recordUrls(page);
    await page.goto(`${marketplaceUrl}/buyer/ja`);
    await page.waitForURL(`${appUrl}/register`);
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('ja');
    await expect(page.locator('h1').textContent()).resolves.toBe('アカウントの設定');
    await page.click('button[type=submit]');
    await expect(page.locator('#tenantName-error').textContent()).resolves.toBe(
      '会社名またはチーム名を入力してください。',
    );
    await page.screenshot({ path: `${screenshots}/signup-4-ja-errors.png`, fullPage: true });
    for (const url of urls) expect(url).not.toContain(buyer.token);
    await context.close();
  }, 60_000);

  for (const [locale, lang, title] of [
    ['en-US', 'en', 'This sign-in cannot be used'],
    ['ja-JP', 'ja', 'このサインインは使用できません'],
  ] as const) {
    it(`refuses a link callback this browser did not start, with a page that says what to do (${lang})`, async () => {
      const buyer = h.newBuyer();
      pages.set(`/buyer/callback-${lang}`, buyer.token);
      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      await page.goto(`${marketplaceUrl}/buyer/callback-${lang}`);
      await page.waitForURL(`${appUrl}/register`);
      await expect(page.locator('p.account strong').textContent()).resolves.toBe(buyer.account);
      await page.screenshot({ path: `${screenshots}/signup-5-${lang}-register-account.png`, fullPage: true });
      // Someone else's temporary code, without this session's state (login CSRF).
      const refused = await page.goto(`${appUrl}/link/callback?code=${crypto.randomUUID()}`);
      expect(refused?.status()).toBe(400);
      await expect(page.locator('h1').textContent()).resolves.toBe(title);
      await page.screenshot({ path: `${screenshots}/signup-6-${lang}-link-refused.png`, fullPage: true });
      await context.close();
    }, 60_000);
  }
});
