/**
 * Re-renders bench.md and bench.svg from a bench.json (after a change to the report code or to
 * the target checks, or for results copied from another machine), without running anything. The
 * ratios and target checks are computed again from the stored medians, and written back to the
 * JSON.
 *
 *   npx tsx bench/report.ts [bench/results/bench.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { markdownReport } from './lib/report-md.js';
import type { BenchResults } from './lib/results.js';
import { ratios, scaleTargets, targetChecks } from './lib/stats.js';
import { svgChart } from './lib/svg.js';
import { makeTools } from './lib/tools.js';

const json = process.argv[2] ?? 'bench/results/bench.json';
const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
if (results.schema !== 'tsquashfs-bench/1')
  throw new Error(`${json}: not a tsquashfs-bench/1 file`);
const dir = path.dirname(json);
// The tools the run had, as it made them for the machine's core count.
const tools = makeTools(results.machine.cores, '').filter((t) =>
  results.cells.some((c) => c.tool === t.id),
);
results.ratios = ratios(results.cells, tools);
results.targets = [
  ...targetChecks(results.cells, tools, results.machine.cores),
  ...scaleTargets(results.scale),
];
writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
writeFileSync(path.join(dir, 'bench.md'), markdownReport(results));
writeFileSync(path.join(dir, 'bench.svg'), svgChart(results));
console.error(`wrote ${dir}/bench.md and ${dir}/bench.svg`);
