import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Branding } from '#shared/branding';
import { createPages, pageTextKeys } from '#shared/signup/pages';
import { launchChromium } from '../support/chromium.js';
import {
  type SignUpHarness,
  startHttpGateway,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * The seller's brand in a real browser: every page of the sign-up flow (registration, finish,
 * link, error) in English and Japanese, at desktop and phone width, with a sample brand. Each
 * screenshot lands in `test-output/brand-*.png`. A second part renders pages whose brand texts all
 * carry a `<script>`, served without the CSP, to show escaping alone keeps them inert.
 */

const screenshots = 'test-output';

const sampleBrand = {
  productName: 'Nimbus Analytics',
  sellerName: 'Nimbus Data KK',
  logoSvg:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="10" fill="#5b21b6"/><circle cx="15" cy="22" r="7" fill="#fff"/><circle cx="24" cy="17" r="9" fill="#fff"/><rect x="8" y="22" width="25" height="7" rx="3.5" fill="#fff"/></svg>',
  accentColor: '#5b21b6',
  supportUrl: 'https://help.nimbus.example/contact',
  supportEmail: 'support@nimbus.example',
  termsUrl: 'https://nimbus.example/terms',
  privacyUrl: 'https://nimbus.example/privacy',
  marketplaceUrl: 'https://aws.amazon.com/marketplace/pp/prodview-nimbus',
  text: { ja: { title: 'Nimbus Analytics のアカウント設定' } },
};

