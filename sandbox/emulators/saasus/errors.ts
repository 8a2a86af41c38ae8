/**
 * Error answers of the SaaSus emulator, in the APIs' `Error` shape `{ type, message }`. SaaSus does
 * not publish its `type` values (the spec's only hint is `permission_denied`), so these are the
 * emulator's own, chosen to read clearly:
 *
 * | status | type | when |
 * | --- | --- | --- |
 * | 400 | `bad_request` | body not JSON, a required field missing, a wrong type, an unknown tenant attribute, plan, env or role |
 * | 400 | `user_already_exists` | creating a SaaS user whose email (case-insensitive) or sign-in id exists |
 * | 400 | `tenant_user_already_exists` | adding a user to a tenant they already belong to |
 * | 400 | `attribute_already_exists` | defining a tenant attribute name twice |
 * | 401 | `unauthorized` | missing, malformed or wrong SAASUSSIGV1 signature, or a timestamp off by more than a minute |
 * | 401 | `invalid_token` | `GET /v1/auth/userinfo` with an unknown ID token |
 * | 404 | `not_found` | unknown route, tenant, user, tenant user, plan, role assignment or temporary code |
 * | 429 / 5xx | `too_many_requests` / `internal_server_error` / `service_unavailable` | injected faults |
 * | 501 | `not_served` | an operation of the SaaSus documents this emulator does not serve |
 *
 * A 400 or 404 goes out only where the operation declares it; elsewhere the same `type` and message
 * come with the 500 that SaaSus declares for every operation (`operations.ts`).
 */
export class SaasusEmulatorError extends Error {
  override readonly name = 'SaasusEmulatorError';
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new SaasusEmulatorError(400, 'bad_request', message);
export const notFound = (message: string) => new SaasusEmulatorError(404, 'not_found', message);

/** The default `type` of an injected error status. */
export const faultType = (status: number): string => {
  if (status === 429) return 'too_many_requests';
  if (status === 503) return 'service_unavailable';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status >= 400 && status < 500) return 'bad_request';
  return 'internal_server_error';
};
