import type { Metafile } from 'esbuild';

/** What a bundle is made of, from its esbuild metafile. */

export interface InputShare {
  /** npm package name, or `app:<dir>` for the project's own modules. */
  readonly name: string;
  readonly bytes: number;
  /** Share of the bundle's bytes from inputs. */
  readonly share: number;
}

const packageOf = (inputPath: string): string => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(
    inputPath.slice(inputPath.lastIndexOf('node_modules/')),
  );
  if (match?.[1]) return match[1];
  const relative = inputPath.replace(/^(\.\.\/)+/, '');
  const parts = relative.split('/');
  return `app:${parts.slice(0, Math.min(3, parts.length - 1)).join('/') || relative}`;
};

const entryOutput = (metafile: Metafile) => {
  const output = Object.entries(metafile.outputs).find(
    ([name, out]) => out.entryPoint && name.endsWith('.mjs'),
  );
  if (!output) throw new Error('metafile has no entry output');
  return output[1];
};

export const inputsByPackage = (metafile: Metafile): InputShare[] => {
  const output = entryOutput(metafile);
  const totals = new Map<string, number>();
  let total = 0;
  for (const [inputPath, input] of Object.entries(output.inputs)) {
    const name = packageOf(inputPath);
    totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    total += input.bytesInOutput;
  }
  return [...totals.entries()]
    .map(([name, bytes]) => ({
      name,
      bytes,
      share: total === 0 ? 0 : Math.round((bytes / total) * 1000) / 1000,
    }))
    .sort((a, b) => b.bytes - a.bytes);
};

/** Bytes in the bundle from inputs whose path matches. */
export const bytesMatching = (metafile: Metafile, pattern: RegExp): number =>
  Object.entries(entryOutput(metafile).inputs)
    .filter(([inputPath]) => pattern.test(inputPath))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);

/** Packages the bundle leaves to the runtime (external imports), deduplicated. */
export const externalImports = (metafile: Metafile): string[] => [
  ...new Set(
    entryOutput(metafile)
      .imports.filter((entry) => entry.external && !entry.path.startsWith('node:'))
      .map((entry) => entry.path),
  ),
];
