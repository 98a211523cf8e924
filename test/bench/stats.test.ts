import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { measure, parseTimedOutput } from '../../bench/lib/measure.js';
import { requireFeature } from '../helpers/oracles.js';
import type { Cell, Medians } from '../../bench/lib/results.js';
import { scaleSummary, type ScalePoint } from '../../bench/lib/scale-report.js';
import {
  mainSubject,
  median,
  ratio,
  ratios,
  scaleTargets,
  targetChecks,
} from '../../bench/lib/stats.js';

const TOOLS = [
  { id: 'tsquashfs-p1', family: 'tsquashfs', processors: 1 },
  { id: 'tsquashfs-p2', family: 'tsquashfs', processors: 2 },
  { id: 'mksquashfs-p1', family: 'mksquashfs', processors: 1 },
  { id: 'mksquashfs-p2', family: 'mksquashfs', processors: 2 },
];

function cell(corpus: string, setting: string, tool: string, m: Partial<Medians> | null): Cell {
  const median = m && { wallSeconds: 1, cpuSeconds: 1, maxRssBytes: 1, imageBytes: 1, ...m };
  return {
    corpus,
    setting,
    tool,
    argv: [],
    unsupported: null,
    runs: 1,
    median,
    identicalToMksquashfs: null,
  };
}

describe('median and ratio', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });
  it('keeps 0/0 finite', () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(1, 0)).toBe(Infinity);
  });
});

describe('measure', () => {
  it("reads run-timed's line: wall time in ns, CPU time in us, peak RSS in KiB", () => {
    const m = parseTimedOutput('1503000123 1200000 100500 2048 0\n');
    expect(m.wallSeconds).toBe(1.503000123);
    expect(m.userSeconds).toBe(1.2);
    expect(m.systemSeconds).toBe(0.1005);
    expect(m.cpuSeconds).toBeCloseTo(1.3005, 9);
    expect(m.maxRssBytes).toBe(2048 * 1024);
    expect(() => parseTimedOutput('1.50 1.20 0.10 2048')).toThrow(/unexpected/);
  });
});

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const withGcc = requireFeature(
  'gcc',
  hasGcc,
  'gcc, which builds bench/lib/run-timed.c, is not installed',
);

withGcc('measure, with the timing helper built', () => {
  it('times a real child to well under a hundredth of a second, and reports its failure', () => {
    const m = measure(['sleep', '0.05']);
    expect(m.wallSeconds).toBeGreaterThanOrEqual(0.05);
    expect(m.wallSeconds).toBeLessThan(0.5);
    // Not a multiple of 10 ms, as GNU time's %e always was.
    expect(Math.round(m.wallSeconds * 1e6) % 10_000).not.toBe(0);
    expect(m.maxRssBytes).toBeGreaterThan(0);
    expect(() => measure(['sh', '-c', 'echo broken >&2; exit 3'])).toThrow(/exited 3:\nbroken/);
  });
});

