import { randomBytes, randomUUID } from 'node:crypto';
import { badRequest, notFound, SaasusEmulatorError } from './errors.js';
import { EventBridgeIntegration } from './integration.js';
import {
  type AggregateUsage,
  type CountMethod,
  type DirectMeaning,
  isCalendarDate,
  MeteringCounts,
} from './metering.js';
import {
  attributeBody,
  createSaasUserBody,
  createTenantUserBody,
  createTenantUserRolesBody,
  meteringCountBody,
  parseBody,
  planReservationBody,
  tenantPropsBody,
} from './requests.js';

/**
 * The emulated SaaSus: tenants, SaaS users, tenant memberships with roles, envs, pricing plans,
 * metering counts and sign-in tokens, in memory. Every method answers in the APIs' JSON shapes and
 * throws `SaasusEmulatorError` for what SaaSus would refuse.
 */

type Json = Record<string, unknown>;

export interface EnvSeed {
  readonly id: number;
  readonly name: string;
  readonly display_name?: string;
}

export interface RoleSeed {
  readonly role_name: string;
  readonly display_name: string;
}

export interface AttributeSeed {
  readonly attribute_name: string;
  readonly display_name: string;
  readonly attribute_type: 'string' | 'number' | 'bool' | 'date';
}

/** A pricing plan; omitted fields get neutral values (`used: false`, no menus). */
export interface PlanSeed {
  readonly id: string;
  readonly name: string;
  readonly display_name?: string;
  readonly description?: string;
  readonly used?: boolean;
  readonly pricing_menus?: readonly Json[];
}

export interface MeteringUnitSeed {
  readonly unit_name: string;
  /** How timestamp counts roll up into a day: `sum` (default) or `max`. */
  readonly aggregate_usage?: AggregateUsage;
}

/** A SaaS user to create directly (no API call, no partner event). */
export type UserSeed = ({ email: string; sign_in_id?: never } | { sign_in_id: string; email?: never }) & {
  readonly password?: string;
  readonly attributes?: Json;
};

export interface TenantSeed {
  readonly name: string;
  readonly attributes?: Json;
  readonly back_office_staff_email: string;
  readonly plan_id?: string;
}

/** What `mintUserCredentials` returns: the temporary code and the tokens it exchanges for. */
export interface MintedCredentials {
  readonly code: string;
  readonly id_token: string;
  readonly access_token: string;
  readonly refresh_token: string;
}

export interface SaasusStateOptions {
  /** Business clock (plan times, `now` metering, `today`). */
  readonly now: () => Date;
  /** Real clock for temporary code expiry. */
  readonly realNow: () => Date;
  readonly envs: readonly EnvSeed[];
  readonly roles: readonly RoleSeed[];
  readonly plans: readonly PlanSeed[];
  readonly tenantAttributes: readonly AttributeSeed[];
  readonly meteringUnits: readonly MeteringUnitSeed[];
  readonly meteringTimeZone: string;
  /** What `direct` overwrites: the second's count or the day's (undocumented). */
  readonly meteringDirect?: DirectMeaning;
  readonly tempCodeTtlMs: number;
  /** UpdateTenantPlan without next_plan_id (undocumented): removes the plan, or is ignored. */
  readonly emptyPlanReservation?: 'removes-plan' | 'ignored';
}

interface PlanHistoryRecord {
  plan_id: string;
  plan_applied_at: number;
  tax_rate_id?: string;
  proration_behavior?: string;
  delete_usage?: boolean;
}

interface Reservation {
  next_plan_id?: string;
  using_next_plan_from: number;
  next_plan_tax_rate_id?: string;
  proration_behavior?: string;
  delete_usage?: boolean;
}

interface TenantRecord {
  id: string;
  name: string;
  attributes: Json;
  back_office_staff_email: string;
  plan_id?: string;
  reservation?: Reservation;
  plan_histories: PlanHistoryRecord[];
}

interface UserRecord {
  id: string;
  email: string;
  sign_in_id: string;
  attributes: Json;
}

interface Membership {
  attributes: Json;
  /** env id → role names. */
  roles: Map<number, Set<string>>;
}

const MIN_RESERVATION_LEAD_SECONDS = 5 * 60;

