import * as z from 'zod';
import { brandingSchema } from './branding.js';

/**
 * The deployment configuration: everything a seller sets, validated once. `cdk synth` parses the
 * JSON file named by the `configFile` context; the functions receive the part they need as
 * `BRIDGE_CONFIG` and parse it with the same schema at cold start, so both sides agree.
 * Every object is strict: a misspelt field is an error, not a silently ignored value.
 */

const nonEmpty = (what: string) => z.string().trim().min(1, `expected ${what}, got an empty string`);

const idoperationRoute = z.strictObject({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
  path: z.string().startsWith('/', { message: 'expected a path starting with "/"' }),
});
const planId = nonEmpty('a SaaSus pricing plan id');

const snsTopicArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
    'expected an SNS topic ARN such as arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-<product code>',
  );

const timeZone = z.string().refine(
  (value) => {
    // The default needs no check: the first Intl time-zone lookup loads ICU data, tens of ms of
    // every function's cold start (BENCHMARKS.md §2).
    if (value === 'UTC') return true;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as UTC or Asia/Tokyo' },
);

export const meteringUnitSchema = z.strictObject({
  /** The SaaSus metering unit name (`unit_name`). */
  saasusUnit: nonEmpty('a SaaSus metering unit name').refine(
    (name) => name !== 'date' && name !== 'month',
    'SaaSus metering unit names "date" and "month" collide with SaaSus API paths',
  ),
  /** The AWS Marketplace dimension the unit is billed as. */
  dimension: nonEmpty('an AWS Marketplace dimension key'),
  /** `sum`: bill the hour's increase of the day's count; `gauge`: bill the level at the hour. */
  aggregation: z.enum(['sum', 'gauge'], { message: 'expected "sum" or "gauge"' }),
});

const domainName = z
  .string()
  .max(253)
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'expected a lowercase DNS name such as signup.example.com',
  );

export const customDomainSchema = z.strictObject({
  /** The host name buyers see, e.g. `signup.example.com`. */
  domainName,
  /** An ACM certificate for `domainName` in the stack's region (a regional API). */
  certificateArn: z
    .string()
    .regex(
      /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/,
      'expected an ACM certificate ARN such as arn:aws:acm:us-east-1:111122223333:certificate/<uuid>',
    ),
  /** The Route 53 public hosted zone to create the alias record in; omit to create the DNS record yourself. */
  hostedZone: z
    .strictObject({
      id: z
        .string()
        .regex(/^Z[A-Z0-9]{1,32}$/, 'expected a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ'),
      name: domainName,
    })
    .optional(),
});

