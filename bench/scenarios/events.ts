import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { applySignal, parseLicenseRecord } from '../../functions/shared/license/record.js';
import type { LicenseSignal } from '../../functions/shared/license/signal.js';
import { deriveStatus } from '../../functions/shared/license/status.js';
import { signSaasusRequest } from '../../functions/shared/saasus/signature.js';
import { createLicenseStore } from '../../functions/shared/store/licenses.js';
import { licenseDetail, marketplaceEvent } from '../../test/support/events-harness.js';
import { type Host, startHost } from '../lib/host.js';
import { mapConcurrent, round, type Summary, sleep, summarize } from '../lib/stats.js';
import { functionByEntry, type Synthesis } from '../lib/synth.js';
import { DOMAIN_EVENT_BUS, SAASUS_CREDENTIALS, startWorld, type World } from '../lib/world.js';

/**
 * Event processing: a burst of Marketplace and SaaSus events, 10 % of them delivered twice,
 * through the real (bundled) marketplace and SaaSus event handlers, each in its own process, with
 * idempotency on dynalite. Four kinds of unique events, each on a license of its own so its side
 * effects can be attributed:
 * - `activate`: License Updated for a provisioned, not yet active license (plan set, domain events);
 * - `deprovision`: License Deprovisioned of an active license (plan removed, directory user
 *   disabled, domain events);
 * - `tenant-user`: a SaaSus create_tenant_user on an active license's tenant (iDoperation user);
 * - `tenant-deleted`: a SaaSus delete_tenant (Tenant Deleted domain event).
 * Side effects are counted at the emulators: domain events (by licenseKey), SaaSus writes (by
 * tenant id in the path), iDoperation writes (by user id, or by login id for registrations). A
 * duplicate reached a side effect when its license has more side effects than the licenses of
 * the same kind whose event came once. Lambda's asynchronous retries (two, compressed to 5 and 10 s) are
 * played for failed invocations, e.g. a duplicate arriving while its original is in progress.
 */

/** Lambda retries a failed asynchronous invocation after about 1 and 2 minutes; compressed here. */
const RETRY_DELAYS_MS = [5_000, 10_000] as const;

type Kind = 'activate' | 'deprovision' | 'tenant-user' | 'tenant-deleted';
const KINDS: readonly Kind[] = ['activate', 'deprovision', 'tenant-user', 'tenant-deleted'];

export interface EventsKindFigure {
  readonly kind: Kind;
  readonly handler: 'marketplace' | 'saasus';
  readonly uniqueEvents: number;
  readonly duplicated: number;
  /** Side effects of a license whose event came once (the mode), and how many differed from it. */
  readonly sideEffectsPerEvent: number;
  readonly onceLicensesOffMode: number;
  readonly duplicatesWithExtraSideEffects: number;
  readonly licensesWithoutSideEffects: number;
}

export interface EventsResult {
  readonly deliveries: number;
  readonly uniqueEvents: number;
  readonly duplicates: number;
  readonly concurrency: number;
  /** Until every delivery, retries included, was done. */
  readonly seconds: number;
  /** Until every delivery's first attempt was done: the figure reported as events/s. */
  readonly firstPassSeconds: number;
  readonly eventsPerSecond: number;
  readonly invokeMs: Summary;
  readonly retries: number;
  readonly deadLettered: number;
  readonly errorExamples: string[];
  readonly sideEffects: {
    readonly domainEvents: number;
    readonly saasusWrites: number;
    readonly idoperationWrites: number;
    readonly unattributed: number;
  };
  readonly kinds: EventsKindFigure[];
  /** Duplicates whose license got more side effects than a single delivery gives / duplicates. */
  readonly duplicateSideEffectShare: number;
  readonly setupSeconds: number;
  readonly cpu: {
    readonly dynalite: number | undefined;
    readonly handlers: number;
    readonly harness: number;
  };
  /** os.loadavg() right after the burst (1, 5, 15 minutes): other work on the machine. */
  readonly loadAverage?: number[];
  readonly ok: boolean;
}

