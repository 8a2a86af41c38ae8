import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { ADDON_PRODUCT_CODE, withAddonProduct } from '../support/config.js';
import {
  browserFlow,
  csrfFrom,
  pageText,
  type SignUpHarness,
  sessionCookieFrom,
  startHttpGateway,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * A buyer who already has an account for one listing buys another: in Chromium, the registration
 * page offers that account and one click adds the subscription to it (en and ja screenshots).
 */

const screenshots = 'test-output';

let h: SignUpHarness;
let gateway: Awaited<ReturnType<typeof startHttpGateway>>;
let marketplace: Server;
let marketplaceUrl: string;
let appUrl: string;
let browser: Browser;
const pages = new Map<string, string>();

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  h = await startSignUpHarness({ configure: withAddonProduct });
  gateway = await startHttpGateway((request) => h.invoke(request));
  appUrl = `http://localhost:${gateway.port}`;
  marketplace = createServer((request, response) => {
    const token = pages.get(new URL(request.url ?? '/', 'http://marketplace').pathname);
    if (!token) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><body>
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

describe("adding a second listing to the buyer's account in Chromium", () => {
  for (const [locale, lang, action, linked] of [
    ['en-US', 'en', 'Add this subscription to that account', 'Subscription linked'],
    ['ja-JP', 'ja', 'このサブスクリプションをそのアカウントに追加する', 'サブスクリプションを紐付けました'],
  ] as const) {
    it(`offers the account of the first listing and adds the add-on to it (${lang})`, async () => {
      const flow = browserFlow(h.invoke);
      const first = h.newBuyer();
      const form = validRegistration();
      const cookie = sessionCookieFrom(await flow.fulfill(first.token));
      await h.activate(first.licenseKey);
      const registered = await flow.submit(cookie, {
        csrf: csrfFrom((await flow.registrationPage(cookie)).body),
        ...form,
      });
      expect(pageText(registered.body)).toContain('Your account is ready');
      const tenantId = (await h.store.get(first.licenseKey))?.tenantId;

      const addon = h.newBuyer({ account: first.account, productCode: ADDON_PRODUCT_CODE });
      pages.set(`/addon/${lang}`, addon.token);
      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      await page.goto(`${marketplaceUrl}/addon/${lang}`);
      await page.waitForURL(`${appUrl}/register`);
      await h.activate(addon.licenseKey);
      const offer = page.locator('form:has(input[name=attach])');
      await expect(offer.locator('strong').textContent()).resolves.toBe(form.tenantName);
      await expect(offer.locator('button').textContent()).resolves.toBe(action);
      await page.screenshot({
        path: `${screenshots}/signup-7-${lang}-second-listing-offer.png`,
        fullPage: true,
      });
      await offer.locator('button').click();
      await page.waitForLoadState();
      await expect(page.locator('h1').textContent()).resolves.toBe(linked);
      await page.screenshot({
        path: `${screenshots}/signup-8-${lang}-second-listing-added.png`,
        fullPage: true,
      });
      expect((await h.store.get(addon.licenseKey))?.tenantId).toBe(tenantId);
      await context.close();
    }, 60_000);
  }
});
