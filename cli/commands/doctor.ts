import { randomUUID } from 'node:crypto';
import {
  DescribeEventBusCommand,
  DescribeEventSourceCommand,
  EventBridgeClient,
} from '@aws-sdk/client-eventbridge';
import { DescribeEntityCommand, MarketplaceCatalogClient } from '@aws-sdk/client-marketplace-catalog';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DeploymentConfig, Product } from '#shared/config';
import { idoperationSecretSchema } from '#shared/idoperation/client';
import { IdoperationNotFoundError } from '#shared/idoperation/errors';
import { createIdoperationClient } from '#shared/idoperation/index';
import { createSaasusClient } from '#shared/saasus/client';
import { SaasusApiError } from '#shared/saasus/errors';
import { saasusCredentialsSchema } from '#shared/saasus/schemas';
import { secretsManagerSource } from '#shared/secrets';
import type { Deployment } from '../context.js';
import { exitCodes } from '../output.js';
import type { Command } from '../registry.js';

export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  /** What was found. */
  readonly detail: string;
  /** What to do about a failure. */
  readonly fix?: string;
}

const pass = (check: string, detail: string): CheckResult => ({ check, ok: true, detail });
const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, ok: false, detail, fix });
const messageOf = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** Each check of `doctor`, in order; a check never throws, it fails with the fix. */
export const runChecks = async (deployment: Deployment): Promise<CheckResult[]> => {
  const { config } = deployment;
  const results: CheckResult[] = [];
  const run = async (check: string, body: () => Promise<CheckResult | CheckResult[]>) => {
    try {
      const result = await body();
      results.push(...(Array.isArray(result) ? result : [result]));
    } catch (error) {
      results.push(fail(check, messageOf(error), 'see the error above; run again with the same credentials'));
    }
  };

  await run('stack', async () => {
    const region = await deployment.cloudFormation.config.region();
    try {
      const resources = await deployment.resources();
      return pass(
        'credentials and region',
        `stack ${resources.stackName} found in ${region} with ${resources.deadLetterQueues.size} dead-letter queues`,
      );
    } catch (error) {
      const [detail = '', fix = ''] = (error instanceof Error ? error.message : String(error)).split(
        '\n  fix: ',
      );
      return fail('credentials and region', `${detail} (region ${region})`, fix);
    }
  });

  const secrets = secretsManagerSource(new SecretsManagerClient({}));
  const secretCheck = async (name: string, schema: Parameters<typeof secrets.getJson>[1], fields: string) => {
    const check = `secret ${name}`;
    try {
      await secrets.getJson(name, schema);
      return pass(check, 'exists and parses');
    } catch (error) {
      const text = messageOf(error);
      if (/not found/i.test(text)) {
        return fail(
          check,
          'does not exist',
          `create it: aws secretsmanager create-secret --name ${name} --secret-string '${fields}'`,
        );
      }
      if (/not JSON|malformed|lacks/i.test(text)) {
        return fail(
          check,
          text.replace(/^SecretError: /, ''),
          `put ${fields} into it: aws secretsmanager put-secret-value --secret-id ${name} --secret-string '...'`,
        );
      }
      return fail(check, text, 'check that your credentials may call secretsmanager:GetSecretValue on it');
    }
  };
  const saasusSecret = await secretCheck(
    config.saasus.secretName,
    saasusCredentialsSchema,
    '{"saasId":"...","apiKey":"...","secretKey":"..."}',
  );
  results.push(saasusSecret);
  if (config.idoperation) {
    results.push(
      await secretCheck(
        config.idoperation.secretName,
        idoperationSecretSchema,
        '{"authorization":"Bearer ..."}',
      ),
    );
  }

  if (saasusSecret.ok) await run('SaaSus', () => saasusChecks(config, secrets));
  else
    results.push(
      fail(
        'SaaSus signed call',
        'skipped: no usable SaaSus secret',
        `fix the secret ${config.saasus.secretName} first`,
      ),
    );

  for (const product of config.products) {
    await run(config.products.length === 1 ? 'listing' : `listing ${product.productCode}`, () =>
      listingCheck(product),
    );
  }
  if (config.saasusEvents)
    await run('partner event source', () => partnerSourceCheck(config.saasusEvents?.eventSourceName ?? ''));
  if (config.idoperation) await run('iDoperation', () => idoperationCheck(config, secrets));
  return results;
};