/** One AWS Marketplace listing: what differs between products; everything else is shared. */
export const productSchema = z.strictObject({
  /** The product code AWS Marketplace assigned to the listing. */
  productCode: z
    .string()
    .regex(/^[a-zA-Z0-9]{1,255}$/, 'expected the AWS Marketplace product code (letters and digits)'),
  /** The product id from the AWS Marketplace Management Portal, e.g. `prod-abcdef123456`. */
  productId: z
    .string()
    .regex(/^prod-[a-zA-Z0-9]{6,}$/, 'expected an AWS Marketplace product id such as prod-abcdef123456'),
  /** `license`: LicenseArn + CustomerAWSAccountId (listings from June 2026); `legacy`: CustomerIdentifier. */
  identityMode: z
    .enum(['license', 'legacy'], { message: 'expected "license" or "legacy"' })
    .default('license'),
  pricingModel: z.enum(['subscription', 'contract', 'contract-with-consumption'], {
    message: 'expected "subscription", "contract" or "contract-with-consumption"',
  }),
  plans: z.strictObject({
    /** Marketplace dimension → SaaSus plan id, for entitlements (contracts) and plan changes. */
    byDimension: z.record(nonEmpty('a dimension key'), planId, {
      message: 'expected an object mapping each Marketplace dimension to a SaaSus plan id',
    }),
    /** Plan for a new subscription (subscription pricing has no entitlement to map). */
    defaultPlanId: planId.optional(),
    /** Plan applied when a license is revoked; omit to remove the plan. */
    revokedPlanId: planId.optional(),
  }),
  /** SaaSus metering unit → this listing's Marketplace dimension. */
  meteringUnits: z.array(meteringUnitSchema).default([]),
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const singleProductFields = ['productCode', 'productId', 'identityMode', 'pricingModel'] as const;

/**
 * The single-product form (`marketplace.productCode` + `plans` + `metering.units`) is today's
 * config; it becomes a one-element `products` list here so everything downstream has one code path.
 * A document that has `products` is left alone (a stray `plans` then fails as an unknown field).
 */
export const normaliseProducts = (input: unknown): unknown => {
  if (!isRecord(input) || 'products' in input) return input;
  const { plans, marketplace, metering, ...shared } = input;
  const listing = isRecord(marketplace) ? marketplace : {};
  const { units, ...sharedMetering } = isRecord(metering) ? metering : {};
  const product: Record<string, unknown> = { plans, meteringUnits: units };
  const sharedMarketplace: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(listing)) {
    if ((singleProductFields as readonly string[]).includes(key)) product[key] = value;
    else sharedMarketplace[key] = value;
  }
  return {
    ...shared,
    ...(marketplace === undefined ? {} : { marketplace: sharedMarketplace }),
    ...(metering === undefined ? {} : { metering: sharedMetering }),
    products: [product],
  };
};

/** Where a product field sits in the single-product form, so its messages name the field the seller wrote. */
const singleFormPath = (path: readonly PropertyKey[]): readonly PropertyKey[] => {
  if (path[0] !== 'products' || path[1] !== 0) return path;
  const [field, ...rest] = path.slice(2);
  if (field === 'plans') return ['plans', ...rest];
  if (field === 'meteringUnits') return ['metering', 'units', ...rest];
  if (field === undefined) return ['marketplace'];
  return ['marketplace', field, ...rest];
};

const deploymentConfigObject = z
  .strictObject({
    /** Short stage name used in resource names, e.g. `dev` or `prod`. */
    stage: z
      .string()
      .regex(
        /^[a-z][a-z0-9-]{1,19}$/,
        'expected 2-20 lowercase letters, digits or dashes, starting with a letter',
      ),
    /** Region the stack is deployed to. Marketplace agreement events are only emitted in us-east-1. */
    region: z
      .string()
      .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'expected an AWS region such as us-east-1')
      .default('us-east-1'),
    /** Shared by every product: the Region of the Metering and Entitlement Service calls. */
    marketplace: z
      .strictObject({
        apiRegion: z
          .string()
          .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'expected an AWS region such as us-east-1')
          .default('us-east-1'),
      })
      .prefault({}),
    /** The listings this deployment serves; the single-product form is normalised into this list. */
    products: z.array(productSchema).min(1, 'expected at least one product'),
    metering: z
      .strictObject({
        /** Records older than this are never sent (AWS rejects the whole batch). */
        allowedWindowHours: z.number().int().min(2).max(24).default(6),
        /** Send quantity 0 for hours without usage (AWS recommends it). */
        sendZeroUsage: z.boolean().default(true),
        /** Time zone whose calendar days SaaSus date counts use. */
        saasusDayTimeZone: timeZone.default('UTC'),
        /** Minutes past the hour at which the hourly run starts. */
        scheduleMinute: z.number().int().min(1).max(30).default(5),
        /**
         * The account's BatchMeterUsage quota (calls per second per Region), shared by every
         * metering worker; raise it only when AWS has raised yours.
         */
        batchMeterUsageQuotaPerSecond: z.number().positive().max(1000).default(10),
      })
      .prefault({}),
    saasus: z.strictObject({
      /** Secrets Manager secret holding `{ saasId, apiKey, secretKey }`. */
      secretName: nonEmpty('a Secrets Manager secret name'),
      apiBaseUrl: z.url({ message: 'expected an https URL' }).default('https://api.saasus.io'),
      /** The production env id (an integer in SaaSus). */
      envId: z.number({ message: 'expected the SaaSus env id as a number, e.g. 3' }).int().positive(),
      adminRoleNames: z.array(nonEmpty('a role name')).min(1, 'expected at least one admin role name'),
      backOfficeStaffEmail: z.email({ message: 'expected an email address' }),
      signInUrl: z.url({ message: 'expected the URL of the SaaS sign-in page' }),
      /** Where "link to my existing account" sends the buyer to sign in; see the README. */
      linkSignInUrl: z.url({ message: 'expected the URL that starts the link sign-in' }).optional(),
    }),
    /** The seller's brand on every buyer-facing page (see `branding.ts`). */
    branding: brandingSchema,
    idoperation: z
      .strictObject({
        baseUrl: z.url({ message: 'expected the iDoperation API base URL' }),
        /** Secrets Manager secret holding `{ authorization }`, the Authorization header value. */
        secretName: nonEmpty('a Secrets Manager secret name'),
        /** SaaSus plan id → iDoperation service codes (1 = PAM, 2 = EPM). */
        servicesByPlan: z.record(
          planId,
          z
            .array(
              z.union([z.literal(1), z.literal(2)], { message: 'expected service code 1 (PAM) or 2 (EPM)' }),
            )
            .min(1),
        ),
        locale: z.enum(['ja', 'en']).default('ja'),
        /**
         * Method and path per operation (`register`, `get`, `change`; `{userId}` in get and change),
         * when the real service differs from the default guess (POST /users, GET and PATCH /users/{userId}).
         */
        paths: z
          .strictObject({
            register: idoperationRoute.optional(),
            get: idoperationRoute.optional(),
            change: idoperationRoute.optional(),
          })
          .optional(),
      })
      .optional(),
    legacySns: z
      .strictObject({
        subscriptionTopicArn: snsTopicArn,
        entitlementTopicArn: snsTopicArn.optional(),
      })
      .optional(),
    saasusEvents: z
      .strictObject({
        /** The partner event source SaaSus created, e.g. `aws.partner/saasus.io/<id>/event`. */
        eventSourceName: z
          .string()
          .regex(
            /^aws\.partner\/saasus\.io\/.+$/,
            'expected a partner event source name starting with aws.partner/saasus.io/',
          ),
        /**
         * A Marketplace tenant's plan changed by hand in SaaSus away from what the license entitles:
         * `correct` sets it back, `alert` leaves it and raises the PlanDrift alarm.
         */
        onPlanDrift: z.enum(['correct', 'alert']).default('correct'),
      })
      .optional(),
    revocation: z
      .strictObject({
        /** Remove tenant users from the tenant when a license is revoked, or keep them. */
        tenantUsers: z.enum(['remove', 'keep']).default('keep'),
        /** Disable the users in iDoperation (`is_disabled: 1`) when a license is revoked. */
        disableDirectoryUsers: z.boolean().default(true),
      })
      .prefault({}),
    /** The fulfillment URL on the seller's own domain (an API Gateway custom domain, TLS 1.2). */
    customDomain: customDomainSchema.optional(),
    /** Email address subscribed to the alarm topic. */
    alarmEmail: z.email({ message: 'expected an email address' }).optional(),
  })
  .superRefine((config, ctx) => {
    const seenCodes = new Map<string, number>();
    config.products.forEach((product, index) => {
      const at = (...path: PropertyKey[]) => ['products', index, ...path];
      const earlier = seenCodes.get(product.productCode);
      if (earlier !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('productCode'),
          message: `product code "${product.productCode}" is already products[${earlier}]'s; each listing appears once`,
        });
      } else {
        seenCodes.set(product.productCode, index);
      }
      for (const [dimension, plan] of Object.entries(product.plans.byDimension)) {
        if (plan === undefined || plan === null) {
          ctx.addIssue({
            code: 'custom',
            path: at('plans', 'byDimension', dimension),
            message: `dimension "${dimension}" is mapped to no plan`,
          });
        }
      }
      if (Object.keys(product.plans.byDimension).length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: at('plans', 'byDimension'),
          message: 'expected at least one Marketplace dimension mapped to a SaaSus plan',
        });
      }
      if (product.pricingModel === 'subscription' && !product.plans.defaultPlanId) {
        ctx.addIssue({
          code: 'custom',
          path: at('plans', 'defaultPlanId'),
          message: 'subscription pricing needs a defaultPlanId for new subscribers',
        });
      }
      if (product.pricingModel === 'contract' && product.meteringUnits.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: at('meteringUnits'),
          message: 'pure contract pricing is never metered; use contract-with-consumption to meter usage',
        });
      }
      const dimensions = new Set<string>();
      product.meteringUnits.forEach((unit, unitIndex) => {
        if (dimensions.has(unit.dimension)) {
          ctx.addIssue({
            code: 'custom',
            path: at('meteringUnits', unitIndex, 'dimension'),
            message: `dimension "${unit.dimension}" is metered by more than one SaaSus unit`,
          });
        }
        dimensions.add(unit.dimension);
      });
    });
    // A tenant may hold several products: one SaaSus count billed by two licenses would bill twice.
    const unitOwners = new Map<string, string>();
    config.products.forEach((product, index) => {
      product.meteringUnits.forEach((unit, unitIndex) => {
        const owner = unitOwners.get(unit.saasusUnit);
        if (owner !== undefined && owner !== product.productCode) {
          ctx.addIssue({
            code: 'custom',
            path: ['products', index, 'meteringUnits', unitIndex, 'saasusUnit'],
            message: `SaaSus unit "${unit.saasusUnit}" is already metered by product "${owner}"; a tenant holding both would be billed twice`,
          });
        } else {
          unitOwners.set(unit.saasusUnit, product.productCode);
        }
      });
    });
    const domain = config.customDomain;
    const certificateRegion = domain?.certificateArn.split(':')[3];
    if (domain && certificateRegion !== config.region) {
      ctx.addIssue({
        code: 'custom',
        path: ['customDomain', 'certificateArn'],
        message: `the certificate is in ${certificateRegion}; a regional API needs it in the stack's region, ${config.region}`,
      });
    }
    if (domain?.hostedZone && !`.${domain.domainName}`.endsWith(`.${domain.hostedZone.name}`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['customDomain', 'hostedZone', 'name'],
        message: `${domain.domainName} is not in the hosted zone ${domain.hostedZone.name}`,
      });
    }
    if (config.idoperation) {
      const knownPlans = new Set(
        config.products.flatMap((product) => [
          ...Object.values(product.plans.byDimension),
          ...(product.plans.defaultPlanId ? [product.plans.defaultPlanId] : []),
        ]),
      );
      for (const plan of Object.keys(config.idoperation.servicesByPlan)) {
        if (!knownPlans.has(plan)) {
          ctx.addIssue({
            code: 'custom',
            path: ['idoperation', 'servicesByPlan', plan],
            message: `plan "${plan}" is not a plan any dimension maps to`,
          });
        }
      }
    }
  });

