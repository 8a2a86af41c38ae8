import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { licenseDetail, marketplaceEvent } from '../../test/support/events-harness.js';
import { formBody, httpEvent } from '../../test/support/signup-harness.js';
import { type Host, startHost } from '../lib/host.js';
import { seedMeteringLicenses, sqsEvent } from '../lib/metering-seed.js';
import { round, type Summary, summarize } from '../lib/stats.js';
import { type Synthesis, stageBundle } from '../lib/synth.js';
import { startWorld, type World } from '../lib/world.js';

/**
 * Cold init: a fresh Node process imports a bundled handler (a staged copy of its asset directory
 * with the AWS SDK resolvable next to it, the environment of its template, NODE_OPTIONS included)
 * and completes its first invocation against the emulators. Every function, a trivial baseline
 * handler bundled with the same esbuild options and the probes are measured round-robin in the
 * same run, each in `runs` fresh processes; the ratio is median(function) / median(baseline).
 */

const RUN_DAY = '2026-11-22';
const CLOCK_START = Date.parse(`${RUN_DAY}T10:06:00.000Z`);

export interface ColdInitFigure {
  readonly name: string;
  readonly entry: string;
  readonly firstEvent: string;
  readonly runs: number;
  /** Process start → first invocation done, measured inside the process (performance.now()). */
  readonly coldMs: Summary;
  /** CPU time of the process (all threads) from its start to the first invocation done. */
  readonly coldCpuMs: Summary;
  /** The handler module's import (evaluation of the bundle and its SDK imports). */
  readonly importMs: Summary;
  /** The first invocation alone. */
  readonly firstInvokeMs: Summary;
  /** The parent's wall clock from fork to the first invocation's result. */
  readonly wallMs: Summary;
  readonly ratioToBaseline: number;
  /** median(coldCpuMs) / median(baseline coldCpuMs): the ratio that survives a loaded machine. */
  readonly cpuRatioToBaseline: number;
  readonly failures: string[];
}

export interface ColdInitResult {
  /** When the run that measured these figures started (set by run.ts). */
  readonly measuredAt?: string;
  readonly runs: number;
  readonly nodeOptions: string;
  /** The machine's load average (1 / 5 / 15 min) when the rounds started and when they ended. */
  readonly loadAverage?: { readonly start: number[]; readonly end: number[] };
  readonly functions: ColdInitFigure[];
}

/**
 * Handlers of another project measured beside ours in the same rounds (`--cold-compare <module>`):
 * the module's default export returns them for the running world. Its code stays out of this
 * repository; each subject names a module whose `handler` the host imports.
 */
export interface ComparedSubject {
  readonly name: string;
  readonly entry: string;
  readonly firstEvent: string;
  readonly bundlePath: string;
  readonly env: Record<string, string>;
  event(run: number): Promise<unknown>;
}
export type CompareSubjects = (world: World) => Promise<ComparedSubject[]>;

interface Subject {
  readonly name: string;
  readonly entry: string;
  readonly firstEvent: string;
  readonly bundlePath: string;
  readonly env: Record<string, string>;
  /** A fresh first event for each process. */
  event(run: number): Promise<unknown>;
}

