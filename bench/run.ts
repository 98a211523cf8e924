/**
 * The benchmark of issue 5: tsquashfs against mksquashfs and gensquashfs on the same inputs.
 *
 *   npm run build && npm run bench -- [options]
 *
 * For each corpus × setting, every tool runs once per repetition, in an order that rotates each
 * repetition; medians, ratios and the target checks go to bench/results/bench.{md,json,svg}
 * (bench/results/quick/ with --quick). Then the scale run (bench/scale-child.ts). See --help.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  CORPUS_KINDS,
  buildCorpus,
  externalCorpus,
  warmCorpus,
  type Corpus,
  type CorpusKind,
} from './lib/corpora.js';
import { measure } from './lib/measure.js';
import { markdownReport } from './lib/report-md.js';
import type { BenchResults, Cell, RunRecord } from './lib/results.js';
import { runScale } from './lib/scale-report.js';
import { medians, ratios, scaleTargets, targetChecks } from './lib/stats.js';
import { svgChart } from './lib/svg.js';
import {
  SETTINGS,
  SETTING_IDS,
  makeTools,
  toolVersions,
  type SettingId,
  type Tool,
} from './lib/tools.js';

const MiB = 1 << 20;
const ROOT = path.resolve(import.meta.dirname, '..');
/** A cell whose first runs all took less than this (seconds) is repeated --fast-reps times. */
const FAST_CELL_SECONDS = 3;

const HELP = `usage: npm run bench -- [options]

  --quick               small smoke run: 8 MiB of binaries, 2 000 small files, an 8 MiB file,
                        1 repetition, scale sizes 1 000 and 10 000; results in bench/results/quick/
  --reps N              repetitions per tool (default 3, quick 1)
  --fast-reps N         repetitions of a cell whose first runs all took under ${FAST_CELL_SECONDS} s
                        (default 9, quick 1): this VM's speed drifts by 10-30 % within minutes,
                        and short runs are cheap to repeat
  --corpora LIST        of ${CORPUS_KINDS.join(',')} (default all)
  --source DIR          also (or with --corpora '', only) this existing directory; repeatable
  --settings LIST       of ${SETTING_IDS.join(',')} (default all)
  --tools LIST          tool ids or families, e.g. tsquashfs,mksquashfs-p1 (default all)
  --binaries-mb N       size cap of the binaries corpus (default 250)
  --small-files N       files in the small-files corpus (default 100000)
  --large-mb N          size of the one large file (default 200)
  --scale-sizes LIST    file counts of the scale run (default 10000,100000,1000000)
  --no-scale            skip the scale run
  --scale-only          only the scale run
  --cache DIR           corpus cache (default bench/corpora)
  --work DIR            where images are written and deleted (default bench/work)
  --out DIR             results directory (default bench/results)
`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      'fast-reps': { type: 'string' },
      corpora: { type: 'string' },
      source: { type: 'string', multiple: true },
      settings: { type: 'string' },
      tools: { type: 'string' },
      'binaries-mb': { type: 'string' },
      'small-files': { type: 'string' },
      'large-mb': { type: 'string' },
      'scale-sizes': { type: 'string' },
      'no-scale': { type: 'boolean', default: false },
      'scale-only': { type: 'boolean', default: false },
      cache: { type: 'string' },
      work: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const q = values.quick;
  const num = (v: string | undefined, d: number) => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`not a positive number: ${v}`);
    return n;
  };
  const list = <T extends string>(v: string | undefined, all: readonly T[]): T[] => {
    if (v === undefined) return [...all];
    const picked = v.split(',').filter((x) => x !== '') as T[];
    for (const p of picked)
      if (!all.includes(p)) throw new UsageError(`unknown: ${p} (one of ${all.join(',')})`);
    return picked;
  };
  return {
    quick: q,
    reps: num(values.reps, q ? 1 : 3),
    fastReps: num(values['fast-reps'], q ? 1 : 9),
    corpora: values['scale-only'] ? [] : list<CorpusKind>(values.corpora, CORPUS_KINDS),
    sources: values['scale-only'] ? [] : (values.source ?? []),
    settings: list<SettingId>(values.settings, SETTING_IDS),
    tools: values.tools?.split(',') ?? null,
    params: {
      binariesBytes: num(values['binaries-mb'], q ? 8 : 250) * MiB,
      smallFiles: num(values['small-files'], q ? 2000 : 100_000),
      largeBytes: num(values['large-mb'], q ? 8 : 200) * MiB,
    },
    scaleSizes: values['no-scale']
      ? []
      : (values['scale-sizes']?.split(',').map((s) => num(s, 0)) ??
        (q ? [1000, 10_000] : [10_000, 100_000, 1_000_000])),
    cache: path.resolve(values.cache ?? path.join(ROOT, 'bench/corpora')),
    work: path.resolve(values.work ?? path.join(ROOT, 'bench/work')),
    out: path.resolve(values.out ?? path.join(ROOT, q ? 'bench/results/quick' : 'bench/results')),
  };
}

