/**
 * Reading speed of our reader against unsquashfs 4.5.1 on the same images (made by mksquashfs
 * from CORPUS_DIR, gzip and xz): "cat" reads every regular file's bytes to stdout (ours: one
 * process walking the image through openImage; theirs: `unsquashfs -cat IMAGE FILE...`), and
 * "extract" writes the tree (ours: `tsquashfs extract`; theirs: `unsquashfs -d`, which
 * decompresses on every core while ours uses one). Each measurement is a child process under
 * /usr/bin/time, RUNS times with the tools alternating; the table gives the median wall time,
 * its throughput in corpus MB/s, and the median peak RSS.
 *
 *   npm run build && npx tsx bench/read.ts CORPUS_DIR [RUNS=3] [gzip,xz,lz4,lzo,zstd]
 *
 * Writes bench/results/read.md (read-COMPRESSIONS.md for another list than gzip,xz) and prints it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const COMPRESSIONS: Record<string, string[]> = {
  gzip: [],
  xz: ['-comp', 'xz'],
  lz4: ['-comp', 'lz4'],
  lzo: ['-comp', 'lzo'],
  zstd: ['-comp', 'zstd'],
};

/** The child that reads every file through our library, as `cat` would for each. */
const CAT_ALL = `
import { openImage } from ${JSON.stringify(path.join(ROOT, 'dist/squashfs/read/image.js'))};
const img = await openImage(process.argv[1]);
const write = (chunk) =>
  new Promise((ok, fail) => process.stdout.write(chunk, (err) => (err ? fail(err) : ok())));
for await (const { inode } of img.walk()) {
  if (inode.kind !== 'file') continue;
  for await (const chunk of img.readFile(inode)) await write(chunk);
}
await img.close();
`;

interface Sample {
  seconds: number;
  maxRssMiB: number;
}

function timed(cmd: string, args: string[]): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} … failed:\n${r.stderr}`);
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time:\n${r.stderr.slice(-2000)}`);
  return { seconds: Number(m[1]), maxRssMiB: Math.round(Number(m[2]) / 1024) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Regular files of the corpus, relative, sorted (what -cat is given). */
function regularFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(path.join(dir, r));
    if (st.isDirectory()) out.push(...regularFiles(dir, r));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

function main(): void {
  const [corpus, runsArg = '3', list = 'gzip,xz'] = process.argv.slice(2);
  const names = list.split(',');
  if (!corpus || names.some((n) => COMPRESSIONS[n] === undefined)) {
    console.error('usage: npx tsx bench/read.ts CORPUS_DIR [RUNS] [gzip,xz,lz4,lzo,zstd]');
    process.exit(2);
  }
  const runs = Number(runsArg);
  const files = regularFiles(corpus);
  const corpusBytes = Number(
    spawnSync('du', ['-sb', '--apparent-size', corpus], { encoding: 'utf8' }).stdout.split('\t')[0],
  );
  const work = mkdtempSync(path.join(tmpdir(), 'tsquashfs-read-'));
  const rows: string[] = [];
  try {
    for (const name of names) {
      const extra = COMPRESSIONS[name]!;
      const image = path.join(work, `${name}.sqfs`);
      const made = spawnSync(
        'mksquashfs',
        [
          corpus,
          image,
          '-noappend',
          '-no-progress',
          '-quiet',
          '-mkfs-time',
          '0',
          '-all-root',
          ...extra,
        ],
        { stdio: 'inherit' },
      );
      if (made.status !== 0) throw new Error(`mksquashfs ${name} failed`);
      const imageBytes = lstatSync(image).size;
      const dest = path.join(work, 'out');
      const tasks: Record<string, () => Sample> = {
        'cat, tsquashfs': () => timed('node', ['--input-type=module', '-e', CAT_ALL, image]),
        'cat, unsquashfs -cat': () => timed('unsquashfs', ['-cat', image, ...files]),
        'extract, tsquashfs': () => {
          rmSync(dest, { recursive: true, force: true });
          return timed('node', [path.join(ROOT, 'bin/tsquashfs.js'), 'extract', image, dest]);
        },
        'extract, unsquashfs -d': () => {
          rmSync(dest, { recursive: true, force: true });
          return timed('unsquashfs', ['-no-progress', '-d', dest, image]);
        },
      };
      const samples: Record<string, Sample[]> = {};
      for (let r = 0; r < runs; r++) {
        // Alternate the order between runs so neither tool always runs on a warmer cache.
        const order = Object.keys(tasks);
        if (r % 2 === 1) order.reverse();
        for (const task of order) (samples[task] ??= []).push(tasks[task]!());
        console.error(`${name}: run ${r + 1}/${runs} done`);
      }
      rmSync(dest, { recursive: true, force: true });
      for (const [task, list] of Object.entries(samples)) {
        const s = median(list.map((x) => x.seconds));
        rows.push(
          `| ${name} (${(imageBytes / 2 ** 20).toFixed(1)} MiB image) | ${task} | ${s.toFixed(2)} | ${(corpusBytes / 1e6 / s).toFixed(1)} | ${median(list.map((x) => x.maxRssMiB))} | ${list.map((x) => x.seconds.toFixed(2)).join(' ')} |`,
        );
      }
      rmSync(image);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const unsquashfsVersion = spawnSync('unsquashfs', ['-version'], { encoding: 'utf8' })
    .stdout.split('\n')[0]!
    .trim();
  const md = [
    '# Reading speed against unsquashfs (bench/read.ts)',
    '',
    `Corpus: \`${corpus}\`, ${files.length} files, ${(corpusBytes / 1e6).toFixed(1)} MB; images by mksquashfs (default 128K blocks, \`-all-root\`). ${runs} alternated runs each; median wall time, corpus MB per second of it, median peak RSS. ${unsquashfsVersion}; Node ${process.version}. unsquashfs decompresses on every core, our reader on one. The machine had 2 cores shared with other jobs: the numbers are indicative.`,
    '',
    '| image | task | median s | MB/s | peak RSS MiB | all runs (s) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Reproduce: \`npm run build && npx tsx bench/read.ts ${corpus} ${runs}${list === 'gzip,xz' ? '' : ` ${list}`}\`.`,
    '',
  ].join('\n');
  const out = list === 'gzip,xz' ? 'read.md' : `read-${names.join('-')}.md`;
  writeFileSync(path.join(ROOT, 'bench/results', out), md);
  console.log(md);
}

main();