export const deploymentConfigSchema = z.preprocess(normaliseProducts, deploymentConfigObject);

export type DeploymentConfig = z.output<typeof deploymentConfigObject>;
/** The multi-product form; the single-product form is accepted too (see `normaliseProducts`). */
export type DeploymentConfigInput = z.input<typeof deploymentConfigObject>;
export type Product = DeploymentConfig['products'][number];
type ProductInput = z.input<typeof productSchema>;
/** Today's single-product form, which `normaliseProducts` turns into a one-element `products`. */
export type SingleProductConfigInput = Omit<
  DeploymentConfigInput,
  'products' | 'marketplace' | 'metering'
> & {
  marketplace: Omit<ProductInput, 'plans' | 'meteringUnits'> & { apiRegion?: string };
  plans: ProductInput['plans'];
  metering?: NonNullable<DeploymentConfigInput['metering']> & { units?: ProductInput['meteringUnits'] };
};
export type MeteringUnit = z.output<typeof meteringUnitSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Unknown field → the missing field it most likely meant (same letters ignoring case, `-` and `_`). */
const misspelt = (unknown: string, missing: readonly string[]) => {
  const squash = (key: string) => key.toLowerCase().replace(/[-_]/g, '');
  return missing.find((key) => squash(key) === squash(unknown));
};

