import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, type DeploymentConfig, parseDeploymentConfig } from '#shared/config';
import { unknownPageTextOverrides } from '#shared/signup/pages';
import { MarketplaceBridgeStack } from './marketplace-bridge-stack.js';

/** Reads and validates the deployment config file named by the `configFile` context. */
export const loadDeploymentConfig = (configFile: string): DeploymentConfig => {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(resolve(configFile), 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `Cannot read config file ${configFile}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const config = parseDeploymentConfig(raw, `config file ${configFile}`);
  // The page texts live with the pages (above the config layer), so their keys are checked here.
  const unknownTexts = unknownPageTextOverrides(config.branding);
  if (unknownTexts.length > 0) {
    throw new ConfigError(`Invalid config file ${configFile}:\n${unknownTexts.join('\n')}`);
  }
  return config;
};

/**
 * Adds the stack for a validated config to an app, with the AwsSolutions checks on every synth.
 * Shared by `bin/app.ts` and the infrastructure tests, so both synthesize the same thing.
 */
export const addBridge = (app: App, config: DeploymentConfig) => {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new MarketplaceBridgeStack(app, `MarketplaceBridge-${config.stage}`, {
    config,
    env: { region: config.region },
    description: 'Marketplace Bridge: AWS Marketplace SaaS integration for a SaaSus Platform SaaS',
  });
  return stack;
};
