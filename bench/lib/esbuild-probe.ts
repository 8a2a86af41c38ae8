import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { PROJECT_ROOT } from './synth.js';

/**
 * Bundles a module with the esbuild options BridgeFunction gives NodejsFunction
 * (lib/constructs/bridge-function.ts): ESM for Node 24, minified, source map, metafile, the AWS SDK
 * bundled, the createRequire banner. Used for the baseline handler of the cold-init ratio and for
 * probes (the AWS SDK clients, a zod import style) whose cost the summary explains.
 */

export const BRIDGE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface ProbeBundle {
  readonly dir: string;
  readonly bundlePath: string;
  readonly bytes: number;
  readonly metafile: Metafile;
}

export const bundleLikeBridgeFunction = async (
  entry: string,
  outDir: string,
  plugins: Plugin[] = [],
): Promise<ProbeBundle> => {
  mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, 'index.mjs');
  const result = await build({
    entryPoints: [entry],
    outfile,
    absWorkingDir: PROJECT_ROOT,
    // Probes live outside the project: resolve their packages from its node_modules.
    nodePaths: [path.join(PROJECT_ROOT, 'node_modules')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    metafile: true,
    banner: { js: BRIDGE_BANNER },
    logLevel: 'silent',
    plugins,
  });
  writeFileSync(path.join(outDir, 'index.meta.json'), JSON.stringify(result.metafile));
  return { dir: outDir, bundlePath: outfile, bytes: readFileSync(outfile).length, metafile: result.metafile };
};

/** Writes a probe source file and returns its path. */
export const writeProbe = (dir: string, name: string, source: string): string => {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return file;
};

/**
 * An esbuild plugin that compiles the app's modules with `import * as z from 'zod'` instead of
 * `import { z } from 'zod'`: the same API, but a namespace import esbuild can tree-shake.
 */
export const zodNamespaceImports: Plugin = {
  name: 'bench-zod-namespace-imports',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]functions[\\/].*\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      return {
        contents: source.replace(/import \{ z \} from 'zod';/g, "import * as z from 'zod';"),
        loader: 'ts',
      };
    });
  },
};
