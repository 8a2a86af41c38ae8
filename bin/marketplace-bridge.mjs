#!/usr/bin/env node
// The operator's tool (cli/main.ts). It runs the TypeScript sources through tsx, as `npm start`
// does: no build step and no compiled copy to drift from the code the tests run, and the
// `#shared/*` imports resolve to the same .ts files the Lambda bundles are built from.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
