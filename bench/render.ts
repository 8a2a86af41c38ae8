import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './lib/synth.js';
import { renderMarkdown } from './report.js';

/** Regenerates BENCHMARKS.md from bench/results/latest.json without measuring again. */
const results = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'latest.json'), 'utf8'),
) as Record<string, unknown>;
writeFileSync(path.join(PROJECT_ROOT, 'BENCHMARKS.md'), renderMarkdown(results));
console.log('wrote BENCHMARKS.md');
