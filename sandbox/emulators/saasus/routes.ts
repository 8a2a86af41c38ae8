import { badRequest } from './errors.js';
import { integrationRoutes } from './integration-routes.js';
import { declaredStatuses, type SpecOperation, specOperations } from './operations.js';
import type { Route, RouteResult } from './route.js';

export type { Route, RouteContext, RouteResult } from './route.js';

/**
 * The endpoints the emulator serves: path templates, operation ids and success statuses from the
 * Auth and Pricing OpenAPI documents. `eventType` is the `detail.event_type` of the partner event a
 * successful call emits. SaaSus publishes only `create_tenant` and `create_saas_user`; the other names
 * follow the same pattern and are the emulator's choice.
 */

const ok = (body?: unknown): RouteResult => ({ status: 200, body });
const created = (body?: unknown): RouteResult => ({ status: 201, body });

const param = (params: Readonly<Record<string, string>>, name: string): string => {
  const value = params[name];
  if (value === undefined) throw badRequest(`missing path parameter ${name}`);
  return value;
};

const TENANT = '/v1/auth/tenants/{tenant_id}';
const TENANT_USER = `${TENANT}/users/{user_id}`;
const METERING = '/v1/pricing/metering/tenants/{tenant_id}/units';
const METERING_UNIT = `${METERING}/{metering_unit_name}`;

