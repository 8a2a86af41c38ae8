import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type SaasusEmulator, type SaasusExchange, startSaasusEmulator } from '#sandbox/emulators/saasus';
import { specOperations } from '#sandbox/emulators/saasus/operations';
import { createSaasusClient, type SaasusClient } from '#shared/saasus/client';
import { SaasusApiError } from '#shared/saasus/errors';
import { staticSecretSource } from '#shared/secrets';
import { checkSaasusExchange, createContractRecorder } from '#test/support/saasus-contract';

/**
 * The SaaSus client and emulator against the official OpenAPI documents (read from `../shared` at
 * test time). Every client method is called once on its success path and the failures the bridge
 * relies on are provoked; each request the client sends and each answer the emulator gives is
 * checked. The other test files check their SaaSus traffic the same way (`test/support/contract-setup.ts`).
 */

const credentials = { saasId: 'contract-saas', apiKey: 'contract-api-key', secretKey: 'contract-secret' };
const planId = '0f8d6c2e-1111-4a7b-9c3d-000000000001';
const specDirectory = new URL(
  '../../../shared/reference/saasus/openapi/saasus-platform-document/',
  import.meta.url,
);

const recorder = createContractRecorder();
let emulator: SaasusEmulator;
let client: SaasusClient;
const exercised = new Set<string>();

/** Calls one client method and notes it as exercised. */
const run = async <T>(method: keyof SaasusClient, call: () => Promise<T>): Promise<T> => {
  exercised.add(method);
  return call();
};

const failure = async (call: () => Promise<unknown>): Promise<SaasusApiError> => {
  const error = await call().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof SaasusApiError)) throw new Error(`expected a SaasusApiError, got ${String(error)}`);
  return error;
};

beforeAll(async () => {
  emulator = await startSaasusEmulator({
    credentials,
    plans: [{ id: planId, name: 'basic' }],
    tenantAttributes: [{ attribute_name: 'region', display_name: 'Region', attribute_type: 'string' }],
    onExchange: recorder.observe,
  });
  client = createSaasusClient({
    baseUrl: emulator.url,
    secrets: staticSecretSource({ saasus: credentials }),
    secretName: 'saasus',
    retry: { retries: 0 },
  });
});

afterAll(async () => {
  await emulator?.close();
});

describe('SaaSus operation table', () => {
  it('lists every operation of the official documents with the statuses each declares', () => {
    const fromDocuments = readdirYaml().flatMap((file) => {
      const document = parse(readFileSync(new URL(file, specDirectory), 'utf8')) as {
        servers: { url: string }[];
        paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>;
      };
      const root = new URL(document.servers[0]?.url ?? '').pathname;
      return Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([, operation]) => operation?.operationId)
          .map(([method, operation]) => ({
            method: method.toUpperCase(),
            path: `${root}${path}`,
            operation: operation.operationId,
            statuses: Object.keys(operation.responses).map(Number),
          })),
      );
    });
    expect(specOperations).toEqual(fromDocuments);
  });
});

