import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { examplePlaceholders } from '#lib/example-config';
import { ConfigError, parseDeploymentConfig, productFor, UnknownProductError } from '#shared/config';
import { bridgeConfigVariable, parseEnv } from '#shared/env';
import { cdkJsonContext, exampleConfigInput, onlyProduct, sellersOwnConfigInput } from '../support/config.js';

const parseError = (input: unknown): string => {
  try {
    parseDeploymentConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected the config to be rejected');
};

describe('deployment config', () => {
  it('accepts the shipped example and fills defaults', () => {
    const input = exampleConfigInput();
    delete input.marketplace.identityMode;
    delete input.metering;
    const config = parseDeploymentConfig(input);
    expect(onlyProduct(config).identityMode).toBe('license');
    expect(config.metering).toMatchObject({
      allowedWindowHours: 6,
      sendZeroUsage: true,
      saasusDayTimeZone: 'UTC',
    });
    expect(config.revocation.tenantUsers).toBe('keep');
  });

  it('corrects SaaSus plan drift unless told to alert, and names a wrong policy', () => {
    const input = exampleConfigInput() as { saasusEvents: Record<string, unknown> };
    delete input.saasusEvents.onPlanDrift;
    expect(parseDeploymentConfig(input).saasusEvents?.onPlanDrift).toBe('correct');
    input.saasusEvents.onPlanDrift = 'alert';
    expect(parseDeploymentConfig(input).saasusEvents?.onPlanDrift).toBe('alert');
    input.saasusEvents.onPlanDrift = 'ignore';
    expect(parseError(input)).toMatch(/saasusEvents\.onPlanDrift: .*"correct".*"alert"/);
  });

  it('names a misspelt field', () => {
    const input = exampleConfigInput() as Record<string, unknown>;
    const saasus = input.saasus as Record<string, unknown>;
    saasus.secretname = saasus.secretName;
    delete saasus.secretName;
    // One mistake, one line: the unknown spelling and the missing field are the same mistake.
    expect(parseError(input)).toBe(
      'Invalid config:\nsaasus.secretName: required, found "secretname" instead (check the spelling)',
    );
    (input.saasus as Record<string, unknown>).secretNam = 'x';
    expect(parseError(input)).toBe(
      'Invalid config:\nsaasus.secretName: required, found "secretname" instead (check the spelling)\n' +
        'saasus: unknown field(s) "secretNam" (check the spelling)',
    );
  });

  it('says "required" for each missing field, one line each', () => {
    const input = exampleConfigInput() as unknown as Record<string, Record<string, unknown>>;
    delete input.stage;
    delete input.marketplace?.productCode;
    delete input.marketplace?.pricingModel;
    delete input.saasus?.envId;
    delete input.branding;
    expect(parseError(input).split('\n')).toEqual([
      'Invalid config:',
      'stage: required',
      'marketplace.productCode: required',
      'marketplace.pricingModel: required',
      'saasus.envId: required',
      'branding: required',
    ]);
  });

  it('rejects a dimension mapped to no plan', () => {
    const input = exampleConfigInput() as { plans: { byDimension: Record<string, unknown> } };
    input.plans.byDimension.enterprise = '';
    expect(parseError(input)).toContain('plans.byDimension.enterprise: expected a SaaSus pricing plan id');
    input.plans.byDimension.enterprise = null;
    expect(parseError(input)).toMatch(/plans\.byDimension\.enterprise: .*expected/);
  });

  it('rejects a product id that is not an AWS Marketplace product id', () => {
    const input = exampleConfigInput();
    input.marketplace.productId = '12345';
    expect(parseError(input)).toContain(
      'marketplace.productId: expected an AWS Marketplace product id such as prod-abcdef123456',
    );
  });

  it('rejects a non-numeric SaaSus env id', () => {
    const input = exampleConfigInput() as { saasus: Record<string, unknown> };
    input.saasus.envId = 'three';
    expect(parseError(input)).toContain('saasus.envId: expected the SaaSus env id as a number');
  });

  it('requires a default plan for subscription pricing', () => {
    const input = exampleConfigInput();
    delete input.plans.defaultPlanId;
    expect(parseError(input)).toContain('plans.defaultPlanId: subscription pricing needs a defaultPlanId');
  });

  it('rejects metering on a pure contract and an unknown time zone', () => {
    const input = exampleConfigInput();
    input.marketplace.pricingModel = 'contract';
    input.metering = { ...input.metering, saasusDayTimeZone: 'Mars/Olympus' };
    const message = parseError(input);
    expect(message).toContain('metering.units: pure contract pricing is never metered');
    expect(message).toContain('metering.saasusDayTimeZone: expected an IANA time zone');
  });

  it('rejects iDoperation services for a plan no dimension maps to', () => {
    const input = exampleConfigInput();
    if (!input.idoperation) throw new Error('example config has iDoperation settings');
    input.idoperation.servicesByPlan['not-a-mapped-plan'] = [1];
    expect(parseError(input)).toContain('idoperation.servicesByPlan.not-a-mapped-plan');
  });
});

/** The example as a two-product list: its subscription and a contract-with-consumption add-on. */
const twoProducts = () => {
  const { marketplace, plans, metering, ...shared } = exampleConfigInput();
  const { apiRegion, ...listing } = marketplace;
  const { units = [], ...sharedMetering } = metering ?? {};
  return {
    ...shared,
    marketplace: { apiRegion },
    metering: sharedMetering,
    products: [
      { ...listing, plans, meteringUnits: units } as Record<string, unknown>,
      {
        productCode: 'addon0product0code',
        productId: 'prod-addon0000001',
        pricingModel: 'contract-with-consumption',
        plans: { byDimension: { seats: 'addon-plan' } } as Record<string, unknown>,
        meteringUnits: [{ saasusUnit: 'reports', dimension: 'reports', aggregation: 'sum' }] as Record<
          string,
          unknown
        >[],
      } as Record<string, unknown>,
    ],
  };
};

describe('several products', () => {
  it('normalises the single-product form into a one-element list, the same as writing the list', () => {
    const single = parseDeploymentConfig(exampleConfigInput());
    const [listed] = twoProducts().products;
    const list = parseDeploymentConfig({ ...twoProducts(), products: [listed] });
    expect(single).toEqual(list);
    expect(single.products).toHaveLength(1);
  });

  it('reads each product through productFor and rejects a product code it does not serve', () => {
    const config = parseDeploymentConfig(twoProducts());
    expect(productFor(config, 'addon0product0code').pricingModel).toBe('contract-with-consumption');
    expect(() => productFor(config, 'someoneelse')).toThrow(UnknownProductError);
  });

  it('rejects two products with one product code', () => {
    const input = twoProducts();
    (input.products[1] as Record<string, unknown>).productCode = input.products[0]?.productCode;
    expect(parseError(input)).toContain(
      `product "8wn5fwbmrh7ezp1f2y0q9ly3k": products.1.productCode: product code "8wn5fwbmrh7ezp1f2y0q9ly3k" is already products[0]'s`,
    );
  });

  it('rejects an empty product list', () => {
    expect(parseError({ ...twoProducts(), products: [] })).toContain(
      'products: expected at least one product',
    );
  });

  it.each([
    [
      'a subscription without a default plan',
      (product: Record<string, unknown>) => {
        product.pricingModel = 'subscription';
      },
      'products.1.plans.defaultPlanId: subscription pricing needs a defaultPlanId',
    ],
    [
      'metering on a pure contract',
      (product: Record<string, unknown>) => {
        product.pricingModel = 'contract';
      },
      'products.1.meteringUnits: pure contract pricing is never metered',
    ],
    [
      'no dimension mapped to a plan',
      (product: Record<string, unknown>) => {
        product.plans = { byDimension: {} };
      },
      'products.1.plans.byDimension: expected at least one Marketplace dimension',
    ],
    [
      'a dimension metered by two units',
      (product: Record<string, unknown>) => {
        product.meteringUnits = [
          { saasusUnit: 'reports', dimension: 'reports', aggregation: 'sum' },
          { saasusUnit: 'exports', dimension: 'reports', aggregation: 'sum' },
        ];
      },
      'products.1.meteringUnits.1.dimension: dimension "reports" is metered by more than one SaaSus unit',
    ],
    [
      'a malformed product id',
      (product: Record<string, unknown>) => {
        product.productId = 'addon';
      },
      'products.1.productId: expected an AWS Marketplace product id',
    ],
    [
      "another product's SaaSus unit",
      (product: Record<string, unknown>) => {
        product.meteringUnits = [{ saasusUnit: 'api_calls', dimension: 'calls', aggregation: 'sum' }];
      },
      'products.1.meteringUnits.0.saasusUnit: SaaSus unit "api_calls" is already metered by product "8wn5fwbmrh7ezp1f2y0q9ly3k"',
    ],
  ])('names the product in the message for %s', (_, spoil, expected) => {
    const input = twoProducts();
    spoil(input.products[1] as Record<string, unknown>);
    expect(parseError(input)).toContain(`product "addon0product0code": ${expected}`);
  });

  it('names a product without a code by its position', () => {
    const input = twoProducts();
    delete (input.products[1] as Record<string, unknown>).productCode;
    expect(parseError(input)).toContain('product 2: products.1.productCode: required');
  });

  it('rejects the single-product fields next to a product list', () => {
    const input = { ...twoProducts(), plans: exampleConfigInput().plans };
    expect(parseError(input)).toContain('unknown field(s) "plans"');
  });
});

describe('the multi-product example', () => {
  it('holds a subscription and a contract-with-consumption product, each placeholder named', () => {
    const config = parseDeploymentConfig(
      JSON.parse(readFileSync('config/example-multi-product.json', 'utf8')) as unknown,
    );
    expect(config.products.map((product) => product.pricingModel)).toEqual([
      'subscription',
      'contract-with-consumption',
    ]);
    const problems = examplePlaceholders(config);
    expect(problems).toContainEqual(
      expect.stringMatching(/^products\.0\.productCode: ".+" is the example's/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^products\.1\.productId: ".+" is the example's/));
    expect(problems).toContainEqual(
      expect.stringMatching(/^products\.1\.plans\.byDimension\.seats: ".+" is the example's/),
    );
  });
});

describe('branding config', () => {
  const withBranding = (changes: Record<string, unknown>) => {
    const input = exampleConfigInput() as Record<string, unknown>;
    input.branding = { ...(input.branding as object), ...changes };
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) delete (input.branding as Record<string, unknown>)[key];
    }
    return input;
  };

  it('fills the accent colour and the AWS Marketplace link by default', () => {
    const config = parseDeploymentConfig(withBranding({ accentColor: undefined }));
    expect(config.branding.accentColor).toBe('#0b5cad');
    expect(config.branding.marketplaceUrl).toBe(
      'https://console.aws.amazon.com/marketplace/home#/subscriptions',
    );
  });

  it.each([
    [
      { logoUrl: 'http://cdn.example.com/logo.png', logoSvg: undefined },
      'branding.logoUrl: expected the logo URL as an https:// URL',
    ],
    [
      { logoUrl: 'javascript:alert(1)', logoSvg: undefined },
      'branding.logoUrl: expected the logo URL as an https:// URL',
    ],
    [
      { logoUrl: "https://cdn.example.com/a.png; script-src 'unsafe-inline'", logoSvg: undefined },
      'branding.logoUrl: expected the logo URL without spaces',
    ],
    [{ logoUrl: 'https://cdn.example.com/logo.png' }, 'branding.logoSvg: set logoUrl or logoSvg, not both'],
    [
      { logoSvg: '<svg><script>alert(1)</script></svg>' },
      'branding.logoSvg: an SVG logo must not contain scripts',
    ],
    [{ logoSvg: '<svg onload="alert(1)"></svg>' }, 'branding.logoSvg: an SVG logo must not contain scripts'],
    [{ logoSvg: '<img src=x>' }, 'branding.logoSvg: expected an inline SVG document'],
    [{ accentColor: 'teal' }, 'branding.accentColor: expected a hex colour such as #0b5cad'],
    [{ accentColor: '#12345' }, 'branding.accentColor: expected a hex colour'],
    [
      { productName: 'x'.repeat(81) },
      'branding.productName: expected the product name of at most 80 characters',
    ],
    [{ sellerName: '  ' }, 'branding.sellerName: expected the seller name, got an empty string'],
    [
      { termsUrl: 'ftp://example.com/terms' },
      'branding.termsUrl: expected the terms of service URL as an https:// URL',
    ],
    [{ supportEmail: 'nobody' }, 'branding.supportEmail: expected the support email address'],
    [
      { supportEmail: undefined, supportUrl: undefined },
      'branding.supportUrl: required: a supportUrl or a supportEmail',
    ],
    [{ text: { en: { title: '' } } }, 'branding.text.en.title: expected a text, got an empty string'],
    [{ text: { fr: {} } }, 'branding.text: unknown field(s) "fr"'],
  ])('rejects %o', (changes, expected) => {
    const message = parseError(withBranding(changes));
    expect(message).toContain(expected);
    expect(message.split('\n')).toHaveLength(2); // one line per mistake
  });
});

