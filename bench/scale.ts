/**
 * The scale run on its own: in-memory trees of 10 000, 100 000 and 1 000 000 small files (or the
 * counts given), each written by a child process (bench/scale-child.ts) so that peak RSS is per
 * size. Prints a markdown table; `npm run bench` runs the same and keeps it in the results.
 *
 *   npm run build && npx tsx bench/scale.ts [10000,100000,1000000]
 */
import path from 'node:path';
import { mib } from './lib/format.js';
import { runScale } from './lib/scale-report.js';

const sizes = (process.argv[2] ?? '10000,100000,1000000').split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: npx tsx bench/scale.ts [FILES,FILES,...]');
  process.exit(2);
}
const result = runScale(sizes, path.resolve(import.meta.dirname, '..'), (s) => console.error(s));
console.log('| files | seconds | µs per file | peak RSS MiB |\n|---:|---:|---:|---:|');
for (const p of result.points) {
  const s = p.buildSeconds + p.writeSeconds;
  console.log(
    `| ${p.files} | ${s.toFixed(2)} | ${p.microsPerFile.toFixed(1)} | ${mib(p.maxRssBytes)} |`,
  );
}
for (const e of result.exponents) {
  console.log(
    `\n${e.from} → ${e.to} files: time exponent ${e.time.toFixed(2)}, RSS exponent ${e.rss.toFixed(2)}`,
  );
}
console.log(`\nlinear: ${result.linear ? 'yes' : 'no'}`);
