import { readFileSync } from 'node:fs';
import type { DeploymentConfig, DeploymentConfigInput } from '#shared/config';
import { parseDeploymentConfig } from '#shared/config';

export const exampleConfigPath = 'config/example.json';

/** The shipped example config as raw JSON, a fresh copy each call so tests can mutate it. */
export const exampleConfigInput = (): DeploymentConfigInput =>
  JSON.parse(readFileSync(exampleConfigPath, 'utf8')) as DeploymentConfigInput;

/** The example config, validated. */
export const exampleConfig = (): DeploymentConfig => parseDeploymentConfig(exampleConfigInput());

/** The `context` of cdk.json, so test Apps see the feature flags `cdk synth` uses. */
export const cdkJsonContext = (): Record<string, unknown> =>
  (JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> }).context;