export const routes: readonly Route[] = [
  // tenants
  {
    method: 'GET',
    pattern: '/v1/auth/tenants',
    operation: 'GetTenants',
    handle: ({ state }) => ok(state.listTenants()),
  },
  {
    method: 'POST',
    pattern: '/v1/auth/tenants',
    operation: 'CreateTenant',
    eventType: 'create_tenant',
    handle: ({ state, body }) => created(state.createTenant(body)),
  },
  {
    method: 'GET',
    pattern: TENANT,
    operation: 'GetTenant',
    handle: ({ state, params }) => ok(state.getTenant(param(params, 'tenant_id'))),
  },
  {
    method: 'PATCH',
    pattern: TENANT,
    operation: 'UpdateTenant',
    eventType: 'update_tenant',
    handle: ({ state, params, body }) => ok(state.updateTenant(param(params, 'tenant_id'), body)),
  },
  {
    method: 'DELETE',
    pattern: TENANT,
    operation: 'DeleteTenant',
    eventType: 'delete_tenant',
    handle: ({ state, params }) => ok(state.deleteTenant(param(params, 'tenant_id'))),
  },
  {
    method: 'PUT',
    pattern: `${TENANT}/plans`,
    operation: 'UpdateTenantPlan',
    eventType: 'update_tenant_plan',
    handle: ({ state, params, body }) => ok(state.updateTenantPlan(param(params, 'tenant_id'), body)),
  },
  // tenant attributes
  {
    method: 'GET',
    pattern: '/v1/auth/tenant-attributes',
    operation: 'GetTenantAttributes',
    handle: ({ state }) => ok(state.listTenantAttributes()),
  },
  {
    method: 'POST',
    pattern: '/v1/auth/tenant-attributes',
    operation: 'CreateTenantAttribute',
    eventType: 'create_tenant_attribute',
    handle: ({ state, body }) => created(state.createTenantAttribute(body)),
  },
  // SaaS users
  {
    method: 'GET',
    pattern: '/v1/auth/users',
    operation: 'GetSaasUsers',
    handle: ({ state }) => ok(state.listSaasUsers()),
  },
  {
    method: 'POST',
    pattern: '/v1/auth/users',
    operation: 'CreateSaasUser',
    eventType: 'create_saas_user',
    handle: ({ state, body }) => created(state.createSaasUser(body)),
  },
  {
    method: 'GET',
    pattern: '/v1/auth/users/{user_id}',
    operation: 'GetSaasUser',
    handle: ({ state, params }) => ok(state.getSaasUser(param(params, 'user_id'))),
  },
  {
    method: 'DELETE',
    pattern: '/v1/auth/users/{user_id}',
    operation: 'DeleteSaasUser',
    eventType: 'delete_saas_user',
    handle: ({ state, params }) => ok(state.deleteSaasUser(param(params, 'user_id'))),
  },
  // tenant users and roles
  {
    method: 'GET',
    pattern: `${TENANT}/users`,
    operation: 'GetTenantUsers',
    handle: ({ state, params }) => ok(state.listTenantUsers(param(params, 'tenant_id'))),
  },
  {
    method: 'POST',
    pattern: `${TENANT}/users`,
    operation: 'CreateTenantUser',
    eventType: 'create_tenant_user',
    handle: ({ state, params, body }) => created(state.createTenantUser(param(params, 'tenant_id'), body)),
  },
  {
    method: 'GET',
    pattern: TENANT_USER,
    operation: 'GetTenantUser',
    handle: ({ state, params }) =>
      ok(state.getTenantUser(param(params, 'tenant_id'), param(params, 'user_id'))),
  },
  {
    method: 'DELETE',
    pattern: TENANT_USER,
    operation: 'DeleteTenantUser',
    eventType: 'delete_tenant_user',
    handle: ({ state, params }) =>
      ok(state.deleteTenantUser(param(params, 'tenant_id'), param(params, 'user_id'))),
  },
  {
    method: 'POST',
    pattern: `${TENANT_USER}/envs/{env_id}/roles`,
    operation: 'CreateTenantUserRoles',
    eventType: 'create_tenant_user_roles',
    handle: ({ state, params, body }) =>
      created(
        state.addTenantUserRoles(
          param(params, 'tenant_id'),
          param(params, 'user_id'),
          param(params, 'env_id'),
          body,
        ),
      ),
  },
  {
    method: 'DELETE',
    pattern: `${TENANT_USER}/envs/{env_id}/roles/{role_name}`,
    operation: 'DeleteTenantUserRole',
    eventType: 'delete_tenant_user_role',
    handle: ({ state, params }) =>
      ok(
        state.removeTenantUserRole(
          param(params, 'tenant_id'),
          param(params, 'user_id'),
          param(params, 'env_id'),
          param(params, 'role_name'),
        ),
      ),
  },
  // envs, roles, sign-in
  {
    method: 'GET',
    pattern: '/v1/auth/envs',
    operation: 'GetEnvs',
    handle: ({ state }) => ok(state.listEnvs()),
  },
  {
    method: 'GET',
    pattern: '/v1/auth/roles',
    operation: 'GetRoles',
    handle: ({ state }) => ok(state.listRoles()),
  },
  {
    method: 'GET',
    pattern: '/v1/auth/credentials',
    operation: 'GetAuthCredentials',
    handle: ({ state, query }) => ok(state.getCredentials(query)),
  },
  {
    method: 'GET',
    pattern: '/v1/auth/userinfo',
    operation: 'GetUserInfo',
    handle: ({ state, query }) => ok(state.userInfo(query)),
  },
  // pricing plans
  {
    method: 'GET',
    pattern: '/v1/pricing/metering/units',
    operation: 'GetMeteringUnits',
    handle: ({ state }) => ok(state.listMeteringUnits()),
  },
  {
    method: 'GET',
    pattern: '/v1/pricing/plans',
    operation: 'GetPricingPlans',
    handle: ({ state }) => ok(state.listPricingPlans()),
  },
  {
    method: 'GET',
    pattern: '/v1/pricing/plans/{plan_id}',
    operation: 'GetPricingPlan',
    handle: ({ state, params }) => ok(state.getPricingPlan(param(params, 'plan_id'))),
  },
  // metering
  {
    method: 'PUT',
    pattern: `${METERING_UNIT}/now`,
    operation: 'UpdateMeteringUnitTimestampCountNow',
    eventType: 'update_metering_unit_timestamp_count_now',
    handle: ({ state, params, body }) =>
      ok(
        state.updateMeteringCount(
          param(params, 'tenant_id'),
          param(params, 'metering_unit_name'),
          'now',
          body,
        ),
      ),
  },
  {
    method: 'PUT',
    pattern: `${METERING_UNIT}/timestamp/{timestamp}`,
    operation: 'UpdateMeteringUnitTimestampCount',
    eventType: 'update_metering_unit_timestamp_count',
    handle: ({ state, params, body }) =>
      ok(
        state.updateMeteringCount(
          param(params, 'tenant_id'),
          param(params, 'metering_unit_name'),
          param(params, 'timestamp'),
          body,
        ),
      ),
  },
  {
    method: 'DELETE',
    pattern: `${METERING_UNIT}/timestamp/{timestamp}`,
    operation: 'DeleteMeteringUnitTimestampCount',
    eventType: 'delete_metering_unit_timestamp_count',
    handle: ({ state, params }) =>
      ok(
        state.deleteMeteringCount(
          param(params, 'tenant_id'),
          param(params, 'metering_unit_name'),
          param(params, 'timestamp'),
        ),
      ),
  },
  {
    method: 'GET',
    pattern: `${METERING_UNIT}/today`,
    operation: 'GetMeteringUnitDateCountByTenantIdAndUnitNameToday',
    handle: ({ state, params }) =>
      ok(state.meteringDateCount(param(params, 'tenant_id'), param(params, 'metering_unit_name'), 'today')),
  },
  {
    method: 'GET',
    pattern: `${METERING_UNIT}/date/{date}`,
    operation: 'GetMeteringUnitDateCountByTenantIdAndUnitNameAndDate',
    handle: ({ state, params }) =>
      ok(
        state.meteringDateCount(
          param(params, 'tenant_id'),
          param(params, 'metering_unit_name'),
          param(params, 'date'),
        ),
      ),
  },
  {
    method: 'GET',
    pattern: `${METERING}/date/{date}`,
    operation: 'GetMeteringUnitDateCountsByTenantIdAndDate',
    handle: ({ state, params }) =>
      ok(state.meteringDateCounts(param(params, 'tenant_id'), param(params, 'date'))),
  },
];

