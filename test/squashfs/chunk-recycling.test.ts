/**
 * The writer hands file chunks back to their source (FileSource.recycle) for reuse. That is only
 * safe if nothing of the chunk is read afterwards: here a source's recycle() overwrites the chunk
 * at once, so any later use would change the image. Every image must equal the one written from
 * sources without recycle(), whatever the compression, worker count, duplicates and block
 * boundaries; and the FileSink must copy what it is given (appendCopies), or write what it is
 * lent (appendLent) before the writer reuses it.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSink, MemorySink } from '../../src/squashfs/io/sink.js';
import { tree, type DirNode, type FileSource } from '../../src/squashfs/tree.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import type { WriteOptions } from '../../src/squashfs/write/options.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

function sample(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // Half text-like (compressible), half noise (stored raw), so both block paths run.
    out[i] = (i >> 12) % 2 ? x >>> 24 : 0x61 + (x % 7);
  }
  return out;
}

/**
 * Yields `bytes` in chunks of `step` copied into fresh buffers; counts and scribbles recycles.
 * With `shared`, the chunks are in shared memory, as host files' read buffers are: a worker then
 * compresses blocks of them where they are, so a chunk recycled too early would change the image.
 */
function scribblingSource(
  bytes: Uint8Array,
  step: number,
  recycled: { count: number },
  shared = false,
): FileSource {
  return {
    size: bytes.length,
    description: 'scribbling source',
    async *read() {
      for (let at = 0; at < bytes.length; at += step) {
        const part = bytes.subarray(at, at + step);
        if (!shared) {
          yield Buffer.from(part);
          continue;
        }
        const chunk = new Uint8Array(new SharedArrayBuffer(part.length));
        chunk.set(part);
        yield chunk;
      }
    },
    recycle(chunk) {
      recycled.count++;
      chunk.fill(0xee);
    },
  };
}

function plainSource(bytes: Uint8Array, step: number): FileSource {
  return {
    size: bytes.length,
    description: 'plain source',
    async *read() {
      for (let at = 0; at < bytes.length; at += step) yield bytes.slice(at, at + step);
    },
  };
}

/** Files around block and chunk boundaries, with duplicates of several of them. */
function build(make: (bytes: Uint8Array, step: number) => FileSource): DirNode {
  const big = sample(600_000, 1);
  const mid = sample(131_072 + 77, 2);
  const small = sample(3000, 3);
  const step = 1 << 18;
  return tree.dir({
    big: tree.file(make(big, step)),
    mid: tree.file(make(mid, 70_000)),
    // The first copy in one chunk: its tail is used where the chunk has it.
    small: tree.file(make(small, 3000)),
    'big-again': tree.file(make(big, 100_000)),
    'mid-again': tree.file(make(mid, step)),
    'small-again': tree.file(make(small, 1000)),
    'not-quite-big': tree.file(
      make(
        Uint8Array.from(big, (b, i) => (i === 599_999 ? b ^ 1 : b)),
        step,
      ),
    ),
    zeros: tree.file(make(new Uint8Array(300_000), step)),
    // Another copy of `small` once more blocks have been written, so that the chunks of the
    // first copy have been recycled (regression: a tail cache kept a Buffer's slice(), a view
    // of the recycled chunk, and the copy was no longer found).
    'zz-other': tree.file(make(sample(400_000, 4), step)),
    'zz-small-third': tree.file(make(small, 3000)),
  });
}

async function image(root: DirNode, options: WriteOptions): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeImage(root, sink, options);
  return sink.result!;
}

let fileImages = 0;
/** The image written through a FileSink, which data blocks stored raw are lent to. */
async function fileImage(dir: string, root: DirNode, options: WriteOptions): Promise<Uint8Array> {
  const out = join(dir, `image-${fileImages++}.sqfs`);
  await writeImage(root, await FileSink.create(out), options);
  return new Uint8Array(await readFile(out));
}

