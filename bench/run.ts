import './lib/quiet.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.js';
import { PROJECT_ROOT, readSynthesis, stageSynthesis, synthesize } from './lib/synth.js';
import { renderMarkdown } from './report.js';
import { type BundleResult, runBundleSizes } from './scenarios/bundle.js';
import { type ColdInitResult, type CompareSubjects, runColdInit } from './scenarios/cold-init.js';
import { runEvents } from './scenarios/events.js';
import { runFanoutBacklog } from './scenarios/fanout-backlog.js';
import { type MeteringFigure, type MeteringHistory, runMeteringCase } from './scenarios/metering.js';
import { runSignUp } from './scenarios/signup.js';

/**
 * `npm run bench`: bundle sizes, cold init, sign-up overhead, metering throughput and event
 * processing, measured on this machine against the emulators and dynalite. Writes
 * bench/results/latest.json and BENCHMARKS.md.
 *
 *   --quick             small sizes, under two minutes: proves the harness works and checks only
 *                       correctness (zero duplicate side effects, ledger = billed records); writes
 *                       bench/results/quick.json and exits non-zero if a check fails
 *   --only a,b          run some scenarios (bundle, cold, signup, metering, events); the others keep
 *                       their figures from the previous bench/results/latest.json
 *   --metering-sizes    licenses per metering case (default 1000,10000,100000)
 *   --dimensions        dimensions per metering case, each size runs once per value (default 1,2,3)
 *   --products N        listings sharing the one BatchMeterUsage quota in the metering cases, the
 *                       licenses spread over them in turn (default 1)
 *   --dynamo-latency-ms added to every DynamoDB request in the metering cases (default 10)
 *   --saasus-latency-ms added to every SaaSus call in the metering cases (default 150)
 *   --fanout-backlog N  also run the hourly fan-out after an outage: N licenses × 3 with pending
 *                       items that left the window (expired and queued in one schedule run)
 *   --compression N     quota compression of the largest metering case (must divide the worker count)
 *   --synth-dir DIR     reuse a `cdk synth -o DIR` output instead of synthesizing
 *   --signup-latency-ms N  ms the SaaSus, Marketplace and iDoperation emulators add to every call in
 *                       the sign-up scenario's slow levels (default 150: SaaSus in Tokyo from us-east-1)
 *   --cold-compare M    a module whose default export adds another project's handlers to the cold
 *                       init rounds (see CompareSubjects in scenarios/cold-init.ts)
 *   --no-markdown       do not rewrite BENCHMARKS.md
 */

const SCENARIOS = ['bundle', 'cold', 'signup', 'metering', 'events'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'metering-sizes': { type: 'string' },
    compression: { type: 'string', default: '1' },
    dimensions: { type: 'string', default: '1,2,3' },
    products: { type: 'string', default: '1' },
    'fanout-backlog': { type: 'string' },
    'dynamo-latency-ms': { type: 'string', default: '10' },
    'saasus-latency-ms': { type: 'string', default: '150' },
    'synth-dir': { type: 'string' },
    'cold-compare': { type: 'string' },
    'signup-latency-ms': { type: 'string', default: '150' },
    'no-markdown': { type: 'boolean', default: false },
  },
});

const quick = values.quick === true;
const signUpLatencyMs = Number(values['signup-latency-ms']);
const only = new Set(
  (values.only ?? SCENARIOS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name): name is Scenario => (SCENARIOS as readonly string[]).includes(name)),
);
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

const resultsDir = path.join(PROJECT_ROOT, 'bench', 'results');
const resultsFile = path.join(resultsDir, quick ? 'quick.json' : 'latest.json');
const markdownFile = path.join(PROJECT_ROOT, 'BENCHMARKS.md');

/** The commit measured, with `+dirty` when the working tree had changes. */
const gitCommit = (): string => {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
};