export interface RouteMatch {
  readonly route: Route;
  readonly params: Record<string, string>;
  /** Error statuses the spec declares for the operation (500 always among them). */
  readonly declaredStatuses: readonly number[];
}

/** A spec operation the emulator does not serve. */
export interface UnservedMatch {
  readonly unserved: SpecOperation;
}

const splitPattern = (pattern: string) =>
  pattern
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith('{') ? { param: part.slice(1, -1) } : { literal: part }));

const served = [...routes, ...integrationRoutes];
const servedKeys = new Set(served.map((route) => `${route.method} ${route.pattern}`));
const candidates = [
  ...served.map((route) => ({ route, parts: splitPattern(route.pattern) })),
  ...specOperations
    .filter((entry) => !servedKeys.has(`${entry.method} ${entry.path}`))
    .map((entry) => ({ unserved: entry, parts: splitPattern(entry.path) })),
];

/**
 * The operation for a method and path, by the spec's rule: a literal path wins over a template
 * (`/v1/auth/tenants/all/users` is GetAllTenantUsers, not GetTenantUsers of tenant `all`), and
 * between templates the one with more literal segments wins (`units/date/{date}` over
 * `units/{metering_unit_name}/today`).
 */
export const matchRoute = (method: string, pathname: string): RouteMatch | UnservedMatch | undefined => {
  const segments = pathname.split('/').filter(Boolean);
  let best:
    | { candidate: (typeof candidates)[number]; params: Record<string, string>; literals: number }
    | undefined;
  for (const candidate of candidates) {
    const { parts } = candidate;
    const candidateMethod = 'route' in candidate ? candidate.route.method : candidate.unserved.method;
    if (candidateMethod !== method || parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    const fits = parts.every((part, index) => {
      const segment = segments[index] ?? '';
      if ('literal' in part) {
        literals++;
        return part.literal === segment;
      }
      try {
        params[part.param] = decodeURIComponent(segment);
      } catch {
        throw badRequest(`path parameter ${part.param} is not valid percent-encoding`);
      }
      return true;
    });
    if (fits && (!best || literals > best.literals)) best = { candidate, params, literals };
  }
  if (!best) return undefined;
  const { candidate, params } = best;
  if (!('route' in candidate)) return { unserved: candidate.unserved };
  return {
    route: candidate.route,
    params,
    declaredStatuses: declaredStatuses(candidate.route.method, candidate.route.pattern),
  };
};
