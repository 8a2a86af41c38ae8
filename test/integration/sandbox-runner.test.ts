import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '#sandbox/index';
import { onlyProduct } from '../support/config.js';

/** The sandbox of the real stack (config/example.json) on a free port: pages answer, and it stops cleanly. */

let sandbox: Sandbox | undefined;
let stopped = false;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, handlerLogs: false, log: () => {}, warm: false });
});

afterAll(async () => {
  if (!stopped) await sandbox?.close();
});

const running = () => {
  if (!sandbox) throw new Error('the sandbox did not start');
  return sandbox;
};

describe('sandbox runner (real stack)', () => {
  it('serves the buyer simulator', async () => {
    const response = await fetch(`${running().url}/`);
    const page = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(page).toContain('<title>Buyer simulator · Marketplace Bridge sandbox</title>');
    expect(page).toContain('Subscribe on AWS Marketplace');
    expect(page).toContain('What AWS does later');
    expect(page).toContain('What the SaaS does (SaaSus API)');
    const product = onlyProduct(running().config);
    if (product.pricingModel === 'subscription') {
      // No entitlement to pick: the page says which plan a new subscriber gets.
      expect(page).toContain('data-plan-note');
      expect(page).not.toContain('<select name="dimension"');
    } else {
      for (const dimension of Object.keys(product.plans.byDimension))
        expect(page).toContain(`value="${dimension}"`);
    }
  });

  it('serves the dashboard and its refresh fragment', async () => {
    const response = await fetch(`${running().url}/dashboard`);
    const page = await response.text();
    expect(response.status).toBe(200);
    expect(page).toContain('<title>Dashboard · Marketplace Bridge sandbox</title>');
    for (const heading of [
      'Simulated clock',
      'Functions',
      'Licenses',
      'SaaSus',
      'iDoperation users',
      'Metering',
      'Events',
      'Dead letters',
    ]) {
      expect(page).toContain(`<h2>${heading}`);
    }
    expect(page).toContain('functions/sign-up/handler.ts');
    const fragment = await (await fetch(`${running().url}/dashboard?partial=1`)).text();
    expect(fragment).toContain('<h2>Simulated clock');
    expect(fragment).not.toContain('<html');
  });

  it('points the functions at the local services', () => {
    const signUp = [...running().functions.values()].find(
      (fn) => fn.model.entry === 'functions/sign-up/handler.ts',
    );
    expect(signUp?.environment).toMatchObject({
      AWS_ENDPOINT_URL_DYNAMODB: running().dynamo.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: running().emulators.eventBridge.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: running().emulators.secretsManager.url,
      AWS_ENDPOINT_URL_MARKETPLACE_METERING: running().emulators.marketplace.url,
      AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE: running().emulators.marketplace.url,
      LICENSES_TABLE: running().tableNames.Licenses,
      METERING_LEDGER_TABLE: running().tableNames.MeteringLedger,
      DOMAIN_EVENT_BUS: 'marketplace-bridge-dev',
      PUBLIC_BASE_PATH: '/fulfillment',
    });
    const bridgeConfig = JSON.parse(signUp?.environment.BRIDGE_CONFIG ?? '{}') as {
      saasus: { apiBaseUrl: string };
      idoperation: { baseUrl: string };
    };
    expect(bridgeConfig.saasus.apiBaseUrl).toBe(running().emulators.saasus.url);
    expect(bridgeConfig.idoperation.baseUrl).toBe(`${running().emulators.idoperation?.url}/v1`);
    expect(running().secrets.map((secret) => secret.name)).toEqual(
      expect.arrayContaining([
        'marketplace-bridge/dev/saasus',
        'marketplace-bridge/dev/idoperation',
        signUp?.environment.SESSION_SECRET_NAME,
      ]),
    );
  });

  it('subscribes a buyer: a license, a token posted by an auto-submitting form, and the purchase events', async () => {
    const response = await fetch(`${running().url}/actions/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ account: '444455556666', dimension: 'pro', emitEvents: '1' }),
    });
    const page = await response.text();
    expect(response.status).toBe(200);
    expect(page).toMatch(
      /<form method="post" action="http:\/\/127\.0\.0\.1:\d+\/fulfillment\/" id="fulfillment"/,
    );
    expect(page).toMatch(/name="x-amzn-marketplace-token" value="[A-Za-z0-9+/]{43}="/);
    const [license] = running()
      .emulators.marketplace.licenses()
      .filter((candidate) => candidate.customerAwsAccountId === '444455556666');
    expect(license?.status).toBe('active');
    const emitted = running()
      .router.history()
      .filter((entry) => entry.busName === 'default')
      .map((entry) => entry.event['detail-type']);
    expect(emitted).toEqual(['Purchase Agreement Created - Proposer', 'License Updated - Manufacturer']);
  });

  it('answers unknown pages with 404 and stops cleanly', async () => {
    const url = running().url;
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    await running().close();
    stopped = true;
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });
});