const copy = <T>(value: T): T => structuredClone(value);

const withoutUndefined = (value: Json): Json =>
  Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));

const token = (kind: string) => `emu-${kind}.${randomBytes(24).toString('base64url')}`;

const attributeTypeMatches = (type: AttributeSeed['attribute_type'], value: unknown): boolean => {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'date':
      return typeof value === 'string' && isCalendarDate(value);
  }
};

export class SaasusState {
  /** Integration API: where the partner event source lives. */
  readonly integration = new EventBridgeIntegration();
  readonly #options: SaasusStateOptions;
  readonly #tenants = new Map<string, TenantRecord>();
  readonly #tenantAttributes = new Map<string, AttributeSeed>();
  readonly #users = new Map<string, UserRecord>();
  /** tenant id → user id → membership. */
  readonly #memberships = new Map<string, Map<string, Membership>>();
  readonly #envs: EnvSeed[];
  readonly #roles: Map<string, RoleSeed>;
  readonly #plans = new Map<string, Json>();
  readonly #meteringUnits: Set<string>;
  /** Metering unit name → its id (GetMeteringUnits). */
  readonly #meteringUnitIds = new Map<string, string>();
  readonly #meteringAggregations: Map<string, AggregateUsage>;
  readonly #metering: MeteringCounts;
  readonly #codes = new Map<string, { userId: string; credentials: Json; expiresAt: number }>();
  readonly #idTokens = new Map<string, string>();
  readonly #refreshTokens = new Map<string, string>();