describe('createSaasusClient against the SaaSus emulator', () => {
  it('sends only requests the spec declares, and gets only answers the spec declares', async () => {
    const envs = await run('listEnvs', () => client.listEnvs());
    const envId = envs[0]?.id ?? 3;
    await run('listPricingPlans', () => client.listPricingPlans());
    await run('getPricingPlan', () => client.getPricingPlan(planId));
    await run('listTenantAttributes', () => client.listTenantAttributes());
    await run('createTenantAttribute', () =>
      client.createTenantAttribute({
        attribute_name: 'tier',
        display_name: 'Tier',
        attribute_type: 'string',
      }),
    );
    const props = { name: 'Acme', attributes: { region: 'eu' }, back_office_staff_email: 'ops@example.com' };
    const tenant = await run('createTenant', () => client.createTenant(props));
    await run('getTenant', () => client.getTenant(tenant.id));
    await run('listTenants', () => client.listTenants());
    await run('updateTenant', () => client.updateTenant(tenant.id, { ...props, name: 'Acme Corp' }));
    await run('updateTenantPlan', () => client.updateTenantPlan(tenant.id, { next_plan_id: planId }));
    const user = await run('createSaasUser', () =>
      client.createSaasUser({ email: 'buyer@example.com', password: 'Secret-Pass-123' }),
    );
    await run('listSaasUsers', () => client.listSaasUsers());
    await run('findSaasUserByEmail', () => client.findSaasUserByEmail('BUYER@example.com'));
    await run('createTenantUser', () =>
      client.createTenantUser(tenant.id, { email: user.email, attributes: {} }),
    );
    await run('listTenantUsers', () => client.listTenantUsers(tenant.id));
    await run('addTenantUserRoles', () => client.addTenantUserRoles(tenant.id, user.id, envId, ['admin']));
    await run('removeTenantUserRole', () => client.removeTenantUserRole(tenant.id, user.id, envId, 'admin'));
    const minted = emulator.mintUserCredentials(user.id);
    const tokens = await run('getCredentials', () => client.getCredentials(minted.code));
    await run('getUserInfo', () =>
      client.getUserInfo(tokens.id_token, { referer: 'https://app.example.com/x' }),
    );
    await run('updateMeteringCountNow', () =>
      client.updateMeteringCountNow(tenant.id, 'api_calls', { method: 'add', count: 2 }),
    );
    await run('updateMeteringCountAt', () =>
      client.updateMeteringCountAt(tenant.id, 'api_calls', 1_790_000_000, { method: 'direct', count: 5 }),
    );
    await run('getMeteringCountsForDate', () => client.getMeteringCountsForDate(tenant.id, '2026-09-21'));
    await run('listMeteringUnits', () => client.listMeteringUnits());
    await run('saveEventBridgeSettings', () =>
      client.saveEventBridgeSettings({ aws_account_id: '210987654321', aws_region: 'us-east-1' }),
    );
    await run('getEventBridgeSettings', () => client.getEventBridgeSettings());
    await run('sendEventBridgeTestEvent', () => client.sendEventBridgeTestEvent());
    await run('deleteTenantUser', () => client.deleteTenantUser(tenant.id, user.id));
    await run('deleteSaasUser', () => client.deleteSaasUser(user.id));

    // Failures the bridge relies on; the contract check below says whether each status is declared.
    const failureStatuses = [
      (await failure(() => client.getTenant('no-such-tenant'))).status,
      (await failure(() => client.getPricingPlan('no-such-plan'))).status,
      (
        await failure(() =>
          client.createTenantUser(tenant.id, { email: 'nobody@example.com', attributes: {} }),
        )
      ).status,
      (await failure(() => client.addTenantUserRoles(tenant.id, 'no-such-user', envId, ['admin']))).status,
    ];

    const userInfoCall = emulator.state.requests().find((request) => request.operation === 'GetUserInfo');
    expect(userInfoCall?.referer).toBe('https://app.example.com/x');

    const verdicts = await recorder.drain();
    const violations = verdicts.flatMap((verdict) => verdict.violations);
    expect(violations).toEqual([]);
    expect(failureStatuses).toEqual([404, 500, 500, 500]);
    expect(exercised).toEqual(new Set(Object.keys(client)));

    const called = new Set(verdicts.map((verdict) => verdict.operation));
    const validated = recorder.validatedOperations();
    console.info(
      `SaaSus contract: the client has ${Object.keys(client).length} methods calling ${called.size} operations; ` +
        `${validated.size} of them validated against the OpenAPI documents (${verdicts.length} exchanges): ` +
        [...validated].sort().join(', '),
    );
    expect(validated).toEqual(called);
  });

  it('reports a status the operation does not declare and a request field the spec does not have', async () => {
    const exchange: SaasusExchange = {
      method: 'POST',
      path: '/v1/auth/tenants/t-1/users',
      query: {},
      headers: {},
      requestBody: JSON.stringify({ email: 'a@example.com', attributes: {}, nickname: 'x' }),
      status: 404,
      responseBody: JSON.stringify({ type: 'not_found', message: 'user not found' }),
      answeredBy: 'operation',
    };
    const verdict = await checkSaasusExchange(exchange);
    expect(verdict.operation).toBe('CreateTenantUser');
    expect(verdict.violations).toEqual([
      expect.stringMatching(/CreateTenantUser .*request: \/requestBody must NOT have additional properties/),
      expect.stringMatching(/CreateTenantUser .*status 404 is not declared \(declared: 201, 500\)/),
    ]);
  });

  it('reports a path that names no operation', async () => {
    const verdict = await checkSaasusExchange({
      method: 'GET',
      path: '/v1/auth/no-such-thing',
      query: {},
      headers: {},
      requestBody: '',
      status: 404,
      responseBody: '',
      answeredBy: 'operation',
    });
    expect(verdict.violations).toEqual([expect.stringContaining('no such operation')]);
  });
});

const readdirYaml = () =>
  ['analysisapi', 'apigatewayapi', 'apilogapi', 'authapi', 'awsmarketplaceapi', 'billingapi']
    .concat(['communicationapi', 'integration', 'pricingapi', 'stripeapi'])
    .map((name) => `${name}.yml`);
