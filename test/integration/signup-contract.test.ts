import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LICENSE_ATTRIBUTE } from '#shared/signup/provisioning';
import { onlyProduct } from '../support/config.js';
import {
  browserFlow,
  pageText,
  type SignUpHarness,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * A legacy-identity contract listing: buyers are keyed by CustomerIdentifier, and the plan comes
 * from the entitlements GetEntitlements returns (read through the Marketplace emulator).
 */

let h: SignUpHarness;
let flow: ReturnType<typeof browserFlow>;
beforeAll(async () => {
  h = await startSignUpHarness({
    configure: (input) => {
      input.marketplace.identityMode = 'legacy';
      input.marketplace.pricingModel = 'contract';
      input.metering.units = [];
    },
  });
  flow = browserFlow(h.invoke);
});
afterAll(async () => {
  await h?.close();
});

const plans = () => onlyProduct(h.config).plans.byDimension as Record<'basic' | 'pro', string>;

const signUp = async (dimensions: string[]) => {
  const buyer = h.newBuyer();
  h.marketplace.setEntitlements(
    buyer.customerIdentifier,
    dimensions.map((dimension) => ({ dimension, value: 1 })),
  );
  const form = validRegistration();
  const { cookie } = await flow.begin(buyer.token);
  await h.activate(buyer.licenseKey);
  const { csrf, result } = await flow.register(cookie, form);
  return { buyer, form, cookie, csrf, result };
};

describe('a contract listing with legacy buyer identities', () => {
  it('keys the license by CustomerIdentifier and applies the plan of the entitled dimension', async () => {
    const calls = h.marketplace.callCount('GetEntitlements');
    const { buyer, form, result } = await signUp(['pro']);
    expect(result.statusCode).toBe(200);
    expect(pageText(result.body)).toContain('Your account is ready');

    const license = await h.store.get(buyer.customerIdentifier);
    expect(license).toMatchObject({
      identityMode: 'legacy',
      customerIdentifier: buyer.customerIdentifier,
      customerAwsAccountId: buyer.account,
    });
    const [tenant] = h.tenantsOf(buyer.customerIdentifier);
    expect(tenant?.attributes).toMatchObject({ [LICENSE_ATTRIBUTE]: buyer.customerIdentifier });
    expect(tenant?.plan_id).toBe(plans().pro);
    // The pro plan's services in the directory (config: pro → PAM and EPM).
    expect(h.idoperation.users().find((user) => user.login_id === form.adminEmail)?.services).toEqual([1, 2]);
    const reads = h.marketplace.calls('GetEntitlements').slice(calls);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads[0]?.input.Filter).toEqual({ CUSTOMER_IDENTIFIER: [buyer.customerIdentifier] });
  });

  it('picks the first dimension of plans.byDimension when several are entitled', async () => {
    const { buyer, result } = await signUp(['pro', 'basic']);
    expect(result.statusCode).toBe(200);
    expect(h.tenantsOf(buyer.licenseKey)[0]?.plan_id).toBe(plans().basic);
  });

  it('asks to try again when GetEntitlements is throttled, then applies the plan', async () => {
    const buyer = h.newBuyer();
    h.marketplace.setEntitlements(buyer.customerIdentifier, [{ dimension: 'pro', value: 1 }]);
    const { cookie } = await flow.begin(buyer.token);
    await h.activate(buyer.licenseKey);
    h.marketplace.faults.failNext('GetEntitlements', 'ThrottlingException', 3);
    const { csrf, result: busy } = await flow.register(cookie, validRegistration());
    expect(busy.statusCode).toBe(503);
    const retried = await flow.submit(cookie, { csrf, ...validRegistration() });
    expect(retried.statusCode).toBe(200);
    expect(h.tenantsOf(buyer.licenseKey)).toHaveLength(1);
    expect(h.tenantsOf(buyer.licenseKey)[0]?.plan_id).toBe(plans().pro);
  });
});
