import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LICENSE_ATTRIBUTE } from '#shared/signup/provisioning';
import { ADDON_PLAN_ID, ADDON_PRODUCT_CODE, withAddonProduct } from '../support/config.js';
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
 * One fulfillment URL for several products: the token's product (from ResolveCustomer) selects
 * that product's plans; a product the deployment does not serve is refused before anything is written.
 */

const ADDON_CODE = ADDON_PRODUCT_CODE;
const ADDON_PLAN = ADDON_PLAN_ID;

let h: SignUpHarness;
let flow: ReturnType<typeof browserFlow>;
beforeAll(async () => {
  h = await startSignUpHarness({ configure: withAddonProduct });
  flow = browserFlow(h.invoke);
});
afterAll(async () => {
  await h?.close();
});

const register = async (token: string, licenseKey: string, form = validRegistration()) => {
  const posted = await flow.fulfill(token);
  expect(posted.statusCode).toBe(303);
  const cookie = sessionCookieFrom(posted);
  await h.activate(licenseKey);
  const page = await flow.registrationPage(cookie);
  const done = await flow.submit(cookie, { csrf: csrfFrom(page.body), ...form });
  expect(pageText(done.body)).toContain('Your account is ready');
};

describe('several products behind one fulfillment URL', () => {
  it("gives a buyer of the second product that product's plan", async () => {
    const buyer = h.newBuyer({ productCode: ADDON_CODE });
    await register(buyer.token, buyer.licenseKey);
    expect(await h.store.get(buyer.licenseKey)).toMatchObject({ productCode: ADDON_CODE });
    const [tenant] = h.tenantsOf(buyer.licenseKey);
    expect(tenant?.plan_id).toBe(ADDON_PLAN);
  });

  it("gives a buyer of the first product the first product's plan", async () => {
    const buyer = h.newBuyer();
    await register(buyer.token, buyer.licenseKey);
    const [first] = h.config.products;
    expect(h.tenantsOf(buyer.licenseKey)[0]?.plan_id).toBe(first?.plans.defaultPlanId);
  });

  it('refuses a token of a product not in the config with a clear page, writing nothing', async () => {
    const before = (await h.licenseItems()).length;
    const writes = h.saasusWrites();
    const buyer = h.newBuyer({ productCode: 'notoneofours' });
    const result = await flow.fulfill(buyer.token);
    expect(result.statusCode).toBe(400);
    expect(pageText(result.body)).toContain('This subscription is for another product');
    expect((await h.licenseItems()).length).toBe(before);
    expect(h.saasusWrites()).toBe(writes);
  });

  it("offers the buyer's tenant of the first product to the second, keeping one tenant, the first product's plan and its license attribute", async () => {
    const first = h.newBuyer();
    const form = validRegistration();
    await register(first.token, first.licenseKey, form);
    const [tenant] = h.tenantsOf(first.licenseKey);
    const tenantId = String(tenant?.id);
    const firstPlan = h.config.products[0]?.plans.defaultPlanId;
    expect(tenant?.plan_id).toBe(firstPlan);

    const addon = h.newBuyer({ account: first.account, productCode: ADDON_CODE });
    const posted = await flow.fulfill(addon.token);
    const cookie = sessionCookieFrom(posted);
    await h.activate(addon.licenseKey);
    const page = await flow.registrationPage(cookie);
    expect(pageText(page.body)).toContain(
      'Your AWS account already has an account with us for another subscription:',
    );
    expect(pageText(page.body)).toContain(form.tenantName);
    const tenantsBefore = h.saasus.state.tenants().length;
    const attached = await flow.submit(cookie, { csrf: csrfFrom(page.body), attach: 'buyer-tenant' });
    expect(attached.statusCode).toBe(200);
    expect(pageText(attached.body)).toContain('Subscription linked');

    expect(h.saasus.state.tenants().length).toBe(tenantsBefore);
    expect(await h.store.get(addon.licenseKey)).toMatchObject({ tenantId, productCode: ADDON_CODE });
    const after = h.saasus.state.tenant(tenantId);
    // The first product comes first in the config: its plan stays, from the very first sign-up.
    expect(after?.plan_id).toBe(firstPlan);
    expect(after?.attributes).toMatchObject({ [LICENSE_ATTRIBUTE]: first.licenseKey });
    // Both licenses resolve from the tenant, each with its product (how SaaSus events find them).
    const held = (await h.store.findByTenant(tenantId)).map((item) => [item.licenseKey, item.productCode]);
    expect(held.sort()).toEqual(
      [
        [first.licenseKey, h.config.products[0]?.productCode],
        [addon.licenseKey, ADDON_CODE],
      ].sort(),
    );
  });

  it('offers nothing to a buyer of another AWS account, and refuses an attach it did not offer', async () => {
    const first = h.newBuyer();
    await register(first.token, first.licenseKey);
    const stranger = h.newBuyer({ productCode: ADDON_CODE });
    const cookie = sessionCookieFrom(await flow.fulfill(stranger.token));
    const page = await flow.registrationPage(cookie);
    expect(pageText(page.body)).not.toContain('another subscription');
    const writes = h.saasusWrites();
    const refused = await flow.submit(cookie, { csrf: csrfFrom(page.body), attach: 'buyer-tenant' });
    expect(refused.statusCode).toBe(400);
    expect(h.saasusWrites()).toBe(writes);
    expect((await h.store.get(stranger.licenseKey))?.tenantId).toBeUndefined();
  });

  it("links the second product's license through the SaaS sign-in to the tenant of the first, which keeps its plan and license attribute", async () => {
    const first = h.newBuyer();
    await register(first.token, first.licenseKey);
    const holder = await h.store.get(first.licenseKey);
    const tenantId = String(holder?.tenantId);
    const adminUserId = String((holder?.provisioning?.saasUser as { userId?: string } | undefined)?.userId);

    const addon = h.newBuyer({ account: first.account, productCode: ADDON_CODE });
    const { cookie: registrationCookie } = await flow.begin(addon.token);
    await h.activate(addon.licenseKey);
    const { cookie, state } = await flow.startLink(registrationCookie);
    const choice = await flow.linkCallback(cookie, state, h.saasus.mintUserCredentials(adminUserId).code);
    expect(choice.body).toContain(`name="tenantId" value="${tenantId}"`);
    const linked = await flow.post('/link', sessionCookieFrom(choice), {
      csrf: csrfFrom(choice.body),
      tenantId,
      confirm: 'yes',
    });
    expect(linked.statusCode).toBe(200);
    const tenant = h.saasus.state.tenant(tenantId);
    expect(tenant?.attributes).toMatchObject({ [LICENSE_ATTRIBUTE]: first.licenseKey });
    expect(tenant?.plan_id).toBe(h.config.products[0]?.plans.defaultPlanId);
    expect(await h.store.get(addon.licenseKey)).toMatchObject({ tenantId, status: 'active' });
  });
});
