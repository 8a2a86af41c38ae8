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

/** Handler log lines are printed as `[<function label>] LEVEL message`. */
const handlerLogLines = (output: string) =>
  output.split('\n').filter((line) => /^\[[^\]]+\] [A-Z]+ /.test(line));

describe('sandbox scenarios', () => {
  it('runs the smoke scenario and exits 0, printing only its checklist', async () => {
    const { code, output } = await runStart(['--scenario', 'smoke']);
    expect(output).toContain('Scenario smoke passed');
    expect(output).not.toContain('✗');
    expect(handlerLogLines(output)).toEqual([]);
    expect(code).toBe(0);
  }, 120_000);

  it('prints the handler logs between the checklist lines with --verbose', async () => {
    const { code, output } = await runStart(['--scenario', 'smoke', '--verbose']);
    expect(output).toContain('Scenario smoke passed');
    expect(handlerLogLines(output).length).toBeGreaterThan(0);
    expect(code).toBe(0);
  }, 120_000);

  it('plays the full lifecycle on its metered contract listing and exits 0', async () => {
    const { code, output } = await runStart(['--scenario', 'full-lifecycle', '--quiet']);
    expect(output).toContain('(config/example-contract-with-consumption.json)');
    expect(output).toMatch(/Scenario full-lifecycle passed: (\d+)\/\1 expectations held in 10 steps\./);
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  }, 180_000);

  it('plays the full lifecycle on the subscription listing of config/example.json and exits 0', async () => {
    const { code, output } = await runStart([
      '--scenario',
      'full-lifecycle',
      '--quiet',
      '--config',
      'config/example.json',
    ]);
    expect(output).toContain('Starting the Marketplace Bridge sandbox (config/example.json)');
    expect(output).toContain('Scenario full-lifecycle passed');
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  }, 180_000);

  it('plays one buyer of two products on config/example-multi-product.json and exits 0', async () => {
    const { code, output } = await runStart(['--scenario', 'multi-product', '--quiet']);
    expect(output).toContain('(config/example-multi-product.json)');
    expect(output).toMatch(/Scenario multi-product passed: (\d+)\/\1 expectations held in 7 steps\./);
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  }, 180_000);

  it('refuses an unknown scenario with exit code 2', async () => {
    const { code, output } = await runStart(['--scenario', 'no-such-story']);
    expect(output).toContain('Unknown scenario "no-such-story"');
    expect(code).toBe(2);
  }, 60_000);
});
