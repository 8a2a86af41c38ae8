import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ProvisioningStep, provisioningSteps } from '#shared/signup/provisioning';
import { onlyProduct } from '../support/config.js';
import {
  appSender,
  type Buyer,
  browserFlow,
  csrfFrom,
  pageText,
  type RegistrationFields,
  type SignUpHarness,
  sessionCookieFrom,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * The provisioning saga is resumable: a crash after any recorded step, or a dependency that fails
 * (or applies a POST and loses the answer), is finished by the next submit without creating a
 * second tenant, SaaS user, tenant user, role or directory user, and without repeating events.
 */

let h: SignUpHarness;
beforeAll(async () => {
  h = await startSignUpHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Exactly one of everything for the buyer, and each domain event once. */
const expectProvisionedOnce = async (buyer: Buyer, form: RegistrationFields) => {
  const tenants = h.tenantsOf(buyer.licenseKey);
  expect(tenants).toHaveLength(1);
  expect(tenants[0]?.name).toBe(form.tenantName);
  expect(tenants[0]?.plan_id).toBe(onlyProduct(h.config).plans.defaultPlanId);
  const users = h.saasus.state.saasUsers().filter((user) => user.email === form.adminEmail);
  expect(users).toHaveLength(1);
  const members = h.saasus.state.tenantUsers(String(tenants[0]?.id));
  expect(members.map((member) => member.id)).toEqual([users[0]?.id]);
  const envs = members[0]?.envs as { id: number; roles: { role_name: string }[] }[];
  expect(envs.find((env) => env.id === h.config.saasus.envId)?.roles.map((role) => role.role_name)).toEqual(
    h.config.saasus.adminRoleNames,
  );
  expect(h.idoperation.users().filter((user) => user.login_id === form.adminEmail)).toHaveLength(1);
  expect(h.domainEvents(buyer.licenseKey).map((event) => event.detailType)).toEqual([
    'License Registered',
    'Tenant Provisioned',
  ]);
  const license = await h.store.get(buyer.licenseKey);
  expect(license?.tenantId).toBe(tenants[0]?.id);
  expect(license?.provisioning?.completed).toBeDefined();
  expect(license?.provisioning?.registration).toEqual(form);
};

/** An app whose provisioning throws once, right after recording `step`. */
const crashingApp = (step: ProvisioningStep) => {
  let crashes = 0;
  const app = h.buildApp({
    afterStep: (recorded) => {
      if (recorded === step && crashes === 0) {
        crashes++;
        throw new Error(`injected crash after ${recorded}`);
      }
    },
  });
  return { flow: browserFlow(appSender(app)), crashes: () => crashes };
};

describe('a crash after each saga step, then a retry', () => {
  it.each(provisioningSteps)(
    'after "%s": the resubmit finishes with one tenant and one user',
    async (step) => {
      const buyer = h.newBuyer();
      const form = validRegistration();
      const { flow, crashes } = crashingApp(step);
      const { cookie } = await flow.begin(buyer.token);
      await h.activate(buyer.licenseKey);

      const { csrf, result: crashed } = await flow.register(cookie, form);
      expect(crashes()).toBe(1);
      expect(crashed.statusCode).toBe(500);
      expect(crashed.body).not.toContain('injected crash');
      expect((await h.store.get(buyer.licenseKey))?.provisioning?.[step]).toBeDefined();

      // The buyer presses the button again (even after changing a field: the first registration wins).
      const retried = await flow.submit(cookie, { csrf, ...form, tenantName: `${form.tenantName} (again)` });
      expect(retried.statusCode).toBe(200);
      expect(pageText(retried.body)).toContain('Your account is ready');
      await expectProvisionedOnce(buyer, form);
    },
  );

  it.each(provisioningSteps)(
    'after "%s": a buyer who comes back with a new token finishes the same account',
    async (step) => {
      const buyer = h.newBuyer();
      const form = validRegistration();
      const { flow } = crashingApp(step);
      const { cookie } = await flow.begin(buyer.token);
      await h.activate(buyer.licenseKey);
      expect((await flow.register(cookie, form)).result.statusCode).toBe(500);

      // The session is gone (another browser); AWS Marketplace hands out a fresh token.
      const fresh = h.marketplace.mintToken({
        customerAwsAccountId: buyer.account,
        licenseArn: buyer.licenseKey,
      });
      const posted = await flow.fulfill(fresh);
      expect(posted.statusCode).toBe(303);
      if (step === 'completed') {
        // Nothing is left to do: straight to sign-in.
        expect(posted.headers.location).toBe(h.config.saasus.signInUrl);
      } else {
        expect(posted.headers.location).toBe('/register');
        const again = await flow.register(sessionCookieFrom(posted) ?? '', validRegistration());
        expect(again.result.statusCode).toBe(200);
      }
      await expectProvisionedOnce(buyer, form);
    },
  );
});

describe('dependencies that fail mid-saga', () => {
  const flow = () => browserFlow(h.invoke);

  /** Submits once with a fault queued, expects the "try again" page, then submits again. */
  const failThenRetry = async (inject: () => void) => {
    const buyer = h.newBuyer();
    const form = validRegistration();
    const { cookie } = await flow().begin(buyer.token);
    await h.activate(buyer.licenseKey);
    inject();
    const { csrf, result: busy } = await flow().register(cookie, form);
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('60');
    expect(pageText(busy.body)).toContain('Please try again in a minute.');
    const retried = await flow().submit(cookie, { csrf, ...form });
    expect(retried.statusCode).toBe(200);
    await expectProvisionedOnce(buyer, form);
    return buyer;
  };

  afterEach(() => {
    h.saasus.faults.clear();
  });

  // POSTs are never retried by the client (a lost answer may mean "applied"); GETs and PUTs are
  // retried three times, so four faults outlast them.
  it.each([
    ['CreateSaasUser', 429, false, 1],
    ['CreateSaasUser', 500, true, 1],
    ['CreateTenant', 503, false, 1],
    ['CreateTenant', 502, true, 1],
    ['CreateTenantUser', 500, true, 1],
    ['CreateTenantUserRoles', 503, true, 1],
    ['GetTenants', 503, false, 4],
    ['GetSaasUsers', 429, false, 4],
    ['UpdateTenantPlan', 500, true, 4],
  ] as const)(
    'SaaSus %s answering %d (applied: %s) → 503, then the saga resumes',
    async (operation, status, apply, count) => {
      const before = h.saasus.state.callCount(operation);
      await failThenRetry(() => h.saasus.faults.failNext(count, { status, apply }, { operation }));
      expect(h.saasus.faults.pending()).toBe(0);
      expect(h.saasus.state.callCount(operation)).toBeGreaterThan(before + count - 1);
    },
  );

  it('iDoperation unavailable → 503, then the directory user is registered once', async () => {
    const buyer = await failThenRetry(() => h.idoperation.failNext(1, 503));
    const license = await h.store.get(buyer.licenseKey);
    expect(license?.provisioning?.directoryUser).toMatchObject({ userId: expect.any(String) });
  });
});

describe('a double-clicked submit', () => {
  it('two concurrent submits of one session both finish, with one tenant, one user and each event once', async () => {
    const flow = browserFlow(h.invoke);
    const buyer = h.newBuyer();
    const form = validRegistration();
    const { cookie } = await flow.begin(buyer.token);
    await h.activate(buyer.licenseKey);
    const page = await flow.registrationPage(cookie);
    const csrf = csrfFrom(page.body);

    const results = await Promise.all([
      flow.submit(cookie, { csrf, ...form }),
      flow.submit(cookie, { csrf, ...form, adminName: 'Someone Else' }),
    ]);
    for (const result of results) {
      expect(result.statusCode).toBe(200);
      expect(pageText(result.body)).toContain('Your account is ready');
    }
    await expectProvisionedOnce(buyer, form);
    expect(h.saasus.state.saasUsers().filter((user) => user.email === form.adminEmail)).toHaveLength(1);
    // The lease is released once both are done.
    expect((await h.store.get(buyer.licenseKey))?.provisioningLease).toBeNull();
  });

  it('a submit racing a link of the same license leaves the license on one tenant', async () => {
    const email = `racer-${crypto.randomUUID().slice(0, 8)}@existing.example`;
    const user = h.saasus.seedUser({ email });
    const existing = h.saasus.seedTenant({
      name: 'Existing',
      back_office_staff_email: 'backoffice@example.com',
    });
    await h.saasusClient.createTenantUser(String(existing.id), { email, attributes: {} });
    // Only a tenant administrator may link.
    await h.saasusClient.addTenantUserRoles(
      String(existing.id),
      String(user.id),
      h.config.saasus.envId,
      h.config.saasus.adminRoleNames,
    );
    const flow = browserFlow(h.invoke);
    const buyer = h.newBuyer();
    const { cookie } = await flow.begin(buyer.token);
    const page = await flow.registrationPage(cookie);
    const { code } = h.saasus.mintUserCredentials(String(user.id));
    const link = await flow.startLink(cookie);
    const choice = await flow.linkCallback(link.cookie, link.state, code);
    const linkedCookie = sessionCookieFrom(choice);

    const [registered, linked] = await Promise.all([
      flow.submit(cookie, { csrf: csrfFrom(page.body), ...validRegistration() }),
      flow.post('/link', linkedCookie, {
        csrf: csrfFrom(choice.body),
        tenantId: String(existing.id),
        confirm: 'yes',
      }),
    ]);
    const license = await h.store.get(buyer.licenseKey);
    const tagged = h.tenantsOf(buyer.licenseKey);
    expect(tagged).toHaveLength(1);
    expect(license?.tenantId).toBe(tagged[0]?.id);
    expect(license?.provisioning?.tenant).toMatchObject({ tenantId: tagged[0]?.id });
    // Whichever ran first won; the other was refused, or added nobody to the linked tenant.
    const statuses = [registered.statusCode, linked.statusCode].sort();
    expect([
      [200, 200],
      [200, 403],
    ]).toContainEqual(statuses);
    if (license?.provisioning?.tenant && (license.provisioning.tenant as { linked?: boolean }).linked) {
      expect(h.saasus.state.tenantUsers(String(existing.id)).map((member) => member.email)).toEqual([email]);
    }
  });
});