interface Seeded {
  readonly kind: Kind;
  readonly licenseKey: string;
  readonly account: string;
  readonly tenantId: string;
  readonly directoryUserId: string;
  readonly colleagueEmail?: string;
  event?: Record<string, unknown>;
}

const shuffle = <T>(items: T[], random: () => number): T[] => {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other] as T, items[index] as T];
  }
  return items;
};

/** A small seeded PRNG (mulberry32), so every run shuffles the same way. */
const seededRandom = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/** Provisioned licenses: one built with the store's own writes, the rest cloned from its item. */
const seedLicenses = async (
  world: World,
  kind: Kind,
  count: number,
  accountBase: number,
): Promise<Seeded[]> => {
  const { config } = world;
  const store = createLicenseStore({
    client: world.dynamo.client,
    tableName: world.tables.Licenses as string,
  });
  const active = kind !== 'activate';
  const basic = world.product.plans.defaultPlanId ?? Object.values(world.product.plans.byDimension)[0];
  const build = async (index: number) => {
    const account = String(accountBase + index);
    const license = world.marketplace.addLicense({ customerAwsAccountId: account });
    const suffix = randomBytes(6).toString('hex');
    const adminEmail = `admin-${suffix}@buyer.example`;
    const admin = world.saasus.seedUser({ email: adminEmail });
    const tenant = world.saasus.seedTenant({
      name: `Buyer ${suffix}`,
      back_office_staff_email: 'ops@seller.example',
      ...(active && basic ? { plan_id: basic } : {}),
    });
    const directoryUser = world.idoperation.seedUser({
      login_id: adminEmail,
      name: `admin-${suffix}`,
      is_external: 1,
    });
    return {
      kind,
      licenseKey: license.licenseArn,
      account,
      tenantId: String(tenant.id),
      directoryUserId: directoryUser.id,
      adminUserId: String(admin.id),
      adminEmail,
      ...(kind === 'tenant-user' ? { colleagueEmail: `colleague-${suffix}@buyer.example` } : {}),
    };
  };
  if (count <= 0) return [];
  const first = await build(0);
  await store.upsertIdentity({
    licenseKey: first.licenseKey,
    identityMode: 'license',
    licenseArn: first.licenseKey,
    customerAwsAccountId: first.account,
    productCode: world.product.productCode,
  });
  await store.setAttributes(first.licenseKey, { tenantId: first.tenantId });
  const steps: [string, unknown][] = [
    ['registration', { tenantName: 'Buyer', adminEmail: first.adminEmail, adminName: 'Admin' }],
    ['saasUser', { userId: first.adminUserId }],
    ['tenant', { tenantId: first.tenantId }],
    ['tenantUser', { userId: first.adminUserId }],
    ['role', { envId: config.saasus.envId, roleNames: config.saasus.adminRoleNames }],
    ['directoryUser', { userId: first.directoryUserId }],
    ['completed', { at: new Date().toISOString() }],
  ];
  for (const [step, value] of steps) await store.recordProvisioningStep(first.licenseKey, step, value);
  if (active) {
    const item = await store.get(first.licenseKey);
    const agreementId = `agmt-${randomBytes(8).toString('hex')}`;
    const signal: LicenseSignal = {
      kind: 'agreement-created',
      agreementId,
      intent: 'NEW',
      eventId: randomUUID(),
      time: new Date(world.now().getTime() - 3_600_000).toISOString(),
      origin: 'eventbridge',
      sourceType: 'Purchase Agreement Created - Proposer',
      locator: { by: 'agreement', customerAwsAccountId: first.account, agreementId },
    };
    const record = applySignal(parseLicenseRecord(item?.lifecycle), signal);
    await store.setAttributes(
      first.licenseKey,
      { lifecycle: record, status: deriveStatus(record).status },
      ...(item ? [{ expectedVersion: item.version }] : []),
    );
  }
  const stored = await world.dynamo.documents.send(
    new GetCommand({ TableName: world.tables.Licenses, Key: { licenseKey: first.licenseKey } }),
  );
  const template = JSON.stringify(stored.Item);
  const seeded: Seeded[] = [first];
  const others = await Promise.all(Array.from({ length: count - 1 }, (_, index) => build(index + 1)));
  await mapConcurrent(others, 8, async (other) => {
    let text = template;
    for (const [from, to] of [
      [first.licenseKey, other.licenseKey],
      [first.account, other.account],
      [first.tenantId, other.tenantId],
      [first.directoryUserId, other.directoryUserId],
      [first.adminUserId, other.adminUserId],
      [first.adminEmail, other.adminEmail],
    ] as const) {
      text = text.split(from).join(to);
    }
    await world.dynamo.documents.send(
      new PutCommand({ TableName: world.tables.Licenses, Item: JSON.parse(text) }),
    );
  });
  seeded.push(...others);
  return seeded;
};

