/** ReadBufferPool: buffers are reused only after they were given back, and only up to a budget. */
import { describe, expect, it } from 'vitest';
import { MIN_POOLED, ReadBufferPool } from '../../src/layout/read-buffers.js';

describe('ReadBufferPool', () => {
  it('reuses a given-back buffer for a read of the same size class', () => {
    const pool = new ReadBufferPool(8 << 20);
    const a = pool.take(100_000);
    expect(a.length).toBe(100_000);
    const b = pool.take(100_000);
    expect(b.buffer).not.toBe(a.buffer); // a is still lent
    pool.give(a.subarray(0, 10)); // a view of the chunk gives back its memory
    expect(pool.idleBytes).toBe(128 << 10);
    const c = pool.take(70_000);
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(70_000);
    expect(pool.idleBytes).toBe(0);
  });

  it('takes each buffer back once, and ignores memory it did not lend', () => {
    const pool = new ReadBufferPool(8 << 20);
    const a = pool.take(1 << 20);
    pool.give(a);
    pool.give(a);
    expect(pool.idleBytes).toBe(1 << 20);
    pool.give(Buffer.alloc(1 << 20));
    pool.give(new Uint8Array(MIN_POOLED * 2));
    expect(pool.idleBytes).toBe(1 << 20);
    // Two takes cannot share the one free buffer.
    expect(pool.take(1 << 20).buffer).not.toBe(pool.take(1 << 20).buffer);
  });

  it('serves small reads without pooling and keeps at most its budget free', () => {
    const pool = new ReadBufferPool(1 << 20);
    const small = pool.take(MIN_POOLED - 1);
    pool.give(small);
    expect(pool.idleBytes).toBe(0);
    const lent = [pool.take(1 << 20), pool.take(1 << 20)];
    for (const b of lent) pool.give(b);
    expect(pool.idleBytes).toBe(1 << 20);
  });
});
