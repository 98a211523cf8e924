/**
 * Medians per corpus × setting × tool, ratios of tsquashfs against each peer, and the issue-5
 * target checks. Pure functions of the raw runs.
 */
import { times } from './format.js';
import type { Cell, Medians, Ratio, RunRecord, TargetCheck } from './results.js';
import type { ScaleResult } from './scale-report.js';

const MiB = 1 << 20;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function medians(runs: readonly RunRecord[]): Medians {
  return {
    wallSeconds: median(runs.map((r) => r.wallSeconds)),
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    maxRssBytes: median(runs.map((r) => r.maxRssBytes)),
    imageBytes: median(runs.map((r) => r.imageBytes)),
  };
}

/** A ratio that stays finite: 0/0 is 1, x/0 is Infinity only when x > 0. */
export function ratio(a: number, b: number): number {
  if (b === 0) return a === 0 ? 1 : Infinity;
  return a / b;
}

export interface ToolInfo {
  id: string;
  family: string;
  processors: number;
}

/**
 * The tsquashfs run with the most processors and default options (`tsquashfs-pN`, not a variant
 * such as `tsquashfs-zlib-pN`): the one the ratios are about.
 */
export function mainSubject(tools: readonly ToolInfo[]): ToolInfo | undefined {
  return tools
    .filter((t) => t.family === 'tsquashfs' && /^tsquashfs-p\d+$/.test(t.id))
    .sort((a, b) => b.processors - a.processors)[0];
}

export function ratios(cells: readonly Cell[], tools: readonly ToolInfo[]): Ratio[] {
  const subject = mainSubject(tools);
  if (!subject) return [];
  const out: Ratio[] = [];
  for (const cell of cells) {
    if (cell.tool !== subject.id || !cell.median) continue;
    const s = cell.median;
    for (const peer of cells) {
      if (peer.corpus !== cell.corpus || peer.setting !== cell.setting) continue;
      if (peer.tool === subject.id || !peer.median) continue;
      const p = peer.median;
      out.push({
        corpus: cell.corpus,
        setting: cell.setting,
        subject: subject.id,
        peer: peer.tool,
        wall: ratio(s.wallSeconds, p.wallSeconds),
        cpu: ratio(s.cpuSeconds, p.cpuSeconds),
        rss: ratio(s.maxRssBytes, p.maxRssBytes),
        size: ratio(s.imageBytes, p.imageBytes),
      });
    }
  }
  return out;
}

function check(partial: Omit<TargetCheck, 'pass'>): TargetCheck {
  const pass =
    partial.kind === 'max' ? partial.value <= partial.limit : partial.value >= partial.limit;
  return { ...partial, pass };
}

/**
 * The targets of issue 5, for every corpus × setting where the tools they name have medians:
 * - xz 1M, binaries (the issue sets this one for the binaries corpus only): wall ≤ 0.8× the
 *   faster mksquashfs run, size ≤ 1.0×;
 * - gzip 128K: wall ≤ 0.9× the faster mksquashfs run, size ≤ 1.0×;
 * - uncompressed: throughput ≥ 0.7× the faster mksquashfs run's;
 * - compressed settings: tsquashfs with 2 workers ≥ 1.8× as fast as with 1;
 * - binaries at 1M blocks: every tsquashfs run's peak RSS < 300 MiB.
 */
