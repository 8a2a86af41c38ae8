import { isQuotaItem } from '#shared/tables';
import { sandboxProduct } from '../listing.js';
import type { Sandbox } from '../runner.js';

/** Everything the dashboard shows, read from the local services (also served as JSON at /api/state). */
export const snapshot = async (sandbox: Sandbox) => {
  const { emulators, dynamo, tableNames, clock } = sandbox;
  const scanned = async (definitionId: string) => {
    const tableName = tableNames[definitionId];
    return tableName ? dynamo.scan(tableName) : [];
  };
  const [licenses, ledgerItems] = await Promise.all([scanned('Licenses'), scanned('MeteringLedger')]);
  // The ledger table also holds the shared BatchMeterUsage rate limit; it is not a usage record.
  const meteringLedger = ledgerItems.filter((item) => !isQuotaItem(item));
  const saasus = emulators.saasus.state;
  const tenants = saasus.tenants().map((tenant) => ({
    id: String(tenant.id),
    name: String(tenant.name ?? ''),
    plan_id: typeof tenant.plan_id === 'string' ? tenant.plan_id : undefined,
    attributes: tenant.attributes,
    users: saasus.tenantUsers(String(tenant.id)),
  }));
  return {
    clock: { now: clock.now().toISOString(), frozen: clock.frozen },
    functions: [...sandbox.functions.values()].map((fn) => ({
      logicalId: fn.model.logicalId,
      label: fn.label,
      entry: fn.model.entry,
      availability: fn.host.availability,
      warm: fn.host.warmCount,
      problems: fn.problems,
    })),
    schedules: sandbox.scheduler.jobs().map((job) => ({ ...job, next: job.next?.toISOString() })),
    rules: sandbox.router.rules(),
    licenses: licenses.sort((a, b) => String(a.createdAt ?? '').localeCompare(String(b.createdAt ?? ''))),
    marketplaceLicenses: emulators.marketplace.licenses(),
    agreements: [...sandbox.agreements.values()],
    saasus: {
      tenants,
      saasUsers: saasus.saasUsers(),
      partnerEvents: saasus.partnerEvents().length,
      meteringCounts: saasus.meteringCounts().map((record) => ({
        ...record,
        tenantName: tenants.find((tenant) => tenant.id === record.tenant_id)?.name ?? record.tenant_id,
        at: new Date(record.timestamp * 1000).toISOString(),
      })),
      plans: sandboxProduct(sandbox.config).plans,
    },
    idoperationUsers: emulators.idoperation?.users() ?? [],
    meteringLedger: meteringLedger.sort(
      (a, b) =>
        String(a.licenseKey ?? '').localeCompare(String(b.licenseKey ?? '')) ||
        String(a.usageKey ?? '').localeCompare(String(b.usageKey ?? '')),
    ),
    billedRecords: emulators.marketplace.billedRecords(),
    domainEvents: sandbox.domainBusName ? emulators.eventBridge.events(sandbox.domainBusName) : [],
    routedEvents: sandbox.router.history(),
    invocations: sandbox.invocations(),
    deadLetters: sandbox.deadLetters.list(),
    waiting: sandbox.timers.pending().map((timer) => ({ ...timer, at: new Date(timer.at).toISOString() })),
    queues: sandbox.sqs.queues().map((queue) => ({
      name: queue.name,
      url: queue.url,
      messages: sandbox.sqs.messages(queue.logicalId).length,
    })),
    warnings: sandbox.warnings,
  };
};

export type Snapshot = Awaited<ReturnType<typeof snapshot>>;
