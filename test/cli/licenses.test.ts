import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlyProduct } from '../support/config.js';
import { type CliWorld, registerBuyer, startCliWorld } from './support.js';

/** status, license and dry-run against the sandbox, with a buyer who subscribed and registered. */

const HOUR_MS = 3_600_000;
let world: CliWorld;
let licenseArn: string;
let tenantId: string;

beforeAll(async () => {
  world = await startCliWorld();
  ({ licenseArn, tenantId } = await registerBuyer(world.sandbox, {
    account: '444455556666',
    dimension: 'basic',
    tenantName: 'Operator Labs',
  }));
});

afterAll(async () => {
  await world?.close();
});

describe('status', () => {
  it('counts licenses by product and state', async () => {
    const result = await world.run('status', '--json');
    expect(result.code).toBe(0);
    const report = result.json<{ licenses: unknown[]; metering: { lagSeconds: number } }>();
    expect(report.licenses).toEqual([
      { productCode: onlyProduct(world.sandbox.config).productCode, status: 'active', count: 1 },
    ]);
    expect(report.metering.lagSeconds).toBe(0);
    const human = await world.run('status');
    expect(human.stdout).toMatch(/Licenses\n\s*product\s+state\s+licenses/);
    expect(human.stdout).toContain('Dead-letter queues');
  });
});

describe('license', () => {
  it("shows the record, the tenant's name and plan, and the events applied", async () => {
    const result = await world.run('license', licenseArn, '--json');
    expect(result.code).toBe(0);
    const report = result.json<{
      license: { status: string; tenantId: string };
      tenant: { name: string; planId: string };
      recentEvents: string[];
    }>();
    expect(report.license).toMatchObject({ status: 'active', tenantId });
    expect(report.tenant).toMatchObject({
      name: 'Operator Labs',
      planId: onlyProduct(world.sandbox.config).plans.defaultPlanId,
    });
    expect(report.recentEvents.length).toBeGreaterThan(0);
    const human = await world.run('license', licenseArn);
    expect(human.stdout).toContain(`Operator Labs (${tenantId})`);
  });

  it('exits 3 for a license it does not know, 2 without one', async () => {
    const unknown = await world.run('license', 'arn:aws:license-manager::1:license:l-nobody');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('No license arn:aws:license-manager::1:license:l-nobody');
    expect((await world.run('license')).code).toBe(2);
  });
});

describe('dry-run', () => {
  it('plans the next run from SaaSus usage without writing the ledger or sending', async () => {
    const { sandbox } = world;
    await sandbox.saasus().updateMeteringCountNow(tenantId, 'api_calls', { method: 'add', count: 12 });
    const at = new Date(Math.floor(sandbox.clock.now().getTime() / HOUR_MS) * HOUR_MS + HOUR_MS + 5 * 60_000);
    const billedBefore = sandbox.emulators.marketplace.billedRecords().length;
    const result = await world.run('dry-run', '--license', licenseArn, '--at', at.toISOString(), '--json');
    expect(result.code, result.stderr).toBe(0);
    const [report] = result.json<{
      reports: { licenseKey: string; records: { dimension: string; quantity: number; action: string }[] }[];
    }>().reports;
    expect(report?.licenseKey).toBe(licenseArn);
    expect(report?.records.find((record) => record.dimension === 'api_calls')).toMatchObject({
      quantity: 12,
      action: 'send',
    });
    // Nothing was written or sent.
    const ledger = await world.run('license', licenseArn, '--json');
    expect(ledger.json<{ ledger: unknown[] }>().ledger).toEqual([]);
    expect(sandbox.emulators.marketplace.billedRecords().length).toBe(billedBefore);

    const all = await world.run('dry-run', '--all', '--at', at.toISOString(), '--json');
    expect(
      all.json<{ reports: { licenseKey: string }[] }>().reports.map((entry) => entry.licenseKey),
    ).toEqual([licenseArn]);
    expect((await world.run('dry-run', '--all', '--at', 'soon')).code).toBe(2);
  });
});

describe('reconcile', () => {
  it('shows SaaSus, the ledger and AWS side by side for the month and explains the difference', async () => {
    const { sandbox } = world;
    // The 12 calls of the dry run are billed by the next hourly run; 5 more arrive after it.
    const now = sandbox.clock.now().getTime();
    await sandbox.advanceClock(Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS + 10 * 60_000 - now);
    await sandbox.settle();
    await sandbox.saasus().updateMeteringCountNow(tenantId, 'api_calls', { method: 'add', count: 5 });
    const month = sandbox.clock.now().toISOString().slice(0, 7);

    const result = await world.run('reconcile', '--month', month, '--json');
    expect(result.code, result.stderr).toBe(0);
    const rows = result.json<{ rows: Record<string, unknown>[] }>().rows;
    const calls = rows.find((row) => row.licenseKey === licenseArn && row.dimension === 'api_calls');
    const billed = sandbox.emulators.marketplace
      .billedRecords()
      .filter((record) => record.licenseArn === licenseArn && record.dimension === 'api_calls');
    expect(billed.reduce((total, record) => total + record.quantity, 0)).toBe(12);
    expect(calls).toMatchObject({
      tenantId,
      saasusCount: 17,
      awsAccepted: 12,
      difference: 5,
      explained: true,
      explanations: [{ quantity: 5, reason: expect.stringContaining('not metered yet') }],
    });
    expect([...((calls?.meteringRecordIds ?? []) as string[])].sort()).toEqual(
      billed.map((record) => record.meteringRecordId).sort(),
    );
    const gauge = rows.find((row) => row.dimension === 'storage_gb');
    expect(gauge?.explanations).toEqual([{ quantity: 0, reason: expect.stringContaining('gauge') }]);

    const sheet = await world.run('reconcile', '--month', month, '--csv');
    const [header, ...lines] = sheet.stdout.trimEnd().split('\r\n');
    expect(header).toBe(
      'license,tenant,dimension,saasus count,aws accepted,difference,explained,explanation,metering record ids',
    );
    expect(lines.find((line) => line.includes(',api_calls,'))).toContain(
      `${licenseArn},${tenantId},api_calls,17,12,5,yes,`,
    );

    const table = await world.run('reconcile', '--month', month);
    expect(table.stdout).toMatch(/api_calls\s+17\s+12\s+5\s+yes/);
    expect((await world.run('reconcile', '--month', '2026-13')).code).toBe(2);
  });
});
