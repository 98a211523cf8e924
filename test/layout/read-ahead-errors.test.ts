/**
 * A read of a large host file that fails while it is being read ahead (before the writer asks
 * for its chunk) must fail the read where that chunk is awaited, naming the file, and must not
 * surface as an unhandled rejection, which would end the process (vitest reports one as an
 * error of the run). The failure is injected by wrapping node:fs's read for one file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HOST_READ_CHUNK, HostFileSource } from '../../src/layout/host-file-source.js';
import type { HostStats } from '../../src/layout/host-stat.js';
import { ReadAheadBudget } from '../../src/layout/read-ahead.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

/** Descriptors whose reads fail from this position on. */
const failing = new Map<number, number>();

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  type ReadCallback = (err: NodeJS.ErrnoException | null, bytesRead: number) => void;
  const read = (...args: unknown[]) => {
    const [fd, , , , position] = args as [number, Buffer, number, number, number | null];
    const from = failing.get(fd);
    if (from !== undefined && position !== null && position >= from) {
      const callback = args[args.length - 1] as ReadCallback;
      const err: NodeJS.ErrnoException = Object.assign(new Error('EIO: i/o error, read'), {
        code: 'EIO',
        errno: -5,
        syscall: 'read',
      });
      setImmediate(() => callback(err, 0));
      return;
    }
    return (real.read as (...a: unknown[]) => void)(...args);
  };
  const open = (...args: unknown[]) => {
    const callback = args[args.length - 1] as (err: Error | null, fd: number) => void;
    (real.open as (...a: unknown[]) => void)(
      ...args.slice(0, -1),
      (err: Error | null, fd: number) => {
        if (!err && String(args[0]).endsWith('bad-disk')) failing.set(fd, 2 * HOST_READ_CHUNK);
        callback(err, fd);
      },
    );
  };
  return { ...real, default: { ...real, read, open }, read, open };
});

describe('a failed read ahead', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('read-ahead-errors');
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });

  it('fails the read at its chunk, naming the file, with the budget back', async () => {
    const file = path.join(tmp.path, 'bad-disk');
    fs.writeFileSync(file, Buffer.alloc(5 * HOST_READ_CHUNK, 7));
    const budget = new ReadAheadBudget(4 << 20);
    const source = new HostFileSource(
      Buffer.from(file),
      {
        mode: 0o100644,
        nlink: 1,
        uid: 0,
        gid: 0,
        size: 5 * HOST_READ_CHUNK,
        blocks: 0,
      } as HostStats,
      undefined,
      budget,
    );
    const got: number[] = [];
    const reading = (async () => {
      for await (const chunk of source.read()) {
        got.push(chunk.length);
        // Let the reads ahead (and their failures) settle before asking for the next chunk.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await expect(reading).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining(`cannot read ${file}`),
    });
    expect(got).toEqual([HOST_READ_CHUNK, HOST_READ_CHUNK]);
    expect(budget.available).toBe(4 << 20);
    failing.clear();
  });
});