const firstEvents = async (world: World, runs: number) => {
  const metered = await seedMeteringLicenses(world, {
    count: runs + 2,
    activeAt: new Date(`${RUN_DAY}T09:20:00.000Z`),
    usageAt: new Date(`${RUN_DAY}T09:40:00.000Z`),
    accountBase: 300_000_000_000,
  });
  let account = 400_000_000_000;
  return {
    signUp: async () => {
      const customerAwsAccountId = String(account++);
      const license = world.marketplace.addLicense({ customerAwsAccountId });
      const token = world.marketplace.mintToken({ customerAwsAccountId, licenseArn: license.licenseArn });
      return httpEvent({
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formBody({ 'x-amzn-marketplace-token': token }),
      });
    },
    marketplace: async () => {
      const customerAwsAccountId = String(account++);
      const license = world.marketplace.addLicense({ customerAwsAccountId });
      return marketplaceEvent({
        detailType: 'License Updated - Manufacturer',
        time: world.now().toISOString(),
        detail: licenseDetail(world.config, {
          account: customerAwsAccountId,
          licenseArn: license.licenseArn,
        }),
      });
    },
    saasus: async () => {
      // A user added to a tenant that belongs to no Marketplace license: parsed, checked, ignored.
      const tenant = world.saasus.seedTenant({
        name: `direct ${account}`,
        back_office_staff_email: 'ops@seller.example',
      });
      const email = `direct-${account++}@example.com`;
      world.saasus.seedUser({ email });
      await world.saasusClient.createTenantUser(String(tenant.id), { email, attributes: {} });
      const event = world.saasus.state.partnerEvents().at(-1);
      if (!event) throw new Error('the SaaSus emulator emitted no partner event');
      return event;
    },
    schedule: async () => ({ scheduledTime: `${RUN_DAY}T10:05:00.000Z` }),
    worker: async (run: number) => {
      const license = metered[run] ?? metered[0];
      return sqsEvent(
        [
          {
            messageId: randomUUID(),
            body: JSON.stringify({
              kind: 'meter',
              licenseKeys: [license?.licenseKey],
              runHour: `${RUN_DAY}T10:00:00.000Z`,
            }),
          },
        ],
        'arn:aws:sqs:us-east-1:123456789012:bench-work',
      );
    },
  };
};

const succeeded = (entry: string, value: unknown): string | undefined => {
  if (entry.startsWith('functions/sign-up/')) {
    const status = (value as { statusCode?: number } | undefined)?.statusCode;
    return status === 303 ? undefined : `fulfillment answered ${status}`;
  }
  if (entry.startsWith('functions/metering/worker')) {
    const failures = (value as { batchItemFailures?: unknown[] } | undefined)?.batchItemFailures ?? [];
    return failures.length === 0 ? undefined : 'the meter message failed';
  }
  return undefined;
};

