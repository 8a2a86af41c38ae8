import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '#sandbox/index';
import { launchChromium } from '../support/chromium.js';

/**
 * What an operator trips over on the sandbox pages: the header's "+1 hour" stays on the page it
 * was pressed on, the pages fit a phone, the refresh leaves a text selection alone, and actions
 * AWS no longer sends for a deprovisioned license are disabled with the reason.
 */

const screenshots = 'test-output';
let sandbox: Sandbox;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  sandbox = await startSandbox({ port: 0, handlerLogs: false, log: () => {}, warm: false });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.close();
});

describe('sandbox pages for an operator', () => {
  it('"+1 hour" in the header advances the clock and stays on the dashboard', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${sandbox.url}/dashboard`);
    const before = sandbox.clock.now().getTime();
    await Promise.all([
      page.waitForURL(/\/dashboard$/),
      page.locator('header').getByRole('button', { name: '+1 hour' }).click(),
    ]);
    expect(new URL(page.url()).pathname).toBe('/dashboard');
    expect(sandbox.clock.now().getTime() - before).toBeGreaterThanOrEqual(3_600_000);
    await context.close();
  });

  for (const locale of ['en-US', 'ja-JP']) {
    it(`fits a phone (${locale}) and disables what no longer applies to a deprovisioned license`, async () => {
      const { licenseArn } = sandbox.subscribe({ customerAwsAccountId: '777788889999', dimension: 'basic' });
      await sandbox.settle();
      sandbox.emitMarketplaceEvent(licenseArn, 'license-deprovisioned');
      await sandbox.settle();
      const context = await browser.newContext({
        locale,
        viewport: { width: 390, height: 844 },
        isMobile: true,
      });
      const page = await context.newPage();
      for (const path of ['/', '/dashboard']) {
        await page.goto(`${sandbox.url}${path}`);
        const overflow = (await page.evaluate(
          'document.documentElement.scrollWidth - window.innerWidth',
        )) as number;
        expect(overflow, `${path} is wider than the phone`).toBeLessThanOrEqual(0);
        await page.screenshot({
          path: `${screenshots}/sandbox-phone-${locale}${path === '/' ? '-buyer' : '-dashboard'}.png`,
          fullPage: true,
        });
      }
      await page.goto(`${sandbox.url}/`);
      const row = page.locator('tr', { hasText: '777788889999' }).first();
      const amend = row.getByRole('button', { name: 'Amend' });
      await expect.poll(() => amend.isDisabled()).toBe(true);
      expect(await amend.getAttribute('title')).toBe('AWS deprovisioned this license');
      await context.close();
    });
  }

  it('keeps a text selection through the two-second refresh', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${sandbox.url}/dashboard`);
    await page.evaluate(`(() => {
      const heading = document.querySelector('[data-live] h2');
      if (!heading) throw new Error('no heading');
      getSelection().selectAllChildren(heading);
    })()`);
    const selected = await page.evaluate('getSelection().toString()');
    expect(selected).toBeTruthy();
    await page.waitForTimeout(4_500);
    expect(await page.evaluate('getSelection().toString()')).toBe(selected);
    await context.close();
  });
});