const saasusDelete = async (world: World, path: string) => {
  const url = new URL(path, world.saasus.url);
  const response = await fetch(url, {
    method: 'DELETE',
    headers: {
      authorization: signSaasusRequest({
        method: 'DELETE',
        url,
        body: undefined,
        ...SAASUS_CREDENTIALS,
        now: new Date(),
      }),
    },
  });
  await response.text();
  if (response.status !== 200) throw new Error(`DELETE ${path} answered ${response.status}`);
};

const takeEvent = (world: World, from: number, type: string) => {
  const event = world.saasus.state
    .partnerEvents()
    .slice(from)
    .find((candidate) => candidate.detail.event_type === type);
  if (!event) throw new Error(`no ${type} partner event`);
  return event as unknown as Record<string, unknown>;
};

export const runEvents = async (
  synthesis: Synthesis,
  options: { readonly events: number; readonly duplicateShare: number; readonly concurrency: number },
  log: (line: string) => void,
): Promise<EventsResult> => {
  const world = await startWorld();
  const hosts: Host[] = [];
  try {
    const setupStarted = performance.now();
    const duplicates = Math.round(options.events * options.duplicateShare);
    const unique = options.events - duplicates;
    const perKind = Math.floor(unique / KINDS.length);
    const seeded: Seeded[] = [];
    for (const [index, kind] of KINDS.entries()) {
      const count = index === KINDS.length - 1 ? unique - perKind * (KINDS.length - 1) : perKind;
      seeded.push(...(await seedLicenses(world, kind, count, 600_000_000_000 + index * 10_000_000)));
    }
    log(`events: seeded ${seeded.length} licenses`);
    // The events, made the way AWS and SaaSus make them.
    for (const license of seeded) {
      if (license.kind === 'activate' || license.kind === 'deprovision') {
        license.event = marketplaceEvent({
          detailType:
            license.kind === 'activate'
              ? 'License Updated - Manufacturer'
              : 'License Deprovisioned - Manufacturer',
          time: world.now().toISOString(),
          detail: licenseDetail(world.config, { account: license.account, licenseArn: license.licenseKey }),
        }) as unknown as Record<string, unknown>;
      }
    }
    for (const license of seeded) {
      if (license.kind === 'tenant-user' && license.colleagueEmail) {
        world.saasus.seedUser({ email: license.colleagueEmail });
        const from = world.saasus.state.partnerEvents().length;
        await world.saasusClient.createTenantUser(license.tenantId, {
          email: license.colleagueEmail,
          attributes: {},
        });
        license.event = takeEvent(world, from, 'create_tenant_user');
      } else if (license.kind === 'tenant-deleted') {
        const from = world.saasus.state.partnerEvents().length;
        await saasusDelete(world, `/v1/auth/tenants/${license.tenantId}`);
        license.event = takeEvent(world, from, 'delete_tenant');
      }
    }
    const random = seededRandom(20_261_122);
    const duplicatedLicenses = new Set(shuffle([...seeded], random).slice(0, duplicates));
    const deliveries = shuffle(
      [...seeded, ...duplicatedLicenses].map((license) => ({ license, event: license.event })),
      random,
    );
    const setupSeconds = (performance.now() - setupStarted) / 1000;

    const marketplaceFn = functionByEntry(synthesis, 'functions/events/marketplace.ts');
    const saasusFn = functionByEntry(synthesis, 'functions/events/saasus.ts');
    const marketplaceHost = await startHost({
      bundlePath: marketplaceFn.bundlePath,
      env: world.environmentFor(synthesis, marketplaceFn),
    });
    hosts.push(marketplaceHost);
    const saasusHost = await startHost({
      bundlePath: saasusFn.bundlePath,
      env: world.environmentFor(synthesis, saasusFn),
    });
    hosts.push(saasusHost);

    const saasusRequestsBefore = world.saasus.state.requests().length;
    const idoperationCallsBefore = world.idoperation.calls().length;
    const idoperationUsersBefore = new Set(world.idoperation.users().map((user) => user.id));
    const domainEventsBefore = world.eventBridge.events(DOMAIN_EVENT_BUS).length;
    const cpuBefore = { world: world.cpu(), hosts: hosts.map((host) => host.cpuSeconds() ?? 0) };
    const invokeMs: number[] = [];
    const errors: string[] = [];
    let retries = 0;
    let deadLettered = 0;
    const started = performance.now();
    let firstPassEnded = started;
    let firstAttempts = 0;
    await mapConcurrent(deliveries, options.concurrency, async ({ license, event }) => {
      const host =
        license.kind === 'activate' || license.kind === 'deprovision' ? marketplaceHost : saasusHost;
      for (let attempt = 0; attempt < RETRY_DELAYS_MS.length + 1; attempt++) {
        if (attempt > 0) {
          retries++;
          await sleep(RETRY_DELAYS_MS[attempt - 1] ?? 0);
        }
        const result = await host.invoke(event);
        invokeMs.push(result.ms);
        if (attempt === 0 && ++firstAttempts === deliveries.length) firstPassEnded = performance.now();
        if (result.ok) return;
        errors.push(result.error ?? 'unknown');
      }
      deadLettered++;
    });
    const seconds = (performance.now() - started) / 1000;
    const firstPassSeconds = (firstPassEnded - started) / 1000;
    const cpuAfter = { world: world.cpu(), hosts: hosts.map((host) => host.cpuSeconds() ?? 0) };

    // Side effects, attributed to licenses.
    const byTenant = new Map(seeded.map((license) => [license.tenantId, license.licenseKey]));
    const byDirectoryUser = new Map(seeded.map((license) => [license.directoryUserId, license.licenseKey]));
    const byColleague = new Map(
      seeded.flatMap((license) =>
        license.colleagueEmail ? [[license.colleagueEmail, license.licenseKey] as const] : [],
      ),
    );
    const counts = new Map<string, number>();
    const add = (licenseKey: string | undefined) => {
      if (licenseKey) counts.set(licenseKey, (counts.get(licenseKey) ?? 0) + 1);
      return licenseKey !== undefined;
    };
    let unattributed = 0;
    const domainEvents = world.eventBridge.events(DOMAIN_EVENT_BUS).slice(domainEventsBefore);
    for (const event of domainEvents) if (!add(String(event.detail.licenseKey ?? ''))) unattributed++;
    const saasusWrites = world.saasus.state
      .requests()
      .slice(saasusRequestsBefore)
      .filter((request) => request.method !== 'GET');
    for (const request of saasusWrites) {
      const tenantId = /\/tenants\/([^/]+)/.exec(request.path)?.[1];
      if (!add(tenantId ? byTenant.get(tenantId) : undefined)) unattributed++;
    }
    const idoperationWrites = world.idoperation
      .calls()
      .slice(idoperationCallsBefore)
      .filter((call) => call.method !== 'GET');
    for (const call of idoperationWrites) {
      const userId = /\/users\/([^/?]+)/.exec(call.path)?.[1];
      if (userId) {
        if (!add(byDirectoryUser.get(userId))) {
          const created = world.idoperation.users().find((user) => user.id === userId);
          if (!add(created ? byColleague.get(created.login_id) : undefined)) unattributed++;
        }
      } else if (call.method === 'POST' && call.status < 300) {
        // A registration: attributed below through the user it created.
      } else unattributed++;
    }
    for (const user of world.idoperation.users()) {
      if (idoperationUsersBefore.has(user.id)) continue;
      if (!add(byColleague.get(user.login_id))) unattributed++;
    }

    const kinds: EventsKindFigure[] = KINDS.map((kind) => {
      const ofKind = seeded.filter((license) => license.kind === kind);
      const once = ofKind
        .filter((license) => !duplicatedLicenses.has(license))
        .map((license) => counts.get(license.licenseKey) ?? 0);
      const frequency = new Map<number, number>();
      for (const count of once) frequency.set(count, (frequency.get(count) ?? 0) + 1);
      const mode = [...frequency.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0;
      const twice = ofKind.filter((license) => duplicatedLicenses.has(license));
      return {
        kind,
        handler: kind === 'activate' || kind === 'deprovision' ? 'marketplace' : 'saasus',
        uniqueEvents: ofKind.length,
        duplicated: twice.length,
        sideEffectsPerEvent: mode,
        onceLicensesOffMode: once.filter((count) => count !== mode).length,
        duplicatesWithExtraSideEffects: twice.filter(
          (license) => (counts.get(license.licenseKey) ?? 0) > mode,
        ).length,
        licensesWithoutSideEffects: ofKind.filter((license) => (counts.get(license.licenseKey) ?? 0) === 0)
          .length,
      };
    });
    const leaked = kinds.reduce((sum, kind) => sum + kind.duplicatesWithExtraSideEffects, 0);
    const hostCpu =
      cpuAfter.hosts.reduce((sum, value) => sum + value, 0) -
      cpuBefore.hosts.reduce((sum, value) => sum + value, 0);
    const busy = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined ? undefined : round((after - before) / seconds, 2);
    return {
      deliveries: deliveries.length,
      uniqueEvents: seeded.length,
      duplicates: duplicatedLicenses.size,
      concurrency: options.concurrency,
      seconds: round(seconds, 2),
      firstPassSeconds: round(firstPassSeconds, 2),
      eventsPerSecond: round(deliveries.length / firstPassSeconds, 1),
      invokeMs: summarize(invokeMs),
      retries,
      deadLettered,
      errorExamples: [...new Set(errors)].slice(0, 5),
      sideEffects: {
        domainEvents: domainEvents.length,
        saasusWrites: saasusWrites.length,
        idoperationWrites: idoperationWrites.length,
        unattributed,
      },
      kinds,
      duplicateSideEffectShare:
        duplicatedLicenses.size === 0 ? 0 : round(leaked / duplicatedLicenses.size, 4),
      setupSeconds: round(setupSeconds, 1),
      loadAverage: os.loadavg().map((value) => round(value, 2)),
      cpu: {
        dynalite: busy(cpuBefore.world.dynalite, cpuAfter.world.dynalite),
        handlers: round(hostCpu / seconds, 2),
        harness: busy(cpuBefore.world.harness, cpuAfter.world.harness) ?? 0,
      },
      ok:
        leaked === 0 &&
        deadLettered === 0 &&
        unattributed === 0 &&
        kinds.every((kind) => kind.licensesWithoutSideEffects === 0 && kind.sideEffectsPerEvent > 0),
    };
  } finally {
    await Promise.all(hosts.map((host) => host.close()));
    await world.close();
  }
};
