import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type DeploymentConfig, productFor, UnknownProductError } from '../config.js';
import { RegistrationTokenError } from '../marketplace/errors.js';
import type { ResolvedCustomer } from '../marketplace/resolve-customer.js';
import { isRetryable } from '../retry.js';
import { SaasusApiError } from '../saasus/errors.js';
import type { LicenseItem, LicenseStore } from '../store/licenses.js';
import type { SignUpClaims } from '../store/sign-up-claims.js';
import {
  BUYER_TENANT_CHOICE,
  createPages,
  type ErrorPageKind,
  type Language,
  languageFrom,
  validateRegistrationForm,
} from './pages.js';
import {
  type Provisioning,
  ProvisioningError,
  ProvisioningNeedsAttentionError,
  TenantClaimedError,
} from './provisioning.js';
import { FormRequestError, parseFormBody, parseFulfillmentRequest } from './request.js';
import {
  clearedSessionCookie,
  type RegistrationSession,
  readCookie,
  SESSION_COOKIE,
  SessionError,
  type SessionSealer,
  sessionCookie,
} from './session.js';

/**
 * The sign-up web flow behind the fulfillment URL, as a function of an API Gateway payload-v2
 * event (HTTP API and Function URLs both deliver it):
 *
 * - `POST /`              AWS Marketplace's form post: resolve the token, upsert the license, 303 → /register
 * - `GET|POST /register`  the registration page and its submit (the provisioning saga)
 * - `GET /link`           "link to my existing account": a single-use `state` in the session, 303 to the SaaS sign-in
 * - `GET /link/callback`  the session's `state` and a temporary code (each used once) → the tenants
 *                         the user administers, with who is signed in and whose subscription it is
 * - `POST /link`          attach the license to the chosen tenant (one the callback found they
 *                         administer), on an explicit confirmation
 *
 * Every failure is a page a person understands with a status a machine understands; none of
 * them writes a license record, and the registration token never reaches a URL, cookie or log.
 */

/** A tenant the signed-in SaaSus user belongs to, with the roles they hold in it per env (userinfo). */
export interface LinkableTenant {
  id: string;
  name: string;
  envs: readonly { id: number; roles: readonly { role_name: string }[] }[];
}

/**
 * The tenants in which the user holds one of the admin roles (`saasus.adminRoleNames`) in the
 * configured env (`saasus.envId`): only those may receive a license. Membership alone, or an admin
 * role in another env, is not enough.
 */
export const administeredTenants = <T extends LinkableTenant>(
  tenants: readonly T[],
  { envId, adminRoleNames }: Pick<DeploymentConfig['saasus'], 'envId' | 'adminRoleNames'>,
): T[] => {
  const adminRoles = new Set(adminRoleNames);
  return tenants.filter((tenant) =>
    tenant.envs.some((env) => env.id === envId && env.roles.some((role) => adminRoles.has(role.role_name))),
  );
};

export interface SignUpAppDependencies {
  config: DeploymentConfig;
  store: LicenseStore;
  resolveCustomer: (token: string) => Promise<ResolvedCustomer>;
  provisioning: Provisioning;
  sessions: () => Promise<SessionSealer>;
  /** Single-use link `state`s and codes, and the tenants offered by a link callback. */
  claims: SignUpClaims;
  /** SaaSus calls of the link flow: the temporary code → the user and their tenants (with roles). */
  exchangeCode: (code: string) => Promise<{ userId: string; email: string; tenants: LinkableTenant[] }>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Path prefix of the routes ('' behind API Gateway). */
  basePath?: string;
  /** Session lifetime, seconds. */
  sessionTtlSeconds?: number;
}

type Result = APIGatewayProxyStructuredResultV2;

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly page: ErrorPageKind,
    readonly headers: Record<string, string> = {},
  ) {
    super(page);
  }
}

/** Pages carry a CSRF token and a session: never cached. The security headers are the handler's (middy). */
const noStore = { 'cache-control': 'no-store' };

