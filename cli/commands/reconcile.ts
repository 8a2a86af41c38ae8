import { createLedgerStore } from '#shared/metering/store';
import { csv, exitCodes, progress, table, UsageError } from '../output.js';
import { type ReconcileRow, reconcileLicense } from '../reconcile.js';
import type { Command } from '../registry.js';
import { scanItems } from '../tables.js';

const headers = [
  'license',
  'tenant',
  'dimension',
  'saasus count',
  'aws accepted',
  'difference',
  'explained',
  'explanation',
  'metering record ids',
];

export const reconcileCommand: Command = {
  name: 'reconcile',
  summary: 'a month per license and dimension: SaaSus count, ledger, AWS accepted',
  help: `Usage: marketplace-bridge reconcile --month YYYY-MM [--license KEY]... [--csv]

For each license and dimension of the month: what SaaSus counted (sum units, over the month's
days in metering.saasusDayTimeZone), what the ledger holds by outcome, what AWS accepted with
its MeteringRecordIds, and every difference explained: before activation, within the
entitlement, pending, rejected, expired, not subscribed, not metered yet.
Exits 1 when a difference is left unexplained.

  --month YYYY-MM  the month
  --license KEY    only this license (repeatable; default every license with a tenant)
  --csv            CSV for accountants (RFC 4180) instead of the table`,
  options: {
    month: { type: 'string' },
    license: { type: 'string', multiple: true },
    csv: { type: 'boolean' },
  },
  async run(context, values) {
    const month = typeof values.month === 'string' ? values.month : '';
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month))
      throw new UsageError(`--month: expected YYYY-MM, got "${month}"`);
    const deployment = context.deployment();
    const [resources, runtime] = await Promise.all([deployment.resources(), deployment.runtime()]);
    const wanted = new Set(Array.isArray(values.license) ? values.license : []);
    const licenses: {
      licenseKey: string;
      productCode: string;
      tenantId?: string;
      baseline?: { day: string; counts: Record<string, number> };
    }[] = [];
    for await (const page of scanItems(runtime.dynamo(), resources.licensesTable, {
      projection: ['licenseKey', 'productCode', 'tenantId', 'meteringBaseline'],
    })) {
      for (const item of page) {
        const licenseKey = String(item.licenseKey);
        if (wanted.size > 0 ? !wanted.has(licenseKey) : typeof item.tenantId !== 'string') continue;
        const baseline = item.meteringBaseline as { day?: unknown; counts?: unknown } | undefined;
        licenses.push({
          licenseKey,
          productCode: String(item.productCode),
          ...(typeof item.tenantId === 'string' ? { tenantId: item.tenantId } : {}),
          ...(typeof baseline?.day === 'string' &&
          typeof baseline.counts === 'object' &&
          baseline.counts !== null
            ? { baseline: { day: baseline.day, counts: baseline.counts as Record<string, number> } }
            : {}),
        });
      }
    }
    const ledger = createLedgerStore({ client: runtime.dynamo(), tableName: resources.meteringLedgerTable });
    // A day of slack before the month: SaaSus days in a time zone ahead of UTC start earlier.
    const from = new Date(Date.parse(`${month}-01T00:00:00Z`) - 24 * 3_600_000);
    const bar = progress(context.io, 'reconciling', licenses.length);
    const rows: ReconcileRow[] = [];
    for (const license of licenses) {
      rows.push(
        ...(await reconcileLicense(
          deployment.config,
          runtime.saasus(),
          license,
          await ledger.read(license.licenseKey, from),
          month,
        )),
      );
      bar.tick();
    }
    bar.done();
    const line = (row: ReconcileRow) => [
      row.licenseKey,
      row.tenantId ?? '',
      row.dimension,
      row.saasusCount ?? '',
      row.awsAccepted,
      row.difference ?? '',
      row.explained ? 'yes' : 'NO',
      row.explanations.map((part) => `${part.quantity}: ${part.reason}`).join('; '),
      row.meteringRecordIds.join(' '),
    ];
    if (context.json) {
      context.io.stdout(`${JSON.stringify({ month, rows }, null, 2)}\n`);
    } else if (values.csv === true) {
      context.io.stdout(csv(headers, rows.map(line)));
    } else if (rows.length === 0) {
      context.io.stdout(`No license with a tenant to reconcile for ${month}.\n`);
    } else {
      context.io.stdout(
        table(
          headers.slice(0, -1),
          rows.map((row) => [...line(row).slice(0, -1)]),
        ),
      );
      const ids = rows.reduce((total, row) => total + row.meteringRecordIds.length, 0);
      context.io.stdout(`\n${ids} MeteringRecordIds (--csv or --json lists them).\n`);
    }
    return rows.every((row) => row.explained) ? exitCodes.ok : exitCodes.problems;
  },
};