let h: SignUpHarness;
let gateway: Awaited<ReturnType<typeof startHttpGateway>>;
let marketplace: Server;
let marketplaceUrl: string;
let appUrl: string;
let browser: Browser;
/** The token the Marketplace page posts, per path it is served at. */
const tokens = new Map<string, string>();

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  h = await startSignUpHarness({
    configure: (input) => {
      (input as Record<string, unknown>).branding = sampleBrand;
    },
  });
  gateway = await startHttpGateway((request) => h.invoke(request));
  appUrl = `http://localhost:${gateway.port}`;
  marketplace = createServer((request, response) => {
    const token = tokens.get(new URL(request.url ?? '/', 'http://marketplace').pathname);
    if (!token) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><body><form method="post" action="${appUrl}/">
<input type="hidden" name="x-amzn-marketplace-token" value="${token}"></form>
<script>document.forms[0].submit();</script></body></html>`);
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

const devices = {
  desktop: { viewport: { width: 1280, height: 860 } },
  mobile: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;

/** Collects what Chromium reports about blocked content (a CSP that stops the logo, for one). */
const watchConsole = (page: Page) => {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return problems;
};

/** The brand in the header, the logo loaded, support and AWS Marketplace in the footer. */
const expectBranded = async (page: Page) => {
  await expect(page.locator('header .product').textContent()).resolves.toBe(sampleBrand.productName);
  await expect(page.locator('header .seller').textContent()).resolves.toContain(sampleBrand.sellerName);
  await expect(page.title()).resolves.toMatch(/ · Nimbus Analytics$/);
  await expect(page.locator('footer a[data-link=support]').getAttribute('href')).resolves.toBe(
    sampleBrand.supportUrl,
  );
  await expect(page.locator('footer a[data-link=marketplace]').getAttribute('href')).resolves.toBe(
    sampleBrand.marketplaceUrl,
  );
  await expect(page.locator('footer a[data-link=terms]').getAttribute('href')).resolves.toBe(
    sampleBrand.termsUrl,
  );
  // The CSP lets the logo load: the image has decoded pixels.
  const logoWidth = await page
    .locator('img.logo')
    .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
  expect(logoWidth).toBeGreaterThan(0);
};

const shoot = (page: Page, name: string, lang: string, device: string) =>
  page.screenshot({ path: `${screenshots}/brand-${name}-${lang}-${device}.png`, fullPage: true });

describe('the sign-up pages carry the seller brand', () => {
  for (const lang of ['en', 'ja'] as const) {
    for (const device of ['desktop', 'mobile'] as const) {
      it(`in ${lang} at ${device} width: registration, finish, link and error pages`, async () => {
        const context: BrowserContext = await browser.newContext({
          ...devices[device],
          locale: lang === 'ja' ? 'ja-JP' : 'en-US',
        });
        const page = await context.newPage();
        const problems = watchConsole(page);

        // Registration, then the finish page.
        const buyer = h.newBuyer();
        tokens.set(`/${lang}-${device}/buyer`, buyer.token);
        await page.goto(`${marketplaceUrl}/${lang}-${device}/buyer`);
        await page.waitForURL(`${appUrl}/register`);
        await expect(page.locator('h1').textContent()).resolves.toBe(
          lang === 'ja' ? 'Nimbus Analytics のアカウント設定' : 'Set up your account',
        );
        await expectBranded(page);
        await shoot(page, 'registration', lang, device);
        await h.activate(buyer.licenseKey);
        const form = validRegistration();
        await page.fill('#tenantName', form.tenantName);
        await page.fill('#adminEmail', form.adminEmail);
        await page.fill('#adminName', form.adminName);
        await page.click('button[type=submit]');
        await expect(page.locator('h1').textContent()).resolves.toBe(
          lang === 'ja' ? 'アカウントの準備ができました' : 'Your account is ready',
        );
        await expectBranded(page);
        await shoot(page, 'finish', lang, device);

        // Link: back from the SaaSus sign-in with a code, choosing among administered tenants.
        const linker = h.newBuyer();
        tokens.set(`/${lang}-${device}/linker`, linker.token);
        await page.goto(`${marketplaceUrl}/${lang}-${device}/linker`);
        await page.waitForURL(`${appUrl}/register`);
        const email = `owner-${crypto.randomUUID().slice(0, 8)}@existing.example`;
        const userId = String(h.saasus.seedUser({ email }).id);
        for (const name of ['Nimbus Tokyo', 'Nimbus Osaka']) {
          const tenant = h.saasus.seedTenant({ name, back_office_staff_email: 'backoffice@example.com' });
          await h.saasusClient.createTenantUser(String(tenant.id), { email, attributes: {} });
          await h.saasusClient.addTenantUserRoles(String(tenant.id), userId, h.config.saasus.envId, [
            ...h.config.saasus.adminRoleNames,
          ]);
        }
        // Start the link as the page's button does (the session cookie gets its single-use state;
        // the browser context's request shares its cookies); SaaSus would send the buyer back with
        // the code and that state.
        const started = await page.request.get(`${appUrl}/link`, { maxRedirects: 0 });
        const state = new URL(started.headers().location ?? '', appUrl).searchParams.get('state') ?? '';
        expect(state).not.toBe('');
        const { code } = h.saasus.mintUserCredentials(userId);
        await page.goto(
          `${appUrl}/link/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`,
        );
        expect(await page.locator('ul.tenants li').count()).toBe(2);
        await expectBranded(page);
        await shoot(page, 'link', lang, device);

        // Error: a registration token AWS Marketplace does not know.
        tokens.set(`/${lang}-${device}/stale`, 'not-a-valid-registration-token');
        const error = await page.goto(`${marketplaceUrl}/${lang}-${device}/stale`);
        await page.waitForURL(`${appUrl}/`);
        expect(error?.status()).toBe(200); // the Marketplace page; the post answers below
        await expect(page.locator('h1').textContent()).resolves.toBe(
          lang === 'ja' ? 'このリンクは有効期限が切れています' : 'This link is no longer valid',
        );
        await expectBranded(page);
        await expect(page.locator('a[data-action=marketplace]').getAttribute('href')).resolves.toBe(
          sampleBrand.marketplaceUrl,
        );
        await expect(page.locator('a[data-action=support]').getAttribute('href')).resolves.toBe(
          sampleBrand.supportUrl,
        );
        await shoot(page, 'error', lang, device);

        // Nothing was blocked or failed in the page (the 400 of the error page itself aside).
        expect(problems.filter((problem) => !/status of 400/.test(problem))).toEqual([]);
        await context.close();
      }, 90_000);
    }
  }
});

describe('a <script> in brand text', () => {
  it('is shown as text and never runs, on every page, even without the CSP', async () => {
    const payload = (where: string) => `<script>window.__ran=(window.__ran||[]).concat("${where}")</script>`;
    const overrides = Object.fromEntries(pageTextKeys().map((key) => [key, `${key} ${payload(key)}`]));
    const hostile: Branding = {
      productName: `Acme ${payload('productName')}`,
      sellerName: `"><img src=x onerror="window.__ran=['seller']">${payload('sellerName')}`,
      // Refused at synth; rendered as an image it could not run anyway.
      logoSvg: `<svg xmlns="http://www.w3.org/2000/svg" onload="window.parent.__ran=['svg']"><script>window.parent.__ran=['svg-script']</script><rect width="9" height="9"/></svg>`,
      accentColor: '#0b5cad',
      supportUrl: 'https://help.example.com/',
      marketplaceUrl: 'https://aws.amazon.com/marketplace',
      text: { en: overrides, ja: overrides },
    };
    const pages = createPages(hostile);
    const documents = (['en', 'ja'] as const).flatMap((lang) => [
      pages.registrationPage({
        lang,
        csrfToken: 't',
        linkUrl: '/link',
        values: { tenantName: payload('value') },
      }),
      pages.finishPage({ lang, outcome: 'ready', signInUrl: 'https://app.example.com/' }),
      pages.tenantChoicePage({
        lang,
        csrfToken: 't',
        tenants: [{ id: '1', name: payload('tenant') }],
        signedInAs: payload('user'),
        awsAccountId: '123456789012',
      }),
      pages.errorPage(lang, 'internal'),
    ]);
    // Served without any Content-Security-Policy: escaping alone has to make them inert.
    const server = createServer((request, response) => {
      const index = Number(new URL(request.url ?? '/', 'http://x').pathname.slice(1));
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(documents[index] ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    try {
      for (const [index] of documents.entries()) {
        await page.goto(`${base}/${index}`);
        await page.waitForLoadState('load');
        await expect(page.evaluate('window.__ran')).resolves.toBeUndefined();
        await expect(page.locator('header .product').textContent()).resolves.toContain('<script>');
        expect(await page.locator('script').count()).toBe(0);
      }
      expect(dialogs).toEqual([]);
      await page.screenshot({ path: `${screenshots}/brand-script-inert.png`, fullPage: true });
    } finally {
      await context.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 60_000);
});
