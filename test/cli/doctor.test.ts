import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '#cli/commands/doctor';
import { SANDBOX_SAASUS_CREDENTIALS } from '#sandbox/runner';
import type { DeploymentConfig } from '#shared/config';
import { onlyProduct } from '../support/config.js';
import { type CliWorld, startCliWorld } from './support.js';

/** doctor against the sandbox: all green, then each kind of failure with its fix. */

let world: CliWorld;

beforeAll(async () => {
  world = await startCliWorld();
});

afterAll(async () => {
  await world?.close();
});

const doctor = async (change: (config: DeploymentConfig) => DeploymentConfig = (config) => config) => {
  const file = world.writeProfile({
    ...world.profile,
    config: change(structuredClone(world.profile.config)),
  });
  const result = await world.run('doctor', '--json', '--profile', file);
  const checks = result.json<{ checks: CheckResult[] }>().checks;
  return { code: result.code, checks, failed: checks.filter((check) => !check.ok) };
};

describe('doctor', () => {
  it('passes every check on a healthy deployment, one line each', async () => {
    const { code, checks } = await doctor();
    expect(checks.filter((check) => !check.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(checks.map((check) => check.check)).toEqual([
      'credentials and region',
      'secret marketplace-bridge/dev/saasus',
      'secret marketplace-bridge/dev/idoperation',
      'SaaSus signed call',
      'SaaSus env',
      'SaaSus plans',
      'SaaSus metering units',
      'listing product code',
      'listing dimensions',
      'partner event source',
      'iDoperation',
    ]);
    const human = await world.run('doctor');
    expect(human.stdout.trim().split('\n')).toHaveLength(checks.length + 2);
    expect(human.stdout).toContain('All 11 checks passed.');
  });

  it('a missing stack: credentials and region fail with the fix', async () => {
    const file = world.writeProfile({ ...world.profile, stackName: 'MarketplaceBridge-gone' });
    const result = await world.run('doctor', '--json', '--profile', file);
    expect(result.code).toBe(1);
    const [stack] = result.json<{ checks: CheckResult[] }>().checks;
    expect(stack).toMatchObject({ check: 'credentials and region', ok: false });
    expect(stack?.fix).toContain('deploy it first');
  });

  it('a missing or malformed secret, and a signature SaaSus refuses', async () => {
    const missing = await doctor((config) => ({
      ...config,
      saasus: { ...config.saasus, secretName: 'nowhere/saasus' },
    }));
    expect(missing.failed[0]).toMatchObject({ check: 'secret nowhere/saasus', detail: 'does not exist' });
    expect(missing.failed[0]?.fix).toContain('aws secretsmanager create-secret --name nowhere/saasus');
    expect(missing.failed[1]).toMatchObject({
      check: 'SaaSus signed call',
      detail: 'skipped: no usable SaaSus secret',
    });

    world.sandbox.emulators.secretsManager.putSecret('broken/saasus', {
      saasId: SANDBOX_SAASUS_CREDENTIALS.saasId,
    });
    const malformed = await doctor((config) => ({
      ...config,
      saasus: { ...config.saasus, secretName: 'broken/saasus' },
    }));
    expect(malformed.failed[0]?.detail).toContain('apiKey');
    expect(malformed.failed[0]?.fix).toContain('put-secret-value --secret-id broken/saasus');

    world.sandbox.emulators.secretsManager.putSecret('wrong/saasus', {
      ...SANDBOX_SAASUS_CREDENTIALS,
      secretKey: 'not-the-key',
    });
    const refused = await doctor((config) => ({
      ...config,
      saasus: { ...config.saasus, secretName: 'wrong/saasus' },
    }));
    expect(refused.failed).toHaveLength(1);
    expect(refused.failed[0]).toMatchObject({ check: 'SaaSus signed call' });
    expect(refused.failed[0]?.fix).toContain('check saasId, apiKey and secretKey in wrong/saasus');
  });

  it('an env, plan or metering unit SaaSus does not have', async () => {
    const { failed } = await doctor((config) => ({
      ...config,
      saasus: { ...config.saasus, envId: 99 },
      products: [
        {
          ...onlyProduct(config),
          plans: { ...onlyProduct(config).plans, revokedPlanId: 'no-such-plan' },
          meteringUnits: onlyProduct(config).meteringUnits.map((unit, index) =>
            index === 0 ? { ...unit, saasusUnit: 'no_such_unit' } : unit,
          ),
        },
      ],
    }));
    expect(failed.map((check) => check.check)).toEqual([
      'SaaSus env',
      'SaaSus plans',
      'SaaSus metering units',
    ]);
    expect(failed[0]?.fix).toContain('saasus.envId');
    expect(failed[1]?.detail).toContain('plans.revokedPlanId = no-such-plan');
    expect(failed[1]?.fix).toContain('create the plan in SaaSus');
    expect(failed[2]?.detail).toContain('no_such_unit');
  });

  it('a product id that is not the listing, another product code, a dimension the listing lacks', async () => {
    const missing = await doctor((config) => ({
      ...config,
      products: [{ ...onlyProduct(config), productId: 'prod-unknown1' }],
    }));
    expect(missing.failed).toHaveLength(1);
    expect(missing.failed[0]?.fix).toContain('marketplace.productId');

    const otherCode = await doctor((config) => ({
      ...config,
      products: [{ ...onlyProduct(config), productCode: 'othercode1' }],
    }));
    expect(otherCode.failed.map((check) => check.check)).toEqual(['listing product code']);
    expect(otherCode.failed[0]?.detail).toContain('the config says othercode1');

    const listing = world.controlPlane.state.entities.get(onlyProduct(world.profile.config).productId);
    if (!listing) throw new Error('no listing in the stand-in');
    const dimensions = listing.details.Dimensions as { Key: string }[];
    world.controlPlane.state.entities.set(onlyProduct(world.profile.config).productId, {
      ...listing,
      // The other plausible place of the product code: the top of the details.
      details: {
        ProductCode: onlyProduct(world.profile.config).productCode,
        Dimensions: dimensions.filter((dimension) => dimension.Key !== 'pro'),
      },
    });
    try {
      const lacking = await doctor();
      expect(lacking.failed.map((check) => check.check)).toEqual(['listing dimensions']);
      expect(lacking.failed[0]?.detail).toContain('not on the listing: pro');
      expect(lacking.failed[0]?.fix).toContain('add the dimension to the listing');
    } finally {
      world.controlPlane.state.entities.set(onlyProduct(world.profile.config).productId, listing);
    }
  });

  it('a partner event source that is missing, pending or not attached', async () => {
    const name = world.profile.config.saasusEvents?.eventSourceName ?? '';
    const { eventSources, eventBuses } = world.controlPlane.state;
    const source = eventSources.get(name);
    if (!source) throw new Error('no partner source in the stand-in');
    try {
      eventSources.delete(name);
      const missing = await doctor();
      expect(missing.failed.map((check) => check.check)).toEqual(['partner event source']);
      expect(missing.failed[0]?.fix).toContain('SaaSus console');

      eventSources.set(name, { name, state: 'PENDING' });
      expect((await doctor()).failed[0]?.fix).toContain('deploy the stack');

      eventSources.set(name, source);
      eventBuses.delete(name);
      const detached = await doctor();
      expect(detached.failed[0]?.detail).toContain('not attached to an event bus');
    } finally {
      eventSources.set(name, source);
      eventBuses.set(name, name);
    }
  });

  it('an iDoperation API that refuses the token or does not answer', async () => {
    world.sandbox.emulators.secretsManager.putSecret('wrong/idoperation', { authorization: 'Bearer wrong' });
    const refused = await doctor((config) => ({
      ...config,
      ...(config.idoperation
        ? { idoperation: { ...config.idoperation, secretName: 'wrong/idoperation' } }
        : {}),
    }));
    expect(refused.failed.map((check) => check.check)).toEqual(['iDoperation']);
    expect(refused.failed[0]?.fix).toContain('put a valid token there');

    const unreachable = await doctor((config) => ({
      ...config,
      ...(config.idoperation
        ? { idoperation: { ...config.idoperation, baseUrl: 'http://127.0.0.1:9/v1' } }
        : {}),
    }));
    expect(unreachable.failed.map((check) => check.check)).toEqual(['iDoperation']);
    expect(unreachable.failed[0]?.fix).toContain('check idoperation.baseUrl');
  });
});
