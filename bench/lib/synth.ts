import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { tableDefinitions } from '../../functions/shared/tables.js';
import { type CfnTemplate, evaluateIntrinsic, type IntrinsicContext } from '../../sandbox/template.js';

/**
 * `cdk synth` with bundling on, as a deployment would run it, into a directory of the bench's own;
 * then the Lambda functions of the template: their entry (BridgeFunction metadata), the asset
 * directory holding `index.mjs` (+ `index.meta.json`, the esbuild metafile) and the environment.
 */

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface SynthesizedFunction {
  readonly logicalId: string;
  /** Source entry, e.g. `functions/sign-up/handler.ts`. */
  readonly entry: string;
  /** Absolute asset directory. */
  readonly assetDir: string;
  readonly bundlePath: string;
  /** The esbuild metafile next to the bundle, when present. */
  readonly metafilePath: string | undefined;
  /** Template environment (values may be intrinsics). */
  readonly environment: Readonly<Record<string, unknown>>;
  readonly memorySize: number;
}

export interface Synthesis {
  readonly outDir: string;
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly functions: readonly SynthesizedFunction[];
  readonly seconds: number;
  /** SQS event source batch size per function logical id. */
  readonly batchSizes: Readonly<Record<string, number>>;
}

export const synthesize = async (outDir: string): Promise<Synthesis> => {
  const started = performance.now();
  const cdk = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk');
  const output: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    // The benchmarks measure the example deployment, which deploy mode refuses (allowExample).
    const args = ['synth', '--quiet', '--no-notices', '-o', outDir];
    const example = ['-c', 'configFile=config/example.json', '-c', 'allowExample=true'];
    const child = spawn(cdk, [...args, ...example], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('error', reject);
    child.on('exit', (exitCode) => resolve(exitCode ?? 1));
  });
  if (code !== 0) throw new Error(`cdk synth failed (${code}):\n${output.join('').slice(-4000)}`);
  return readSynthesis(outDir, (performance.now() - started) / 1000);
};

/** Reads a `cdk synth` output directory (`seconds`: how long the synthesis took, if known). */
export const readSynthesis = (outDir: string, seconds = 0): Synthesis => {
  const manifest = JSON.parse(readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const [stackName, stack] =
    Object.entries(manifest.artifacts).find(([, artifact]) => artifact.type === 'aws:cloudformation:stack') ??
    [];
  const templateFile = stack?.properties?.templateFile;
  if (!stackName || !templateFile) throw new Error('cdk synth produced no stack template');
  const template = JSON.parse(readFileSync(path.join(outDir, templateFile), 'utf8')) as CfnTemplate;

  const functions: SynthesizedFunction[] = [];
  const batchSizes: Record<string, number> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const properties = (resource.Properties ?? {}) as Record<string, unknown>;
    if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
      const target = (properties.FunctionName as { Ref?: string } | undefined)?.Ref;
      if (target) batchSizes[target] = Number(properties.BatchSize ?? 10);
    }
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const metadata = (resource.Metadata ?? {}) as Record<string, unknown>;
    const entry = metadata['MarketplaceBridge:Entry'];
    const assetPath = metadata['aws:asset:path'];
    if (typeof entry !== 'string' || typeof assetPath !== 'string') continue;
    const assetDir = path.resolve(outDir, assetPath);
    const metafilePath = path.join(assetDir, 'index.meta.json');
    functions.push({
      logicalId,
      entry,
      assetDir,
      bundlePath: path.join(assetDir, 'index.mjs'),
      metafilePath: existsSync(metafilePath) ? metafilePath : undefined,
      environment: ((properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {}) as Record<string, unknown>,
      memorySize: Number(properties.MemorySize ?? 128),
    });
  }
  functions.sort((a, b) => a.entry.localeCompare(b.entry));
  return { outDir, stackName, template, functions, seconds, batchSizes };
};

export const functionByEntry = (synthesis: Synthesis, entry: string): SynthesizedFunction => {
  const found = synthesis.functions.find((fn) => fn.entry === entry);
  if (!found) throw new Error(`the synthesized template has no function for ${entry}`);
  return found;
};

/** Where the template's resources live locally. */
export interface LocalResources {
  /** Table definition id (`Licenses`, ...) → local table name. */
  readonly tables: Readonly<Record<string, string>>;
  readonly domainEventBus: string;
  /** Name of the secret every `AWS::SecretsManager::Secret` of the stack resolves to. */
  readonly stackSecretName: string;
  readonly queueUrl: string;
  readonly region: string;
  readonly account: string;
}

/** The function's template environment with references resolved to the local resources. */
export const resolveEnvironment = (
  synthesis: Synthesis,
  fn: SynthesizedFunction,
  local: LocalResources,
): Record<string, string> => {
  const resources = synthesis.template.Resources ?? {};
  const context: IntrinsicContext = {
    region: local.region,
    account: local.account,
    stackName: synthesis.stackName,
    ref: (logicalId) => {
      const type = resources[logicalId]?.Type;
      if (type === 'AWS::DynamoDB::GlobalTable' || type === 'AWS::DynamoDB::Table') {
        const definition = tableDefinitions.find((candidate) => logicalId.includes(candidate.id));
        return definition ? local.tables[definition.id] : undefined;
      }
      if (type === 'AWS::Events::EventBus') return local.domainEventBus;
      if (type === 'AWS::SQS::Queue') return local.queueUrl;
      if (type === 'AWS::SecretsManager::Secret') {
        // A secret's Ref is its ARN: name, a dash and six random characters.
        return `arn:aws:secretsmanager:${local.region}:${local.account}:secret:${local.stackSecretName}-AbCdEf`;
      }
      return undefined;
    },
    getAtt: () => undefined,
  };
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    const resolved = evaluateIntrinsic(value, context);
    environment[name] = typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
  }
  return environment;
};

/**
 * Copies a bundle directory to `targetDir` with a `node_modules/@aws-sdk` symlink next to it: the
 * bundles leave the AWS SDK to the Lambda runtime, so it must resolve from the bundle's directory.
 * Returns the staged `index.mjs`.
 */
export const stageBundle = (sourceDir: string, targetDir: string): string => {
  rmSync(targetDir, { recursive: true, force: true });
  mkdirSync(path.join(targetDir, 'node_modules'), { recursive: true });
  for (const file of readdirSync(sourceDir)) {
    if (file === 'index.meta.json') continue;
    cpSync(path.join(sourceDir, file), path.join(targetDir, file));
  }
  symlinkSync(
    path.join(PROJECT_ROOT, 'node_modules', '@aws-sdk'),
    path.join(targetDir, 'node_modules', '@aws-sdk'),
    'dir',
  );
  return path.join(targetDir, 'index.mjs');
};

/** The synthesis with every function's bundle staged under `workDir/functions/<logicalId>`. */
export const stageSynthesis = (synthesis: Synthesis, workDir: string): Synthesis => ({
  ...synthesis,
  functions: synthesis.functions.map((fn) => {
    const bundlePath = stageBundle(fn.assetDir, path.join(workDir, 'functions', fn.logicalId));
    return { ...fn, bundlePath };
  }),
});
