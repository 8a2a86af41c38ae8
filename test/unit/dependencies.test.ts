import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every declared dependency is used. The rule, made checkable:
 * - a runtime dependency (`dependencies`) is imported by the Lambda code, `functions/`: that is
 *   all that is deployed, so anything else (the operator's tool in `cli/` included, which runs
 *   from the clone through tsx) belongs in `devDependencies`;
 * - a dev dependency is imported by any source file of the project, or runs as a command: its
 *   executable (the package's `bin`) is called by a package.json script, `.ci/run` or cdk.json's
 *   `app`; `@types/x` counts when `x` is imported or named in tsconfig's `types`; a package that a
 *   tool loads by a name of its own is listed in `loadedByTools` with the check that it still is.
 */

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  bin?: string | Record<string, string>;
}
const manifest = JSON.parse(read('package.json')) as PackageJson;

/** Packages a tool loads from its configuration rather than by their package name. */
const loadedByTools: Record<string, { why: string; stillLoaded: () => boolean }> = {
  '@vitest/coverage-v8': {
    why: "vitest's coverage provider 'v8' (vitest.config.ts)",
    stillLoaded: () => /provider:\s*'v8'/.test(read('vitest.config.ts')),
  },
};

const sourceDirectories = ['bin', 'cli', 'config', 'lib', 'functions', 'sandbox', 'bench', 'test', 'scripts'];
const sourceFile = /\.(ts|mts|mjs|js)$/;

const walk = (directory: string): string[] =>
  readdirSync(path.join(root, directory), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(relative);
    return sourceFile.test(entry.name) ? [relative] : [];
  });

const rootSources = readdirSync(root).filter((name) => sourceFile.test(name));

/** Module specifiers of static imports, re-exports, `import()` and `require()`. */
const specifiers = (source: string): string[] =>
  [
    ...source.matchAll(/\b(?:from|import)\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...source.matchAll(/--import['"]?,\s*['"]([^'"]+)['"]/g),
  ].map((match) => match[1] as string);

const packageOf = (specifier: string): string | undefined => {
  if (specifier.startsWith('.') || specifier.startsWith('#') || specifier.startsWith('node:'))
    return undefined;
  const [scopeOrName, name] = specifier.split('/');
  return scopeOrName?.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName;
};

const importedBy = (files: string[]) =>
  new Set(files.flatMap((file) => specifiers(read(file)).flatMap((spec) => packageOf(spec) ?? [])));

const executables = (name: string): string[] => {
  const { bin } = JSON.parse(read(path.join('node_modules', name, 'package.json'))) as PackageJson;
  if (!bin) return [];
  return typeof bin === 'string' ? [name.split('/').pop() as string] : Object.keys(bin);
};

const commandLines = [
  ...Object.values(manifest.scripts ?? {}),
  read('.ci/run'),
  (JSON.parse(read('cdk.json')) as { app: string }).app,
].join('\n');
const runsAsCommand = (name: string) =>
  executables(name).some((bin) => new RegExp(`(^|[\\s;&|(])(npx\\s+)?${bin}(\\s|$)`, 'm').test(commandLines));

const tsconfigTypes = (JSON.parse(read('tsconfig.json')) as { compilerOptions: { types?: string[] } })
  .compilerOptions.types;

/** Declared dependencies that the rule above finds unused. */
const unusedDependencies = (declared: PackageJson): string[] => {
  const runtimeImports = importedBy(walk('functions'));
  const projectImports = importedBy([...sourceDirectories.flatMap(walk), ...rootSources]);
  const unusedRuntime = Object.keys(declared.dependencies ?? {}).filter((name) => !runtimeImports.has(name));
  const unusedDev = Object.keys(declared.devDependencies ?? {}).filter((name) => {
    if (projectImports.has(name)) return false;
    if (name.startsWith('@types/')) {
      const typed = name.slice('@types/'.length);
      return !projectImports.has(typed) && !tsconfigTypes?.includes(typed);
    }
    if (loadedByTools[name]?.stillLoaded()) return false;
    return !runsAsCommand(name);
  });
  return [...unusedRuntime, ...unusedDev];
};

describe('declared dependencies', () => {
  it('are each used: runtime ones by functions/, dev ones by the project or as a command', () => {
    expect(unusedDependencies(manifest)).toEqual([]);
  });

  it('catches one that is declared and used nowhere', () => {
    expect(
      unusedDependencies({ ...manifest, dependencies: { ...manifest.dependencies, 'left-pad': '1.3.0' } }),
    ).toEqual(['left-pad']);
    // Imported only by the sandbox: a dev dependency, not a runtime one.
    expect(
      unusedDependencies({ ...manifest, dependencies: { ...manifest.dependencies, dynalite: '4.0.0' } }),
    ).toEqual(['dynalite']);
  });

  it('lists only tool-loaded packages that are declared', () => {
    const declared = { ...manifest.dependencies, ...manifest.devDependencies };
    expect(Object.keys(loadedByTools).filter((name) => !(name in declared))).toEqual([]);
  });
});
