import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '#sandbox/index';
import { launchChromium } from '../support/chromium.js';
import { onlyProduct } from '../support/config.js';

/**
 * The sandbox's buyer simulator and dashboard in a real browser (Debian Chromium driven by
 * playwright-core), the way a developer uses them after `npm start`: subscribe, register, record
 * usage, advance the clock, end the agreement and deprovision the license, then read the outcome
 * on the dashboard. Screenshots of every page go to test-output/ (gitignored).
 */

const screenshots = 'test-output';
/** Twenty past an hour: the usage lands inside one hour and "Advance one hour" passes the hourly run. */
const start = new Date('2026-11-22T09:20:00Z');

let sandbox: Sandbox;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  sandbox = await startSandbox({ port: 0, handlerLogs: false, log: () => {}, clock: { start } });
  browser = await launchChromium();
  context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await sandbox?.close();
});

const shot = (name: string) =>
  page.screenshot({ path: `${screenshots}/sandbox-${name}.png`, fullPage: true });

/** A card of the page, by its heading. */
const card = (heading: string | RegExp): Locator =>
  page.locator('section.card').filter({ has: page.getByRole('heading', { level: 2, name: heading }) });

const flash = () => page.locator('p.flash').textContent();

/** The cells of a table's body rows, as text. */
const rows = (table: Locator): Promise<string[][]> =>
  table
    .locator('tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) =>
        Array.from((tr as unknown as { cells: ArrayLike<{ textContent: string | null }> }).cells, (cell) =>
          (cell.textContent ?? '').trim(),
        ),
      ),
    );

/** Submits the form that holds the button and waits for the page it leads to. */
const press = async (scope: Locator, button: string | RegExp) => {
  await Promise.all([
    page.waitForEvent('framenavigated'),
    scope.getByRole('button', { name: button }).click(),
  ]);
  await page.waitForLoadState('load');
};

const state = async () =>
  (await (await fetch(`${sandbox.url}/api/state`)).json()) as {
    licenses: { licenseKey: string; status: string; tenantId?: string }[];
    saasus: { tenants: { id: string; name: string; plan_id?: string }[] };
  };