  constructor(options: SaasusStateOptions) {
    this.#options = options;
    this.#envs = options.envs.map((env) => ({ ...env }));
    this.#roles = new Map(options.roles.map((role) => [role.role_name, { ...role }]));
    for (const attribute of options.tenantAttributes) {
      this.#tenantAttributes.set(attribute.attribute_name, { ...attribute });
    }
    this.setPlans(options.plans);
    this.#meteringUnits = new Set(options.meteringUnits.map((unit) => unit.unit_name));
    this.#meteringAggregations = new Map(
      options.meteringUnits.map((unit) => [unit.unit_name, unit.aggregate_usage ?? 'sum']),
    );
    this.#metering = new MeteringCounts(
      options.meteringTimeZone,
      new Map(options.meteringUnits.map((unit) => [unit.unit_name, unit.aggregate_usage ?? 'sum'])),
      options.meteringDirect,
    );
  }

  #nowSeconds(): number {
    return Math.floor(this.#options.now().getTime() / 1000);
  }

  // --- tenants -------------------------------------------------------------------------------------

  #tenant(tenantId: string): TenantRecord {
    const tenant = this.#tenants.get(tenantId);
    if (!tenant) throw notFound(`tenant ${tenantId} not found`);
    return tenant;
  }

  #tenantJson(tenant: TenantRecord): Json {
    return copy(
      withoutUndefined({
        id: tenant.id,
        name: tenant.name,
        attributes: tenant.attributes,
        back_office_staff_email: tenant.back_office_staff_email,
        plan_id: tenant.plan_id,
        ...(tenant.reservation ? withoutUndefined({ ...tenant.reservation }) : {}),
        plan_histories: tenant.plan_histories.map((history) => withoutUndefined({ ...history })),
      }),
    );
  }

  #checkTenantAttributes(values: Json): void {
    const unknown = Object.keys(values).filter((name) => !this.#tenantAttributes.has(name));
    if (unknown.length > 0) {
      throw badRequest(
        `unknown tenant attribute(s): ${unknown.join(', ')} (define them with POST /v1/auth/tenant-attributes)`,
      );
    }
    for (const [name, value] of Object.entries(values)) {
      const definition = this.#tenantAttributes.get(name);
      if (definition && !attributeTypeMatches(definition.attribute_type, value)) {
        throw badRequest(`tenant attribute ${name} must be of type ${definition.attribute_type}`);
      }
    }
  }

  /** Applies plan reservations whose start time has passed (on every request, before handling). */
  applyDueReservations(): void {
    const now = this.#nowSeconds();
    for (const tenant of this.#tenants.values()) {
      const reservation = tenant.reservation;
      if (!reservation || reservation.using_next_plan_from > now) continue;
      this.#applyPlan(tenant, reservation, reservation.using_next_plan_from);
    }
  }

  #applyPlan(tenant: TenantRecord, change: Omit<Reservation, 'using_next_plan_from'>, at: number): void {
    tenant.reservation = undefined;
    if (change.next_plan_id === undefined) {
      // No next plan: the tenant is left without a plan (no history entry: PlanHistory needs a plan id).
      tenant.plan_id = undefined;
      return;
    }
    tenant.plan_id = change.next_plan_id;
    tenant.plan_histories.push({
      plan_id: change.next_plan_id,
      plan_applied_at: at,
      tax_rate_id: change.next_plan_tax_rate_id,
      proration_behavior: change.proration_behavior,
      delete_usage: change.delete_usage,
    });
  }

  createTenant(body: unknown): Json {
    const props = parseBody(tenantPropsBody, body);
    this.#checkTenantAttributes(props.attributes);
    const tenant: TenantRecord = { id: randomUUID(), ...props, plan_histories: [] };
    this.#tenants.set(tenant.id, tenant);
    return this.#tenantJson(tenant);
  }

  seedTenant(seed: TenantSeed): Json {
    const created = this.createTenant({ attributes: {}, ...seed });
    if (seed.plan_id !== undefined) this.updateTenantPlan(String(created.id), { next_plan_id: seed.plan_id });
    return this.getTenant(String(created.id));
  }

  listTenants(): Json {
    return { tenants: [...this.#tenants.values()].map((tenant) => this.#tenantJson(tenant)) };
  }

  getTenant(tenantId: string): Json {
    return this.#tenantJson(this.#tenant(tenantId));
  }

  updateTenant(tenantId: string, body: unknown): void {
    const tenant = this.#tenant(tenantId);
    const props = parseBody(tenantPropsBody, body);
    this.#checkTenantAttributes(props.attributes);
    Object.assign(tenant, props);
  }

  deleteTenant(tenantId: string): void {
    this.#tenant(tenantId);
    this.#tenants.delete(tenantId);
    this.#memberships.delete(tenantId);
    this.#metering.deleteTenant(tenantId);
  }

  updateTenantPlan(tenantId: string, body: unknown): void {
    const tenant = this.#tenant(tenantId);
    const change = parseBody(planReservationBody, body);
    if (change.next_plan_id !== undefined && !this.#plans.has(change.next_plan_id)) {
      throw badRequest(`unknown pricing plan ${change.next_plan_id}`);
    }
    const now = this.#nowSeconds();
    if (change.next_plan_id === undefined && this.#options.emptyPlanReservation === 'ignored') return;
    if (change.using_next_plan_from === undefined) {
      this.#applyPlan(tenant, change, now);
      return;
    }
    if (change.using_next_plan_from < now + MIN_RESERVATION_LEAD_SECONDS) {
      throw badRequest('using_next_plan_from must be at least 5 minutes after the current time');
    }
    tenant.reservation = { ...change, using_next_plan_from: change.using_next_plan_from };
  }

  // --- tenant attributes ---------------------------------------------------------------------------

  listTenantAttributes(): Json {
    return { tenant_attributes: [...this.#tenantAttributes.values()].map((attribute) => ({ ...attribute })) };
  }

  createTenantAttribute(body: unknown): Json {
    const attribute = parseBody(attributeBody, body);
    if (this.#tenantAttributes.has(attribute.attribute_name)) {
      throw new SaasusEmulatorError(
        400,
        'attribute_already_exists',
        `tenant attribute ${attribute.attribute_name} already exists`,
      );
    }
    this.#tenantAttributes.set(attribute.attribute_name, attribute);
    return { ...attribute };
  }

  // --- SaaS users ----------------------------------------------------------------------------------

  #user(userId: string): UserRecord {
    const user = this.#users.get(userId);
    if (!user) throw notFound(`user ${userId} not found`);
    return user;
  }

  #userJson(user: UserRecord): Json {
    return copy({ id: user.id, email: user.email, sign_in_id: user.sign_in_id, attributes: user.attributes });
  }

  #findUser(login: { email?: string | undefined; sign_in_id?: string | undefined }): UserRecord | undefined {
    const email = login.email?.toLowerCase();
    return [...this.#users.values()].find((user) =>
      email
        ? user.email.toLowerCase() === email
        : user.sign_in_id !== '' && user.sign_in_id === login.sign_in_id,
    );
  }

  createSaasUser(body: unknown): Json {
    const input = parseBody(createSaasUserBody, body);
    if (this.#findUser(input)) {
      throw new SaasusEmulatorError(
        400,
        'user_already_exists',
        input.email ? 'a user with this email already exists' : 'a user with this sign-in id already exists',
      );
    }
    const user: UserRecord = {
      id: randomUUID(),
      email: input.email ?? '',
      sign_in_id: input.sign_in_id ?? '',
      attributes: {},
    };
    this.#users.set(user.id, user);
    // Per the spec, a sign-in-id user created without a password gets a generated one in the response.
    const generated = input.sign_in_id && !input.password ? randomBytes(12).toString('base64url') : undefined;
    return { ...this.#userJson(user), ...(generated ? { password: generated } : {}) };
  }

  seedUser(seed: UserSeed): Json {
    const created = this.createSaasUser(withoutUndefined({ ...seed, attributes: undefined }));
    const user = this.#user(String(created.id));
    user.attributes = copy(seed.attributes ?? {});
    return this.#userJson(user);
  }

  listSaasUsers(): Json {
    return { users: [...this.#users.values()].map((user) => this.#userJson(user)) };
  }

  getSaasUser(userId: string): Json {
    return this.#userJson(this.#user(userId));
  }

  deleteSaasUser(userId: string): Json {
    const info = this.#userInfo(this.#user(userId));
    this.#users.delete(userId);
    for (const members of this.#memberships.values()) members.delete(userId);
    for (const tokens of [this.#idTokens, this.#refreshTokens]) {
      for (const [value, owner] of tokens) if (owner === userId) tokens.delete(value);
    }
    return info;
  }

  // --- tenant users and roles ----------------------------------------------------------------------

  #membership(tenantId: string, userId: string): Membership {
    this.#tenant(tenantId);
    const membership = this.#memberships.get(tenantId)?.get(userId);
    if (!membership) throw notFound(`user ${userId} is not a member of tenant ${tenantId}`);
    return membership;
  }

  #envsJson(membership: Membership): Json[] {
    return this.#envs
      .filter((env) => (membership.roles.get(env.id)?.size ?? 0) > 0)
      .map((env) =>
        withoutUndefined({
          id: env.id,
          name: env.name,
          display_name: env.display_name,
          roles: [...(membership.roles.get(env.id) ?? [])].map((name) => ({
            role_name: name,
            display_name: this.#roles.get(name)?.display_name ?? name,
          })),
        }),
      );
  }

  #tenantUserJson(tenant: TenantRecord, user: UserRecord, membership: Membership): Json {
    return copy({
      id: user.id,
      tenant_id: tenant.id,
      tenant_name: tenant.name,
      email: user.email,
      sign_in_id: user.sign_in_id,
      attributes: membership.attributes,
      envs: this.#envsJson(membership),
    });
  }

  #userInfo(user: UserRecord): Json {
    const tenants = [...this.#memberships.entries()].flatMap(([tenantId, members]) => {
      const membership = members.get(user.id);
      const tenant = this.#tenants.get(tenantId);
      if (!membership || !tenant) return [];
      return [
        withoutUndefined({
          id: tenant.id,
          name: tenant.name,
          completed_sign_up: true,
          envs: this.#envsJson(membership),
          user_attribute: membership.attributes,
          back_office_staff_email: tenant.back_office_staff_email,
          plan_id: tenant.plan_id,
        }),
      ];
    });
    return copy({
      id: user.id,
      email: user.email,
      sign_in_id: user.sign_in_id,
      user_attribute: user.attributes,
      tenants,
    });
  }

  createTenantUser(tenantId: string, body: unknown): Json {
    const tenant = this.#tenant(tenantId);
    const input = parseBody(createTenantUserBody, body);
    const user = this.#findUser(input);
    if (!user) {
      throw notFound(
        `no SaaS user with this ${input.email ? 'email' : 'sign-in id'}; create the SaaS user first (POST /v1/auth/users)`,
      );
    }
    const members = this.#memberships.get(tenantId) ?? new Map<string, Membership>();
    this.#memberships.set(tenantId, members);
    if (members.has(user.id)) {
      throw new SaasusEmulatorError(
        400,
        'tenant_user_already_exists',
        `user ${user.id} already belongs to tenant ${tenantId}`,
      );
    }
    const membership: Membership = { attributes: copy(input.attributes), roles: new Map() };
    members.set(user.id, membership);
    return this.#tenantUserJson(tenant, user, membership);
  }

  listTenantUsers(tenantId: string): Json {
    const tenant = this.#tenant(tenantId);
    const users = [...(this.#memberships.get(tenantId)?.entries() ?? [])].flatMap(([userId, membership]) => {
      const user = this.#users.get(userId);
      return user ? [this.#tenantUserJson(tenant, user, membership)] : [];
    });
    return { users };
  }

  getTenantUser(tenantId: string, userId: string): Json {
    const membership = this.#membership(tenantId, userId);
    return this.#tenantUserJson(this.#tenant(tenantId), this.#user(userId), membership);
  }

  deleteTenantUser(tenantId: string, userId: string): void {
    this.#membership(tenantId, userId);
    this.#memberships.get(tenantId)?.delete(userId);
  }

  #env(envIdText: string): number {
    const envId = Number(envIdText);
    if (!this.#envs.some((env) => env.id === envId)) throw badRequest(`unknown env id ${envIdText}`);
    return envId;
  }

  addTenantUserRoles(tenantId: string, userId: string, envIdText: string, body: unknown): void {
    const membership = this.#membership(tenantId, userId);
    const envId = this.#env(envIdText);
    const { role_names } = parseBody(createTenantUserRolesBody, body);
    const unknown = role_names.filter((name) => !this.#roles.has(name));
    if (unknown.length > 0) throw badRequest(`unknown role(s): ${unknown.join(', ')}`);
    const roles = membership.roles.get(envId) ?? new Set<string>();
    for (const name of role_names) roles.add(name);
    membership.roles.set(envId, roles);
  }

  removeTenantUserRole(tenantId: string, userId: string, envIdText: string, roleName: string): void {
    const membership = this.#membership(tenantId, userId);
    const envId = this.#env(envIdText);
    if (!membership.roles.get(envId)?.delete(roleName)) {
      throw notFound(`user ${userId} has no role ${roleName} in env ${envId} of tenant ${tenantId}`);
    }
  }

  listEnvs(): Json {
    return { envs: this.#envs.map((env) => withoutUndefined({ ...env })) };
  }

  /** GetMeteringUnits: the metering units the SaaS defined. */
  listMeteringUnits(): Json {
    return {
      units: [...this.#meteringUnits].sort().map((name) => {
        let id = this.#meteringUnitIds.get(name);
        if (!id) {
          id = randomUUID();
          this.#meteringUnitIds.set(name, id);
        }
        return {
          id,
          used: true,
          unit_name: name,
          aggregate_usage: this.#meteringAggregations.get(name) ?? 'sum',
          display_name: name,
          description: '',
        };
      }),
    };
  }

  listRoles(): Json {
    return { roles: [...this.#roles.values()].map((role) => ({ ...role })) };
  }

  // --- pricing plans -------------------------------------------------------------------------------

  setPlans(plans: readonly PlanSeed[]): void {
    this.#plans.clear();
    for (const plan of plans) {
      this.#plans.set(plan.id, {
        id: plan.id,
        name: plan.name,
        display_name: plan.display_name ?? plan.name,
        description: plan.description ?? '',
        used: plan.used ?? false,
        pricing_menus: copy(plan.pricing_menus ?? []),
      });
    }
  }

  listPricingPlans(): Json {
    return { pricing_plans: [...this.#plans.values()].map(copy) };
  }

  getPricingPlan(planId: string): Json {
    const plan = this.#plans.get(planId);
    if (!plan) throw notFound(`pricing plan ${planId} not found`);
    return copy(plan);
  }

  // --- metering ------------------------------------------------------------------------------------

  #meteringTarget(tenantId: string, unit: string): void {
    this.#tenant(tenantId);
    if (this.#meteringUnits.size > 0 && !this.#meteringUnits.has(unit)) {
      throw notFound(`metering unit ${unit} not found`);
    }
  }

  #timestamp(text: string): number {
    if (!/^\d{1,12}$/.test(text)) throw badRequest(`invalid timestamp "${text}": expected Unix seconds`);
    return Number(text);
  }

  updateMeteringCount(tenantId: string, unit: string, timestampText: string | 'now', body: unknown): Json {
    this.#meteringTarget(tenantId, unit);
    const timestamp = timestampText === 'now' ? this.#nowSeconds() : this.#timestamp(timestampText);
    const { method, count } = parseBody(meteringCountBody, body);
    const updated = this.#metering.update(tenantId, unit, timestamp, method as CountMethod, count);
    return { metering_unit_name: unit, timestamp, count: updated };
  }

  deleteMeteringCount(tenantId: string, unit: string, timestampText: string): void {
    this.#meteringTarget(tenantId, unit);
    this.#metering.delete(tenantId, unit, this.#timestamp(timestampText));
  }

  meteringDateCount(tenantId: string, unit: string, date: string | 'today'): Json {
    this.#meteringTarget(tenantId, unit);
    const day = date === 'today' ? this.#metering.localDate(this.#nowSeconds()) : date;
    return { metering_unit_name: unit, date: day, count: this.#metering.dateCount(tenantId, unit, day) };
  }

  /** Every configured unit and every unit the tenant has counted, with its count for the day. */
  meteringDateCounts(tenantId: string, date: string): Json {
    this.#tenant(tenantId);
    const units = [...new Set([...this.#meteringUnits, ...this.#metering.unitsOf(tenantId)])].sort();
    return {
      counts: units.map((unit) => ({
        metering_unit_name: unit,
        date,
        count: this.#metering.dateCount(tenantId, unit, date),
      })),
    };
  }

  meteringRecords(tenantId?: string) {
    return this.#metering.records(tenantId);
  }

  // --- sign-in -------------------------------------------------------------------------------------

  /** Mints tokens for a user and a temporary code for them, as the SaaSus sign-in page would. */
  mintUserCredentials(userId: string): MintedCredentials {
    this.#user(userId);
    const minted = {
      code: randomUUID(),
      id_token: token('id'),
      access_token: token('access'),
      refresh_token: token('refresh'),
    };
    const { code, ...credentials } = minted;
    this.#idTokens.set(minted.id_token, userId);
    this.#refreshTokens.set(minted.refresh_token, userId);
    this.#codes.set(code, {
      userId,
      credentials,
      expiresAt: this.#options.realNow().getTime() + this.#options.tempCodeTtlMs,
    });
    return minted;
  }

  getCredentials(query: URLSearchParams): Json {
    const flow = query.get('auth-flow') ?? 'tempCodeAuth';
    if (flow === 'tempCodeAuth') {
      const entry = this.#codes.get(query.get('code') ?? '');
      if (!entry || entry.expiresAt < this.#options.realNow().getTime() || !this.#users.has(entry.userId)) {
        throw notFound('unknown or expired temporary code');
      }
      return copy(entry.credentials);
    }
    if (flow === 'refreshTokenAuth') {
      const refreshToken = query.get('refresh-token') ?? '';
      const userId = this.#refreshTokens.get(refreshToken);
      if (!userId) throw notFound('unknown refresh token');
      const idToken = token('id');
      this.#idTokens.set(idToken, userId);
      return { id_token: idToken, access_token: token('access'), refresh_token: refreshToken };
    }
    throw badRequest('auth-flow must be tempCodeAuth or refreshTokenAuth');
  }

  userInfo(query: URLSearchParams): Json {
    const idToken = query.get('token');
    if (!idToken) throw badRequest('the token query parameter (the user ID token) is required');
    const userId = this.#idTokens.get(idToken);
    const user = userId === undefined ? undefined : this.#users.get(userId);
    if (!user) throw new SaasusEmulatorError(401, 'invalid_token', 'the ID token is invalid or expired');
    return this.#userInfo(user);
  }
}
