/**
 * Image size (with wall time and peak RSS as a side note) of tsquashfs against mksquashfs on a
 * real corpus, same options, one run each.
 *
 *   npm run build && npx tsx bench/size.ts CORPUS_DIR [gzip,xz,xz-portable,none]
 *
 * Both tools run as child processes under /usr/bin/time. Results go to bench/results/size.json
 * and a markdown table on stdout. The speed benchmark proper (repeated alternating runs,
 * gensquashfs, several cores) is issue 5's; this one answers "how close is the image".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SETTINGS: Record<string, string[]> = {
  gzip: [],
  xz: ['-comp', 'xz'],
  'xz-portable': ['-comp', 'xz', '-b', '1M', '-Xdict-size', '100%'],
  none: ['-noI', '-noD', '-noF', '-noX'],
};
const COMMON = ['-noappend', '-no-progress', '-quiet', '-mkfs-time', '0', '-all-root'];

interface Run {
  seconds: number;
  maxRssMiB: number;
  bytes: number;
}

function timed(cmd: string, args: string[], image: string): Run {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time:\n${r.stderr}`);
  return {
    seconds: Number(m[1]),
    maxRssMiB: Math.round(Number(m[2]) / 1024),
    bytes: statSync(image).size,
  };
}

function main(): void {
  const [corpus, list = 'gzip,xz-portable,none'] = process.argv.slice(2);
  if (!corpus) {
    console.error('usage: npx tsx bench/size.ts CORPUS_DIR [gzip,xz,xz-portable,none]');
    process.exit(2);
  }
  const work = mkdtempSync(path.join(tmpdir(), 'tsquashfs-size-'));
  const rows: Record<string, unknown>[] = [];
  try {
    for (const name of list.split(',')) {
      const args = [...COMMON, ...(SETTINGS[name] ?? [])];
      const theirsImg = path.join(work, `${name}-mksquashfs.sqfs`);
      const oursImg = path.join(work, `${name}-tsquashfs.sqfs`);
      const theirs = timed('mksquashfs', [corpus, theirsImg, ...args], theirsImg);
      const ours = timed('node', ['bin/tsquashfs.js', 'mk', corpus, oursImg, ...args], oursImg);
      const identical = readFileSync(oursImg).equals(readFileSync(theirsImg));
      rows.push({
        setting: name,
        args: args.join(' '),
        mksquashfs: theirs,
        tsquashfs: ours,
        ratio: ours.bytes / theirs.bytes,
        identical,
      });
      rmSync(theirsImg);
      rmSync(oursImg);
      console.error(`done: ${name}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const corpusBytes = Number(
    spawnSync('du', ['-sb', corpus], { encoding: 'utf8' }).stdout.split('\t')[0],
  );
  const result = {
    corpus,
    corpusBytes,
    date: new Date().toISOString(),
    node: process.version,
    rows,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/size.json', JSON.stringify(result, null, 2) + '\n');
  console.log(`Corpus ${corpus}: ${(corpusBytes / 2 ** 20).toFixed(1)} MiB\n`);
  console.log(
    '| setting | mksquashfs bytes | tsquashfs bytes | ratio | identical | mksquashfs s / MiB RSS | tsquashfs s / MiB RSS |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows as {
    setting: string;
    mksquashfs: Run;
    tsquashfs: Run;
    ratio: number;
    identical: boolean;
  }[]) {
    console.log(
      `| ${r.setting} | ${r.mksquashfs.bytes} | ${r.tsquashfs.bytes} | ${r.ratio.toFixed(5)} | ${r.identical ? 'yes' : 'no'} | ` +
        `${r.mksquashfs.seconds} / ${r.mksquashfs.maxRssMiB} | ${r.tsquashfs.seconds} / ${r.tsquashfs.maxRssMiB} |`,
    );
  }
}

main();
