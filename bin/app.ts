#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addBridge, loadDeploymentConfig } from '#lib/app';
import { exampleConfigRefusal, examplePlaceholders } from '#lib/example-config';
import { ConfigError } from '#shared/config';

const app = new App();
// No default: a plain `cdk deploy` must not deploy the example into the seller's account.
const configFile = app.node.tryGetContext('configFile');
if (typeof configFile !== 'string' || configFile.length === 0) {
  console.error(
    'No config file: pass -c configFile=config/<stage>.json (copy config/example.json and fill it in; see docs/seller-guide.md).',
  );
  process.exit(1);
}
// The examples synthesize only when asked to (npm test's synth, trying things out); the sandbox and
// the tests build the stack in-process through addBridge and never come here.
const allowExample = ['true', true].includes(app.node.tryGetContext('allowExample'));

try {
  const config = loadDeploymentConfig(configFile);
  const placeholders = allowExample ? [] : examplePlaceholders(config);
  if (placeholders.length > 0) throw new ConfigError(exampleConfigRefusal(configFile, placeholders));
  addBridge(app, config);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
app.synth();
