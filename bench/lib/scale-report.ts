/**
 * The scale run: in-memory trees of growing size, each written by its own child process
 * (bench/scale-child.ts), and whether time and peak RSS grow linearly with the file count.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ScalePoint {
  files: number;
  /** Building the tree in memory. */
  buildSeconds: number;
  /** writeImage, from the tree to a finished image file. */
  writeSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  imageBytes: number;
  duplicateFiles: number;
  /** (build + write) seconds per file, in microseconds. */
  microsPerFile: number;
  rssBytesPerFile: number;
}

export interface ScaleResult {
  settings: string;
  points: ScalePoint[];
  /**
   * Between successive sizes a and b: log(cost_b / cost_a) / log(files_b / files_a). 1 is linear;
   * a fixed start-up cost makes it less than 1 at small sizes.
   */
  exponents: { from: number; to: number; time: number; rss: number }[];
  /** Every time and RSS exponent ≤ LINEAR_LIMIT. */
  linear: boolean;
  /** Sizes whose child failed (for example V8's "heap out of memory"), with its last words. */
  failures: { files: number; error: string }[];
}

export const LINEAR_LIMIT = 1.15;

export function runScale(sizes: number[], repoRoot: string, log: (s: string) => void): ScaleResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsquashfs-scale-'));
  const points: ScalePoint[] = [];
  const failures: ScaleResult['failures'] = [];
  try {
    for (const files of sizes) {
      const image = path.join(dir, `scale-${files}.sqfs`);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(repoRoot, 'bench/scale-child.ts'), String(files), image],
        { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      if (r.status !== 0) {
        const error = (r.stderr || `exit status ${r.status ?? r.signal}`)
          .trim()
          .split('\n')
          .slice(-3)
          .join(' ');
        failures.push({ files, error });
        log(`scale ${files} files: failed: ${error}`);
        rmSync(image, { force: true });
        continue;
      }
      const p = JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<
        ScalePoint,
        'microsPerFile' | 'rssBytesPerFile'
      >;
      points.push({
        ...p,
        microsPerFile: ((p.buildSeconds + p.writeSeconds) * 1e6) / files,
        rssBytesPerFile: p.maxRssBytes / files,
      });
      rmSync(image, { force: true });
      log(
        `scale ${files} files: ${(p.buildSeconds + p.writeSeconds).toFixed(2)} s, ` +
          `${(p.maxRssBytes / 2 ** 20).toFixed(0)} MiB peak RSS`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return scaleSummary(points, failures);
}

export function scaleSummary(
  points: ScalePoint[],
  failures: ScaleResult['failures'] = [],
): ScaleResult {
  const exponents: ScaleResult['exponents'] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const n = Math.log(b.files / a.files);
    exponents.push({
      from: a.files,
      to: b.files,
      time: Math.log((b.buildSeconds + b.writeSeconds) / (a.buildSeconds + a.writeSeconds)) / n,
      rss: Math.log(b.maxRssBytes / a.maxRssBytes) / n,
    });
  }
  return {
    settings: 'writeImage defaults: gzip level 9, 128 KiB blocks',
    points,
    exponents,
    linear: exponents.every((e) => e.time <= LINEAR_LIMIT && e.rss <= LINEAR_LIMIT),
    failures,
  };
}
