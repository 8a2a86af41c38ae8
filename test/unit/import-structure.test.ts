import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import structure the README describes, checked: inside `functions/shared` imports point down
 * the layers (foundations → clients → license → capabilities), and the sandbox has no import
 * cycle (its web layer depends on the runner, not the reverse). Type-only imports count too: a
 * type is part of the layer that owns it.
 */

const root = path.resolve(import.meta.dirname, '../..');

const sourceFiles = (directory: string): string[] =>
  readdirSync(path.join(root, directory), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });

/** The project files a file imports (relative specifiers and `#shared/...`), as root-relative paths. */
const importsOf = (file: string): string[] => {
  const source = readFileSync(path.join(root, file), 'utf8');
  const specifiers = [
    ...source.matchAll(/\b(?:from|import)\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((match) => match[1] as string);
  return specifiers.flatMap((specifier) => {
    if (specifier.startsWith('#shared/'))
      return [`functions/shared/${specifier.slice('#shared/'.length)}.ts`];
    if (!specifier.startsWith('.')) return [];
    return [path.posix.join(path.posix.dirname(file), specifier).replace(/\.(js|ts)$/, '.ts')];
  });
};

/** functions/shared by layer, lowest first; a file may import its own layer and the ones below. */
const layers: readonly (readonly [string, readonly string[]])[] = [
  [
    'foundations',
    [
      'config.ts',
      'branding.ts',
      'stack-outputs.ts',
      'env.ts',
      'tables.ts',
      'clock.ts',
      'secrets.ts',
      'retry.ts',
      'powertools.ts',
      'dead-letters.ts',
    ],
  ],
  ['clients', ['saasus/', 'marketplace/', 'idoperation/', 'store/', 'domain-events.ts', 'runtime.ts']],
  ['license', ['license/', 'plans.ts']],
  ['capabilities', ['signup/', 'events/', 'metering/']],
];

const layerOf = (file: string): number => {
  const inShared = file.slice('functions/shared/'.length);
  const index = layers.findIndex(([, members]) =>
    members.some((member) => (member.endsWith('/') ? inShared.startsWith(member) : inShared === member)),
  );
  if (index < 0) throw new Error(`${file} is in no layer: add it to one in this test`);
  return index;
};

/** `from → to` for every import in functions/shared that points up a layer. */
const upwardImports = (files: readonly string[], imports: (file: string) => string[]): string[] =>
  files.flatMap((file) =>
    imports(file)
      .filter((target) => target.startsWith('functions/shared/') && layerOf(target) > layerOf(file))
      .map(
        (target) => `${file} → ${target} (${layers[layerOf(file)]?.[0]} → ${layers[layerOf(target)]?.[0]})`,
      ),
  );

/** Every import cycle, each as the files on it (starting from its first file in walk order). */
const importCycles = (files: readonly string[], imports: (file: string) => string[]): string[][] => {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'visiting');
    stack.push(file);
    for (const target of imports(file)) {
      if (!files.includes(target)) continue;
      if (state.get(target) === 'visiting') cycles.push(stack.slice(stack.indexOf(target)));
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return cycles;
};

describe('import structure', () => {
  it('functions/shared: every import points down the layers', () => {
    expect(upwardImports(sourceFiles('functions/shared'), importsOf)).toEqual([]);
  });

  it('the sandbox has no import cycle', () => {
    expect(importCycles(sourceFiles('sandbox'), importsOf)).toEqual([]);
  });

  it('finds an upward import and a cycle where there is one', () => {
    const graph: Record<string, string[]> = {
      'functions/shared/marketplace/metering.ts': ['functions/shared/metering/limits.ts'],
      'sandbox/runner.ts': ['sandbox/web/server.ts'],
      'sandbox/web/server.ts': ['sandbox/web/pages.ts'],
      'sandbox/web/pages.ts': ['sandbox/runner.ts'],
    };
    const imports = (file: string) => graph[file] ?? [];
    expect(upwardImports(['functions/shared/marketplace/metering.ts'], imports)).toEqual([
      'functions/shared/marketplace/metering.ts → functions/shared/metering/limits.ts (clients → capabilities)',
    ]);
    expect(
      importCycles(['sandbox/runner.ts', 'sandbox/web/server.ts', 'sandbox/web/pages.ts'], imports),
    ).toEqual([['sandbox/runner.ts', 'sandbox/web/server.ts', 'sandbox/web/pages.ts']]);
  });
});
