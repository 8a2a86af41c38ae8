import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '#shared/powertools';
import { createProvisioning } from '#shared/signup/provisioning';
import { SESSION_COOKIE } from '#shared/signup/session';
import { createSignUpClaims } from '#shared/store/sign-up-claims';
import { onlyProduct } from '../support/config.js';
import {
  browserFlow,
  csrfFrom,
  pageText,
  type SignUpHarness,
  sessionCookieFrom,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * The link flow as an attacker would try it (issue 11): two licenses racing for one tenant, a
 * callback this browser did not start or that replays a `state` or a temporary code, a
 * registration session planted by a cross-site POST, a user administering many tenants, and two
 * first sign-ups racing to create the tenant attributes.
 */

let h: SignUpHarness;
let flow: ReturnType<typeof browserFlow>;
beforeAll(async () => {
  h = await startSignUpHarness();
  flow = browserFlow(h.invoke);
});
afterAll(async () => {
  await h?.close();
});

/** A SaaS user who administers `count` fresh tenants of the configured env. */
const administrator = async (count = 1) => {
  const suffix = crypto.randomUUID().slice(0, 8);
  const email = `owner-${suffix}@existing.example`;
  const userId = String(h.saasus.seedUser({ email }).id);
  const tenants = [];
  for (let index = 0; index < count; index++) {
    const tenant = h.saasus.seedTenant({
      name: `Existing ${suffix} ${index}`,
      back_office_staff_email: 'backoffice@example.com',
    });
    await h.saasusClient.createTenantUser(String(tenant.id), { email, attributes: {} });
    await h.saasusClient.addTenantUserRoles(String(tenant.id), userId, h.config.saasus.envId, [
      ...h.config.saasus.adminRoleNames,
    ]);
    tenants.push(tenant);
  }
  return { userId, email, tenants };
};

/** A buyer signed in to SaaSus through the link flow, on the tenant choice page. */
const atChoice = async (userId: string) => {
  const buyer = h.newBuyer();
  const { cookie } = await flow.begin(buyer.token);
  await h.activate(buyer.licenseKey);
  const link = await flow.startLink(cookie);
  const { code } = h.saasus.mintUserCredentials(userId);
  const choice = await flow.linkCallback(link.cookie, link.state, code);
  expect(choice.statusCode, pageText(choice.body)).toBe(200);
  return { buyer, choice, linkedCookie: sessionCookieFrom(choice) ?? '' };
};

const callsOf = (operation: string) => h.saasus.state.callCount(operation);

describe('one tenant, one license', () => {
  it('attaches exactly one of two licenses linking one tenant at once, 20 rounds; the loser writes nothing to SaaSus', async () => {
    for (let round = 0; round < 20; round++) {
      const owner = await administrator();
      const tenantId = String(owner.tenants[0]?.id);
      const [a, b] = [await atChoice(owner.userId), await atChoice(owner.userId)];
      const updatesBefore = callsOf('UpdateTenant');

      const results = await Promise.all(
        [a, b].map((side) =>
          flow.post('/link', side.linkedCookie, {
            csrf: csrfFrom(side.choice.body),
            tenantId,
            confirm: 'yes',
          }),
        ),
      );

      const attached = [];
      for (const side of [a, b]) {
        if ((await h.store.get(side.buyer.licenseKey))?.tenantId === tenantId) attached.push(side);
      }
      expect(attached, `round ${round}`).toHaveLength(1);
      expect(results.map((result) => result.statusCode).sort(), `round ${round}`).toEqual([200, 409]);
      // Only the winner changed the tenant in SaaSus.
      expect(callsOf('UpdateTenant') - updatesBefore, `round ${round}`).toBe(1);
      const winner = attached[0];
      const loser = winner === a ? b : a;
      const refused = results[winner === a ? 1 : 0];
      expect(pageText(refused?.body ?? '')).toContain('That account already has a subscription');
      expect(pageText(refused?.body ?? '')).toContain('Nothing was changed.');
      expect(h.saasus.state.tenant(tenantId)?.attributes).toMatchObject({
        aws_marketplace_license: winner?.buyer.licenseKey,
      });
      const lost = await h.store.get(loser.buyer.licenseKey);
      expect(lost?.tenantId).toBeUndefined();
      expect(lost?.provisioning?.tenant).toBeUndefined();
      // The seller hears of it on the domain bus.
      expect(h.domainEvents(loser.buyer.licenseKey)).toEqual([
        {
          detailType: 'Tenant Claim Refused',
          detail: {
            licenseKey: loser.buyer.licenseKey,
            customerAwsAccountId: loser.buyer.account,
            tenantId,
            heldByLicenseKey: winner?.buyer.licenseKey,
          },
        },
      ]);
    }
  }, 180_000);
});

describe('the tenant claim', () => {
  const link = (side: Awaited<ReturnType<typeof atChoice>>, tenantId: string) =>
    flow.post('/link', side.linkedCookie, { csrf: csrfFrom(side.choice.body), tenantId, confirm: 'yes' });

  it('is released when the link fails, so another license can link the tenant', async () => {
    const owner = await administrator();
    const tenantId = String(owner.tenants[0]?.id);
    const [first, second] = [await atChoice(owner.userId), await atChoice(owner.userId)];
    h.saasus.faults.failNext(1, { status: 400 }, { operation: 'UpdateTenant' });
    const failed = await link(first, tenantId);
    expect(failed.statusCode).toBeGreaterThanOrEqual(400);
    expect((await h.store.get(first.buyer.licenseKey))?.tenantId).toBeUndefined();

    const linked = await link(second, tenantId);
    expect(linked.statusCode, pageText(linked.body)).toBe(200);
    expect((await h.store.get(second.buyer.licenseKey))?.tenantId).toBe(tenantId);
  });

  it('passes from an ended license to a new one, but never from a live one', async () => {
    const owner = await administrator();
    const tenantId = String(owner.tenants[0]?.id);
    const [old, live, next] = [
      await atChoice(owner.userId),
      await atChoice(owner.userId),
      await atChoice(owner.userId),
    ];
    expect((await link(old, tenantId)).statusCode).toBe(200);
    expect((await link(live, tenantId)).statusCode).toBe(409);

    await h.store.setAttributes(old.buyer.licenseKey, { status: 'ended' });
    expect((await link(next, tenantId)).statusCode).toBe(200);
    expect(h.saasus.state.tenant(tenantId)?.attributes).toMatchObject({
      aws_marketplace_license: next.buyer.licenseKey,
    });
  });
});

describe('the link callback (OAuth state and temporary code)', () => {
  /** Everything a refused callback must leave as it was. */
  const unchanged = async (licenseKey: string) => {
    const license = await h.store.get(licenseKey);
    const writes = h.saasusWrites();
    const exchanges = callsOf('GetAuthCredentials');
    return async () => {
      expect(await h.store.get(licenseKey)).toEqual(license);
      expect(h.saasusWrites()).toBe(writes);
      expect(callsOf('GetAuthCredentials')).toBe(exchanges);
    };
  };

  it('refuses a callback without the state of this session, or carrying another session’s state', async () => {
    const owner = await administrator();
    const buyer = h.newBuyer();
    const { cookie } = await flow.begin(buyer.token);
    const mine = await flow.startLink(cookie);
    // An attacker's own, valid sign-in: their state and their code.
    const attacker = await flow.startLink((await flow.begin(h.newBuyer().token)).cookie);
    const check = await unchanged(buyer.licenseKey);

    for (const query of [
      `code=${h.saasus.mintUserCredentials(owner.userId).code}`,
      `code=${h.saasus.mintUserCredentials(owner.userId).code}&state=`,
      `code=${h.saasus.mintUserCredentials(owner.userId).code}&state=${attacker.state}`,
    ]) {
      const refused = await flow.get('/link/callback', mine.cookie, query);
      expect(refused.statusCode, query).toBe(400);
      expect(pageText(refused.body)).toContain('This sign-in cannot be used');
      expect(sessionCookieFrom(refused)).toBeUndefined();
      expect(refused.body).not.toContain('name="tenantId"');
    }
    // A registration session that never went to GET /link has no state at all.
    const noState = await flow.get(
      '/link/callback',
      cookie,
      `code=${h.saasus.mintUserCredentials(owner.userId).code}&state=${mine.state}`,
    );
    expect(noState.statusCode).toBe(400);
    await check();
  });

  it('uses a state and a temporary code once: a replay of either is refused before SaaSus is asked', async () => {
    const owner = await administrator();
    const buyer = h.newBuyer();
    const { cookie } = await flow.begin(buyer.token);
    const link = await flow.startLink(cookie);
    const { code } = h.saasus.mintUserCredentials(owner.userId);
    const first = await flow.linkCallback(link.cookie, link.state, code);
    expect(first.statusCode).toBe(200);
    const check = await unchanged(buyer.licenseKey);

    // The same state again (the cookie GET /link set is replayed), with a fresh code.
    const replayedState = await flow.linkCallback(
      link.cookie,
      link.state,
      h.saasus.mintUserCredentials(owner.userId).code,
    );
    expect(replayedState.statusCode).toBe(400);
    expect(sessionCookieFrom(replayedState)).toBeUndefined();

    // The same code again, in a fresh link attempt of the same browser.
    const again = await flow.startLink(cookie);
    const replayedCode = await flow.linkCallback(again.cookie, again.state, code);
    expect(replayedCode.statusCode).toBe(400);
    expect(pageText(replayedCode.body)).toContain('This sign-in cannot be used');
    expect(sessionCookieFrom(replayedCode)).toBeUndefined();
    await check();
  });

  it('shows who is signed in and whose subscription it is, and links only on an explicit confirmation', async () => {
    const owner = await administrator();
    const { buyer, choice, linkedCookie } = await atChoice(owner.userId);
    const text = pageText(choice.body);
    expect(text).toContain(`Signed in as: ${owner.email}`);
    expect(text).toContain(`AWS account of this subscription: ${buyer.account}`);
    expect(text).toContain(
      `I want to attach the AWS Marketplace subscription of AWS account ${buyer.account}`,
    );
    const tenantId = String(owner.tenants[0]?.id);
    const check = await unchanged(buyer.licenseKey);

    for (const confirm of [undefined, 'no', '']) {
      const refused = await flow.post('/link', linkedCookie, {
        csrf: csrfFrom(choice.body),
        tenantId,
        ...(confirm === undefined ? {} : { confirm }),
      });
      expect(refused.statusCode).toBe(400);
      expect(pageText(refused.body)).toContain('Please confirm the link');
    }
    await check();
    const linked = await flow.post('/link', linkedCookie, {
      csrf: csrfFrom(choice.body),
      tenantId,
      confirm: 'yes',
    });
    expect(linked.statusCode).toBe(200);
    expect((await h.store.get(buyer.licenseKey))?.tenantId).toBe(tenantId);
  });

  it('keeps the session cookie small for a user who administers 150 tenants, and links the last of them', async () => {
    const owner = await administrator(150);
    const { buyer, choice, linkedCookie } = await atChoice(owner.userId);
    const setCookie = (choice.cookies ?? []).find((value) => value.startsWith(`${SESSION_COOKIE}=`)) ?? '';
    expect(setCookie.length).toBeLessThan(4096);
    expect([...choice.body.matchAll(/name="tenantId"/g)]).toHaveLength(150);
    const last = String(owner.tenants.at(-1)?.id);
    const linked = await flow.post('/link', linkedCookie, {
      csrf: csrfFrom(choice.body),
      tenantId: last,
      confirm: 'yes',
    });
    expect(linked.statusCode, pageText(linked.body)).toBe(200);
    expect((await h.store.get(buyer.licenseKey))?.tenantId).toBe(last);
  });
});

describe('a registration session planted by a cross-site POST', () => {
  it('shows the subscription’s AWS account before anything is written', async () => {
    // Someone else's fresh token, posted from another site into the victim's browser.
    const stranger = h.newBuyer();
    const planted = await h.invoke({
      method: 'POST',
      path: '/',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://attacker.example',
        'sec-fetch-site': 'cross-site',
      },
      body: new URLSearchParams({ 'x-amzn-marketplace-token': stranger.token }).toString(),
    });
    expect(planted.statusCode).toBe(303);
    const cookie = sessionCookieFrom(planted) ?? '';
    const writes = h.saasusWrites();

    for (const [lang, label] of [
      ['en', 'AWS account of this subscription'],
      ['ja', 'このサブスクリプションの AWS アカウント'],
    ] as const) {
      const page = await flow.registrationPage(cookie, lang);
      expect(page.statusCode).toBe(200);
      expect(pageText(page.body)).toContain(`${label}: ${stranger.account}`);
    }
    expect(h.saasusWrites()).toBe(writes);
    expect((await h.store.get(stranger.licenseKey))?.tenantId).toBeUndefined();
  });
});

