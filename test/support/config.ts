import { readFileSync } from 'node:fs';
import type { DeploymentConfig, Product, SingleProductConfigInput } from '#shared/config';
import { parseDeploymentConfig } from '#shared/config';
import { type EffectConfig, effectConfigFor } from '#shared/license/effects';

export const exampleConfigPath = 'config/example.json';

/** The shipped example config as raw JSON, a fresh copy each call so tests can mutate it. */
export const exampleConfigInput = (): SingleProductConfigInput =>
  JSON.parse(readFileSync(exampleConfigPath, 'utf8')) as SingleProductConfigInput;

/** The example config, validated. */
export const exampleConfig = (): DeploymentConfig => parseDeploymentConfig(exampleConfigInput());

/** The `context` of cdk.json, so test Apps see the feature flags `cdk synth` uses. */
export const cdkJsonContext = (): Record<string, unknown> =>
  (JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> }).context;

/** The example with a seller's own values in every placeholder. */
export const sellersOwnConfigInput = (): Record<string, unknown> => {
  const input = exampleConfigInput() as unknown as Record<string, Record<string, unknown>> & {
    plans: { byDimension: Record<string, string>; defaultPlanId?: string };
  };
  Object.assign(input.marketplace as object, {
    productCode: 'a1b2c3d4e5f6g7h8i9j0k1l2m',
    productId: 'prod-q7w8e9r0t1y2',
  });
  input.plans = {
    byDimension: { basic: 'plan-basic-7f3a', pro: 'plan-pro-91bc' },
    defaultPlanId: 'plan-basic-7f3a',
  };
  (input.idoperation as Record<string, unknown>).servicesByPlan = {
    'plan-basic-7f3a': [1],
    'plan-pro-91bc': [1, 2],
  };
  (input.idoperation as Record<string, unknown>).baseUrl = 'https://api.idoperation.jp/v1';
  Object.assign(input.saasus as object, {
    signInUrl: 'https://auth.nimbus-analytics.jp/sign-in',
    backOfficeStaffEmail: 'backoffice@nimbus-analytics.jp',
  });
  input.saasusEvents = {
    eventSourceName: 'aws.partner/saasus.io/4f1c2d3e-aaaa-bbbb-cccc-0123456789ab-1/event',
  };
  Object.assign(input.branding as object, {
    supportEmail: 'support@nimbus-analytics.jp',
    supportUrl: 'https://nimbus-analytics.jp/support',
    termsUrl: 'https://nimbus-analytics.jp/terms',
    privacyUrl: 'https://nimbus-analytics.jp/privacy',
  });
  return input;
};

/** The only product of a single-product config (the example's form). */
export const onlyProduct = (config: Pick<DeploymentConfig, 'products'>): Product => {
  const [product, ...others] = config.products;
  if (!product || others.length > 0) throw new Error(`expected one product, got ${config.products.length}`);
  return product;
};

/** The effect config of the only product's licenses. */
export const effectConfig = (config: DeploymentConfig): EffectConfig =>
  effectConfigFor(config, onlyProduct(config).productCode);

/** The product code of the add-on `withAddonProduct` lists second. */
export const ADDON_PRODUCT_CODE = 'addon0product0code';
export const ADDON_PLAN_ID = 'addon-plan-0001';

/**
 * Turns the single-product form of the example into a products list: the example's listing first,
 * then a subscription add-on with a plan of its own (for the sign-up harness's `configure`).
 */
export const withAddonProduct = (input: Record<string, unknown>): void => {
  const { plans, marketplace, metering } = input as Record<string, Record<string, unknown>>;
  const { apiRegion, ...listing } = marketplace as Record<string, unknown>;
  const { units, ...sharedMetering } = metering as Record<string, unknown>;
  delete input.plans;
  input.marketplace = { apiRegion };
  input.metering = sharedMetering;
  input.products = [
    { ...listing, plans, meteringUnits: units },
    {
      productCode: ADDON_PRODUCT_CODE,
      productId: 'prod-addon0000001',
      pricingModel: 'subscription',
      plans: { byDimension: { seats: ADDON_PLAN_ID }, defaultPlanId: ADDON_PLAN_ID },
    },
  ];
};