export const runColdInit = async (
  synthesis: Synthesis,
  probes: {
    readonly baselineDir: string;
    readonly sdkDir: string;
    readonly zodNamespaceSignUpDir: string;
  },
  workDir: string,
  runs: number,
  log: (line: string) => void,
  compare?: CompareSubjects,
): Promise<ColdInitResult> => {
  const world = await startWorld({ clockOffsetMs: CLOCK_START - Date.now() });
  const loadAtStart = os.loadavg();
  try {
    const events = await firstEvents(world, runs);
    const eventFor = (entry: string): [string, (run: number) => Promise<unknown>] => {
      if (entry === 'functions/sign-up/handler.ts')
        return ['fulfillment POST with a fresh registration token', events.signUp];
      if (entry === 'functions/events/marketplace.ts')
        return ['License Updated for a new license', events.marketplace];
      if (entry === 'functions/events/saasus.ts')
        return ['create_tenant_user of a non-Marketplace tenant', events.saasus];
      if (entry === 'functions/metering/schedule.ts')
        return ['hourly fan-out (scan, queue)', events.schedule];
      if (entry === 'functions/metering/worker.ts')
        return ['SQS meter message for one license (3 records)', events.worker];
      return ['{}', async () => ({})];
    };
    const signUp =
      synthesis.functions.find((fn) => fn.entry === 'functions/sign-up/handler.ts') ?? synthesis.functions[0];
    if (!signUp) throw new Error('no functions in the synthesized template');
    // The probes run as a Bridge function would: the sign-up function's environment, NODE_OPTIONS included.
    const probeEnv = world.environmentFor(synthesis, signUp);
    const subjects: Subject[] = [
      {
        name: 'baseline',
        entry: '(trivial handler, same esbuild options)',
        firstEvent: '{}',
        bundlePath: stageBundle(probes.baselineDir, path.join(workDir, 'cold', 'baseline')),
        env: probeEnv,
        event: async () => ({}),
      },
      {
        name: 'sdk-probe',
        entry: '(trivial handler importing the AWS SDK clients the functions use)',
        firstEvent: '{}',
        bundlePath: stageBundle(probes.sdkDir, path.join(workDir, 'cold', 'sdk')),
        env: probeEnv,
        event: async () => ({}),
      },
      // What moves the sign-up function's cold init: the same bundle with source maps enabled,
      // and the bundle compiled with namespace zod imports (see bundle.ts).
      ...(signUp.entry === 'functions/sign-up/handler.ts'
        ? [
            {
              name: 'sign-up-with-source-maps',
              entry: '(sign-up bundle, NODE_OPTIONS=--enable-source-maps as before)',
              firstEvent: eventFor(signUp.entry)[0],
              bundlePath: stageBundle(signUp.assetDir, path.join(workDir, 'cold', 'sign-up-maps')),
              env: { ...world.environmentFor(synthesis, signUp), NODE_OPTIONS: '--enable-source-maps' },
              event: eventFor(signUp.entry)[1],
            },
            {
              name: 'sign-up-zod-namespace',
              entry: '(sign-up bundled with `import * as z from "zod"`)',
              firstEvent: eventFor(signUp.entry)[0],
              bundlePath: stageBundle(
                probes.zodNamespaceSignUpDir,
                path.join(workDir, 'cold', 'sign-up-zod'),
              ),
              env: world.environmentFor(synthesis, signUp),
              event: eventFor(signUp.entry)[1],
            },
          ]
        : []),
      ...(compare ? await compare(world) : []),
      ...synthesis.functions.map((fn) => {
        const [firstEvent, event] = eventFor(fn.entry);
        return {
          name: fn.logicalId,
          entry: fn.entry,
          firstEvent,
          bundlePath: stageBundle(fn.assetDir, path.join(workDir, 'cold', fn.logicalId)),
          env: world.environmentFor(synthesis, fn),
          event,
        };
      }),
    ];
    const samples = new Map(
      subjects.map((subject) => [
        subject.name,
        {
          cold: [] as number[],
          cpu: [] as number[],
          imp: [] as number[],
          first: [] as number[],
          wall: [] as number[],
          failures: [] as string[],
        },
      ]),
    );
    for (let run = 0; run < runs; run++) {
      for (const subject of subjects) {
        const sample = samples.get(subject.name);
        if (!sample) continue;
        const event = await subject.event(run);
        const forked = performance.now();
        let host: Host | undefined;
        try {
          host = await startHost({ bundlePath: subject.bundlePath, env: subject.env });
          const result = await host.invoke(event);
          const wall = performance.now() - forked;
          const problem = result.ok ? succeeded(subject.entry, result.value) : result.error;
          if (problem) sample.failures.push(problem);
          sample.cold.push(result.at);
          if (result.cpuMs !== undefined) sample.cpu.push(result.cpuMs);
          sample.imp.push(host.importedMs - host.importStartedMs);
          sample.first.push(result.ms);
          sample.wall.push(wall);
        } catch (error) {
          sample.failures.push(error instanceof Error ? error.message : String(error));
        } finally {
          await host?.close();
        }
      }
      if ((run + 1) % 5 === 0) log(`cold init: ${run + 1}/${runs} rounds`);
    }
    const baseline = summarize(samples.get('baseline')?.cold ?? []);
    const baselineCpu = summarize(samples.get('baseline')?.cpu ?? []);
    return {
      runs,
      nodeOptions: probeEnv.NODE_OPTIONS ?? '',
      loadAverage: { start: loadAtStart, end: os.loadavg() },
      functions: subjects.map((subject) => {
        const sample = samples.get(subject.name);
        const cold = summarize(sample?.cold ?? []);
        const cpu = summarize(sample?.cpu ?? []);
        return {
          name: subject.name,
          entry: subject.entry,
          firstEvent: subject.firstEvent,
          runs: cold.n,
          coldMs: cold,
          coldCpuMs: cpu,
          importMs: summarize(sample?.imp ?? []),
          firstInvokeMs: summarize(sample?.first ?? []),
          wallMs: summarize(sample?.wall ?? []),
          ratioToBaseline: round(cold.median / baseline.median, 2),
          cpuRatioToBaseline: round(cpu.median / baselineCpu.median, 2),
          failures: [...new Set(sample?.failures ?? [])].slice(0, 5),
        };
      }),
    };
  } finally {
    await world.close();
  }
};