describe('tenant attributes in a fresh SaaSus environment', () => {
  it('takes an attribute another sign-up created a moment earlier as created', async () => {
    // Two first sign-ups at once: both read "no attributes", the other one creates them first.
    const client = h.saasusClient;
    const existing = new Set((await client.listTenantAttributes()).map((a) => a.attribute_name));
    for (const name of ['aws_marketplace_license', 'aws_marketplace_account_id']) {
      if (!existing.has(name)) {
        await client.createTenantAttribute({
          attribute_name: name,
          display_name: name,
          attribute_type: 'string',
        });
      }
    }
    let staleReads = 1;
    const saasus = {
      ...client,
      listTenantAttributes: async () => (staleReads-- > 0 ? [] : client.listTenantAttributes()),
    };
    const provisioning = createProvisioning({
      config: h.config,
      store: h.store,
      claims: createSignUpClaims({
        client: new DynamoDBClient({}),
        tableName: h.env.SIGN_UP_CLAIMS_TABLE ?? '',
      }),
      saasus,
      publish: async () => undefined,
      planFor: async () => onlyProduct(h.config).plans.defaultPlanId,
      logger,
    });
    const buyer = h.newBuyer();
    await flow.begin(buyer.token);
    const outcome = await provisioning.provision(buyer.licenseKey, validRegistration());
    expect(outcome.status).toBe('ready');
    expect(h.tenantsOf(buyer.licenseKey)).toHaveLength(1);
  });
});