export interface DescribeOptions {
  /** The path shown for an issue's path (e.g. the single-product form's own field names). */
  shownPath?: (path: readonly PropertyKey[]) => readonly PropertyKey[];
  /** Text before an issue's line, from its path as zod reports it (e.g. the product it is about). */
  prefix?: (path: readonly PropertyKey[]) => string;
}

/**
 * Formats zod issues as one line per mistake: `plans.byDimension.pro: dimension "pro" is mapped to
 * no plan`. A missing field says `required`; a misspelt one is one line naming both spellings.
 */
export const describeIssues = (error: z.ZodError, options: DescribeOptions = {}): string => {
  const { shownPath = (path) => path, prefix = () => '' } = options;
  const isMissing = (issue: z.core.$ZodIssue) => 'input' in issue && issue.input === undefined;
  const pathOf = (path: readonly PropertyKey[]) => (path.length > 0 ? shownPath(path).join('.') : '(root)');
  const missingByParent = new Map<string, string[]>();
  for (const issue of error.issues) {
    if (!isMissing(issue) || issue.path.length === 0) continue;
    const parent = pathOf(issue.path.slice(0, -1));
    missingByParent.set(parent, [...(missingByParent.get(parent) ?? []), String(issue.path.at(-1))]);
  }
  const joined = (parent: readonly PropertyKey[], key: string) =>
    parent.length > 0 ? `${pathOf(parent)}.${key}` : key;
  const misspellings = new Map<string, string>();
  const explainedKeys = new Set<string>();
  for (const issue of error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    for (const key of issue.keys) {
      const meant = misspelt(key, missingByParent.get(pathOf(issue.path)) ?? []);
      if (!meant) continue;
      misspellings.set(joined(issue.path, meant), key);
      explainedKeys.add(joined(issue.path, key));
    }
  }
  return error.issues
    .flatMap((issue) => {
      const path = pathOf(issue.path);
      if (issue.code === 'unrecognized_keys') {
        const unknown = issue.keys.filter((key) => !explainedKeys.has(joined(issue.path, key)));
        if (unknown.length === 0) return [];
        const where = issue.path.length > 0 ? `${prefix(issue.path)}${path}: ` : '';
        return [
          `${where}unknown field(s) ${unknown.map((key) => `"${key}"`).join(', ')} (check the spelling)`,
        ];
      }
      const where = `${prefix(issue.path)}${path}`;
      if (!isMissing(issue)) return [`${where}: ${issue.message}`];
      const found = misspellings.get(path);
      return [
        found ? `${where}: required, found "${found}" instead (check the spelling)` : `${where}: required`,
      ];
    })
    .join('\n');
};

