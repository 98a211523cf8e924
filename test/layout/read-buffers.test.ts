/** ReadBufferPool: buffers are reused only after they were given back, and only up to a budget. */
import { describe, expect, it } from 'vitest';
import { MIN_POOLED, MIN_SLAB_CLASS, ReadBufferPool } from '../../src/layout/read-buffers.js';

/** Whether two buffers start at the same memory (slab buffers share one ArrayBuffer). */
function sameMemory(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset;
}

describe('ReadBufferPool', () => {
  for (const [what, length] of [
    ['slab memory', 100_000],
    ['memory of its own', MIN_SLAB_CLASS / 2 - 100],
  ] as const) {
    it(`reuses a given-back buffer for a read of the same size class (${what})`, () => {
      const pool = new ReadBufferPool(8 << 20);
      const size = length === 100_000 ? 128 << 10 : MIN_SLAB_CLASS / 2;
      const a = pool.take(length);
      expect(a.length).toBe(length);
      expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
      const b = pool.take(length);
      expect(sameMemory(a, b)).toBe(false); // a is still lent
      // The two do not overlap.
      b.fill(1);
      a.fill(2);
      expect(b.every((x) => x === 1)).toBe(true);
      pool.give(a.subarray(0, 10)); // a view of the chunk gives back its memory
      expect(pool.idleBytes).toBe(size);
      const c = pool.take(size / 2 + 1); // the same size class
      expect(sameMemory(c, a)).toBe(true);
      expect(c.length).toBe(size / 2 + 1);
      expect(pool.idleBytes).toBe(0);
    });
  }

  it('takes each buffer back once, and ignores memory it did not lend', () => {
    const pool = new ReadBufferPool(8 << 20);
    const a = pool.take(1 << 20);
    pool.give(a);
    pool.give(a);
    expect(pool.idleBytes).toBe(1 << 20);
    pool.give(Buffer.alloc(1 << 20));
    pool.give(new Uint8Array(MIN_POOLED * 2));
    pool.give(new Uint8Array(new SharedArrayBuffer(1 << 20)));
    // A view into lent slab memory that does not start where the loan does.
    const d = pool.take(1 << 20);
    pool.give(d.subarray(4096));
    expect(pool.idleBytes).toBe(0);
    pool.give(d);
    expect(pool.idleBytes).toBe(1 << 20);
    // Two takes cannot share the one free buffer.
    expect(sameMemory(pool.take(1 << 20), pool.take(1 << 20))).toBe(false);
  });

  it('serves small reads without pooling, and keeps its slab memory and, of the rest, what fits in its budget', () => {
    const pool = new ReadBufferPool(1 << 20);
    const small = pool.take(MIN_POOLED - 1);
    pool.give(small);
    expect(pool.idleBytes).toBe(0);
    // The first comes from the 1 MiB of slabs, the other two are memory of their own.
    const lent = [pool.take(1 << 20), pool.take(1 << 20), pool.take(1 << 20)];
    expect(lent.filter((b) => b.buffer.byteLength === 1 << 20)).toHaveLength(2);
    for (const b of lent) pool.give(b);
    // The slab memory stays; of the rest, nothing fits in the budget the slab memory fills.
    expect(pool.idleBytes).toBe(1 << 20);
    expect(sameMemory(pool.take(1 << 20), lent[0]!)).toBe(true);
  });
});
