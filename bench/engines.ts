/**
 * Compression speed per core of each engine tsquashfs can use, against the native library
 * mksquashfs 4.5.1 calls (bench/native-baseline.c, compiled with gcc and linked to the system's
 * liblzma and zlib). Every block is compressed on its own, as in an image. Time is CPU time of
 * the process (user + system; the compression is synchronous, so that is one core's work), which
 * a loaded machine disturbs far less than wall time. Engines alternate within each round (order
 * reversed every other round), and the median over rounds is reported.
 *
 *   npx tsx bench/engines.ts xz   [BLOCK=1048576] [ROUNDS=5] [FILE...]
 *   npx tsx bench/engines.ts gzip [BLOCK=131072]  [ROUNDS=5] [FILE...]
 *
 * Without FILEs, two 8 MiB corpora are made in .tmp/bench-engines: "bin" (regular files of
 * /usr/lib/x86_64-linux-gnu/*.so* and /usr/bin/* alternately, in name order) and "text"
 * (/usr/include/**.h then /usr/share/perl/**.pm). Output: a markdown table per corpus with MB/s
 * (of input), time and size relative to the native baseline, and whether every block's bytes
 * equal the baseline's.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import pako from 'pako';
import { GzipCompressor } from '../src/squashfs/compress/gzip.js';
import { encodeXzStream, lzma2FilterFlags } from '../src/squashfs/compress/xz-container.js';
import { loadNative } from '../src/squashfs/compress/native.js';

const require = createRequire(import.meta.url);
const [mode = 'xz', blockArg, roundsArg, ...files] = process.argv.slice(2);
const bs = Number(blockArg ?? (mode === 'xz' ? 1 << 20 : 128 << 10));
const rounds = Number(roundsArg ?? 5);
const tmp = path.resolve('.tmp/bench-engines');
mkdirSync(tmp, { recursive: true });

function listFiles(dir: string, test: (name: string) => boolean, recursive: boolean): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    const st = lstatSync(p);
    if (st.isDirectory() && recursive) out.push(...listFiles(p, test, true));
    else if (st.isFile() && test(n)) out.push(p);
  }
  return out;
}

function corpus(name: string, paths: string[]): string {
  const file = path.join(tmp, `${name}.dat`);
  if (existsSync(file) && statSync(file).size === 8 << 20) return file;
  const parts: Buffer[] = [];
  let n = 0;
  for (const p of paths) {
    if (n >= 8 << 20) break;
    try {
      const b = readFileSync(p);
      parts.push(b);
      n += b.length;
    } catch {
      // unreadable: skip
    }
  }
  writeFileSync(file, Buffer.concat(parts).subarray(0, 8 << 20));
  return file;
}

function defaultCorpora(): string[] {
  const so = listFiles('/usr/lib/x86_64-linux-gnu', (n) => /\.so/.test(n), false);
  const bin = listFiles('/usr/bin', () => true, false);
  const mixed: string[] = [];
  for (let i = 0; i < Math.min(so.length, bin.length); i++) mixed.push(so[i]!, bin[i]!);
  const text = [
    ...listFiles('/usr/include', (n) => n.endsWith('.h'), true),
    ...listFiles('/usr/share/perl', (n) => n.endsWith('.pm'), true),
  ];
  return [corpus('bin', mixed), corpus('text', text)];
}

const baseline = path.join(tmp, 'native-baseline');
execFileSync('gcc', ['-O2', '-o', baseline, 'bench/native-baseline.c', '-llzma', '-lz']);

type Engine = (blocks: Uint8Array[]) => Uint8Array[];

function lzmaNativeEngine(modulePath: string): Engine {
  const lz = require(modulePath);
  return (blocks) =>
    blocks.map((block) =>
      encodeXzStream(block, [lzma2FilterFlags(bs)], (input) => {
        const s = new lz.Stream();
        const chunks: Uint8Array[] = [];
        s.bufferHandler = (b: Uint8Array) => b && chunks.push(b);
        s.rawEncoder_([
          {
            id: lz.FILTER_LZMA2,
            options: {
              dictSize: bs,
              lc: 3,
              lp: 0,
              pb: 2,
              mode: lz.MODE_NORMAL,
              niceLen: 64,
              mf: lz.MF_BT4,
              depth: 0,
            },
          },
        ]);
        s.code(input, false);
        s.code(null, false);
        return Buffer.concat(chunks);
      }),
    );
}

const engines: Record<string, Engine> = {};
const native = loadNative();
if (mode === 'xz') {
  // EXTRA_LZMA_NATIVE=dir1,dir2: other builds of lzma-native to compare (e.g. rebuilt copies).
  engines['lzma-native (as installed)'] = lzmaNativeEngine('lzma-native');
  for (const dir of (process.env.EXTRA_LZMA_NATIVE ?? '').split(',').filter(Boolean)) {
    engines[`lzma-native ${path.basename(dir)}`] = lzmaNativeEngine(path.resolve(dir));
  }
} else {
  const settings = (memLevel: number) => ({ level: 9, windowBits: 15, memLevel, strategy: 0 });
  engines['pako'] = (blocks) => blocks.map((b) => pako.deflate(b, settings(8) as never));
  engines['node:zlib memLevel 8'] = (blocks) => blocks.map((b) => zlib.deflateSync(b, settings(8)));
  engines['node:zlib memLevel 9'] = (blocks) => blocks.map((b) => zlib.deflateSync(b, settings(9)));
  if (native?.zlibVersion) {
    engines[`tsquashfs_native (zlib ${native.zlibVersion})`] = (blocks) =>
      blocks.map((b) => native.deflate(b, 9, 15, 8, 0));
    const gz = new GzipCompressor({ engine: 'native' });
    // compress() returns null for a block it would store raw; count the stream then, as above.
    engines['GzipCompressor engine native'] = (blocks) =>
      blocks.map((b) => gz.compress(b) ?? native.deflate(b, 9, 15, 8, 0));
  }
  if (native?.libdeflate) {
    // Level 9 is what engine 'libdeflate' uses by default; 6, 10 and 12 for comparison.
    for (const level of [6, 9, 10, 12]) {
      engines[`libdeflate level ${level}`] = (blocks) =>
        blocks.map((b) => native.libdeflateZlib(b, level));
    }
  }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const file of files.length ? files : defaultCorpora()) {
  const data = readFileSync(file);
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += bs) blocks.push(new Uint8Array(data.subarray(i, i + bs)));
  const outFile = path.join(tmp, 'baseline.out');
  const names = ['native C (mksquashfs per core)', ...Object.keys(engines)];
  const times: Record<string, number[]> = {};
  const sizes: Record<string, number> = {};
  const same: Record<string, boolean> = {};
  let ref: Buffer[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      if (name === names[0]) {
        const cMode = mode === 'xz' ? 'xz' : 'zlib';
        const line = execFileSync(baseline, [cMode, String(bs), file, outFile]).toString();
        const [, size, sec] = line.trim().split(' ').map(Number);
        (times[name] ??= []).push(sec!);
        sizes[name] = size!;
        const buf = readFileSync(outFile);
        ref = [];
        for (let at = 0; at < buf.length;) {
          const l = buf.readUInt32LE(at);
          ref.push(buf.subarray(at + 4, at + 4 + l));
          at += 4 + l;
        }
        same[name] = true;
        continue;
      }
      const t = process.cpuUsage();
      const out = engines[name]!(blocks);
      const used = process.cpuUsage(t);
      (times[name] ??= []).push((used.user + used.system) / 1e6);
      sizes[name] = out.reduce((n, b) => n + b.length, 0);
      if (r === rounds - 1 || ref.length) {
        same[name] = out.every((b, i) => ref[i] !== undefined && Buffer.from(b).equals(ref[i]!));
      }
    }
  }
  const t0 = median(times[names[0]!]!);
  console.log(
    `\n${path.basename(file)}: ${mode}, ${bs / 1024} KiB blocks, ${blocks.length} blocks, ${rounds} rounds (median)\n`,
  );
  console.log(
    '| engine | MB/s per core | CPU time vs native C | size vs native C | identical bytes |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const n of names) {
    const t = median(times[n]!);
    console.log(
      `| ${n} | ${(data.length / 1e6 / t).toFixed(2)} | ${(t / t0).toFixed(2)} | ${(sizes[n]! / sizes[names[0]!]!).toFixed(4)} | ${same[n] ? 'yes' : 'no'} |`,
    );
  }
}