const main = async (): Promise<number> => {
  const started = Date.now();
  const runStartedAt = new Date(started).toISOString();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'marketplace-bridge-bench-'));
  const previous =
    !quick && only.size < SCENARIOS.length && existsSync(resultsFile)
      ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>)
      : {};
  const results: Record<string, unknown> = { ...previous };
  const problems: string[] = [];
  try {
    log(values['synth-dir'] ? `reading ${values['synth-dir']}` : 'cdk synth with bundling…');
    const raw = values['synth-dir']
      ? readSynthesis(path.resolve(values['synth-dir']))
      : await synthesize(path.join(workDir, 'cdk.out'));
    const synthesis = stageSynthesis(raw, workDir);
    log(`${synthesis.functions.length} functions (${synthesis.functions.map((fn) => fn.entry).join(', ')})`);

    // The probes are always bundled: cold init needs the baseline bundle.
    const bundles = await runBundleSizes(raw, workDir);
    if (only.has('bundle')) {
      // The sizes an earlier run measured stay as history (e.g. before a change that moved them).
      const earlier = previous.bundle as BundleResult | undefined;
      results.bundleHistory = [
        ...((previous.bundleHistory as unknown[] | undefined) ?? []),
        ...(earlier
          ? [
              {
                runAt: String(previous.runAt ?? ''),
                sizes: earlier.functions.map((fn) => ({ entry: fn.entry, bytes: fn.bytes })),
              },
            ]
          : []),
      ];
      results.bundle = { ...bundles, measuredAt: runStartedAt };
    }
    for (const fn of bundles.functions) {
      if (!fn.metafileFound) problems.push(`${fn.entry}: no esbuild metafile next to the bundle`);
    }

    if (only.has('cold')) {
      log('cold init…');
      const earlierCold = previous.coldInit as ColdInitResult | undefined;
      if (earlierCold) {
        results.coldInitHistory = [
          ...((previous.coldInitHistory as unknown[] | undefined) ?? []),
          {
            runAt: earlierCold.measuredAt ?? String(previous.runAt ?? ''),
            medians: earlierCold.functions.map((fn) => ({
              name: fn.name,
              entry: fn.entry,
              coldMs: fn.coldMs.median,
              ratio: fn.ratioToBaseline,
            })),
          },
        ];
      }
      results.coldInit = {
        measuredAt: runStartedAt,
        ...(await runColdInit(
          synthesis,
          {
            baselineDir: path.dirname(bundles.baselineProbePath),
            sdkDir: path.dirname(bundles.sdkProbePath),
            zodNamespaceSignUpDir: path.join(workDir, 'zod-namespace', 'sign-up', 'handler'),
          },
          workDir,
          quick ? 3 : 20,
          log,
          values['cold-compare']
            ? (
                (await import(pathToFileURL(path.resolve(values['cold-compare'])).href)) as {
                  default: CompareSubjects;
                }
              ).default
            : undefined,
        )),
      };
    }

    if (only.has('signup')) {
      log('sign-up…');
      results.signUp = await runSignUp(
        synthesis,
        quick
          ? [
              {
                latencyMs: 0,
                levels: [
                  { concurrency: 1, signUps: 5 },
                  { concurrency: 8, signUps: 16 },
                  { concurrency: 32, signUps: 32 },
                ],
              },
              { latencyMs: signUpLatencyMs, levels: [{ concurrency: 8, signUps: 8 }] },
            ]
          : [
              {
                latencyMs: 0,
                levels: [
                  { concurrency: 1, signUps: 100 },
                  { concurrency: 8, signUps: 240 },
                  { concurrency: 32, signUps: 480 },
                ],
              },
              {
                latencyMs: signUpLatencyMs,
                levels: [
                  { concurrency: 1, signUps: 50 },
                  { concurrency: 8, signUps: 160 },
                  { concurrency: 32, signUps: 320 },
                ],
              },
            ],
        log,
      );
    }

    if (only.has('metering')) {
      const sizes = (values['metering-sizes'] ?? (quick ? '200' : '1000,10000,100000'))
        .split(',')
        .map((size) => Number(size.trim()))
        .filter((size) => size > 0);
      const dimensionCounts = values.dimensions
        .split(',')
        .map((count) => Number(count.trim()))
        .filter((count) => Number.isInteger(count) && count > 0);
      const dynamoLatencyMs = Number(values['dynamo-latency-ms']);
      const saasusLatencyMs = Number(values['saasus-latency-ms']);
      const products = Number(values.products);
      if (!Number.isInteger(products) || products < 1) throw new Error('--products takes a whole number ≥ 1');
      const largest = Math.max(...sizes);
      const figures: MeteringFigure[] = [];
      for (const licenses of sizes) {
        for (const dimensions of dimensionCounts) {
          const compression = licenses === largest && sizes.length > 1 ? Number(values.compression) : 1;
          log(`metering ${licenses} licenses × ${dimensions} (compression ${compression})…`);
          const figure = {
            ...(await runMeteringCase(
              synthesis,
              { licenses, dimensions, compression, dynamoLatencyMs, saasusLatencyMs, products },
              log,
            )),
            runAt: runStartedAt,
          };
          figures.push(figure);
          log(
            `metering ${licenses}: ${figure.recordsPerSecond} records/s, ratio ${figure.ratio}, ledger = billed: ${figure.correctness.ok}`,
          );
          // One JSON line per case on stdout, comparable run to run.
          process.stdout.write(
            `${JSON.stringify({
              licenses: figure.licenses,
              dimensions: figure.dimensions,
              ...(figure.products ? { products: figure.products } : {}),
              quotaShare: figure.ratio,
              throttledCalls: figure.calls.throttled,
              calls: figure.calls.total,
              doubleBilled: figure.correctness.billedDuplicates,
              ledgerEqualsBilled: figure.correctness.ledgerMatchesBilled,
              limiterRequestsPerCall: figure.limiterRequestsPerCall,
              maxCallsInOneSecond: figure.maxCallsInSlidingSecond,
              dynamoRequestsPerRecord: figure.dynamoRequestsPerRecord,
              firstCallSeconds: figure.firstCallSeconds,
              ratioSendWindow: figure.ratioSendWindow,
              dynamoLatencyMs,
              saasusLatencyMs,
              loadAverageBefore: figure.loadAverageBefore,
              loadAverageAfter: figure.loadAverage,
              wallSeconds: figure.wallSeconds,
            })}\n`,
          );
          if (!figure.correctness.ok) {
            problems.push(
              `metering ${licenses}: ledger and billed records differ (${figure.correctness.mismatches.slice(0, 3).join('; ')})`,
            );
          }
        }
      }
      // Cases of other sizes from the previous run stay (a rerun of some sizes replaces only those).
      const earlier = previous.metering as
        | { cases?: MeteringFigure[]; history?: MeteringHistory[] }
        | undefined;
      const sameCase = (a: MeteringFigure, b: MeteringFigure) =>
        a.licenses === b.licenses && (a.dimensions ?? 3) === (b.dimensions ?? 3);
      const kept = (earlier?.cases ?? []).filter(
        (figure) => !figures.some((fresh) => sameCase(fresh, figure)),
      );
      // Replaced figures stay as history: run-to-run variation on a shared machine is part of the result.
      const replaced = (earlier?.cases ?? [])
        .filter((figure) => figures.some((fresh) => sameCase(fresh, figure)))
        .map((figure) => ({
          licenses: figure.licenses,
          recordsPerSecond: figure.recordsPerSecond,
          ratio: figure.ratio,
          msPerThousandRecords: figure.msPerThousandRecords,
          runAt: figure.runAt ?? String(previous.runAt ?? ''),
        }));
      const backlogLicenses = Number(values['fanout-backlog'] ?? 0);
      const backlog =
        backlogLicenses > 0
          ? await runFanoutBacklog(synthesis, { licenses: backlogLicenses, dynamoLatencyMs }, log)
          : (earlier as { backlog?: unknown } | undefined)?.backlog;
      if (backlogLicenses > 0) process.stdout.write(`${JSON.stringify({ fanoutBacklog: backlog })}\n`);
      results.metering = {
        ...(backlog === undefined ? {} : { backlog }),
        cases: [...kept, ...figures].sort(
          (a, b) => a.licenses - b.licenses || (a.dimensions ?? 3) - (b.dimensions ?? 3),
        ),
        history: [...(earlier?.history ?? []), ...replaced],
      };
    }

    if (only.has('events')) {
      log('events…');
      const events = await runEvents(
        synthesis,
        { events: quick ? 400 : 10_000, duplicateShare: 0.1, concurrency: 16 },
        log,
      );
      results.events = events;
      if (events.duplicateSideEffectShare !== 0) problems.push('events: a duplicate reached a side effect');
      if (!events.ok) problems.push(`events: correctness check failed (${JSON.stringify(events.kinds)})`);
    }

    results.machine = describeMachine();
    results.quick = quick;
    results.runAt = new Date().toISOString();
    results.totalSeconds = Math.round((Date.now() - started) / 1000);
    // Which run measured what, when a partial run (--only) merged into an earlier one.
    const run = {
      runAt: runStartedAt,
      totalSeconds: results.totalSeconds,
      scenarios: [...only],
      quick,
      commit: gitCommit(),
    };
    results.runs =
      only.size < SCENARIOS.length ? [...((previous.runs as unknown[] | undefined) ?? []), run] : [run];
    results.correctnessProblems = problems;
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
    log(`wrote ${path.relative(PROJECT_ROOT, resultsFile)}`);
    if (!quick && !values['no-markdown']) {
      writeFileSync(markdownFile, renderMarkdown(results));
      log(`wrote ${path.relative(PROJECT_ROOT, markdownFile)}`);
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  for (const problem of problems) console.error(`correctness: ${problem}`);
  log(problems.length === 0 ? 'correctness checks passed' : `${problems.length} correctness check(s) failed`);
  return problems.length === 0 ? 0 : 1;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
