import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Metafile } from 'esbuild';
import { bundleLikeBridgeFunction, writeProbe, zodNamespaceImports } from '../lib/esbuild-probe.js';
import { bytesMatching, externalImports, type InputShare, inputsByPackage } from '../lib/metafile.js';
import type { Synthesis } from '../lib/synth.js';

/**
 * Bundle size of every Lambda function as `cdk synth` bundled it: bytes (minified), gzip bytes
 * (about what the deployment zip carries), what dominates them (input packages by bytes, from the
 * esbuild metafile next to each bundle) and the budget. A probe bundled with the same options
 * explains a cost: each handler compiled with `import * as z from 'zod'` (what moves the zod share).
 */

/**
 * 700 KiB since the AWS SDK clients are bundled (they were loaded from the Lambda runtime: hundreds
 * of CommonJS files read and compiled at every cold start): their tree-shaken ES builds add about
 * 390 KiB, and cold starts take about 40 % less CPU than before (BENCHMARKS.md §2).
 */
export const BUNDLE_BUDGET_BYTES = 700 * 1024;

export interface BundleFigure {
  readonly entry: string;
  readonly logicalId: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly minified: boolean;
  readonly metafileFound: boolean;
  readonly withinBudget: boolean;
  readonly topInputs: InputShare[];
  /** Bytes of zod's locale modules (error messages in ~40 languages the app never selects). */
  readonly zodLocaleBytes: number;
  readonly externals: string[];
  /** The same entry bundled with namespace zod imports (see esbuild-probe.ts). */
  readonly zodNamespaceBytes: number;
}

export interface BundleResult {
  /** When the run that measured these figures started (set by run.ts). */
  readonly measuredAt?: string;
  readonly budgetBytes: number;
  readonly synthSeconds: number;
  readonly functions: BundleFigure[];
  /** A trivial handler bundled with the same options (the cold-init ratio's baseline). */
  readonly baselineProbePath: string;
  /** A trivial handler importing the AWS SDK clients the functions use (for cold init). */
  readonly sdkProbePath: string;
}

const BASELINE_SOURCE = `export const handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ ok: true, keys: Object.keys(event ?? {}).length }) });\n`;

/** The AWS SDK clients the functions import (external: loaded from node_modules at init). */
const SDK_SOURCE = `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
const clients = [DynamoDBClient, DynamoDBDocumentClient, EventBridgeClient, SecretsManagerClient, MarketplaceMeteringClient, MarketplaceEntitlementServiceClient];
export const handler = async () => ({ statusCode: 200, body: String(clients.length) });
`;

export const baselineSource = BASELINE_SOURCE;

export const runBundleSizes = async (synthesis: Synthesis, workDir: string): Promise<BundleResult> => {
  const functions: BundleFigure[] = [];
  for (const fn of synthesis.functions) {
    const bundle = readFileSync(fn.bundlePath);
    const text = bundle.toString('utf8');
    const metafile: Metafile | undefined = fn.metafilePath
      ? (JSON.parse(readFileSync(fn.metafilePath, 'utf8')) as Metafile)
      : undefined;
    const probe = await bundleLikeBridgeFunction(
      fn.entry,
      path.join(
        workDir,
        'zod-namespace',
        path.basename(path.dirname(fn.entry)),
        path.basename(fn.entry, '.ts'),
      ),
      [zodNamespaceImports],
    );
    const lines = text.split('\n').length;
    functions.push({
      entry: fn.entry,
      logicalId: fn.logicalId,
      bytes: bundle.length,
      gzipBytes: gzipSync(bundle).length,
      // Minified output is a few very long lines (newlines survive only inside template literals).
      minified: bundle.length / lines > 1_000,
      metafileFound: metafile !== undefined,
      withinBudget: bundle.length <= BUNDLE_BUDGET_BYTES,
      topInputs: metafile ? inputsByPackage(metafile).slice(0, 8) : [],
      zodLocaleBytes: metafile ? bytesMatching(metafile, /node_modules\/zod\/.*\/locales\//) : 0,
      externals: metafile ? externalImports(metafile) : [],
      zodNamespaceBytes: probe.bytes,
    });
  }

  const probeDir = path.join(workDir, 'probes');
  const baseline = await bundleLikeBridgeFunction(
    writeProbe(probeDir, 'baseline.mjs', BASELINE_SOURCE),
    path.join(workDir, 'baseline'),
  );
  const sdk = await bundleLikeBridgeFunction(
    writeProbe(probeDir, 'sdk.mjs', SDK_SOURCE),
    path.join(workDir, 'sdk'),
  );
  return {
    budgetBytes: BUNDLE_BUDGET_BYTES,
    baselineProbePath: baseline.bundlePath,
    sdkProbePath: sdk.bundlePath,
    synthSeconds: Math.round(synthesis.seconds * 10) / 10,
    functions,
  };
};