describe('chunks recycled by the writer', () => {
  const cases: [string, WriteOptions, boolean][] = [
    ['uncompressed', { uncompressedData: true, uncompressedFragments: true }, false],
    ['gzip, inline', { workers: 0 }, false],
    ['gzip, 2 workers', { workers: 2 }, false],
    ['gzip, always fragments, 1 worker', { workers: 1, fragments: 'always' }, false],
    ['gzip, 2 workers, chunks in shared memory', { workers: 2 }, true],
    ['xz, 2 workers, chunks in shared memory', { workers: 2, compression: { name: 'xz' } }, true],
    ['gzip, inline, chunks in shared memory', { workers: 0 }, true],
  ];
  for (const [name, options, shared] of cases) {
    it(`${name}: the image is the one written without recycling`, async () => {
      const recycled = { count: 0 };
      const want = await image(build(plainSource), options);
      const got = await image(
        build((b, s) => scribblingSource(b, s, recycled, shared)),
        options,
      );
      expect(recycled.count).toBeGreaterThan(0);
      expect(Buffer.compare(got, want)).toBe(0);
    });
  }

  describe('through a FileSink, which writes raw blocks from where they are', () => {
    let tmp: TempDir;
    beforeAll(async () => {
      tmp = await makeTempDir('lent-blocks');
    });
    afterAll(async () => {
      await tmp.cleanup();
    });
    const fileCases: [string, WriteOptions][] = [
      ['uncompressed', { uncompressedData: true, uncompressedFragments: true }],
      ['uncompressed data, gzip fragments', { uncompressedData: true }],
      ['uncompressed, always fragments', { uncompressedData: true, fragments: 'always' }],
    ];
    for (const [name, options] of fileCases) {
      it(`${name}: no chunk is reused before the sink has written it`, async () => {
        const recycled = { count: 0 };
        const want = await image(build(plainSource), options);
        // Recycled chunks are overwritten at once, as a chunk lent to the sink and handed back
        // to its source before the write would be (the write runs in the threadpool).
        const got = await fileImage(
          tmp.path,
          build((b, s) => scribblingSource(b, s, recycled, true)),
          options,
        );
        expect(recycled.count).toBeGreaterThan(0);
        expect(Buffer.compare(got, want)).toBe(0);
      });
    }
  });

  it('does not recycle into a sink that may keep references', async () => {
    const recycled = { count: 0 };
    const inner = new MemorySink();
    // A sink without appendCopies: it could hold the views it was given.
    const sink = {
      get position() {
        return inner.position;
      },
      append: (b: Uint8Array) => inner.append(b),
      readAt: (p: number, n: number) => inner.readAt(p, n),
      rewind: (p: number) => inner.rewind(p),
      patch: (p: number, b: Uint8Array) => inner.patch(p, b),
      commit: () => inner.commit(),
      abort: () => inner.abort(),
    };
    await writeImage(
      build((b, s) => scribblingSource(b, s, recycled)),
      sink,
      {},
    );
    expect(recycled.count).toBe(0);
  });
});

describe('fragment buffers', () => {
  it('are not reused while a sink that keeps references holds an incompressible block of one', async () => {
    // Small random files, one to a 128 KiB fragment block: more blocks than the 44 MiB cache
    // holds, so buffers are evicted and offered for reuse. Stored raw, a block is the buffer
    // itself (the worker reads it in shared memory and sends nothing back).
    const files: Record<string, ReturnType<typeof tree.file>> = {};
    for (let i = 0; i < 400; i++) {
      files[`f${String(i).padStart(3, '0')}`] = tree.file(randomBytes(120_000));
    }
    const root = tree.dir(files);
    const want = await image(root, { workers: 2 });
    const kept: Uint8Array[] = [];
    const sink = {
      position: 0,
      async append(b: Uint8Array) {
        kept.push(b); // a reference, not a copy
        this.position += b.length;
      },
      async readAt(p: number, n: number) {
        return concat(kept).slice(p, p + n);
      },
      async rewind() {
        throw new Error('not expected');
      },
      async patch(p: number, b: Uint8Array) {
        const all = concat(kept);
        all.set(b, p);
        kept.splice(0, kept.length, all);
      },
      async commit() {},
      async abort() {},
    };
    await writeImage(root, sink, { workers: 2 });
    expect(Buffer.compare(concat(kept), want)).toBe(0);
  }, 60_000);
});

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

