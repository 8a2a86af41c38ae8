import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ConfigError, parseDeploymentConfig } from '#shared/config';
import { bridgeConfigVariable, parseEnv } from '#shared/env';
import { cdkJsonContext, exampleConfigInput, sellersOwnConfigInput } from '../support/config.js';

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
    expect(config.marketplace.identityMode).toBe('license');
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
    expect(env.BRIDGE_CONFIG.marketplace.productId).toBe('prod-examplebridge01');
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
