import { mkdirSync } from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '#sandbox/index';
import { launchChromium } from '../support/chromium.js';

/**
 * The sandbox dashboard at a glance: licenses by state, the ledger against what was billed, the
 * hourly chart, the event filter that survives the two-second refresh, the expected first-attempt
 * failure of a purchase event shown as a retry that succeeded, and companies by name.
 */

const screenshots = 'test-output';
/** Twenty past an hour: the usage lands inside one hour and one hour later it is billed. */
const start = new Date('2026-11-22T09:20:00Z');
const marketplaceSource = 'aws.agreement-marketplace';

let sandbox: Sandbox;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  sandbox = await startSandbox({ port: 0, handlerLogs: false, log: () => {}, clock: { start } });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.close();
});

const card = (page: Page, heading: string | RegExp): Locator =>
  page.locator('section.card').filter({ has: page.getByRole('heading', { level: 2, name: heading }) });

describe('the sandbox dashboard', () => {
  it('summarizes a purchase, filters events and labels the retried purchase event', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${sandbox.url}/`);
    await card(page, /Subscribe on AWS Marketplace/)
      .getByRole('button', { name: 'Subscribe and set up the account' })
      .click();
    await page.waitForURL(`${sandbox.url}/fulfillment/register`);
    // The purchase events arrived before the license existed; Lambda retries them a minute later.
    await sandbox.settle();
    await sandbox.advanceClock(3 * 60_000);
    await sandbox.settle();
    await page.fill('#tenantName', 'Glance Corp');
    await page.fill('#adminEmail', 'ada@glance.example');
    await page.fill('#adminName', 'Ada Glance');
    await page.click('button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Your account is ready');
    await sandbox.settle();
    const tenant = sandbox.emulators.saasus.state.tenants().find((entry) => entry.name === 'Glance Corp');
    await sandbox.saasus().updateMeteringCountNow(String(tenant?.id), 'api_calls', {
      method: 'add',
      count: 42,
    });
    await sandbox.advanceClock(60 * 60_000);
    await sandbox.settle();

    await page.goto(`${sandbox.url}/dashboard`);
    const glance = card(page, 'At a glance');
    await expect(glance.locator('[data-license-states]').textContent()).resolves.toContain('active 1');
    const match = await glance.locator('[data-billing-match]').textContent();
    expect(match).toContain('match');
    expect(match).toMatch(/ledger (\d+) records, quantity 42 · billed \1 records, quantity 42/);
    const bars = await glance
      .locator('.bar')
      .evaluateAll((nodes) => nodes.map((node) => (node as unknown as { title: string }).title));
    expect(bars).toHaveLength(12);
    expect(bars).toContain('09:00 UTC: 42');

    // The ledger and the billed records name the company, not a shortened ARN.
    const metering = card(page, /Metering: ledger/);
    await expect(metering.locator('tbody tr').first().locator('td').first().textContent()).resolves.toBe(
      'Glance Corp',
    );

    // The first attempt's LicenseNotLocatedError (when the purchase event overtakes the
    // fulfillment POST, which is a race) is a retry that succeeded, never a red failure.
    // The label's rule itself is checked without the race in test/unit/sandbox-dashboard.test.ts.
    const invocations = card(page, 'Recent invocations');
    const state = (await (await fetch(`${sandbox.url}/api/state`)).json()) as {
      invocations: { requestId: string; ok: boolean }[];
    };
    const succeeded = new Set(state.invocations.filter((row) => row.ok).map((row) => row.requestId));
    const retried = state.invocations.filter((row) => !row.ok && succeeded.has(row.requestId)).length;
    // Polled across the page's 2-second refreshes.
    await expect.poll(() => invocations.getByText('retried, then succeeded').count()).toBe(retried);
    await expect
      .poll(() => invocations.locator('.badge.bad', { hasText: 'LicenseNotLocatedError' }).count())
      .toBe(0);
    await page.screenshot({ path: `${screenshots}/sandbox-dashboard-en.png` });

    // The event filter narrows the routed events and the refresh keeps it.
    const events = card(page, 'Events');
    const sources = () =>
      events.locator('table').nth(1).locator('tbody tr td:nth-child(3) small').allTextContents();
    expect(new Set(await sources()).size).toBeGreaterThan(1);
    await Promise.all([
      page.waitForURL(/events=aws\.agreement-marketplace$/),
      events.getByRole('link', { name: new RegExp(`^${marketplaceSource.replaceAll('.', '\\.')}`) }).click(),
    ]);
    // Two refreshes: the first one's body is in place once the second is asked for.
    for (let refresh = 0; refresh < 2; refresh++)
      await page.waitForResponse((response) =>
        response.url().endsWith('/dashboard?events=aws.agreement-marketplace&partial=1'),
      );
    expect(new Set(await sources())).toEqual(new Set([marketplaceSource]));
    await expect(events.locator('[aria-current]').textContent()).resolves.toContain(marketplaceSource);
    await page.screenshot({ path: `${screenshots}/sandbox-dashboard-filtered-en.png`, fullPage: true });
    await context.close();
  }, 120_000);

  it('shows the summary on a Japanese browser too', async () => {
    const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${sandbox.url}/dashboard`);
    await expect(card(page, 'At a glance').locator('[data-billing-match]').textContent()).resolves.toContain(
      'match',
    );
    await page.screenshot({ path: `${screenshots}/sandbox-dashboard-ja.png` });
    await page.goto(`${sandbox.url}/`);
    await expect(page.locator('[data-plan-note]').textContent()).resolves.toContain('default plan');
    await page.screenshot({ path: `${screenshots}/sandbox-buyer-plan-ja.png` });
    await context.close();
  });
});