describe('the sandbox in Chromium', () => {
  it('walks a purchase from subscription to deprovisioning and shows it on the dashboard', async () => {
    const config = sandbox.config;
    await page.goto(`${sandbox.url}/`);
    await expect(page.title()).resolves.toBe('Buyer simulator · Marketplace Bridge sandbox');
    await shot('1-buyer-simulator');

    // 1. Subscribe: the simulator posts the token to the fulfillment URL, which shows registration.
    const subscribe = card(/Subscribe on AWS Marketplace/);
    await subscribe.getByLabel('Buyer AWS account').selectOption('444455556666');
    // A subscription listing grants no entitlement: the page says so instead of offering a plan.
    await expect(subscribe.locator('[data-plan-note]').textContent()).resolves.toContain(
      'every new subscriber gets the default plan (basic)',
    );
    await expect(subscribe.getByLabel('Dimension / plan').count()).resolves.toBe(0);
    await subscribe.getByRole('button', { name: 'Subscribe and set up the account' }).click();
    await page.waitForURL(`${sandbox.url}/fulfillment/register`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Set up your account');
    await shot('2-registration');

    // AWS's purchase events arrive while the buyer fills in the form.
    await sandbox.settle();
    const [license] = (await state()).licenses;
    expect(license?.status).toBe('active');

    await page.fill('#tenantName', 'Walkthrough Ltd');
    await page.fill('#adminEmail', 'grace@walkthrough.example');
    await page.fill('#adminName', 'Grace Walkthrough');
    await page.click('button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Your account is ready');
    await shot('3-account-ready');
    await sandbox.settle();
    // "Sign in" leads to the page standing in for the SaaS sign-in, which leads back.
    await page.getByRole('link', { name: 'Sign in' }).click();
    await expect(page.locator('h2').textContent()).resolves.toBe('Here the buyer signs in to your SaaS');
    await shot('3b-saas-sign-in');
    await page.locator('main').getByRole('link', { name: 'buyer simulator' }).click();
    await page.waitForURL(`${sandbox.url}/`);

    // 2. The SaaS records usage (SaaSus API), from the buyer simulator.
    const saas = card(/What the SaaS does/);
    await saas.getByLabel('Metering unit').selectOption('api_calls');
    await saas.getByLabel('Count').fill('120');
    await press(saas, 'Record usage now');
    await expect(flash()).resolves.toMatch(/^Recorded add 120 api_calls for tenant /);
    await shot('4-usage-recorded');

    // 3. Advance the clock one hour on the dashboard: the hourly metering bills the hour.
    await page.goto(`${sandbox.url}/dashboard`);
    await press(card('Simulated clock'), 'Advance one hour');
    await expect(flash()).resolves.toMatch(/^Clock advanced 60 minutes to 2026-11-22T10:2\dZ; ran .*@ 10:05/);
    // The dashboard refreshes itself (twice here: the first refresh is applied by the second);
    // the message of the last action stays.
    for (let refresh = 0; refresh < 2; refresh++)
      await page.waitForResponse((response) => response.url().endsWith('/dashboard?partial=1'));
    await expect(flash()).resolves.toMatch(/^Clock advanced 60 minutes/);
    const metering = card(/Metering: ledger vs\. what Marketplace billed/);
    const billed = await rows(metering.locator('table').nth(1));
    expect(billed.map(([, dimension, hour, quantity]) => [dimension, hour, quantity])).toEqual(
      expect.arrayContaining([['api_calls', '2026-11-22 09:00:00', '120']]),
    );
    const ledger = await rows(metering.locator('table').first());
    // Each ledger record shows the product whose license it bills.
    expect(
      ledger.map(([, product, dimension, hour, quantity, status]) => [
        product,
        dimension,
        hour,
        quantity,
        status,
      ]),
    ).toEqual(
      expect.arrayContaining([
        [onlyProduct(sandbox.config).productCode, 'api_calls', '2026-11-22 09:00:00', '120', 'accepted'],
      ]),
    );
    await shot('5-dashboard-billed');

    // 4. End the agreement, then AWS deprovisions the license.
    await page.goto(`${sandbox.url}/`);
    const later = card(/What AWS does later/);
    await press(later, 'Agreement ended');
    await expect(flash()).resolves.toContain('Emitted "Purchase Agreement Ended - Proposer"');
    await press(later, 'License deprovisioned');
    await expect(flash()).resolves.toContain('Emitted "License Deprovisioned - Manufacturer"');
    // The page comes back once the handlers are done: the purchase shows the license ended.
    const [purchase] = await rows(later.locator('table'));
    expect(purchase?.[4]).toBe('ended');
    // The bridge's license status, and the tenant it belongs to.
    expect(purchase?.[5]).toMatch(/^ended/);
    expect(purchase?.[5]).toContain('Walkthrough Ltd');
    await shot('6-deprovisioned');

    // 5. The dashboard shows the tenant, the billed records and the revoked license.
    await page.goto(`${sandbox.url}/dashboard`);
    const licenses = card(/^Licenses/);
    await expect(licenses.locator('.badge').first().textContent()).resolves.toBe('ended');
    const tenants = card('SaaSus');
    await expect(tenants.locator('table').first().textContent()).resolves.toContain('Walkthrough Ltd');
    await expect(tenants.locator('table').first().textContent()).resolves.toContain(
      'grace@walkthrough.example',
    );
    await expect(card('iDoperation users').locator('.badge').first().textContent()).resolves.toBe('disabled');
    const events = await card('Events').textContent();
    for (const detailType of ['License Activated', 'License Ending', 'License Revoked', 'Metering Stopped'])
      expect(events).toContain(detailType);
    await shot('7-dashboard-revoked');

    const data = await state();
    const tenant = data.saasus.tenants.find((candidate) => candidate.name === 'Walkthrough Ltd');
    expect(tenant?.plan_id).toBe(onlyProduct(config).plans.revokedPlanId);
  }, 120_000);

  for (const [locale, lang, texts] of [
    [
      'en-US',
      'en',
      {
        link: 'Link this subscription to my existing account',
        choose: 'Choose the account to link',
        done: 'Subscription linked',
        confirm: 'I want to attach',
      },
    ],
    [
      'ja-JP',
      'ja',
      {
        link: 'このサブスクリプションを既存のアカウントに紐付ける',
        choose: '紐付けるアカウントを選択',
        done: 'サブスクリプションを紐付けました',
        confirm: 'AWS アカウント',
      },
    ],
  ] as const) {
    it(`links a subscription to an existing account through the stand-in SaaSus sign-in (${lang})`, async () => {
      const linking = await browser.newContext({ locale, viewport: { width: 1200, height: 900 } });
      const tab = await linking.newPage();
      const snap = (name: string) =>
        tab.screenshot({ path: `${screenshots}/sandbox-link-${lang}-${name}.png`, fullPage: true });
      await tab.goto(`${sandbox.url}/`);
      const subscribe = tab
        .locator('section.card')
        .filter({ has: tab.getByRole('heading', { level: 2, name: /Subscribe on AWS Marketplace/ }) });
      const account = lang === 'en' ? '111122223333' : '777788889999';
      await subscribe.getByLabel('Buyer AWS account').selectOption(account);
      await subscribe.getByRole('button', { name: 'Subscribe and set up the account' }).click();
      await tab.waitForURL(`${sandbox.url}/fulfillment/register`);
      // The registration page names the subscription's AWS account.
      await expect(tab.locator('p.account').textContent()).resolves.toContain(account);
      await snap('1-register');

      await tab.getByRole('link', { name: texts.link }).click();
      await expect(tab.locator('h1').textContent()).resolves.toBe('SaaSus sign-in');
      await snap('2-saasus-sign-in');
      const email = `owner-${lang}@existing.example`;
      await tab.fill('input[name=email]', email);
      await tab.fill('input[name=tenantName]', `Existing ${lang} Ltd`);
      await tab.getByRole('button', { name: 'Create and sign in' }).click();
      await tab.waitForURL(/\/fulfillment\/link\/callback\?/);
      await expect(tab.locator('h1').textContent()).resolves.toBe(texts.choose);
      const choice = await tab.locator('main').textContent();
      expect(choice).toContain(email);
      expect(choice).toContain(account);
      expect(choice).toContain(texts.confirm);
      await snap('3-choose');

      await tab.check('input[name=confirm]');
      await tab.locator('main button[type=submit]').click();
      await expect(tab.locator('h1').textContent()).resolves.toBe(texts.done);
      await snap('4-linked');
      await sandbox.settle();
      const linked = (await state()).saasus.tenants.find((tenant) => tenant.name === `Existing ${lang} Ltd`);
      const license = (await state()).licenses.find((candidate) => candidate.tenantId === linked?.id);
      expect(license).toBeDefined();
      await linking.close();
    }, 120_000);
  }
});
