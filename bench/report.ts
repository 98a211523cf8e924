/**
 * Re-renders bench.md and bench.svg from a bench.json (after a change to the report code, or
 * for results copied from another machine), without running anything.
 *
 *   npx tsx bench/report.ts [bench/results/bench.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { markdownReport } from './lib/report-md.js';
import type { BenchResults } from './lib/results.js';
import { svgChart } from './lib/svg.js';

const json = process.argv[2] ?? 'bench/results/bench.json';
const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
if (results.schema !== 'tsquashfs-bench/1')
  throw new Error(`${json}: not a tsquashfs-bench/1 file`);
const dir = path.dirname(json);
writeFileSync(path.join(dir, 'bench.md'), markdownReport(results));
writeFileSync(path.join(dir, 'bench.svg'), svgChart(results));
console.error(`wrote ${dir}/bench.md and ${dir}/bench.svg`);
