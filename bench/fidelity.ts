/**
 * How close is our image to mksquashfs's, byte for byte? Builds SOURCE with mksquashfs and with
 * tsquashfs under the same options and reports sizes, the size ratio, and the first differing
 * offset with the region it falls in.
 *
 *   npx tsx bench/fidelity.ts SOURCE [mksquashfs options...]
 *
 * Only the options both tools share are meaningful here (-comp, -b, -noI/-noD/-noF/-noX,
 * -all-root, -mkfs-time, -no-fragments, -always-use-fragments, -no-duplicates, -Xbcj, ...).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { describeRegions, regionAt } from '../src/squashfs/read/regions.js';

export interface FidelityResult {
  ours: number;
  theirs: number;
  ratio: number;
  identical: boolean;
  firstDifference: number | null;
  region: string | null;
  /** Per region of their image: its size in both images and the first differing offset in it. */
  regions: { name: string; theirs: number; ours: number | null; firstDifference: number | null }[];
}

export async function compareWithMksquashfs(
  source: string,
  args: string[],
): Promise<FidelityResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsquashfs-fidelity-'));
  try {
    const theirsPath = path.join(dir, 'theirs.sqfs');
    const oursPath = path.join(dir, 'ours.sqfs');
    execFileSync(
      'mksquashfs',
      [source, theirsPath, '-noappend', '-quiet', '-no-progress', ...args],
      { stdio: 'pipe' },
    );
    const code = await main([
      'mk',
      source,
      oursPath,
      '-noappend',
      '-quiet',
      '-no-progress',
      ...args,
    ]);
    if (code !== 0) throw new Error(`tsquashfs mk exited ${code}`);
    const ours = readFileSync(oursPath);
    const theirs = readFileSync(theirsPath);
    let first: number | null = null;
    const n = Math.min(ours.length, theirs.length);
    for (let i = 0; i < n; i++) {
      if (ours[i] !== theirs[i]) {
        first = i;
        break;
      }
    }
    if (first === null && ours.length !== theirs.length) first = n;
    const region =
      first === null ? null : (regionAt(describeRegions(theirs), first)?.name ?? 'beyond the end');
    const ourRegions = describeRegions(ours);
    const regions = describeRegions(theirs).map((r) => {
      const o = ourRegions.find((x) => x.name === r.name);
      let diff: number | null = null;
      if (o) {
        const len = Math.max(r.end - r.start, o.end - o.start);
        for (let i = 0; i < len; i++) {
          if (
            theirs[r.start + i] !== ours[o.start + i] ||
            r.start + i >= r.end ||
            o.start + i >= o.end
          ) {
            diff = r.start + i;
            break;
          }
        }
      }
      return {
        name: r.name,
        theirs: r.end - r.start,
        ours: o ? o.end - o.start : null,
        firstDifference: diff,
      };
    });
    return {
      regions,
      ours: ours.length,
      theirs: theirs.length,
      ratio: ours.length / theirs.length,
      identical: first === null,
      firstDifference: first,
      region,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [source, ...args] = process.argv.slice(2);
  if (!source) {
    console.error('usage: npx tsx bench/fidelity.ts SOURCE [mksquashfs options...]');
    process.exit(2);
  }
  const r = await compareWithMksquashfs(source, args);
  console.log(JSON.stringify(r, null, 2));
}
