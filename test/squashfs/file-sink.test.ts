/**
 * FileSink syncs the image in the background as it grows (so the final fsync is short), and a
 * failure of one of those syncs must still fail the write: Linux reports a writeback error to a
 * file descriptor once, so the final fsync alone could succeed after it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSink } from '../../src/squashfs/io/sink.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

const MiB = 1 << 20;

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('file-sink');
});
afterAll(async () => {
  await tmp.cleanup();
});

/** The sink's file handle, to count or fail its syncs. */
function handleOf(sink: FileSink): { datasync(): Promise<void> } {
  return (sink as unknown as { handle: { datasync(): Promise<void> } }).handle;
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('FileSink', () => {
  it('syncs in the background while a large image is written, and the image is whole', async () => {
    const target = join(tmp.path, 'big.img');
    const sink = await FileSink.create(target);
    const handle = handleOf(sink);
    const original = handle.datasync.bind(handle);
    let syncs = 0;
    handle.datasync = () => {
      syncs++;
      return original();
    };
    const chunk = pattern(MiB, 7);
    for (let i = 0; i < 40; i++) await sink.append(chunk);
    await sink.commit();
    expect(syncs).toBeGreaterThanOrEqual(1);
    const written = readFileSync(target);
    expect(written.length).toBe(40 * MiB);
    for (let i = 0; i < 40; i++) {
      expect(Buffer.compare(written.subarray(i * MiB, (i + 1) * MiB), chunk)).toBe(0);
    }
  });

  it('fails the commit, and leaves nothing at the output path, when a background sync failed', async () => {
    const target = join(tmp.path, 'failed.img');
    const sink = await FileSink.create(target);
    handleOf(sink).datasync = () =>
      Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const chunk = pattern(MiB, 3);
    for (let i = 0; i < 40; i++) await sink.append(chunk);
    await expect(sink.commit()).rejects.toThrow(/failed\.img/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(tmp.path).filter((n) => n.includes('failed'))).toEqual([]);
  });
});
