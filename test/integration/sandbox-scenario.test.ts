import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** `npm start -- --scenario NAME`, as a separate process: the exit code says whether the story held. */

const runStart = (args: string[]) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/start.ts', ...args], {
      env: { ...process.env, PORT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });

describe('sandbox scenarios', () => {
  it('runs the smoke scenario and exits 0', async () => {
    const { code, output } = await runStart(['--scenario', 'smoke', '--quiet']);
    expect(output).toContain('Scenario smoke passed');
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  }, 120_000);

  it('refuses an unknown scenario with exit code 2', async () => {
    const { code, output } = await runStart(['--scenario', 'no-such-story']);
    expect(output).toContain('Unknown scenario "no-such-story"');
    expect(code).toBe(2);
  }, 60_000);
});