describe('ratios and targets', () => {
  const cells = [
    cell('binaries-24M', 'xz-1m', 'tsquashfs-p1', { wallSeconds: 10, maxRssBytes: 200 << 20 }),
    cell('binaries-24M', 'xz-1m', 'tsquashfs-p2', {
      wallSeconds: 5,
      imageBytes: 99,
      maxRssBytes: 310 << 20,
    }),
    cell('binaries-24M', 'xz-1m', 'mksquashfs-p1', { wallSeconds: 8, imageBytes: 100 }),
    cell('binaries-24M', 'xz-1m', 'mksquashfs-p2', { wallSeconds: 6, imageBytes: 100 }),
    cell('binaries-24M', 'none', 'tsquashfs-p2', { wallSeconds: 2 }),
    cell('binaries-24M', 'none', 'mksquashfs-p1', { wallSeconds: 1.5 }),
    cell('binaries-24M', 'none', 'mksquashfs-p2', null),
  ];

  it('divides the all-cores tsquashfs run by every peer', () => {
    const r = ratios(cells, TOOLS).filter((x) => x.setting === 'xz-1m');
    expect(r.map((x) => [x.peer, x.wall])).toEqual([
      ['tsquashfs-p1', 0.5],
      ['mksquashfs-p1', 0.625],
      ['mksquashfs-p2', 5 / 6],
    ]);
    expect(r.every((x) => x.subject === 'tsquashfs-p2')).toBe(true);
  });

  it('takes the default-options run as the subject, never a variant such as -Xengine zlib', () => {
    const withVariant = [...TOOLS, { id: 'tsquashfs-zlib-p4', family: 'tsquashfs', processors: 4 }];
    expect(mainSubject(withVariant)?.id).toBe('tsquashfs-p2');
  });

  it('checks each target against the faster mksquashfs run', () => {
    const t = Object.fromEntries(targetChecks(cells, TOOLS).map((x) => [x.id, x]));
    expect(t['xz-1m-wall']).toMatchObject({ value: 5 / 6, limit: 0.8, pass: false });
    expect(t['xz-1m-wall']!.detail).toContain('mksquashfs-p2');
    expect(t['xz-1m-size']).toMatchObject({ value: 0.99, pass: true });
    expect(t['xz-1m-speedup-2']).toMatchObject({ value: 2, pass: true });
    // mksquashfs's own gain from the second core, for scale (8 s / 6 s).
    expect(t['xz-1m-speedup-2']!.detail).toContain('mksquashfs-p1 / mksquashfs-p2: 1.333×');
    expect(t['binaries-1m-rss']).toMatchObject({ value: 310 << 20, pass: false });
    expect(t['none-throughput']).toMatchObject({ value: 0.75, kind: 'min', pass: true });
    expect(t['none-speedup-2']).toBeUndefined();
  });

  it("bounds the second worker's gain by the p2 run's CPU time spread over the machine's cores", () => {
    const busy = cells.map((c) =>
      c.tool === 'tsquashfs-p2' && c.setting === 'xz-1m'
        ? { ...c, median: { ...c.median!, cpuSeconds: 9 } }
        : c,
    );
    const on = (cores?: number) =>
      targetChecks(busy, TOOLS, cores).find((x) => x.id === 'xz-1m-speedup-2')!;
    // p1 took 10 s; p2 needed 9 s of CPU, at least 4.5 s on two cores: 2.222× at most.
    expect(on(2).detail).toContain('at most 2.222× on 2 cores');
    expect(on(4).detail).toContain('at most 4.444× on 4 cores');
    expect(on().detail).not.toContain('at most');
    // The bound is said, not applied: the value stays the ratio of the wall times.
    expect(on(2).value).toBe(2);
  });

  it('checks the xz wall and size targets on the binaries corpus only, as the issue sets them', () => {
    const large = cells
      .filter((c) => c.setting === 'xz-1m')
      .map((c) => ({ ...c, corpus: 'large-64M' }));
    const ids = targetChecks(large, TOOLS).map((x) => x.id);
    expect(ids).not.toContain('xz-1m-wall');
    expect(ids).not.toContain('xz-1m-size');
    expect(ids).toContain('xz-1m-speedup-2');
  });
});

describe('scale summary', () => {
  const point = (files: number, seconds: number, rss: number): ScalePoint => ({
    files,
    buildSeconds: 0,
    writeSeconds: seconds,
    cpuSeconds: seconds,
    maxRssBytes: rss,
    imageBytes: 0,
    duplicateFiles: 0,
    microsPerFile: 0,
    rssBytesPerFile: 0,
  });

  it('calls ×10 files for ×10 cost linear, and ×10 files for ×100 cost not', () => {
    const linear = scaleSummary([point(10, 1, 100), point(100, 10, 1000)]);
    expect(linear.exponents[0]!.time).toBeCloseTo(1);
    expect(linear.linear).toBe(true);
    expect(scaleSummary([point(10, 1, 100), point(100, 100, 1000)]).linear).toBe(false);
  });

  it('checks the 1 GiB limit only when the million-file tree ran', () => {
    expect(scaleTargets(scaleSummary([point(10, 1, 1)]))).toEqual([]);
    const [t] = scaleTargets(scaleSummary([point(1_000_000, 1, 2 ** 30 + 1)]));
    expect(t).toMatchObject({ id: 'scale-1m-rss', pass: false });
  });
});

describe('scale failures', () => {
  it('fails the 1 GiB target when the million-file child died', () => {
    const s = scaleSummary([], [{ files: 1_000_000, error: 'heap out of memory' }]);
    const [t] = scaleTargets(s);
    expect(t).toMatchObject({ id: 'scale-1m-rss', pass: false });
    expect(t!.detail).toContain('heap out of memory');
  });
});
