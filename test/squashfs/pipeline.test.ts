/**
 * The parallel pipeline: the image must not depend on how many workers compress, must equal
 * mksquashfs's image of the same tree (a foreign oracle for positions and size words), and a
 * duplicate file or an all-zero block must never reach the compressor.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CompressionOptions } from '../../src/squashfs/compress/compressor.js';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { bytesSource, tree, type DirNode } from '../../src/squashfs/tree.js';
import { FRAGMENT_CACHE_BYTES, HOLD_LIMIT } from '../../src/squashfs/write/data-writer.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import type { WriteOptions, WriteReport } from '../../src/squashfs/write/options.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { mksquashfs, requireOracle, unsquashfsExtract } from '../helpers/oracles.js';
import { compareTrees } from '../helpers/tree-compare.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes that compress somewhat (text-like lines with varying numbers). */
function textish(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  let at = 0;
  while (at < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const line = `record ${seed} ${x % 100000} value=${(x >>> 8) % 997}\n`;
    for (let i = 0; i < line.length && at < size; i++) out[at++] = line.charCodeAt(i);
  }
  return out;
}

/** Bytes of the files in the test tree; the same map builds a host directory and a Tree. */
function files(blockSize: number, withHuge: boolean): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  const three = textish(3 * blockSize + 1234, 1);
  m.set('multi-a', three);
  m.set('multi-b', three.slice()); // duplicate of multi-a
  const other = three.slice();
  other[2 * blockSize + 17] = other[2 * blockSize + 17]! ^ 1; // same size, one byte different in the third block
  m.set('multi-c', other);
  const sparse = textish(4 * blockSize, 2);
  sparse.fill(0, blockSize, 3 * blockSize); // two all-zero blocks in the middle
  m.set('sparse', sparse);
  m.set('sparse-dup', sparse.slice());
  for (let i = 0; i < 60; i++)
    m.set(`small/${String(i).padStart(2, '0')}`, textish(700 + i * 37, 100 + (i % 20)));
  m.set('small/same-size-a', textish(5000, 7));
  m.set('small/same-size-b', textish(5000, 8));
  m.set('empty', new Uint8Array(0));
  // All-zero files store nothing; mksquashfs still takes the second of each pair for a duplicate
  // of the first (blocks_start included), with data written in between...
  m.set('a-zeros', new Uint8Array(2 * blockSize + 100));
  m.set('z-zeros', new Uint8Array(2 * blockSize + 100));
  // ...but an all-zero file small enough for a fragment only when a file of its size with a real
  // fragment was stored before it (small/same-size-a, 5000 bytes)...
  m.set('a-zeros-small', new Uint8Array(5000));
  m.set('z-zeros-small', new Uint8Array(5000));
  // ...and otherwise each one keeps its own position (regression: we took the second for a
  // duplicate, and our images of trees with zero-filled small files differed from mksquashfs's).
  m.set('a-zeros-lone', new Uint8Array(6000));
  m.set('z-zeros-lone', new Uint8Array(6000));
  // Different first blocks, the same tail; and a small file with the bytes of that tail. With
  // -always-use-fragments mksquashfs stores the tail once and points all three at it.
  const tail = textish(3000, 11);
  for (const [name, seed] of [
    ['tail-a', 12],
    ['tail-b', 13],
  ] as const) {
    const bytes = new Uint8Array(blockSize + tail.length);
    bytes.set(textish(blockSize, seed));
    bytes.set(tail, blockSize);
    m.set(name, bytes);
  }
  m.set('small/tail-copy', tail.slice());
  if (withHuge) {
    // Larger than the hold limit: written as it streams, then found to be a duplicate.
    const huge = textish(HOLD_LIMIT + 3 * blockSize + 99, 9);
    m.set('huge-a', huge);
    m.set('huge-b', huge.slice());
  }
  return m;
}