describe('FileSink', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('file-sink');
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  it('copies appended bytes, across its buffer boundaries, and reads them back', async () => {
    const out = join(tmp.path, 'copy.bin');
    const sink = await FileSink.create(out);
    expect(sink.appendCopies).toBe(true);
    const want: Uint8Array[] = [];
    for (const n of [10, 1 << 20, 3, (3 << 20) + 5, 0, 777]) {
      const bytes = sample(n, n);
      want.push(bytes.slice());
      await sink.append(bytes);
      bytes.fill(0x55); // the caller reuses its buffer at once
    }
    const all = Buffer.concat(want);
    expect(sink.position).toBe(all.length);
    expect(Buffer.compare(await sink.readAt(5, 2 << 20), all.subarray(5, 5 + (2 << 20)))).toBe(0);
    await sink.rewind(all.length - 777);
    await sink.append(all.subarray(all.length - 777));
    await sink.patch(0, Buffer.from('head'));
    await sink.commit();
    all.set(Buffer.from('head'), 0);
    expect(Buffer.compare(await readFile(out), all)).toBe(0);
  });

  it('writes lent bytes from where they are, and says when it has', async () => {
    const out = join(tmp.path, 'lent.bin');
    const sink = await FileSink.create(out);
    // Adjacent views of one buffer (a chunk's blocks), an array of its own, a piece too small to
    // lend (copied), then copied bytes again: the file has them all, in order.
    const chunk = sample(3 << 20, 7);
    const own = sample(200_000, 8);
    const small = sample(100, 9);
    const tail = sample(5000, 10);
    const parts = [
      chunk.subarray(0, 131_072),
      chunk.subarray(131_072, 1 << 20),
      chunk.subarray(1 << 20, 3 << 20),
      own,
      small,
    ];
    const want = Buffer.concat([...parts, tail]);
    const events: string[] = [];
    for (const [i, part] of parts.entries()) {
      await sink.appendLent(part);
      sink.whenWritten(() => events.push(`written ${i}`));
    }
    // Bytes lent and not yet written read back as they were lent.
    const tailStart = want.length - tail.length;
    expect(
      Buffer.compare(
        await sink.readAt(tailStart - 150, 150),
        want.subarray(tailStart - 150, tailStart),
      ),
    ).toBe(0);
    small.fill(0x55); // copied: the caller may reuse it at once
    await sink.append(tail);
    tail.fill(0x55);
    expect(sink.position).toBe(want.length);
    await sink.commit();
    // Every callback ran, once, in order; only then may the lent arrays change.
    expect(events).toEqual(parts.map((_, i) => `written ${i}`));
    chunk.fill(0x55);
    own.fill(0x55);
    expect(Buffer.compare(await readFile(out), want)).toBe(0);
  });

  it('runs whenWritten callbacks after the writes before them, not at once', async () => {
    const sink = await FileSink.create(join(tmp.path, 'order.bin'));
    let ran = false;
    sink.whenWritten(() => (ran = true));
    expect(ran).toBe(true); // nothing appended: at once
    const lent = sample(2 << 20, 11);
    await sink.appendLent(lent); // a whole write's worth (2 MiB): its write starts now
    ran = false;
    sink.whenWritten(() => (ran = true));
    expect(ran).toBe(false); // the write is in the threadpool
    await sink.rewind(sink.position); // waits for it
    expect(ran).toBe(true);
    // Copied bytes do not hold anything of the caller's: no waiting for their writes.
    await sink.append(sample(2 << 20, 12));
    ran = false;
    sink.whenWritten(() => (ran = true));
    expect(ran).toBe(true);
    await sink.abort();
  });
});
