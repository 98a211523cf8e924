/**
 * Speed of the reference scanner (src/closure/scanner.ts), in MB/s (10^6 bytes a second).
 *
 *   npx tsx bench/closure-scan.ts [SIZE_MIB=512] [CANDIDATES=10000]
 *
 * Writes a file of SIZE_MIB random bytes with a few candidate hashes planted in it (and one
 * split across a 1 MiB chunk boundary), then times:
 *   - scanPath on the file (reads from the page cache, since the file was just written), and
 *   - searchHashes on the same bytes in memory (the search alone),
 * and the same two on a "text" corpus made of store path lines (`/nix/store/<hash>-name`), which
 * is the worst realistic input: every line holds a run of 32 base32 characters that must be
 * looked up. Each is run three times; the best run is reported. The files go to
 * TSQUASHFS_BENCH_DIR or the system temp dir and are removed afterwards.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HashSet,
  NIX_BASE32_CHARS,
  SCAN_CHUNK_SIZE,
  scanPath,
  searchHashes,
} from '../src/closure/index.js';

const sizeMiB = Number(process.argv[2] ?? 512);
const candidateCount = Number(process.argv[3] ?? 10_000);
const size = sizeMiB * 1024 * 1024;

function randomHash(): string {
  const bytes = randomFillSync(Buffer.alloc(32));
  return [...bytes].map((b) => NIX_BASE32_CHARS[b % 32]).join('');
}

const hashes = Array.from({ length: candidateCount }, randomHash);
const candidates = new HashSet(hashes);
const planted = hashes.slice(0, 4);

function randomCorpus(): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 1 << 26) randomFillSync(bytes, i, Math.min(1 << 26, size - i));
  bytes.write(planted[0]!, 1000, 'latin1');
  bytes.write(planted[1]!, Math.floor(size / 2), 'latin1');
  bytes.write(planted[2]!, SCAN_CHUNK_SIZE - 13, 'latin1'); // split across the first chunk boundary
  bytes.write(planted[3]!, size - 40, 'latin1');
  return bytes;
}

/** Store path lines; a tenth name a candidate, the rest hashes that are not candidates. */
function textCorpus(): Buffer {
  const bytes = Buffer.alloc(size, 0x0a);
  const others = Array.from({ length: 1000 }, randomHash);
  for (let i = 0, at = 0; at < size; i++) {
    const hash = i % 10 === 0 ? hashes[i % hashes.length]! : others[i % others.length]!;
    at += bytes.write(`/nix/store/${hash}-some-package-1.2.3/lib/libfoo.so.1\n`, at, 'latin1');
  }
  return bytes;
}

async function best(runs: number, fn: () => Promise<void> | void): Promise<number> {
  let bestSeconds = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    bestSeconds = Math.min(bestSeconds, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return bestSeconds;
}

const mbps = (seconds: number) => (size / 1e6 / seconds).toFixed(0);

const dir = mkdtempSync(join(process.env.TSQUASHFS_BENCH_DIR ?? tmpdir(), 'closure-scan-'));
try {
  console.log(
    `reference scanner: ${sizeMiB} MiB per corpus, ${candidateCount} candidate hashes, node ${process.version}`,
  );
  for (const [label, make] of [
    ['random bytes', randomCorpus],
    ['store path lines', textCorpus],
  ] as const) {
    const bytes = make();
    const file = join(dir, 'corpus');
    writeFileSync(file, bytes);
    let found = new Set<string>();
    const fileSeconds = await best(3, async () => {
      found = await scanPath(file, candidates);
    });
    const memorySeconds = await best(3, () => {
      found = new Set();
      searchHashes(bytes, 0, bytes.length, candidates, found);
    });
    if (label === 'random bytes' && !planted.every((h) => found.has(h))) {
      throw new Error(`planted hashes not all found: ${planted.filter((h) => !found.has(h))}`);
    }
    console.log(
      `${label.padEnd(17)} scanPath (file, 1 MiB reads): ${mbps(fileSeconds)} MB/s; ` +
        `searchHashes (in memory): ${mbps(memorySeconds)} MB/s; ${found.size} hashes found`,
    );
    rmSync(file);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