const html = (statusCode: number, body: string, extra: Partial<Result> = {}): Result => ({
  statusCode,
  headers: { 'content-type': 'text/html; charset=utf-8', ...noStore, ...(extra.headers ?? {}) },
  body,
  ...(extra.cookies ? { cookies: extra.cookies } : {}),
});

const redirect = (location: string, cookies?: string[]): Result => ({
  statusCode: 303,
  headers: { location, ...noStore },
  body: '',
  ...(cookies ? { cookies } : {}),
});

export const createSignUpApp = (deps: SignUpAppDependencies) => {
  const { config, store, logger } = deps;
  const base = deps.basePath ?? '';
  const ttl = deps.sessionTtlSeconds ?? 30 * 60;
  // Every page carries the seller's brand (the handler's CSP lets exactly the brand's logo load).
  const { registrationPage, finishPage, tenantChoicePage, errorPage } = createPages(config.branding);

  const openSession = async (event: APIGatewayProxyEventV2): Promise<RegistrationSession> => {
    const cookies = event.cookies ?? (event.headers.cookie ? [event.headers.cookie] : []);
    try {
      return (await deps.sessions()).open(readCookie(cookies, SESSION_COOKIE));
    } catch (error) {
      if (error instanceof SessionError) throw new HttpProblem(400, 'session-expired');
      throw error;
    }
  };

  const requireCsrf = async (session: RegistrationSession, fields: Map<string, string>) => {
    if (!(await deps.sessions()).verifyCsrf(session, fields.get('csrf')))
      throw new HttpProblem(403, 'forbidden');
  };

  const readForm = (event: APIGatewayProxyEventV2) =>
    parseFormBody({ body: event.body, isBase64Encoded: event.isBase64Encoded, headers: event.headers });

  const fulfill = async (event: APIGatewayProxyEventV2): Promise<Result> => {
    const request = await parseFulfillmentRequest({
      body: event.body,
      isBase64Encoded: event.isBase64Encoded,
      headers: event.headers,
    });
    const customer = await deps.resolveCustomer(request.token);
    // The token's product selects its plans; a listing this deployment does not serve writes nothing.
    const product = (() => {
      try {
        return productFor(config, customer.productCode);
      } catch (error) {
        if (!(error instanceof UnknownProductError)) throw error;
        logger.warn('Registration token for another product', { productCode: customer.productCode });
        throw new HttpProblem(400, 'product-mismatch');
      }
    })();
    const identityMode = product.identityMode;
    const licenseKey = identityMode === 'license' ? customer.licenseArn : customer.customerIdentifier;
    if (!licenseKey) {
      logger.warn('ResolveCustomer returned no identifier for the configured identity mode', {
        identityMode,
      });
      throw new HttpProblem(400, 'bad-request');
    }
    const license = await store.upsertIdentity(
      {
        licenseKey,
        identityMode,
        productCode: customer.productCode,
        ...(customer.licenseArn ? { licenseArn: customer.licenseArn } : {}),
        ...(customer.customerAwsAccountId ? { customerAwsAccountId: customer.customerAwsAccountId } : {}),
        ...(customer.customerIdentifier ? { customerIdentifier: customer.customerIdentifier } : {}),
      },
      request.freeTrial ? { freeTrial: true } : {},
    );
    logger.info('Registration token resolved', {
      licenseKey,
      status: license.status,
      hasTenant: !!license.tenantId,
    });
    // Only a finished account skips the form: a saga interrupted after the tenant step is resumed
    // through the registration page (the first registration recorded wins).
    if (license.tenantId && license.provisioning?.completed) {
      return redirect(config.saasus.signInUrl, [clearedSessionCookie()]);
    }
    const { cookieValue } = (await deps.sessions()).seal({ lk: licenseKey });
    return redirect(`${base}/register`, [sessionCookie(cookieValue, ttl)]);
  };

  /**
   * The tenant the buyer's AWS account already holds through a live license of another product
   * (ResolveCustomer proved the account): a buyer adding a listing keeps one tenant.
   */
  const buyerTenantOf = async (
    license: LicenseItem,
  ): Promise<{ tenantId: string; name: string } | undefined> => {
    if (config.products.length < 2 || !license.customerAwsAccountId) return undefined;
    const held = (await store.findByAccount(license.customerAwsAccountId)).find(
      (other) =>
        other.productCode !== license.productCode &&
        other.status !== 'ended' &&
        typeof other.tenantId === 'string' &&
        other.tenantId !== '' &&
        other.provisioning?.completed !== undefined,
    );
    if (!held?.tenantId) return undefined;
    const registration = held.provisioning?.registration as { tenantName?: unknown } | undefined;
    const name = typeof registration?.tenantName === 'string' ? registration.tenantName : held.tenantId;
    return { tenantId: held.tenantId, name };
  };

  const showRegistration = async (event: APIGatewayProxyEventV2, lang: Language): Promise<Result> => {
    const session = await openSession(event);
    const license = await store.get(session.lk);
    if (!license) throw new HttpProblem(400, 'session-expired');
    if (license.tenantId && license.provisioning?.completed) return redirect(config.saasus.signInUrl);
    const csrfToken = (await deps.sessions()).csrfToken(session);
    return html(
      200,
      registrationPage({
        lang,
        basePath: base,
        csrfToken,
        linkUrl: `${base}/link`,
        awsAccountId: license.customerAwsAccountId,
        buyerTenant: await buyerTenantOf(license),
      }),
    );
  };

  /** The registration page's offer taken: the license joins the buyer's tenant of another product. */
  const attachToBuyerTenant = async (session: RegistrationSession, lang: Language): Promise<Result> => {
    const license = await store.get(session.lk);
    if (!license) throw new HttpProblem(400, 'session-expired');
    // Looked up again, never read from the form: only the account's own tenant can be chosen.
    const tenant = await buyerTenantOf(license);
    if (!tenant) throw new HttpProblem(400, 'bad-request');
    try {
      await deps.provisioning.linkExistingTenant(session.lk, tenant.tenantId, [tenant.tenantId]);
    } catch (error) {
      if (error instanceof TenantClaimedError) throw new HttpProblem(409, 'tenant-already-linked');
      if (error instanceof ProvisioningError) throw new HttpProblem(400, 'session-expired');
      throw error;
    }
    logger.info("Subscription added to the buyer's tenant of another product", {
      licenseKey: session.lk,
      tenantId: tenant.tenantId,
    });
    return html(200, finishPage({ lang, outcome: 'linked', signInUrl: config.saasus.signInUrl }), {
      cookies: [clearedSessionCookie()],
    });
  };

  const submitRegistration = async (event: APIGatewayProxyEventV2, lang: Language): Promise<Result> => {
    const session = await openSession(event);
    const fields = await readForm(event);
    await requireCsrf(session, fields);
    if (fields.get('attach') === BUYER_TENANT_CHOICE) return attachToBuyerTenant(session, lang);
    const validation = validateRegistrationForm(fields);
    if (!validation.ok) {
      const csrfToken = (await deps.sessions()).csrfToken(session);
      const license = await store.get(session.lk);
      const values = {
        tenantName: fields.get('tenantName') ?? '',
        adminEmail: fields.get('adminEmail') ?? '',
        adminName: fields.get('adminName') ?? '',
      };
      return html(
        400,
        registrationPage({
          lang,
          basePath: base,
          csrfToken,
          values,
          errors: validation.errors,
          linkUrl: `${base}/link`,
          awsAccountId: license?.customerAwsAccountId,
          buyerTenant: license ? await buyerTenantOf(license) : undefined,
        }),
      );
    }
    let outcome: Awaited<ReturnType<Provisioning['provision']>>;
    try {
      outcome = await deps.provisioning.provision(session.lk, validation.form);
    } catch (error) {
      // The session names a license we do not have (it cannot be forged, but a license can be removed).
      if (error instanceof ProvisioningError) throw new HttpProblem(400, 'session-expired');
      if (error instanceof TenantClaimedError) throw new HttpProblem(409, 'tenant-already-linked');
      throw error;
    }
    logger.info('Provisioned', {
      licenseKey: session.lk,
      tenantId: outcome.tenantId,
      status: outcome.status,
    });
    return html(200, finishPage({ lang, outcome: outcome.status, signInUrl: config.saasus.signInUrl }), {
      cookies: [clearedSessionCookie()],
    });
  };

  /** `GET /link`: a fresh single-use `state` in the session, sent along to the SaaS sign-in. */
  const startLink = async (event: APIGatewayProxyEventV2): Promise<Result> => {
    const session = await openSession(event);
    const state = randomBytes(24).toString('base64url');
    const { cookieValue } = (await deps.sessions()).seal({ sid: session.sid, lk: session.lk, ls: state });
    const signIn = new URL(config.saasus.linkSignInUrl ?? config.saasus.signInUrl);
    signIn.searchParams.set('state', state);
    return redirect(signIn.toString(), [sessionCookie(cookieValue, ttl)]);
  };

  const sameText = (a: string, b: string) =>
    a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

  const linkCallback = async (event: APIGatewayProxyEventV2, lang: Language): Promise<Result> => {
    const session = await openSession(event);
    const query = new URLSearchParams(event.rawQueryString ?? '');
    const code = query.get('code')?.trim();
    const state = query.get('state') ?? '';
    if (!code || code.length > 2048) throw new HttpProblem(400, 'bad-request');
    // The callback must answer the sign-in this browser started (login CSRF), and only once.
    if (!session.ls || !sameText(state, session.ls)) {
      logger.warn("Link callback refused: its state is not the session's", { licenseKey: session.lk });
      throw new HttpProblem(400, 'link-restart');
    }
    if (!(await deps.claims.useOnce('link-state', state, ttl))) {
      logger.warn('Link callback refused: state already used', { licenseKey: session.lk });
      throw new HttpProblem(400, 'link-restart');
    }
    if (!(await deps.claims.useOnce('link-code', code, ttl))) {
      logger.warn('Link callback refused: temporary code already used', { licenseKey: session.lk });
      throw new HttpProblem(400, 'link-restart');
    }
    let user: Awaited<ReturnType<SignUpAppDependencies['exchangeCode']>>;
    try {
      user = await deps.exchangeCode(code);
    } catch (error) {
      // An unknown, expired (10 s) or already used temporary code is the buyer's to retry, not ours.
      if (error instanceof SaasusApiError && error.status >= 400 && error.status < 500 && !error.retryable) {
        logger.warn('SaaSus refused the temporary code', { status: error.status, type: error.type });
        throw new HttpProblem(400, 'bad-request');
      }
      throw error;
    }
    // Only a tenant administrator may attach a subscription (and its plan) to a tenant.
    const administered = administeredTenants(user.tenants, config.saasus);
    if (administered.length === 0) {
      logger.info('Link refused: the signed-in user administers no tenant', {
        licenseKey: session.lk,
        memberships: user.tenants.length,
      });
      // The session is left as it was: nothing is offered, nothing changes.
      throw new HttpProblem(403, 'link-admin-required');
    }
    const license = await store.get(session.lk);
    if (!license) throw new HttpProblem(400, 'session-expired');
    const choiceId = randomBytes(24).toString('base64url');
    await deps.claims.putLinkChoice(
      choiceId,
      { licenseKey: session.lk, userId: user.userId, tenantIds: administered.map((tenant) => tenant.id) },
      ttl,
    );
    const sealer = await deps.sessions();
    const { cookieValue, session: linked } = sealer.seal({
      sid: session.sid,
      lk: session.lk,
      uid: user.userId,
      lc: choiceId,
    });
    return html(
      200,
      tenantChoicePage({
        lang,
        basePath: base,
        csrfToken: sealer.csrfToken(linked),
        tenants: administered.map(({ id, name }) => ({ id, name })),
        signedInAs: user.email,
        awsAccountId: license.customerAwsAccountId,
      }),
      { cookies: [sessionCookie(cookieValue, ttl)] },
    );
  };

  const submitLink = async (event: APIGatewayProxyEventV2, lang: Language): Promise<Result> => {
    const session = await openSession(event);
    const fields = await readForm(event);
    await requireCsrf(session, fields);
    const tenantId = fields.get('tenantId');
    if (!session.uid || !tenantId) throw new HttpProblem(400, 'bad-request');
    // The form is not trusted: the tenant must be one the callback found the user administers.
    const choice = session.lc ? await deps.claims.getLinkChoice(session.lc) : undefined;
    const allowed =
      choice && choice.licenseKey === session.lk && choice.userId === session.uid ? choice.tenantIds : [];
    if (!allowed.includes(tenantId)) {
      logger.warn('Link refused: the tenant is not one the signed-in user administers', {
        licenseKey: session.lk,
      });
      throw new HttpProblem(403, 'link-not-allowed');
    }
    if (fields.get('confirm') !== 'yes') throw new HttpProblem(400, 'link-confirm-required');
    try {
      await deps.provisioning.linkExistingTenant(session.lk, tenantId, allowed);
    } catch (error) {
      if (error instanceof TenantClaimedError) throw new HttpProblem(409, 'tenant-already-linked');
      if (error instanceof ProvisioningError) {
        logger.warn('Link refused', { licenseKey: session.lk, reason: error.message });
        throw new HttpProblem(403, 'forbidden');
      }
      throw error;
    }
    return html(200, finishPage({ lang, outcome: 'linked', signInUrl: config.saasus.signInUrl }), {
      cookies: [clearedSessionCookie()],
    });
  };

  const routes: Record<
    string,
    Partial<Record<string, (e: APIGatewayProxyEventV2, l: Language) => Promise<Result>>>
  > = {
    '/': { POST: fulfill },
    '/register': { GET: showRegistration, POST: submitRegistration },
    '/link': { GET: startLink, POST: submitLink },
    '/link/callback': { GET: linkCallback },
  };

  return {
    async handle(event: APIGatewayProxyEventV2): Promise<Result> {
      const lang = languageFrom(event.headers?.['accept-language']);
      const method = event.requestContext?.http?.method?.toUpperCase() ?? '';
      const rawPath = event.rawPath ?? '/';
      const path =
        (rawPath.startsWith(base) ? rawPath.slice(base.length) : rawPath).replace(/\/+$/, '') || '/';
      const route = routes[path];
      try {
        if (!route) throw new HttpProblem(404, 'not-found');
        const action = route[method];
        if (!action)
          throw new HttpProblem(405, 'method-not-allowed', { allow: Object.keys(route).join(', ') });
        return await action(event, lang);
      } catch (error) {
        if (error instanceof HttpProblem)
          return html(error.status, errorPage(lang, error.page), { headers: error.headers });
        if (error instanceof FormRequestError) {
          const status = error.problem === 'unsupported-media-type' ? 415 : 400;
          return html(status, errorPage(lang, 'bad-request'));
        }
        if (error instanceof RegistrationTokenError) return html(400, errorPage(lang, 'token-invalid'));
        if (error instanceof ProvisioningNeedsAttentionError) {
          // Logged and counted (alarm) by provisioning; the buyer need not keep trying.
          return html(503, errorPage(lang, 'seller-notified'));
        }
        if (isRetryable(error)) {
          logger.warn('Dependency unavailable; the buyer is asked to retry', {
            error: error instanceof Error ? error.name : 'unknown',
          });
          return html(503, errorPage(lang, 'try-again'), { headers: { 'retry-after': '60' } });
        }
        logger.error('Sign-up failed', {
          error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
        });
        return html(500, errorPage(lang, 'internal'));
      }
    },
  };
};

export type SignUpApp = ReturnType<typeof createSignUpApp>;