export function targetChecks(
  cells: readonly Cell[],
  tools: readonly ToolInfo[],
  cores?: number,
): TargetCheck[] {
  const subject = mainSubject(tools);
  const out: TargetCheck[] = [];
  if (!subject) return out;
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const key = `${c.corpus}\0${c.setting}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const family = (id: string) => tools.find((t) => t.id === id)?.family;
  for (const group of groups.values()) {
    const { corpus, setting } = group[0]!;
    const get = (id: string) => group.find((c) => c.tool === id)?.median ?? null;
    const s = get(subject.id);
    const mks = group
      .filter((c) => family(c.tool) === 'mksquashfs' && c.median)
      .sort((a, b) => a.median!.wallSeconds - b.median!.wallSeconds)[0];
    const base = { corpus, setting };
    if (s && mks?.median) {
      const m = mks.median;
      const wallDetail = `${subject.id} wall / ${mks.tool} wall (the faster mksquashfs)`;
      const sizeDetail = `${subject.id} image / ${mks.tool} image`;
      if ((setting === 'xz-1m' && corpus.startsWith('binaries')) || setting === 'gzip-128k') {
        const limit = setting === 'xz-1m' ? 0.8 : 0.9;
        out.push(
          check({
            ...base,
            id: `${setting}-wall`,
            description: `wall ≤ ${limit}× mksquashfs`,
            value: ratio(s.wallSeconds, m.wallSeconds),
            limit,
            kind: 'max',
            detail: wallDetail,
          }),
          check({
            ...base,
            id: `${setting}-size`,
            description: 'size ≤ 1.0× mksquashfs',
            value: ratio(s.imageBytes, m.imageBytes),
            limit: 1,
            kind: 'max',
            detail: sizeDetail,
          }),
        );
      } else if (setting === 'none') {
        out.push(
          check({
            ...base,
            id: 'none-throughput',
            description: 'throughput ≥ 0.7× mksquashfs',
            value: ratio(m.wallSeconds, s.wallSeconds),
            limit: 0.7,
            kind: 'min',
            detail: `${mks.tool} wall / ${subject.id} wall`,
          }),
        );
      }
    }
    const p1 = get('tsquashfs-p1');
    const p2 = get('tsquashfs-p2');
    if (p1 && p2 && setting !== 'none') {
      // mksquashfs's own gain from a second core, for scale: both share the two cores with the
      // work that does not split (the scan, reading, the main thread's per-file work).
      const m1 = get('mksquashfs-p1');
      const m2 = get('mksquashfs-p2');
      const theirs =
        m1 && m2
          ? `; mksquashfs-p1 / mksquashfs-p2: ${times(ratio(m1.wallSeconds, m2.wallSeconds))}`
          : '';
      out.push(
        check({
          ...base,
          id: `${setting}-speedup-2`,
          description: '2 workers ≥ 1.8× as fast as 1',
          value: ratio(p1.wallSeconds, p2.wallSeconds),
          limit: 1.8,
          kind: 'min',
          detail: `tsquashfs-p1 wall / tsquashfs-p2 wall${speedupBound(p1, p2, cores)}${theirs}`,
        }),
      );
    }
    if (corpus.startsWith('binaries') && setting === 'xz-1m') {
      const ts = group.filter((c) => family(c.tool) === 'tsquashfs' && c.median);
      if (ts.length > 0) {
        const worst = ts.sort((a, b) => b.median!.maxRssBytes - a.median!.maxRssBytes)[0]!;
        out.push(
          check({
            ...base,
            id: 'binaries-1m-rss',
            description: 'peak RSS < 300 MiB',
            value: worst.median!.maxRssBytes,
            limit: 300 * MiB,
            kind: 'max',
            detail: `largest median peak RSS of the tsquashfs runs (${worst.tool})`,
          }),
        );
      }
    }
  }
  return out;
}

/**
 * The most a second worker could have gained on this machine: the p2 run cannot end before its
 * CPU time, spread over every core, has run. On 2 cores that binds: the main thread's work ran
 * for free beside the one worker of the p1 run, and now shares the cores with two (1.83× for the
 * binaries at gzip 128K, whatever the pool does). With more cores it is only a loose bound.
 */
function speedupBound(p1: Medians, p2: Medians, cores: number | undefined): string {
  if (cores === undefined || p2.cpuSeconds <= 0) return '';
  const bound = ratio(p1.wallSeconds, p2.cpuSeconds / cores);
  return ` (at most ${times(bound)} on ${cores} cores: tsquashfs-p1 wall / (tsquashfs-p2 CPU / ${cores}))`;
}

/** The in-memory scale target: peak RSS < 1 GiB for the 1 000 000-file tree (when it ran). */
export function scaleTargets(scale: ScaleResult | null): TargetCheck[] {
  const failed = scale?.failures.find((f) => f.files >= 1_000_000);
  if (failed) {
    return [
      {
        id: 'scale-1m-rss',
        description: 'peak RSS < 1 GiB',
        corpus: `in-memory tree of ${failed.files} files`,
        setting: 'gzip-128k',
        value: 0,
        limit: 1024 * MiB,
        kind: 'max',
        pass: false,
        detail: `the run failed: ${failed.error}`,
      },
    ];
  }
  const point = scale?.points.find((p) => p.files >= 1_000_000);
  if (!point) return [];
  return [
    check({
      id: 'scale-1m-rss',
      description: 'peak RSS < 1 GiB',
      corpus: `in-memory tree of ${point.files} files`,
      setting: 'gzip-128k',
      value: point.maxRssBytes,
      limit: 1024 * MiB,
      kind: 'max',
      detail: 'peak RSS of the scale child process',
    }),
  ];
}
