#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addBridge, loadDeploymentConfig } from '#lib/app';
import { ConfigError } from '#shared/config';

const app = new App();
// cdk.json names the default; choose another with `cdk synth -c configFile=config/prod.json`.
const configFile = app.node.tryGetContext('configFile');
if (typeof configFile !== 'string' || configFile.length === 0) {
  console.error('Set the config file with the "configFile" context (cdk.json or -c configFile=...).');
  process.exit(1);
}

try {
  addBridge(app, loadDeploymentConfig(configFile));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
app.synth();
