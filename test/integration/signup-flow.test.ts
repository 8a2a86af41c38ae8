import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_ATTRIBUTE, LICENSE_ATTRIBUTE } from '#shared/signup/provisioning';
import { SESSION_COOKIE } from '#shared/signup/session';
import { onlyProduct } from '../support/config.js';
import {
  browserFlow,
  csrfFrom,
  memberRole,
  otherEnvId,
  pageText,
  type SignUpHarness,
  sessionCookieFrom,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * The sign-up capability end to end: the real Lambda handler against dynalite and the SaaSus,
 * Marketplace, iDoperation, EventBridge and Secrets Manager emulators.
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

const saasUsersWithEmail = (email: string) =>
  h.saasus.state.saasUsers().filter((user) => String(user.email).toLowerCase() === email.toLowerCase());

const roleNamesOf = (tenantUser: Record<string, unknown>, envId: number) =>
  ((tenantUser.envs ?? []) as { id: number; roles: { role_name: string }[] }[])
    .find((env) => env.id === envId)
    ?.roles.map((role) => role.role_name) ?? [];

describe('happy path', () => {
  it('turns a registration token into a SaaSus tenant, user, role and plan, a directory user and two domain events', async () => {
    const buyer = h.newBuyer();
    const form = validRegistration();

    const posted = await flow.fulfill(buyer.token);
    expect(posted.statusCode).toBe(303);
    expect(posted.headers.location).toBe('/register');
    const cookie = sessionCookieFrom(posted);
    expect(cookie).toBeDefined();

    const pending = await h.store.get(buyer.licenseKey);
    expect(pending).toMatchObject({
      licenseKey: buyer.licenseKey,
      licenseArn: buyer.licenseKey,
      identityMode: 'license',
      customerAwsAccountId: buyer.account,
      productCode: onlyProduct(h.config).productCode,
      status: 'pending',
    });
    expect(pending?.tenantId).toBeUndefined();

    // The agreement event arrived before the buyer submitted: the license is active.
    await h.activate(buyer.licenseKey);
    const page = await flow.registrationPage(cookie);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const done = await flow.submit(cookie, { csrf: csrfFrom(page.body), ...form });
    expect(done.statusCode).toBe(200);
    expect(pageText(done.body)).toContain('Your account is ready');
    expect(done.body).toContain(`href="${h.config.saasus.signInUrl.replaceAll('/', '&#47;')}"`);

    const [tenant, ...others] = h.tenantsOf(buyer.licenseKey);
    expect(others).toEqual([]);
    expect(tenant).toMatchObject({
      name: form.tenantName,
      attributes: { [LICENSE_ATTRIBUTE]: buyer.licenseKey, [ACCOUNT_ATTRIBUTE]: buyer.account },
      back_office_staff_email: h.config.saasus.backOfficeStaffEmail,
      plan_id: onlyProduct(h.config).plans.defaultPlanId,
    });
    const tenantId = String(tenant?.id);
    const [user] = saasUsersWithEmail(form.adminEmail);
    expect(saasUsersWithEmail(form.adminEmail)).toHaveLength(1);
    const members = h.saasus.state.tenantUsers(tenantId);
    expect(members).toHaveLength(1);
    expect(members[0]).toMatchObject({ id: user?.id, email: form.adminEmail });
    expect(roleNamesOf(members[0] ?? {}, h.config.saasus.envId)).toEqual(h.config.saasus.adminRoleNames);

    const directoryUsers = h.idoperation.users().filter((entry) => entry.login_id === form.adminEmail);
    expect(directoryUsers).toHaveLength(1);
    expect(directoryUsers[0]).toMatchObject({
      name: form.adminName,
      is_external: 1,
      services: [1],
      locale: 'ja',
      is_notified: 0,
    });

    expect(h.domainEvents(buyer.licenseKey)).toEqual([
      {
        detailType: 'License Registered',
        detail: {
          licenseKey: buyer.licenseKey,
          customerAwsAccountId: buyer.account,
          tenantName: form.tenantName,
        },
      },
      {
        detailType: 'Tenant Provisioned',
        detail: { licenseKey: buyer.licenseKey, tenantId, planId: onlyProduct(h.config).plans.defaultPlanId },
      },
    ]);
    const published = h.eventBridge.events().filter((event) => event.detail.licenseKey === buyer.licenseKey);
    for (const event of published) {
      expect(event.source).toBe('marketplace-bridge');
      expect(event.resources).toEqual([buyer.licenseKey]);
    }

    const license = await h.store.get(buyer.licenseKey);
    expect(license?.tenantId).toBe(tenantId);
    expect(license?.provisioning).toMatchObject({
      registration: form,
      saasUser: { userId: user?.id },
      tenant: { tenantId },
      plan: { planId: onlyProduct(h.config).plans.defaultPlanId },
      tenantUser: { userId: user?.id },
      role: { envId: h.config.saasus.envId, roleNames: h.config.saasus.adminRoleNames },
      directoryUser: { userId: directoryUsers[0]?.id },
      completed: {},
    });
    // The finish page ends the registration session.
    expect(done.cookies?.some((value) => /^mb_registration=; .*Max-Age=0/.test(value))).toBe(true);
  });

  it('keeps one license and one tenant when the same token is POSTed twice, and sends a returning buyer to sign in', async () => {
    const buyer = h.newBuyer();
    const form = validRegistration();
    const [first, second] = await Promise.all([flow.fulfill(buyer.token), flow.fulfill(buyer.token)]);
    const third = await flow.fulfill(buyer.token);
    for (const result of [first, second, third]) {
      expect(result.statusCode).toBe(303);
      expect(result.headers.location).toBe('/register');
    }
    const cookies = [first, second, third].map((result) => sessionCookieFrom(result) ?? '');
    expect(new Set(cookies).size).toBe(3);
    expect((await h.licenseItems()).filter((item) => item.licenseKey === buyer.licenseKey)).toHaveLength(1);

    await h.activate(buyer.licenseKey);
    const { result } = await flow.register(cookies[0] ?? '', form);
    expect(result.statusCode).toBe(200);

    // The second session can no longer open the form: the account exists.
    const again = await flow.registrationPage(cookies[1]);
    expect(again.statusCode).toBe(303);
    expect(again.headers.location).toBe(h.config.saasus.signInUrl);
    // A resubmit from it (the form was already open) finishes with the same tenant.
    const session = h.sealer.open(cookies[1]?.split('=')[1]);
    const resubmitted = await flow.submit(cookies[1], {
      csrf: h.sealer.csrfToken(session),
      ...validRegistration(),
    });
    expect(resubmitted.statusCode).toBe(200);
    expect(pageText(resubmitted.body)).toContain('Your account is ready');

    // A new token for the same license: straight to sign-in, no new session.
    const fresh = h.marketplace.mintToken({
      customerAwsAccountId: buyer.account,
      licenseArn: buyer.licenseKey,
    });
    const returning = await flow.fulfill(fresh);
    expect(returning.statusCode).toBe(303);
    expect(returning.headers.location).toBe(h.config.saasus.signInUrl);
    expect(sessionCookieFrom(returning)).toBeUndefined();

    expect(h.tenantsOf(buyer.licenseKey)).toHaveLength(1);
    expect(h.tenantsOf(buyer.licenseKey)[0]?.name).toBe(form.tenantName);
    expect(saasUsersWithEmail(form.adminEmail)).toHaveLength(1);
    expect((await h.licenseItems()).filter((item) => item.licenseKey === buyer.licenseKey)).toHaveLength(1);
    expect(h.domainEvents(buyer.licenseKey).map((event) => event.detailType)).toEqual([
      'License Registered',
      'Tenant Provisioned',
    ]);
  });

  it('gives two licenses of the same AWS account (concurrent agreements) two tenants', async () => {
    const a = h.newBuyer();
    const b = h.newBuyer({ account: a.account });
    expect(b.licenseKey).not.toBe(a.licenseKey);
    const forms = [validRegistration(), validRegistration()] as const;
    const results = await Promise.all(
      [a, b].map(async (buyer, index) => {
        const { cookie } = await flow.begin(buyer.token);
        await h.activate(buyer.licenseKey);
        return (await flow.register(cookie, forms[index] ?? validRegistration())).result;
      }),
    );
    expect(results.map((result) => result.statusCode)).toEqual([200, 200]);

    const byAccount = await h.store.findByAccount(a.account);
    expect(byAccount.map((item) => item.licenseKey).sort()).toEqual([a.licenseKey, b.licenseKey].sort());
    const [tenantA] = h.tenantsOf(a.licenseKey);
    const [tenantB] = h.tenantsOf(b.licenseKey);
    expect(h.tenantsOf(a.licenseKey)).toHaveLength(1);
    expect(h.tenantsOf(b.licenseKey)).toHaveLength(1);
    expect(tenantA?.id).not.toBe(tenantB?.id);
    expect(tenantA?.attributes).toMatchObject({ [ACCOUNT_ATTRIBUTE]: a.account });
    expect(tenantB?.attributes).toMatchObject({ [ACCOUNT_ATTRIBUTE]: a.account });
    expect(byAccount.map((item) => item.tenantId).sort()).toEqual([tenantA?.id, tenantB?.id].sort());
  });
});

describe('a license that is not active yet', () => {
  it('prepares the account without a paid plan, and applies the plan on a resubmit once the license is active', async () => {
    const buyer = h.newBuyer();
    const form = validRegistration();
    const { cookie } = await flow.begin(buyer.token);
    const { csrf, result } = await flow.register(cookie, form);
    expect(result.statusCode).toBe(200);
    expect(pageText(result.body)).toContain('Your account is being prepared');

    const [tenant] = h.tenantsOf(buyer.licenseKey);
    expect(tenant?.plan_id).toBeUndefined();
    const planCalls = () =>
      h.saasus.state
        .requests()
        .filter(
          (request) => request.operation === 'UpdateTenantPlan' && request.path.includes(String(tenant?.id)),
        );
    expect(planCalls()).toEqual([]);
    expect(h.domainEvents(buyer.licenseKey).at(-1)).toEqual({
      detailType: 'Tenant Provisioned',
      detail: { licenseKey: buyer.licenseKey, tenantId: tenant?.id, planId: null },
    });
    expect((await h.store.get(buyer.licenseKey))?.provisioning?.plan).toBeUndefined();

    await h.activate(buyer.licenseKey);
    const resubmitted = await flow.submit(cookie, { csrf, ...form });
    expect(resubmitted.statusCode).toBe(200);
    expect(pageText(resubmitted.body)).toContain('Your account is ready');
    expect(h.tenantsOf(buyer.licenseKey)).toHaveLength(1);
    expect(h.saasus.state.tenant(String(tenant?.id))?.plan_id).toBe(
      onlyProduct(h.config).plans.defaultPlanId,
    );
    expect(planCalls()).toHaveLength(1);
    expect((await h.store.get(buyer.licenseKey))?.provisioning?.plan).toEqual({
      planId: onlyProduct(h.config).plans.defaultPlanId,
    });
  });
});

describe('linking an existing account', () => {
  const seedTenant = (name: string) =>
    h.saasus.seedTenant({ name, back_office_staff_email: 'backoffice@example.com' });

  /** Makes the user a member of the tenant, holding `roles` (env id → role names). */
  const join = async (
    tenant: Record<string, unknown>,
    email: string,
    userId: string,
    roles: [number, string[]][],
  ) => {
    await h.saasusClient.createTenantUser(String(tenant.id), { email, attributes: {} });
    for (const [envId, roleNames] of roles) {
      await h.saasusClient.addTenantUserRoles(String(tenant.id), userId, envId, roleNames);
    }
  };

  /**
   * A SaaS user who administers two tenants (an admin role in the configured env), is a mere member
   * of three more (no role; a non-admin role; an admin role in another env only), and a tenant they
   * do not belong to at all.
   */
  const existingCustomer = async () => {
    const suffix = crypto.randomUUID().slice(0, 8);
    const email = `owner-${suffix}@existing.example`;
    const userId = String(h.saasus.seedUser({ email }).id);
    const { envId, adminRoleNames } = h.config.saasus;
    // SaaSus data is echoed too: a tenant name with markup must come back escaped.
    const mine = [seedTenant(`Mine "One" <em>${suffix}</em>`), seedTenant(`Mine Two ${suffix}`)];
    for (const owned of mine) await join(owned, email, userId, [[envId, [...adminRoleNames]]]);
    const noRole = seedTenant(`Member No Role ${suffix}`);
    await join(noRole, email, userId, []);
    const nonAdminRole = seedTenant(`Member Role ${suffix}`);
    await join(nonAdminRole, email, userId, [[envId, [memberRole]]]);
    const adminElsewhere = seedTenant(`Admin Elsewhere ${suffix}`);
    await join(adminElsewhere, email, userId, [
      [otherEnvId(envId), [...adminRoleNames]],
      [envId, [memberRole]],
    ]);
    const foreign = seedTenant(`Someone Else ${suffix}`);
    return { userId, email, mine, memberOnly: [noRole, nonAdminRole, adminElsewhere], foreign };
  };

  const offeredTenantIds = (html: string) =>
    [...html.matchAll(/name="tenantId" value="([^"]+)"/g)].map((match) => match[1]).sort();

  /** Fulfillment, "link my account", SaaSus sign-in, back at the callback with a temporary code. */
  const signInToLink = async (userId: string) => {
    const buyer = h.newBuyer();
    const { cookie: registrationCookie } = await flow.begin(buyer.token);
    const { result: toSignIn, cookie, state, location } = await flow.startLink(registrationCookie);
    expect(toSignIn.statusCode).toBe(303);
    expect(location).toBe(`${h.config.saasus.signInUrl}?state=${state}`);
    const { code } = h.saasus.mintUserCredentials(userId);
    const choice = await flow.linkCallback(cookie, state, code);
    return { buyer, cookie, choice, linkedCookie: sessionCookieFrom(choice) };
  };

  it('lists only the tenants the signed-in user administers and attaches the license to the chosen one', async () => {
    const customer = await existingCustomer();
    const { buyer, choice, linkedCookie } = await signInToLink(customer.userId);
    expect(choice.statusCode).toBe(200);
    const text = pageText(choice.body);
    for (const tenant of customer.mine) expect(text).toContain(String(tenant.name));
    expect(text).toContain('Only the accounts you administer are listed.');
    expect(text).not.toContain(String(customer.foreign.name));
    expect(choice.body).not.toContain('<em>');
    expect(choice.body).toContain('Mine &quot;One&quot; &lt;em&gt;');
    expect(offeredTenantIds(choice.body)).toEqual(customer.mine.map((tenant) => String(tenant.id)).sort());

    await h.activate(buyer.licenseKey);
    const chosen = customer.mine[1];
    const linked = await flow.post('/link', linkedCookie, {
      csrf: csrfFrom(choice.body),
      tenantId: String(chosen?.id),
      confirm: 'yes',
    });
    expect(linked.statusCode).toBe(200);
    expect(pageText(linked.body)).toContain('Subscription linked');

    const license = await h.store.get(buyer.licenseKey);
    expect(license?.tenantId).toBe(chosen?.id);
    expect(license?.provisioning?.tenant).toEqual({
      tenantId: chosen?.id,
      linked: true,
      previousPlanId: null,
    });
    const tenant = h.saasus.state.tenant(String(chosen?.id));
    expect(tenant?.attributes).toMatchObject({
      [LICENSE_ATTRIBUTE]: buyer.licenseKey,
      [ACCOUNT_ATTRIBUTE]: buyer.account,
    });
    expect(tenant?.name).toBe(chosen?.name);
    expect(tenant?.plan_id).toBe(onlyProduct(h.config).plans.defaultPlanId);
    expect(h.domainEvents(buyer.licenseKey)).toEqual([
      {
        detailType: 'Tenant Provisioned',
        detail: {
          licenseKey: buyer.licenseKey,
          tenantId: chosen?.id,
          linked: true,
          planId: onlyProduct(h.config).plans.defaultPlanId,
        },
      },
    ]);
    // The other tenant was not touched.
    expect(h.saasus.state.tenant(String(customer.mine[0]?.id))?.attributes).toEqual({});
  });

  it('does not offer a tenant the user is only a member of (no role, a non-admin role, or admin in another env)', async () => {
    const customer = await existingCustomer();
    // SaaSus does report those memberships: the filtering is ours.
    const memberships = h.saasus.state
      .tenantUsers()
      .filter((member) => member.id === customer.userId)
      .map((member) => String(member.tenant_id));
    for (const tenant of customer.memberOnly) expect(memberships).toContain(String(tenant.id));

    const { choice, linkedCookie } = await signInToLink(customer.userId);
    expect(choice.statusCode).toBe(200);
    const offered = offeredTenantIds(choice.body);
    for (const tenant of customer.memberOnly) {
      expect(offered).not.toContain(String(tenant.id));
      expect(pageText(choice.body)).not.toContain(String(tenant.name));
    }
    // The session names the signed-in user and the server-side list of the administered tenants.
    const session = h.sealer.open(linkedCookie?.split('=')[1]);
    expect(session.uid).toBe(customer.userId);
    expect(session.lc).toBeDefined();
    expect(JSON.stringify(session)).not.toContain(String(customer.mine[0]?.id));
  });

  it('shows a user who administers no tenant that only an administrator can link, and changes nothing', async () => {
    const suffix = crypto.randomUUID().slice(0, 8);
    const email = `member-${suffix}@existing.example`;
    const userId = String(h.saasus.seedUser({ email }).id);
    const { envId, adminRoleNames } = h.config.saasus;
    const team = seedTenant(`Team <b>${suffix}</b>`);
    await join(team, email, userId, [[envId, [memberRole]]]);
    const otherTeam = seedTenant(`Other Team ${suffix}`);
    await join(otherTeam, email, userId, [[otherEnvId(envId), [...adminRoleNames]]]);
    const tenants = [team, otherTeam];

    const buyer = h.newBuyer();
    const { cookie } = await flow.begin(buyer.token);
    const before = await h.store.get(buyer.licenseKey);
    const writesBefore = h.saasusWrites();

    for (const [lang, title, advice] of [
      ['en', 'Only a tenant administrator can link a subscription', 'Nothing was changed.'],
      ['ja', 'サブスクリプションを紐付けられるのはテナント管理者のみです', '変更は行われていません。'],
    ] as const) {
      const { code } = h.saasus.mintUserCredentials(userId);
      const link = await flow.startLink(cookie);
      const page = await h.invoke({
        method: 'GET',
        path: '/link/callback',
        query: `code=${encodeURIComponent(code)}&state=${link.state}`,
        headers: { 'accept-language': lang },
        cookies: [link.cookie],
      });
      expect(page.statusCode, lang).toBe(403);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body).toContain(`<html lang="${lang}">`);
      const text = pageText(page.body);
      expect(text).toContain(title);
      expect(text).toContain(advice);
      // Nothing to choose, no tenant named, and the session is not upgraded to a signed-in one.
      expect(page.body).not.toContain('name="tenantId"');
      for (const tenant of tenants) expect(text).not.toContain(String(tenant.name));
      expect(page.body).not.toContain('<b>');
      expect(sessionCookieFrom(page)).toBeUndefined();
    }

    // The registration session still cannot link anything.
    const session = h.sealer.open(cookie.split('=')[1]);
    expect(session.uid).toBeUndefined();
    const forged = await flow.post('/link', cookie, {
      csrf: h.sealer.csrfToken(session),
      tenantId: String(team.id),
    });
    expect(forged.statusCode).toBe(400);

    expect(await h.store.get(buyer.licenseKey)).toEqual(before);
    expect(h.saasusWrites()).toBe(writesBefore);
    for (const tenant of tenants) expect(h.saasus.state.tenant(String(tenant.id))?.attributes).toEqual({});
    expect(h.domainEvents(buyer.licenseKey)).toEqual([]);
  });

  it('refuses (403) a forged tenant id the user does not administer or belong to, and changes nothing', async () => {
    const customer = await existingCustomer();
    const { buyer, choice, linkedCookie } = await signInToLink(customer.userId);
    expect(choice.statusCode).toBe(200);
    await h.activate(buyer.licenseKey);
    const writesBefore = h.saasusWrites();
    const before = await h.store.get(buyer.licenseKey);

    for (const tenant of [...customer.memberOnly, customer.foreign]) {
      const refused = await flow.post('/link', linkedCookie, {
        csrf: csrfFrom(choice.body),
        tenantId: String(tenant.id),
        confirm: 'yes',
      });
      expect(refused.statusCode, String(tenant.name)).toBe(403);
      const text = pageText(refused.body);
      expect(text).toContain('This subscription cannot be linked to that account');
      expect(text).toContain('Only an administrator of an account can link a subscription to it.');
      expect(sessionCookieFrom(refused)).toBeUndefined();
    }

    // No license write (not even the provisioning lease), no SaaSus change, no event.
    expect(await h.store.get(buyer.licenseKey)).toEqual(before);
    expect(h.saasusWrites()).toBe(writesBefore);
    for (const tenant of [...customer.memberOnly, customer.foreign]) {
      expect(h.saasus.state.tenant(String(tenant.id))?.attributes).toEqual({});
    }
    expect(h.domainEvents(buyer.licenseKey)).toEqual([]);

    // The same session can still link a tenant the user does administer.
    const chosen = String(customer.mine[0]?.id);
    const linked = await flow.post('/link', linkedCookie, {
      csrf: csrfFrom(choice.body),
      tenantId: chosen,
      confirm: 'yes',
    });
    expect(linked.statusCode).toBe(200);
    expect((await h.store.get(buyer.licenseKey))?.tenantId).toBe(chosen);
  });

  it('refuses a session sealed before the admin check (its tenant list is not trusted)', async () => {
    const customer = await existingCustomer();
    const buyer = h.newBuyer();
    const { cookie } = await flow.begin(buyer.token);
    const current = h.sealer.open(cookie.split('=')[1]);
    // What earlier releases sealed after the callback: the user's tenants in the cookie (`tids`, `atids`).
    const memberTenant = String(customer.memberOnly[0]?.id);
    const legacy = {
      sid: current.sid,
      lk: current.lk,
      uid: customer.userId,
      tids: [memberTenant],
      atids: [memberTenant],
    };
    const { cookieValue, session } = h.sealer.seal(legacy);
    const before = await h.store.get(buyer.licenseKey);
    const writesBefore = h.saasusWrites();

    const refused = await flow.post('/link', `${SESSION_COOKIE}=${cookieValue}`, {
      csrf: h.sealer.csrfToken(session),
      tenantId: memberTenant,
      confirm: 'yes',
    });
    expect(refused.statusCode).toBe(403);
    expect(pageText(refused.body)).toContain('This subscription cannot be linked to that account');
    expect(await h.store.get(buyer.licenseKey)).toEqual(before);
    expect(h.saasusWrites()).toBe(writesBefore);
  });

  it('adds nobody to a linked tenant when the old registration form is submitted afterwards', async () => {
    const customer = await existingCustomer();
    const { buyer, cookie, choice, linkedCookie } = await signInToLink(customer.userId);
    const page = await flow.registrationPage(cookie);
    const csrf = csrfFrom(page.body);
    const chosen = String(customer.mine[0]?.id);
    const linked = await flow.post('/link', linkedCookie, {
      csrf: csrfFrom(choice.body),
      tenantId: chosen,
      confirm: 'yes',
    });
    expect(linked.statusCode).toBe(200);
    const membersBefore = h.saasus.state.tenantUsers(chosen);

    // A member (not necessarily an admin) of the tenant kept the registration page open.
    const intruder = validRegistration();
    const late = await flow.submit(cookie, { csrf, ...intruder });
    expect(late.statusCode).toBe(200);
    expect(h.saasus.state.tenantUsers(chosen)).toEqual(membersBefore);
    expect(saasUsersWithEmail(intruder.adminEmail)).toEqual([]);
    expect(h.idoperation.users().filter((user) => user.login_id === intruder.adminEmail)).toEqual([]);
    expect((await h.store.get(buyer.licenseKey))?.provisioning?.registration).toBeUndefined();
    expect(h.domainEvents(buyer.licenseKey).map((event) => event.detailType)).toEqual(['Tenant Provisioned']);
  });

  it('refuses a link submit without a signed-in user, and a callback without a usable code', async () => {
    const customer = await existingCustomer();
    const buyer = h.newBuyer();
    const { cookie } = await flow.begin(buyer.token);
    const session = h.sealer.open(cookie.split('=')[1]);
    const writesBefore = h.saasusWrites();

    // The registration session never went through SaaSus sign-in: no user, no tenants.
    const unsigned = await flow.post('/link', cookie, {
      csrf: h.sealer.csrfToken(session),
      tenantId: String(customer.mine[0]?.id),
    });
    expect(unsigned.statusCode).toBe(400);

    for (const query of [
      '',
      'code=',
      'code=%20',
      `code=${crypto.randomUUID()}`,
      `code=${'x'.repeat(3000)}`,
    ]) {
      const link = await flow.startLink(cookie);
      const callback = await flow.get('/link/callback', link.cookie, `${query}&state=${link.state}`);
      expect(callback.statusCode, query.slice(0, 20)).toBe(400);
      expect(sessionCookieFrom(callback)).toBeUndefined();
    }
    // Without a session there is nothing to link.
    expect((await flow.get('/link')).statusCode).toBe(400);
    const { code } = h.saasus.mintUserCredentials(customer.userId);
    expect((await flow.get('/link/callback', undefined, `code=${code}`)).statusCode).toBe(400);

    expect(h.saasusWrites()).toBe(writesBefore);
    expect((await h.store.get(buyer.licenseKey))?.tenantId).toBeUndefined();
  });
});