/** A mistake in the command line: its message and the usage, not a stack trace. */
class UsageError extends Error {}

function sha256(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(4 * MiB);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function log(s: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
}

function main(): void {
  const o = options();
  const started = Date.now();
  const tsquashfsBin = path.join(ROOT, 'bin/tsquashfs.js');
  if (!existsSync(path.join(ROOT, 'dist/bundle/main.cjs')))
    throw new Error('dist/ is missing: run npm run build');
  const cores = os.availableParallelism();
  const tools = makeTools(cores, tsquashfsBin).filter(
    (t) => !o.tools || o.tools.some((w) => t.id === w || t.family === w),
  );
  const versions = toolVersions(path.join(ROOT, 'package.json'));
  const env = { ...process.env };
  delete env.SOURCE_DATE_EPOCH; // it conflicts with -all-time / -mkfs-time
  mkdirSync(o.work, { recursive: true });
  for (const name of readdirSync(o.work)) {
    // images and temporaries of an interrupted run
    if (name.endsWith('.sqfs') || name.endsWith('.tmp')) rmSync(path.join(o.work, name));
  }
  mkdirSync(o.out, { recursive: true });

  const results: BenchResults = {
    schema: 'tsquashfs-bench/1',
    date: new Date(started).toISOString(),
    durationSeconds: 0,
    machine: {
      cores,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      memoryBytes: os.totalmem(),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAverageStart: os.loadavg(),
      loadAverageEnd: os.loadavg(),
    },
    tools: versions,
    options: {
      reps: o.reps,
      fastReps: o.fastReps,
      fastCellSeconds: FAST_CELL_SECONDS,
      quick: o.quick,
      corpora: [...o.corpora, ...o.sources],
      settings: o.settings,
      tools: tools.map((t) => t.id),
    },
    corpora: [],
    settings: o.settings.map((id) => {
      const s = SETTINGS[id];
      return {
        id,
        description: s.description,
        mksquashfs: s.mksquashfs,
        gensquashfs: Array.isArray(s.gensquashfs) ? s.gensquashfs : null,
      };
    }),
    runs: [],
    cells: [],
    ratios: [],
    targets: [],
    scale: null,
  };

  const corpora = [
    ...o.corpora.map((kind) => () => {
      log(`corpus ${kind}: building or reusing in ${o.cache}`);
      return buildCorpus(kind, o.params, o.cache);
    }),
    ...o.sources.map((dir) => () => externalCorpus(dir)),
  ];
  for (const next of corpora) {
    const corpus = next();
    results.corpora.push(corpus);
    log(`corpus ${corpus.id}: ${corpus.files} files, ${(corpus.bytes / MiB).toFixed(1)} MiB`);
    for (const id of o.settings) {
      benchCell(corpus, id, tools, versions, o.reps, o.fastReps, o.work, env, results);
      summarise(results, tools);
      writeResults(results, o.out);
    }
  }

  if (o.scaleSizes.length > 0) {
    results.scale = runScale(o.scaleSizes, ROOT, log);
  }
  summarise(results, tools);
  writeResults(results, o.out);
  process.stdout.write(markdownReport(results));
  log(`results: ${path.relative(process.cwd(), o.out)}/bench.{md,json,svg}`);
}

function benchCell(
  corpus: Corpus,
  id: SettingId,
  tools: Tool[],
  versions: Record<string, string | null>,
  reps: number,
  fastReps: number,
  work: string,
  env: NodeJS.ProcessEnv,
  results: BenchResults,
): void {
  const setting = SETTINGS[id];
  const runnable: { tool: Tool; argv: string[]; image: string }[] = [];
  for (const tool of tools) {
    const image = path.join(work, `${tool.id}.sqfs`);
    const argv = tool.argv(corpus.path, image, setting);
    const missing = versions[tool.family] === null ? `${tool.family} is not installed` : null;
    if (!Array.isArray(argv) || missing) {
      results.cells.push(
        emptyCell(
          corpus.id,
          id,
          tool.id,
          null,
          missing ?? (argv as { unsupported: string }).unsupported,
        ),
      );
    } else {
      runnable.push({ tool, argv, image });
      results.cells.push(emptyCell(corpus.id, id, tool.id, argv, null));
    }
  }
  let total = reps;
  for (let rep = 0; rep < total; rep++) {
    const order = runnable.map((_, i) => runnable[(i + rep) % runnable.length]!);
    for (const { tool, argv, image } of order) {
      rmSync(image, { force: true });
      const cell = results.cells.find(
        (c) => c.corpus === corpus.id && c.setting === id && c.tool === tool.id,
      )!;
      if (cell.unsupported) continue; // it failed in an earlier repetition
      // Every run starts from a warm page cache: this VM's DAMON pageout scheme evicts page-cache
      // pages left idle for tens of seconds (a 64 MiB file read once was 70% cached 60 s later),
      // so the first tool after a long run would otherwise read part of the corpus from disk.
      warmCorpus(corpus.path);
      let m;
      try {
        m = measure(argv, env, work);
      } catch (e) {
        cell.unsupported = `failed: ${(e as Error).message.split('\n').slice(0, 2).join(' ')}`;
        log(`[${corpus.id} ${id}] ${tool.id} ${cell.unsupported}`);
        continue;
      }
      const record: RunRecord = {
        corpus: corpus.id,
        setting: id,
        tool: tool.id,
        rep,
        ...m,
        imageBytes: statSync(image).size,
        sha256: sha256(image),
      };
      rmSync(image, { force: true });
      results.runs.push(record);
      log(
        `[${corpus.id} ${id} ${rep + 1}/${total}] ${tool.id}: ${m.wallSeconds.toFixed(3)} s wall, ` +
          `${m.cpuSeconds.toFixed(2)} s CPU, ${(m.maxRssBytes / MiB).toFixed(0)} MiB, ${record.imageBytes} bytes`,
      );
    }
    if (rep === 0 && fastReps > total) {
      const first = results.runs.filter((r) => r.corpus === corpus.id && r.setting === id);
      if (first.length > 0 && first.every((r) => r.wallSeconds < FAST_CELL_SECONDS)) {
        total = fastReps;
      }
    }
  }
}

function emptyCell(
  corpus: string,
  setting: string,
  tool: string,
  argv: string[] | null,
  unsupported: string | null,
): Cell {
  return {
    corpus,
    setting,
    tool,
    argv,
    unsupported,
    runs: 0,
    median: null,
    identicalToMksquashfs: null,
  };
}

/** Recomputes medians, identical-bytes flags, ratios and targets from the raw runs. */
function summarise(results: BenchResults, tools: Tool[]): void {
  for (const cell of results.cells) {
    const runs = results.runs.filter(
      (r) => r.corpus === cell.corpus && r.setting === cell.setting && r.tool === cell.tool,
    );
    cell.runs = runs.length;
    cell.median = runs.length > 0 ? medians(runs) : null;
    const reference = results.runs.find(
      (r) =>
        r.corpus === cell.corpus && r.setting === cell.setting && r.tool.startsWith('mksquashfs-'),
    );
    cell.identicalToMksquashfs =
      reference && runs.length > 0 ? runs.every((r) => r.sha256 === reference.sha256) : null;
  }
  results.ratios = ratios(results.cells, tools);
  results.targets = [
    ...targetChecks(results.cells, tools, results.machine.cores),
    ...scaleTargets(results.scale),
  ];
}

function writeResults(results: BenchResults, out: string): void {
  results.durationSeconds = Math.round((Date.now() - Date.parse(results.date)) / 1000);
  results.machine.loadAverageEnd = os.loadavg();
  writeFileSync(path.join(out, 'bench.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(path.join(out, 'bench.md'), markdownReport(results));
  writeFileSync(path.join(out, 'bench.svg'), svgChart(results));
}

try {
  main();
} catch (e) {
  const parseError = String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
  if (!(e instanceof UsageError) && !parseError) throw e;
  process.stderr.write(`bench: ${(e as Error).message}\n${HELP}`);
  process.exitCode = 2;
}
