/**
 * How the compression pool alone scales from one worker to two: the same blocks, read into
 * shared memory beforehand, compressed through createBlockCompressor with 1 and 2 workers, with
 * as many blocks in flight as the writer keeps (blocksInFlight). Nothing else runs on the main
 * thread, so this is the pool's own speedup; `npm run bench`'s "2 workers" target is the ratio
 * of whole runs, which also pays the scan, the reads and the writes on the main thread.
 *
 *   npx tsx bench/pool-scaling.ts [gzip|xz] [MIB=32] [ROUNDS=3] [SOURCE=bench/corpora/binaries-120M]
 *
 * Blocks: 128 KiB for gzip, 1 MiB for xz (the bench settings), cut from SOURCE's regular files
 * in the corpus builder's order (depth first, names in byte order, symlinks not followed).
 * Rounds alternate the order of the two counts. Output: a markdown table (median wall time, MB/s
 * of input, CPU time of the process) and whether both counts wrote the same bytes, also written
 * to bench/results/pool-scaling-MODE.md.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CompressionOptions } from '../src/squashfs/compress/compressor.js';
import { createBlockCompressor, type CompressedBlock } from '../src/squashfs/compress/pool.js';
import { blocksInFlight } from '../src/squashfs/write/image-writer.js';
import { sortedFiles } from './lib/corpora.js';
import { median } from './lib/stats.js';

const [mode = 'gzip', mibArg, roundsArg, sourceArg] = process.argv.slice(2);
if (mode !== 'gzip' && mode !== 'xz') {
  console.error('usage: npx tsx bench/pool-scaling.ts [gzip|xz] [MIB] [ROUNDS] [SOURCE]');
  process.exit(2);
}
const totalBytes = Number(mibArg ?? 32) << 20;
const rounds = Number(roundsArg ?? 3);
const source = path.resolve(sourceArg ?? 'bench/corpora/binaries-120M');
const blockSize = mode === 'xz' ? 1 << 20 : 128 << 10;
const options: CompressionOptions = mode === 'xz' ? { name: 'xz' } : { name: 'gzip' };

/** Up to totalBytes of the files' bytes, in shared memory as the writer's read buffers are. */
function loadBlocks(): Uint8Array[] {
  const memory = new Uint8Array(new SharedArrayBuffer(totalBytes));
  let filled = 0;
  for (const file of sortedFiles(source)) {
    if (filled === totalBytes) break;
    const bytes = readFileSync(file);
    const n = Math.min(bytes.length, totalBytes - filled);
    memory.set(bytes.subarray(0, n), filled);
    filled += n;
  }
  if (filled < blockSize) throw new Error(`${source}: fewer than ${blockSize} bytes of files`);
  const blocks: Uint8Array[] = [];
  for (let at = 0; at + blockSize <= filled; at += blockSize) {
    blocks.push(memory.subarray(at, at + blockSize));
  }
  return blocks;
}

interface Run {
  wallMs: number;
  cpuMs: number;
  digest: string;
}

async function run(blocks: Uint8Array[], workers: number): Promise<Run> {
  const pool = createBlockCompressor(options, blockSize, workers);
  try {
    // Past the bytes the pool compresses on this thread before it starts its workers, and with
    // every worker booted, so that only compression is timed.
    const inFlight = blocksInFlight(workers);
    await Promise.all(Array.from({ length: inFlight }, () => pool.compress(blocks[0]!, 'data')));
    const results: Promise<CompressedBlock>[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < blocks.length; i++) {
      if (i >= inFlight) await results[i - inFlight];
      results.push(pool.compress(blocks[i]!, 'data'));
    }
    const done = await Promise.all(results);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const hash = createHash('sha256');
    for (const r of done) hash.update(r.bytes);
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, digest: hash.digest('hex') };
  } finally {
    await pool.close();
  }
}

const blocks = loadBlocks();
const mb = (blocks.length * blockSize) / 1e6;
const runs = new Map<number, Run[]>([
  [1, []],
  [2, []],
]);
for (let r = 0; r < rounds; r++) {
  for (const workers of r % 2 === 0 ? [1, 2] : [2, 1]) {
    const result = await run(blocks, workers);
    runs.get(workers)!.push(result);
    console.error(
      `round ${r + 1}/${rounds}, ${workers} worker(s): ${(result.wallMs / 1000).toFixed(2)} s wall, ${(result.cpuMs / 1000).toFixed(2)} s CPU`,
    );
  }
}
const wall = (w: number) => median(runs.get(w)!.map((r) => r.wallMs));
const cpu = (w: number) => median(runs.get(w)!.map((r) => r.cpuMs));
const digests = new Set([...runs.values()].flat().map((r) => r.digest));
const lines = [
  `# Compression pool scaling: ${mode}, ${blockSize >> 10} KiB blocks`,
  '',
  `${new Date().toISOString()}: ${blocks.length} blocks (${mb.toFixed(1)} MB) from ${source}, ${rounds} round(s), medians.`,
  '',
  '| workers | wall s | MB/s | CPU s |',
  '|---:|---:|---:|---:|',
  ...[1, 2].map(
    (w) =>
      `| ${w} | ${(wall(w) / 1000).toFixed(2)} | ${(mb / (wall(w) / 1000)).toFixed(2)} | ${(cpu(w) / 1000).toFixed(2)} |`,
  ),
  '',
  `Two workers: **${(wall(1) / wall(2)).toFixed(3)}×** as fast as one. Same bytes for both counts: ${digests.size === 1 ? 'yes' : '**no**'}.`,
  '',
];
const out = path.resolve(`bench/results/pool-scaling-${mode}.md`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, lines.join('\n'));
console.log(lines.join('\n'));
if (digests.size !== 1) process.exitCode = 1;