describe('function environment', () => {
  const schema = z.object({ TABLE_NAME: z.string().min(1), BRIDGE_CONFIG: bridgeConfigVariable });

  it('parses BRIDGE_CONFIG with the deployment schema', () => {
    const env = parseEnv(schema, {
      TABLE_NAME: 'licenses',
      BRIDGE_CONFIG: JSON.stringify(exampleConfigInput()),
    });
    expect(onlyProduct(env.BRIDGE_CONFIG).productId).toBe('prod-examplebridge01');
  });

  it('names the missing variable and the bad config field', () => {
    const bad = exampleConfigInput();
    bad.stage = 'Prod!';
    expect(() => parseEnv(schema, { BRIDGE_CONFIG: JSON.stringify(bad) })).toThrow(
      /TABLE_NAME: .*\n.*BRIDGE_CONFIG: Invalid BRIDGE_CONFIG:\nstage: expected 2-20 lowercase/s,
    );
  });
});

/** Runs `bin/app.ts` as `cdk synth` would, with the given context (bundling skipped). */
const synthApp = (context: Record<string, unknown>) => {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-config-'));
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_OUTDIR: join(dir, 'cdk.out'),
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
    },
  });
  return { ...result, outdir: join(dir, 'cdk.out') };
};

const writeConfig = (input: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), 'bridge-config-')), 'config.json');
  writeFileSync(file, JSON.stringify(input));
  return file;
};