function memoryTree(content: Map<string, Uint8Array>): DirNode {
  const root = tree.dir({});
  for (const [path, bytes] of content) {
    let dir = root;
    const parts = path.split('/');
    for (const part of parts.slice(0, -1)) {
      let sub = dir.entries.find((e) => Buffer.from(e.name).toString() === part)?.node;
      if (!sub) {
        sub = tree.dir({});
        dir.entries.push({ name: Buffer.from(part), node: sub });
      }
      dir = sub as DirNode;
    }
    dir.entries.push({ name: Buffer.from(parts.at(-1)!), node: tree.file(bytesSource(bytes)) });
  }
  return root;
}

async function toMemory(
  root: DirNode,
  options: WriteOptions,
): Promise<{ bytes: Uint8Array; report: WriteReport }> {
  const sink = new MemorySink();
  const report = await writeImage(root, sink, options);
  return { bytes: sink.result!, report };
}

describe('worker count', () => {
  const settings: CompressionOptions[] = [{ name: 'gzip' }, { name: 'xz', bcj: ['x86'] }];
  for (const compression of settings) {
    it(`${compression.name}: 0, 1, 2 and 4 workers write the same bytes`, async () => {
      const content = files(8192, false);
      const images = [];
      for (const workers of [0, 1, 2, 4]) {
        const { bytes } = await toMemory(memoryTree(content), {
          compression,
          blockSize: 8192,
          workers,
        });
        images.push(sha(bytes));
      }
      expect(new Set(images).size).toBe(1);
    });
  }
});

describe('the input', () => {
  it("is never changed: a source's buffer stays whole when a block is compressed in place (regression: a buffer of exactly one block was moved to a worker, detaching it)", async () => {
    const blockSize = 8192;
    const exact = textish(blockSize, 3); // one whole block: its own buffer, used in place
    const larger = textish(3 * blockSize, 4);
    const copies = [Buffer.from(exact), Buffer.from(larger)];
    const root = tree.dir({
      exact: tree.file(bytesSource(exact)),
      larger: tree.file(bytesSource(larger)),
    });
    await toMemory(root, { blockSize, workers: 2 });
    expect(exact.length).toBe(blockSize);
    expect(Buffer.from(exact).equals(copies[0]!)).toBe(true);
    expect(Buffer.from(larger).equals(copies[1]!)).toBe(true);
  });
});

describe('work never done', () => {
  it('a duplicate file adds no compressed block, and neither do all-zero blocks', async () => {
    const content = files(8192, false);
    const base = await toMemory(memoryTree(content), { blockSize: 8192 });
    const more = new Map(content);
    more.set('copy-of-multi-a', content.get('multi-a')!.slice());
    more.set('copy-of-sparse', content.get('sparse')!.slice());
    const withCopies = await toMemory(memoryTree(more), { blockSize: 8192 });
    expect(withCopies.report.duplicateFiles).toBe(base.report.duplicateFiles + 2);
    expect(withCopies.report.blocksCompressed).toBe(base.report.blocksCompressed);
    // multi-a, multi-c: 3 blocks and a 1234-byte last block each; sparse: 2 of its 4 blocks;
    // tail-a, tail-b: a block and a 3000-byte last block each; the small files go into
    // fragments. multi-b, sparse-dup, z-zeros and z-zeros-small are duplicates.
    expect(base.report.duplicateFiles).toBe(4);
    expect(base.report.sparseBlocks).toBe(2 + 2 + 3 + 3 + 1 + 1 + 1 + 1); // sparse, sparse-dup and the all-zero files
    expect(base.report.blocksCompressed).toBe(4 + 4 + 2 + 2 * 2 + base.report.fragments);
  });

  it('with -no-duplicates every copy is compressed', async () => {
    const content = files(8192, false);
    const { report } = await toMemory(memoryTree(content), { blockSize: 8192, duplicates: false });
    expect(report.duplicateFiles).toBe(0);
    expect(report.blocksCompressed).toBe(3 * 4 + 2 * 2 + 2 * 2 + report.fragments);
  });
});

