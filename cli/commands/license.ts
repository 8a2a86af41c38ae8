import { parseLicenseRecord } from '#shared/license/record';
import { deriveStatus } from '#shared/license/status';
import { createLedgerStore } from '#shared/metering/store';
import { CliError, exitCodes, table, UsageError } from '../output.js';
import type { Command } from '../registry.js';

const HOUR_MS = 3_600_000;

export const licenseCommand: Command = {
  name: 'license',
  summary: 'one license: its record, tenant, plan, recent ledger and events',
  help: `Usage: marketplace-bridge license <licenseKey> [--hours N]

Shows one license (its LicenseArn, or CustomerIdentifier for legacy listings): state and the
facts it was derived from, the SaaSus tenant and plan, the metering ledger of the last hours
(quantity, outcome, MeteringRecordId) and the newest events applied. Exits 3 when the
license is unknown.

  --hours N   ledger hours to show (default 24)`,
  options: { hours: { type: 'string' } },
  positionals: true,
  async run(context, values, positionals) {
    const [licenseKey, ...extra] = positionals;
    if (!licenseKey || extra.length > 0)
      throw new UsageError('Name exactly one license: license <licenseKey>');
    const hours = values.hours === undefined ? 24 : Number(values.hours);
    if (!Number.isInteger(hours) || hours < 1)
      throw new UsageError(`--hours: expected a positive whole number, got "${values.hours}"`);
    const deployment = context.deployment();
    const [resources, runtime] = await Promise.all([deployment.resources(), deployment.runtime()]);
    const item = await runtime.licenses().get(licenseKey);
    if (!item)
      throw new CliError(`No license ${licenseKey} in ${resources.licensesTable}`, exitCodes.unreachable);

    const record = item.lifecycle === undefined ? undefined : parseLicenseRecord(item.lifecycle);
    const derived = record ? deriveStatus(record) : undefined;
    let tenant: { id: string; name: string; planId?: string; planName?: string; error?: string } | undefined;
    if (item.tenantId) {
      try {
        const saasus = runtime.saasus();
        const found = await saasus.getTenant(item.tenantId);
        const plan = found.plan_id
          ? await saasus.getPricingPlan(found.plan_id).catch(() => undefined)
          : undefined;
        tenant = {
          id: item.tenantId,
          name: found.name,
          ...(found.plan_id ? { planId: found.plan_id } : {}),
          ...(plan ? { planName: plan.display_name || plan.name } : {}),
        };
      } catch (error) {
        tenant = {
          id: item.tenantId,
          name: '?',
          error: error instanceof Error ? error.message : String(error),
        };
      }
    }
    // The ledger is keyed by usage hour: read from the start of the hour `hours` ago.
    const from = new Date(Math.floor(context.now().getTime() / HOUR_MS) * HOUR_MS - hours * HOUR_MS);
    const ledger = await createLedgerStore({
      client: runtime.dynamo(),
      tableName: resources.meteringLedgerTable,
    }).read(licenseKey, from);
    const { lifecycle: _lifecycle, provisioning, ...fields } = item;
    const report = {
      license: fields,
      ...(derived ? { derived } : {}),
      provisioningSteps: Object.keys(provisioning ?? {}),
      ...(tenant ? { tenant } : {}),
      ledger: ledger.map((entry) => ({
        usageHour: entry.usageHour.toISOString(),
        dimension: entry.dimension,
        quantity: entry.quantity,
        status: entry.status,
        ...(entry.meteringRecordId ? { meteringRecordId: entry.meteringRecordId } : {}),
        ...(entry.reason ? { reason: entry.reason } : {}),
      })),
      recentEvents: record?.recentEvents.slice(0, 20) ?? [],
    };
    if (context.json) {
      context.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return exitCodes.ok;
    }
    const { io } = context;
    io.stdout(`License ${licenseKey}\n`);
    const facts: [string, unknown][] = [
      ['state', item.status],
      ['product', item.productCode],
      ['buyer account', item.customerAwsAccountId],
      ['customer identifier', item.customerIdentifier],
      ['active since', derived?.activeSince],
      ['ending since', derived?.endingSince],
      ['ended at', derived?.endedAt],
      ['created', item.createdAt],
      ['updated', item.updatedAt],
      ['provisioning steps', report.provisioningSteps.join(', ')],
      [
        'tenant',
        tenant
          ? `${tenant.name} (${tenant.id})${tenant.error ? ` — SaaSus: ${tenant.error}` : ''}`
          : 'none yet',
      ],
      ['plan', tenant?.planId ? `${tenant.planName ?? '?'} (${tenant.planId})` : 'none'],
    ];
    for (const [name, value] of facts)
      if (value !== undefined && value !== '') io.stdout(`  ${name.padEnd(20)}${String(value)}\n`);
    io.stdout(`\nLedger, last ${hours} h\n`);
    io.stdout(
      report.ledger.length === 0
        ? '  no records\n'
        : table(
            ['usage hour', 'dimension', 'quantity', 'outcome', 'MeteringRecordId / reason'],
            report.ledger.map((entry) => [
              entry.usageHour,
              entry.dimension,
              entry.quantity,
              entry.status,
              entry.meteringRecordId ?? entry.reason ?? '',
            ]),
          ),
    );
    io.stdout(`\nRecent events (newest first)\n`);
    io.stdout(
      report.recentEvents.length === 0
        ? '  none\n'
        : `${report.recentEvents.map((event) => `  ${event.replace('|', '  ')}`).join('\n')}\n`,
    );
    return exitCodes.ok;
  },
};
