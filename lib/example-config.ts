import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type DeploymentConfig, normaliseProducts } from '#shared/config';

/**
 * Recognises a config that still holds the shipped examples' placeholders, so `cdk deploy` cannot
 * put `config/example.json` (or a copy nobody filled in) into a seller's account. Placeholders
 * are the identifiers of the shipped `config/example*.json` files (read here, so they cannot drift
 * from the examples) and addresses in the domains reserved for examples (RFC 2606 / RFC 6761),
 * which can never be real. Secret names are not placeholders: the shipped names are fine to keep.
 */

const RESERVED_DOMAIN = /(^|\.)(example(\.com|\.net|\.org)?|test|invalid|localhost)$/i;

const hostOf = (value: string): string | undefined => {
  if (value.includes('@') && !value.includes('/')) return value.split('@').pop();
  try {
    return new URL(value).hostname;
  } catch {
    return undefined;
  }
};

interface ShippedIdentifiers {
  readonly productCodes: Set<string>;
  readonly productIds: Set<string>;
  readonly planIds: Set<string>;
  readonly eventSources: Set<string>;
}

const shippedIdentifiers = (configDirectory: string): ShippedIdentifiers => {
  const found: ShippedIdentifiers = {
    productCodes: new Set(),
    productIds: new Set(),
    planIds: new Set(),
    eventSources: new Set(),
  };
  for (const file of readdirSync(configDirectory).filter((name) => /^example.*\.json$/.test(name))) {
    const example = normaliseProducts(JSON.parse(readFileSync(join(configDirectory, file), 'utf8'))) as {
      products?: {
        productCode?: string;
        productId?: string;
        plans?: { byDimension?: Record<string, string>; defaultPlanId?: string; revokedPlanId?: string };
      }[];
      saasusEvents?: { eventSourceName?: string };
    };
    for (const product of example.products ?? []) {
      if (product.productCode) found.productCodes.add(product.productCode);
      if (product.productId) found.productIds.add(product.productId);
      for (const plan of [
        ...Object.values(product.plans?.byDimension ?? {}),
        product.plans?.defaultPlanId,
        product.plans?.revokedPlanId,
      ]) {
        if (plan) found.planIds.add(plan);
      }
    }
    if (example.saasusEvents?.eventSourceName) found.eventSources.add(example.saasusEvents.eventSourceName);
  }
  return found;
};

/** One line per placeholder the config still holds; empty when it is the seller's own. */
export const examplePlaceholders = (config: DeploymentConfig, configDirectory = 'config'): string[] => {
  const shipped = shippedIdentifiers(resolve(configDirectory));
  const problems: string[] = [];
  const { saasus } = config;
  const single = config.products.length === 1;
  const planFields: [string, string | undefined][] = [];
  config.products.forEach(({ productCode, productId, plans }, index) => {
    // A single product is named as the single-product form spells its fields.
    const listing = single ? 'marketplace.' : `products.${index}.`;
    const planPath = single ? 'plans.' : `products.${index}.plans.`;
    if (shipped.productCodes.has(productCode)) {
      problems.push(`${listing}productCode: "${productCode}" is the example's; use your listing's`);
    }
    if (shipped.productIds.has(productId) || productId.startsWith('prod-example')) {
      problems.push(`${listing}productId: "${productId}" is the example's; use your listing's`);
    }
    planFields.push(
      ...Object.entries(plans.byDimension).map(([dimension, plan]): [string, string] => [
        `${planPath}byDimension.${dimension}`,
        plan,
      ]),
      [`${planPath}defaultPlanId`, plans.defaultPlanId],
      [`${planPath}revokedPlanId`, plans.revokedPlanId],
    );
  });
  for (const [field, plan] of planFields) {
    if (plan && shipped.planIds.has(plan)) {
      problems.push(`${field}: "${plan}" is the example's; use the id of your SaaSus pricing plan`);
    }
  }
  const source = config.saasusEvents?.eventSourceName;
  if (
    source &&
    (shipped.eventSources.has(source) || source.includes('00000000-0000-0000-0000-000000000000'))
  ) {
    problems.push(
      `saasusEvents.eventSourceName: "${source}" is the example's; use the source SaaSus created (setup)`,
    );
  }
  const addresses: [string, string | undefined][] = [
    ['saasus.signInUrl', saasus.signInUrl],
    ['saasus.linkSignInUrl', saasus.linkSignInUrl],
    ['saasus.backOfficeStaffEmail', saasus.backOfficeStaffEmail],
    ['idoperation.baseUrl', config.idoperation?.baseUrl],
    ['alarmEmail', config.alarmEmail],
    ['branding.supportUrl', config.branding.supportUrl],
    ['branding.supportEmail', config.branding.supportEmail],
    ['branding.termsUrl', config.branding.termsUrl],
    ['branding.privacyUrl', config.branding.privacyUrl],
    ['branding.logoUrl', config.branding.logoUrl],
  ];
  for (const [field, value] of addresses) {
    const host = value ? hostOf(value) : undefined;
    if (host && RESERVED_DOMAIN.test(host)) {
      problems.push(`${field}: "${value}" is in a domain reserved for examples; use your own`);
    }
  }
  return problems;
};

/** The message `bin/app.ts` prints when it refuses an example config. */
export const exampleConfigRefusal = (configFile: string, problems: readonly string[]): string =>
  [
    `${relative(process.cwd(), resolve(configFile))} still holds the example's placeholders, so it is not deployed:`,
    ...problems,
    'Copy config/example.json to config/<stage>.json and fill in your own values (docs/seller-guide.md);',
    'to synthesize an example anyway (tests, trying things out), add -c allowExample=true.',
  ].join('\n');