requireOracle('mksquashfs', 'unsquashfs')('the pipeline against mksquashfs', () => {
  let work: TempDir;
  const blockSize = 131072;
  // Level 1 keeps the 2 x 32 MiB duplicate pair quick to compress; the layout is the same.
  const common = ['-mkfs-time', '0', '-all-time', '0', '-quiet', '-Xcompression-level', '1'];
  beforeAll(async () => {
    work = await makeTempDir('pipeline');
    for (const [tree, withHuge] of [
      ['plain', false],
      ['huge', true],
    ] as const) {
      for (const [path, bytes] of files(blockSize, withHuge)) {
        const full = join(work.path, tree, path);
        await mkdir(join(full, '..'), { recursive: true });
        await writeFile(full, bytes);
      }
    }
    // Small files, then more small files than the writer keeps fragment blocks of in memory, then
    // copies of the first ones: each copy is confirmed by reading its original again.
    for (let i = 0; i < 20; i++) {
      const bytes = textish(2000 + i * 300, 500 + i);
      await mkdir(join(work.path, 'far/a'), { recursive: true });
      await mkdir(join(work.path, 'far/c'), { recursive: true });
      await writeFile(join(work.path, 'far/a', `orig-${i}`), bytes);
      await writeFile(join(work.path, 'far/c', `copy-${i}`), bytes);
    }
    await mkdir(join(work.path, 'far/b'));
    for (let i = 0; i * 12_800 < FRAGMENT_CACHE_BYTES + 6 * blockSize * 8; i++) {
      await writeFile(join(work.path, 'far/b', `other-${i}`), textish(12_800, 10_000 + i));
    }
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  /** Our image of `tree` with `-processors n` has the bytes of mksquashfs's. */
  async function sameAsMksquashfs(
    tree: string,
    processors: string[],
    extra: string[] = [],
  ): Promise<string> {
    const src = join(work.path, tree);
    const theirs = join(work.path, `${tree}-theirs.sqfs`);
    const args = [...common, ...extra];
    await mksquashfs([src], theirs, args);
    const expected = sha(await readFile(theirs));
    let ours = '';
    for (const n of processors) {
      ours = join(work.path, `${tree}-ours-${n}.sqfs`);
      // -Xengine zlib: stock zlib's streams, mksquashfs's (the default libdeflate's differ).
      const code = await main([
        'mk',
        src,
        ours,
        '-noappend',
        ...args,
        '-Xengine',
        'zlib',
        '-processors',
        n,
      ]);
      expect(code).toBe(0);
      expect(sha(await readFile(ours)), `-processors ${n}`).toBe(expected);
    }
    return ours;
  }

  /** unsquashfs extracts `image` to the files of `tree`. */
  async function extractsAsTree(image: string, tree: string): Promise<void> {
    const out = join(work.path, `extracted-${tree}`);
    await unsquashfsExtract(image, out);
    expect(await compareTrees(join(work.path, tree), out, { ignoreMtimes: true })).toEqual([]);
  }

  it('gzip: -processors 1, 2 and 4 give mksquashfs 4.5.1 bytes', async () => {
    await sameAsMksquashfs('plain', ['1', '2', '4']);
  });

  it('-always-use-fragments: equal tails of different files are stored once, as mksquashfs 4.5.1 does', async () => {
    await sameAsMksquashfs('plain', ['2'], ['-always-use-fragments']);
  });

  it('uncompressed: all-zero small files get mksquashfs 4.5.1 bytes', async () => {
    await sameAsMksquashfs('plain', ['2'], ['-noI', '-noD', '-noF', '-noX']);
  });

  it('small duplicates of files whose fragment blocks have left memory (confirmed by reading the originals again) give mksquashfs 4.5.1 bytes', async () => {
    await extractsAsTree(await sameAsMksquashfs('far', ['2']), 'far');
  }, 120_000);

  it('a duplicate past the hold limit (written, compared, rewound) gives mksquashfs 4.5.1 bytes too', async () => {
    await extractsAsTree(await sameAsMksquashfs('huge', ['2']), 'huge');
  }, 300_000);
});
