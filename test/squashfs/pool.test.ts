/**
 * The compression pool: worker results equal the compressor run on this thread, and handing a
 * block to a worker never damages the caller's memory.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CompressionOptions } from '../../src/squashfs/compress/compressor.js';
import { createCompressor } from '../../src/squashfs/compress/index.js';
import { createBlockCompressor } from '../../src/squashfs/compress/pool.js';

function sample(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x % 7 === 0 ? x >>> 24 : 97 + (i % 13);
  }
  return b;
}

describe('compression pool', () => {
  const settings: CompressionOptions[] = [{ name: 'gzip' }, { name: 'xz', bcj: ['x86'] }];
  for (const options of settings) {
    it(`${options.name}: two workers give the bytes the compressor gives on this thread`, async () => {
      const blockSize = 65536;
      const inline = createCompressor(options, blockSize);
      const pool = createBlockCompressor(options, blockSize, 2);
      try {
        const blocks = [0, 1, 2, 3, 4, 5].map((i) => sample(blockSize, i + 1));
        blocks.push(Buffer.from(new Uint8Array(blockSize).map((_, i) => (i * 2654435761) >>> 24)));
        const expected = blocks.map((b) => inline.compress(b, 'data'));
        const got = await Promise.all(blocks.map((b) => pool.compress(new Uint8Array(b), 'data')));
        for (let i = 0; i < blocks.length; i++) {
          const e = expected[i];
          expect(got[i]!.compressed, `block ${i}`).toBe(e !== null);
          expect(Buffer.from(got[i]!.bytes).equals(e ?? blocks[i]!), `block ${i}`).toBe(true);
        }
      } finally {
        await pool.close();
      }
    });
  }

  for (const [options, workers] of [
    [{ name: 'xz' }, 2],
    [{ name: 'xz' }, 0],
    [{ name: 'gzip' }, 2],
  ] as [CompressionOptions, number][]) {
    it(`${options.name}, ${workers} workers: a block in shared memory is compressed where it is, and an incompressible one comes back as the caller's own`, async () => {
      // lzma-native throws on shared memory: the compressing thread copies it first.
      const blockSize = 65536;
      const inline = createCompressor(options, blockSize);
      const pool = createBlockCompressor(options, blockSize, workers);
      try {
        const shared = new Uint8Array(new SharedArrayBuffer(4 * blockSize));
        // Past the first 128 KiB, which the pool compresses on this thread before it starts any.
        shared.set(sample(3 * blockSize, 4));
        shared.set(randomBytes(blockSize), 3 * blockSize);
        const copy = Buffer.from(shared);
        const blocks = [0, 1, 2, 3].map((i) => shared.subarray(i * blockSize, (i + 1) * blockSize));
        const got = await Promise.all(blocks.map((b) => pool.compress(b, 'data')));
        for (let i = 0; i < 3; i++) {
          expect(got[i]!.compressed).toBe(true);
          const want = inline.compress(copy.subarray(i * blockSize, (i + 1) * blockSize), 'data');
          expect(Buffer.from(got[i]!.bytes).equals(want!)).toBe(true);
        }
        expect(got[3]!.compressed).toBe(false);
        expect(got[3]!.bytes).toBe(blocks[3]);
        expect(Buffer.from(shared).equals(copy)).toBe(true);
      } finally {
        await pool.close();
      }
    });
  }

  it("leaves the caller's Buffer intact when a view of it is compressed (regression: Buffer#slice shares memory, and its transfer detached the whole chunk)", async () => {
    const pool = createBlockCompressor({ name: 'gzip' }, 131072, 1);
    try {
      const chunk = sample(1 << 20, 9);
      const copy = Buffer.from(chunk);
      const results = await Promise.all(
        [0, 1, 2].map((i) => pool.compress(chunk.subarray(i * 131072, (i + 1) * 131072), 'data')),
      );
      expect(chunk.length).toBe(1 << 20);
      expect(chunk.equals(copy)).toBe(true);
      expect(results.every((r) => r.compressed)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('closing with blocks still queued rejects those, and a late reply does not crash (regression: a reply after close() dispatched to a worker that was gone)', async () => {
    const blockSize = 131072;
    const pool = createBlockCompressor({ name: 'xz' }, blockSize, 1);
    // The first 128 KiB are compressed on this thread; the rest go to the one worker, two at a
    // time, and the others wait here.
    const blocks = [0, 1, 2, 3, 4, 5, 6].map((i) => sample(blockSize, i + 20));
    const results = blocks.map((b) =>
      pool.compress(b, 'data').then(
        () => 'done',
        (e: Error) => e.message,
      ),
    );
    await new Promise((r) => setTimeout(r, 0));
    await pool.close();
    const outcomes = await Promise.all(results);
    expect(outcomes[0]).toBe('done');
    expect(outcomes.filter((o) => o === 'the compression pool was closed').length).toBeGreaterThan(
      0,
    );
    // Every block was settled one way or the other (none left hanging).
    expect(outcomes).toHaveLength(7);
  });

  it('refuses blocks once closed', async () => {
    const pool = createBlockCompressor({ name: 'gzip' }, 131072, 1);
    await pool.close();
    await expect(pool.compress(sample(1000, 3), 'data')).rejects.toThrow(/pool was closed/);
  });
});