describe('cdk synth guardrails', () => {
  it('has no default config: without -c configFile it fails with one line saying what to pass', () => {
    expect(cdkJsonContext().configFile).toBeUndefined();
    const result = synthApp({});
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'No config file: pass -c configFile=config/<stage>.json (copy config/example.json and fill it in; see docs/seller-guide.md).',
    );
  }, 60_000);

  it('refuses the shipped examples, naming each placeholder, unless allowExample is set', () => {
    for (const example of ['config/example.json', 'config/example-contract-with-consumption.json']) {
      const result = synthApp({ configFile: example });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        `${example} still holds the example's placeholders, so it is not deployed:`,
      );
      expect(result.stderr).toMatch(/^marketplace\.productCode: ".+" is the example's; use your listing's$/m);
      expect(result.stderr).toMatch(/^marketplace\.productId: ".+" is the example's/m);
      expect(result.stderr).toMatch(/^plans\.byDimension\.basic: ".+" is the example's/m);
      expect(result.stderr).toMatch(/^saasus\.signInUrl: .* reserved for examples/m);
      expect(result.stderr).toContain('add -c allowExample=true');
      expect(result.stderr).not.toContain('    at ');
    }
    const copied = synthApp({ configFile: writeConfig(exampleConfigInput()) });
    expect(copied.status).toBe(1);
    expect(copied.stderr).toContain('saasusEvents.eventSourceName: "aws.partner/saasus.io/00000000');
  }, 120_000);

  it("synthesizes an example with allowExample, and a seller's own config without it", () => {
    const example = synthApp({ configFile: 'config/example.json', allowExample: 'true' });
    expect(example.stderr).not.toContain('placeholders');
    expect(example.status).toBe(0);
    const own = synthApp({ configFile: writeConfig(sellersOwnConfigInput()) });
    expect(own.stderr).not.toContain('placeholders');
    expect(own.status).toBe(0);
    expect(existsSync(join(own.outdir, 'MarketplaceBridge-dev.template.json'))).toBe(true);
  }, 240_000);
});

describe('cdk synth with a bad config', () => {
  const synthWith = (input: unknown) => synthApp({ configFile: writeConfig(input) });

  it.each([
    [
      'a misspelt field',
      (input: ReturnType<typeof exampleConfigInput>) => {
        (input as Record<string, unknown>).stagee = 'dev';
      },
      'unknown field(s) "stagee"',
    ],
    [
      'a dimension mapped to no plan',
      (input: ReturnType<typeof exampleConfigInput>) => {
        input.plans.byDimension.pro = '';
      },
      'plans.byDimension.pro: expected a SaaSus pricing plan id',
    ],
    [
      'a malformed product id',
      (input: ReturnType<typeof exampleConfigInput>) => {
        input.marketplace.productId = '12345';
      },
      'marketplace.productId: expected an AWS Marketplace product id',
    ],
  ])('fails with %s, naming the field', (_case, mutate, expected) => {
    const input = exampleConfigInput();
    mutate(input);
    const result = synthWith(input);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid config file');
    expect(result.stderr).toContain(expected);
    expect(result.stderr).not.toContain('    at '); // a message, not a stack trace
  });
});
