/**
 * A large host file reads its next chunks while the writer works on the current one, within a
 * budget shared by all files (read-ahead.ts, HostFileSource.chunks). The bytes, the chunk
 * boundaries and the size-change errors must be those of reading one chunk at a time, and every
 * byte of budget and every buffer must come back however the reading ends.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_READ_CHUNK, HostFileSource } from '../../src/layout/host-file-source.js';
import type { HostStats } from '../../src/layout/host-stat.js';
import { ReadAheadBudget } from '../../src/layout/read-ahead.js';
import { ReadBufferPool } from '../../src/layout/read-buffers.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

const BUDGET = 4 << 20;

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * seed + (i >> 11)) & 0xff;
  return b;
}

function stats(size: number): HostStats {
  return { mode: 0o100644, nlink: 1, uid: 0, gid: 0, size, blocks: size / 512 } as HostStats;
}

describe('reading a large host file ahead of the writer', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('read-ahead');
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });

  function file(name: string, bytes: Buffer): Buffer {
    const p = path.join(tmp.path, name);
    fs.writeFileSync(p, bytes);
    return Buffer.from(p);
  }

  it('gives the bytes in whole chunks, reads ahead while a chunk is held, and returns the budget', async () => {
    const content = pattern((5 << 20) + 123, 13);
    const budget = new ReadAheadBudget(BUDGET);
    const source = new HostFileSource(
      file('large', content),
      stats(content.length),
      undefined,
      budget,
    );
    const sizes: number[] = [];
    const copies: Buffer[] = [];
    let leastLeft = BUDGET;
    for await (const chunk of source.read()) {
      // The following chunks are being read (or were) while the writer holds this one.
      leastLeft = Math.min(leastLeft, budget.available);
      sizes.push(chunk.length);
      copies.push(Buffer.from(chunk));
    }
    expect(Buffer.concat(copies).equals(content)).toBe(true);
    expect(sizes).toEqual([...Array(5).fill(HOST_READ_CHUNK), 123]);
    expect(leastLeft).toBeLessThan(BUDGET);
    expect(budget.available).toBe(BUDGET);
  });

  it('gives the same bytes without a budget, and with a spent one takes none of it', async () => {
    const content = pattern(3 << 20, 5);
    const alone = new HostFileSource(file('alone', content), stats(content.length));
    const copies: Buffer[] = [];
    for await (const chunk of alone.read()) copies.push(Buffer.from(chunk));
    expect(Buffer.concat(copies).equals(content)).toBe(true);

    const spent = new ReadAheadBudget(0);
    const starved = new HostFileSource(
      file('starved', content),
      stats(content.length),
      undefined,
      spent,
    );
    copies.length = 0;
    for await (const chunk of starved.read()) copies.push(Buffer.from(chunk));
    expect(Buffer.concat(copies).equals(content)).toBe(true);
    expect(spent.available).toBe(0);
  });

  it('gives back the budget and the unread buffers when the writer stops early', async () => {
    const content = pattern(6 << 20, 3);
    const budget = new ReadAheadBudget(BUDGET);
    const pool = new ReadBufferPool(32 << 20);
    const source = new HostFileSource(file('early', content), stats(content.length), pool, budget);
    for await (const chunk of source.read()) {
      expect(Buffer.from(chunk).equals(content.subarray(0, HOST_READ_CHUNK))).toBe(true);
      break;
    }
    expect(budget.available).toBe(BUDGET);
    // The chunks read ahead and never yielded went back to the pool; the yielded one is the
    // writer's until it recycles it.
    expect(pool.idleBytes).toBeGreaterThanOrEqual(HOST_READ_CHUNK);
  });

  it('reports a large file that shrank or grew after the scan, and returns the budget', async () => {
    const content = pattern((3 << 20) + 7, 11);
    const budget = new ReadAheadBudget(BUDGET);
    const read = async (name: string, scanned: number) => {
      const source = new HostFileSource(file(name, content), stats(scanned), undefined, budget);
      for await (const _ of source.read()) void _;
    };
    await expect(read('shrunk', content.length + (1 << 20))).rejects.toMatchObject({
      code: 'CHANGED_DURING_READ',
      message: expect.stringMatching(
        new RegExp(`expected ${content.length + (1 << 20)} bytes, got ${content.length}\\)$`),
      ),
    });
    expect(budget.available).toBe(BUDGET);
    await expect(read('grown', content.length - 5)).rejects.toMatchObject({
      code: 'CHANGED_DURING_READ',
      message: expect.stringMatching(/got at least \d+\)$/),
    });
    expect(budget.available).toBe(BUDGET);
  });
});