const saasusChecks = async (
  config: DeploymentConfig,
  secrets: ReturnType<typeof secretsManagerSource>,
): Promise<CheckResult[]> => {
  const saasus = createSaasusClient({
    baseUrl: config.saasus.apiBaseUrl,
    secrets,
    secretName: config.saasus.secretName,
  });
  let envs: Awaited<ReturnType<typeof saasus.listEnvs>>;
  try {
    envs = await saasus.listEnvs();
  } catch (error) {
    const status = error instanceof SaasusApiError ? error.status : 0;
    return [
      fail(
        'SaaSus signed call',
        messageOf(error),
        status === 401 || status === 403
          ? `SaaSus refused the signature: check saasId, apiKey and secretKey in ${config.saasus.secretName} (SaaSus console, API keys)`
          : `SaaSus did not answer: check saasus.apiBaseUrl (${config.saasus.apiBaseUrl}) and the network`,
      ),
    ];
  }
  const results = [pass('SaaSus signed call', `GET /v1/auth/envs answered (${envs.length} envs)`)];
  results.push(
    envs.some((env) => env.id === config.saasus.envId)
      ? pass('SaaSus env', `env ${config.saasus.envId} exists`)
      : fail(
          'SaaSus env',
          `env ${config.saasus.envId} does not exist (SaaSus has ${envs.map((env) => env.id).join(', ')})`,
          'set saasus.envId to your production env id',
        ),
  );
  const plans = await saasus.listPricingPlans();
  const planIds = new Set(plans.map((plan) => plan.id));
  const wanted: [string, string][] = config.products.flatMap(({ productCode, plans: productPlans }) => {
    const at = config.products.length === 1 ? 'plans' : `product ${productCode} plans`;
    return [
      ...Object.entries(productPlans.byDimension).map(([dimension, id]): [string, string] => [
        `${at}.byDimension.${dimension}`,
        id,
      ]),
      ...(productPlans.defaultPlanId
        ? [[`${at}.defaultPlanId`, productPlans.defaultPlanId] as [string, string]]
        : []),
      ...(productPlans.revokedPlanId
        ? [[`${at}.revokedPlanId`, productPlans.revokedPlanId] as [string, string]]
        : []),
    ];
  });
  const meteringUnits = config.products.flatMap((product) => product.meteringUnits);
  const missingPlans = wanted.filter(([, id]) => !planIds.has(id));
  results.push(
    missingPlans.length === 0
      ? pass('SaaSus plans', `all ${wanted.length} configured plan ids exist`)
      : fail(
          'SaaSus plans',
          `no such plan: ${missingPlans.map(([field, id]) => `${field} = ${id}`).join(', ')}`,
          'create the plan in SaaSus (Pricing plans) or correct the id in the config',
        ),
  );
  if (meteringUnits.length > 0) {
    const unitNames = new Set((await saasus.listMeteringUnits()).map((unit) => unit.unit_name));
    const missingUnits = meteringUnits.filter((unit) => !unitNames.has(unit.saasusUnit));
    results.push(
      missingUnits.length === 0
        ? pass('SaaSus metering units', `all ${meteringUnits.length} metering units exist`)
        : fail(
            'SaaSus metering units',
            `no metering unit ${missingUnits.map((unit) => unit.saasusUnit).join(', ')}`,
            'create the metering unit in SaaSus (Pricing, metering units) or correct metering.units[].saasusUnit',
          ),
    );
  }
  return results;
};

const field = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (current, key) =>
      typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[key] : undefined,
    value,
  );

const listingCheck = async (product: Product): Promise<CheckResult[]> => {
  const { productId, productCode } = product;
  const catalog = new MarketplaceCatalogClient({ region: 'us-east-1' });
  let details: unknown;
  let entityType: string | undefined;
  try {
    const entity = await catalog.send(
      new DescribeEntityCommand({ Catalog: 'AWSMarketplace', EntityId: productId }),
    );
    entityType = entity.EntityType;
    details = entity.DetailsDocument ?? (entity.Details ? JSON.parse(entity.Details) : undefined);
  } catch (error) {
    const text = messageOf(error);
    return [
      fail(
        'listing',
        `DescribeEntity ${productId}: ${text}`,
        /ResourceNotFound/.test(text)
          ? 'marketplace.productId: copy the product id (prod-...) from the AWS Marketplace Management Portal'
          : /AccessDenied/.test(text)
            ? 'allow aws-marketplace:DescribeEntity to the credentials you run doctor with'
            : 'check the network and your credentials',
      ),
    ];
  }
  if (!entityType?.startsWith('SaaSProduct@')) {
    return [
      fail(
        'listing',
        `${productId} is a ${entityType ?? 'entity of unknown type'}, not a SaaS product`,
        'marketplace.productId: use the id of your SaaS product',
      ),
    ];
  }
  // The product code sits in the description of the product's details; both places are read.
  const listedCode = field(details, 'Description', 'ProductCode') ?? field(details, 'ProductCode');
  const results: CheckResult[] = [
    listedCode === undefined
      ? fail(
          'listing product code',
          `DescribeEntity ${productId} names no product code`,
          'compare marketplace.productCode with the portal by hand',
        )
      : listedCode === productCode
        ? pass('listing product code', `${productId} has product code ${productCode}`)
        : fail(
            'listing product code',
            `${productId} has product code ${String(listedCode)}, the config says ${productCode}`,
            'set marketplace.productCode (or productId) to the listing the stack serves',
          ),
  ];
  const dimensions = field(details, 'Dimensions');
  const listed = new Set(
    Array.isArray(dimensions) ? dimensions.map((dimension) => String(field(dimension, 'Key'))) : [],
  );
  const configured = [
    ...new Set([
      ...Object.keys(product.plans.byDimension),
      ...product.meteringUnits.map((unit) => unit.dimension),
    ]),
  ];
  const missing = configured.filter((dimension) => !listed.has(dimension));
  results.push(
    missing.length === 0
      ? pass('listing dimensions', `all ${configured.length} configured dimensions are on the listing`)
      : fail(
          'listing dimensions',
          `not on the listing: ${missing.join(', ')} (it has ${[...listed].join(', ') || 'none'})`,
          'add the dimension to the listing (AWS Marketplace Management Portal, pricing) or correct plans.byDimension / metering.units',
        ),
  );
  return results;
};