/**
 * Parses a deployment config (either form), throwing one readable ConfigError naming every bad
 * field and, for a product's field, the product.
 */
export const parseDeploymentConfig = (input: unknown, source = 'config'): DeploymentConfig => {
  const normalised = normaliseProducts(input);
  const result = deploymentConfigObject.safeParse(normalised, { reportInput: true });
  if (!result.success) {
    const singleForm = isRecord(input) && !('products' in input);
    const products = isRecord(normalised) && Array.isArray(normalised.products) ? normalised.products : [];
    const productLabel = (path: readonly PropertyKey[]) => {
      if (path[0] !== 'products' || typeof path[1] !== 'number') return '';
      const code: unknown = isRecord(products[path[1]]) ? products[path[1]].productCode : undefined;
      return typeof code === 'string' && code !== '' ? `product "${code}": ` : `product ${path[1] + 1}: `;
    };
    // The single-product form keeps its own field names; the list form names the product too.
    const message = describeIssues(
      result.error,
      singleForm ? { shownPath: singleFormPath } : { prefix: productLabel },
    );
    throw new ConfigError(`Invalid ${source}:\n${message}`);
  }
  return result.data;
};

/** A product code this deployment does not serve (not in the config's `products`). */
export class UnknownProductError extends Error {
  override readonly name = 'UnknownProductError';
  readonly retryable = false;
  constructor(readonly productCode: string) {
    super(`product code "${productCode}" is not one of this deployment's products`);
  }
}

/**
 * The configured product with this product code: the one way every consumer reads a product's
 * settings. Throws UnknownProductError for a listing this deployment does not serve.
 */
export const productFor = (config: Pick<DeploymentConfig, 'products'>, productCode: string): Product => {
  const product = config.products.find((candidate) => candidate.productCode === productCode);
  if (!product) throw new UnknownProductError(productCode);
  return product;
};
