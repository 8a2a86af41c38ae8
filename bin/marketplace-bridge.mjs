#!/usr/bin/env node
// The operator's tool (cli/main.ts). It runs the TypeScript sources through tsx, as `npm start`
// does: no build step and no compiled copy to drift from the code the tests run, and the
// `#shared/*` imports resolve to the same .ts files the Lambda bundles are built from.
import { register } from 'tsx/esm/api';

// The shared clients log each call for CloudWatch; a person at a terminal (or a script reading
// --json) gets the tool's own output only. Lambda runs Node.js 24: the SDK's notice about older
// Node.js versions is noise here.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
