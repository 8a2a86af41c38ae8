import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** The package's `bin` runs the tool from the TypeScript sources and exits with its code. */

const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/marketplace-bridge.mjs', ...args], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
};

describe('marketplace-bridge bin', () => {
  it('is the package bin', () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin).toEqual({ 'marketplace-bridge': 'bin/marketplace-bridge.mjs' });
  });

  it('prints help and exits 0, exits 2 on a wrong command line, 3 on a config it cannot read', async () => {
    const help = await run('doctor', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: marketplace-bridge doctor');
    const wrong = await run('nonsense');
    expect(wrong.code).toBe(2);
    const missing = await run('status', '--config', 'config/no-such-stage.json');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('Cannot read config file config/no-such-stage.json');
  });
});