const partnerSourceCheck = async (name: string): Promise<CheckResult[]> => {
  const events = new EventBridgeClient({});
  try {
    const source = await events.send(new DescribeEventSourceCommand({ Name: name }));
    if (source.State !== 'ACTIVE') {
      return [
        fail(
          'partner event source',
          `${name} is ${source.State ?? 'in an unknown state'}`,
          'deploy the stack: it creates the partner event bus, which makes the source ACTIVE',
        ),
      ];
    }
  } catch (error) {
    return [
      fail(
        'partner event source',
        `${name}: ${messageOf(error)}`,
        'in the SaaSus console, set up the Amazon EventBridge integration for this AWS account and region, then copy its name to saasusEvents.eventSourceName',
      ),
    ];
  }
  try {
    await events.send(new DescribeEventBusCommand({ Name: name }));
    return [pass('partner event source', `${name} is ACTIVE and attached to its event bus`)];
  } catch (error) {
    return [
      fail(
        'partner event source',
        `${name} is not attached to an event bus: ${messageOf(error)}`,
        'deploy the stack (it creates the partner event bus for the source)',
      ),
    ];
  }
};

const idoperationCheck = async (
  config: DeploymentConfig,
  secrets: ReturnType<typeof secretsManagerSource>,
): Promise<CheckResult> => {
  const idoperation = config.idoperation;
  if (!idoperation) return pass('iDoperation', 'not configured');
  const client = createIdoperationClient({
    baseUrl: idoperation.baseUrl,
    secrets,
    secretName: idoperation.secretName,
  });
  try {
    await client.getUser(randomUUID());
    return pass('iDoperation', `${idoperation.baseUrl} answers`);
  } catch (error) {
    // A user id that cannot exist: "not found" is the answer of a reachable, authorized API.
    if (error instanceof IdoperationNotFoundError)
      return pass('iDoperation', `${idoperation.baseUrl} answers`);
    const text = messageOf(error);
    return fail(
      'iDoperation',
      text,
      /Auth/.test(text)
        ? `iDoperation refused the authorization in ${idoperation.secretName}: put a valid token there`
        : `check idoperation.baseUrl (${idoperation.baseUrl}) and the network`,
    );
  }
};

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the deployment and its configuration against AWS and SaaSus',
  help: `Usage: marketplace-bridge doctor

Checks, one line each, with the fix for what fails: credentials and region (the stack is
found), each secret exists and parses, a signed SaaSus call succeeds, the env, every configured
plan id and metering unit exist in SaaSus, the product id is the product code's SaaS listing
and every configured dimension is on it (Marketplace Catalog DescribeEntity), the SaaSus
partner event source is active and attached, the iDoperation API answers.
Exits 1 when any check fails.`,
  options: {},
  async run(context) {
    const results = await runChecks(context.deployment());
    if (context.json) {
      context.io.stdout(`${JSON.stringify({ checks: results }, null, 2)}\n`);
    } else {
      for (const result of results) {
        context.io.stdout(`${result.ok ? 'ok  ' : 'FAIL'}  ${result.check}: ${result.detail}\n`);
        if (result.fix) context.io.stdout(`      fix: ${result.fix}\n`);
      }
      const failed = results.filter((result) => !result.ok).length;
      context.io.stdout(
        failed === 0
          ? `\nAll ${results.length} checks passed.\n`
          : `\n${failed} of ${results.length} checks failed.\n`,
      );
    }
    return results.every((result) => result.ok) ? exitCodes.ok : exitCodes.problems;
  },
};
