import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockedPackage {
  version?: string;
  optionalDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockedPackage>;
};

/** Node's lookup: the package's own node_modules, then each enclosing one up to the root. */
function resolvesFrom(path: string, name: string): boolean {
  let dir = path;
  for (;;) {
    if (lock.packages[`${dir}/node_modules/${name}`]) return true;
    const parent = dir.lastIndexOf('/node_modules/');
    if (parent < 0) return lock.packages[`node_modules/${name}`] !== undefined;
    dir = dir.slice(0, parent);
  }
}

/**
 * `npm ci` refuses a lockfile that omits any declared dependency, even an optional one for another
 * platform. A registry mirror that lacks those platform builds makes `npm install` write such a
 * lockfile without a word, so a fresh clone cannot install: this test catches it before CI does.
 */
describe('package-lock.json', () => {
  it('locks every optional dependency declared by a locked package, for every platform', () => {
    const missing: string[] = [];
    for (const [path, locked] of Object.entries(lock.packages)) {
      if (path === '') continue;
      for (const name of Object.keys(locked.optionalDependencies ?? {})) {
        if (!resolvesFrom(path, name)) missing.push(`${name} (for ${path})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
