import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError } from '#shared/config';
import {
  type DryRunReport,
  dryRunLicense,
  type MeteringDeps,
  meteringDepsFromRuntime,
} from '#shared/metering/pipeline';
import { runtimeFromEnv } from '#shared/runtime';

/**
 * Prints what the metering run would send for one license, without writing or sending anything:
 *
 *   npx tsx functions/metering/dry-run.ts --license <licenseKey> [--hour <ISO time>]
 *
 * `--hour` is the time of the run (default now): the hours completed by then are planned, e.g.
 * `--hour 2026-11-22T14:05:00Z` plans up to the 13:00 hour. It reads the deployed tables and
 * SaaSus with the function environment (BRIDGE_CONFIG, LICENSES_TABLE, METERING_LEDGER_TABLE,
 * IDEMPOTENCY_TABLE, DOMAIN_EVENT_BUS) and the usual AWS credentials.
 */

export const usage =
  'usage: npx tsx functions/metering/dry-run.ts --license <licenseKey> [--hour <ISO time>]';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface DryRunArgs {
  readonly licenseKey: string;
  readonly at: Date;
}

export const parseDryRunArgs = (argv: readonly string[], now: () => Date = () => new Date()): DryRunArgs => {
  let values: { license?: string | undefined; hour?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { license: { type: 'string' }, hour: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  if (!values.license) throw new UsageError(`--license is required\n${usage}`);
  const at = values.hour === undefined ? now() : new Date(values.hour);
  if (Number.isNaN(at.getTime())) {
    throw new UsageError(
      `--hour: expected an ISO time such as 2026-11-22T14:05:00Z, got "${values.hour}"\n${usage}`,
    );
  }
  return { licenseKey: values.license, at };
};

export const dryRun = (deps: Omit<MeteringDeps, 'sender'>, args: DryRunArgs): Promise<DryRunReport> =>
  dryRunLicense(deps, { licenseKey: args.licenseKey, now: args.at });

const main = async () => {
  try {
    const args = parseDryRunArgs(process.argv.slice(2));
    const deps = meteringDepsFromRuntime(runtimeFromEnv(), { workers: 1 });
    process.stdout.write(`${JSON.stringify(await dryRun(deps, args), null, 2)}\n`);
  } catch (error) {
    const known = error instanceof UsageError || error instanceof ConfigError;
    process.stderr.write(
      `${known ? (error as Error).message : error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exitCode = known ? 2 : 1;
  }
};

const invokedDirectly = (): boolean => {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
};

if (invokedDirectly()) await main();
