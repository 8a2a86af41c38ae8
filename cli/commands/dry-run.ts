import { type DryRunReport, dryRunLicense, meteringDepsFromRuntime } from '#shared/metering/pipeline';
import { exitCodes, progress, table, UsageError } from '../output.js';
import type { Command } from '../registry.js';
import { scanItems } from '../tables.js';

/** Licenses metering looks at (the rest are skipped by the run anyway). */
const meteredStatuses = new Set(['active', 'ending']);

export const dryRunCommand: Command = {
  name: 'dry-run',
  summary: 'what the next metering run would send, without sending',
  help: `Usage: marketplace-bridge dry-run (--license KEY... | --all) [--at TIME]

Plans the metering run for the licenses named (or every active or ending license) exactly as the
worker does — SaaSus counts, ledger, entitlements — and prints the records it would send, without
writing the ledger or calling BatchMeterUsage.

  --license KEY   a LicenseArn (or CustomerIdentifier) (repeatable)
  --all           every active or ending license
  --at TIME       the run's time, ISO 8601 (default now): the hours completed by then are planned,
                  e.g. 2026-11-22T14:05:00Z plans up to the 13:00 hour`,
  options: { license: { type: 'string', multiple: true }, all: { type: 'boolean' }, at: { type: 'string' } },
  async run(context, values) {
    const keys = Array.isArray(values.license) ? values.license : [];
    if ((values.all === true) === keys.length > 0)
      throw new UsageError('Say which licenses: --license KEY (one or more) or --all');
    const at = values.at === undefined ? context.now() : new Date(String(values.at));
    if (Number.isNaN(at.getTime())) {
      throw new UsageError(`--at: expected an ISO time such as 2026-11-22T14:05:00Z, got "${values.at}"`);
    }
    const deployment = context.deployment();
    const [resources, runtime] = await Promise.all([deployment.resources(), deployment.runtime()]);
    if (values.all === true) {
      for await (const page of scanItems(runtime.dynamo(), resources.licensesTable, {
        projection: ['licenseKey', 'status'],
      })) {
        for (const item of page)
          if (meteredStatuses.has(String(item.status))) keys.push(String(item.licenseKey));
      }
    }
    const deps = meteringDepsFromRuntime(runtime, { workers: 1 });
    const bar = progress(context.io, 'planning', keys.length);
    const reports: DryRunReport[] = [];
    const failures: { licenseKey: string; error: string }[] = [];
    for (const licenseKey of keys) {
      try {
        reports.push(await dryRunLicense(deps, { licenseKey, now: at }));
      } catch (error) {
        failures.push({ licenseKey, error: error instanceof Error ? error.message : String(error) });
      }
      bar.tick();
    }
    bar.done();
    if (context.json) {
      context.io.stdout(`${JSON.stringify({ at: at.toISOString(), reports, failures }, null, 2)}\n`);
    } else {
      const { io } = context;
      for (const report of reports) {
        io.stdout(`${report.licenseKey}${report.status ? ` (${report.status})` : ''}\n`);
        if (report.skipped) io.stdout(`  skipped: ${report.skipped}\n`);
        if (report.records.length === 0) {
          io.stdout('  nothing to send\n');
          continue;
        }
        io.stdout(
          table(
            ['usage hour', 'dimension', 'quantity', 'action', 'source'],
            report.records.map((record) => [
              record.usageHour,
              record.dimension,
              record.quantity,
              record.action,
              record.source,
            ]),
          ),
        );
      }
      if (keys.length === 0) io.stdout('No active or ending license.\n');
      for (const failure of failures) io.stderr(`${failure.licenseKey}: ${failure.error}\n`);
    }
    return failures.length > 0 ? exitCodes.problems : exitCodes.ok;
  },
};
