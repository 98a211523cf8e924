/**
 * A durable FileSink syncs the image in the background as it grows (so the final fsync is
 * short), and a failure of one of those syncs must still fail the write: Linux reports a
 * writeback error to a file descriptor once, so the final fsync alone could succeed after it.
 * It syncs the directory after the rename. A default sink syncs nothing.
 */
import { existsSync, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
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

interface Syncable {
  datasync(): Promise<void>;
  sync(): Promise<void>;
}

/** The sink's file handle, to count or fail its syncs. */
function handleOf(sink: FileSink): Syncable {
  return (sink as unknown as { handle: Syncable }).handle;
}

/** Counts the sink's fdatasync and fsync calls on its image file. */
function countSyncs(sink: FileSink): { datasync: number; sync: number } {
  const handle = handleOf(sink);
  const counts = { datasync: 0, sync: 0 };
  const datasync = handle.datasync.bind(handle);
  const sync = handle.sync.bind(handle);
  handle.datasync = () => (counts.datasync++, datasync());
  handle.sync = () => (counts.sync++, sync());
  return counts;
}

/**
 * Records every fsync of a directory made through fs.promises.open (how the sink syncs the
 * directory after its rename), with whether `target` existed at that moment.
 */
function watchDirectorySyncs(target: string): { dir: string; targetThere: boolean }[] {
  const seen: { dir: string; targetThere: boolean }[] = [];
  const open = fsp.open.bind(fsp);
  vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await open(...args);
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      const sync = handle.sync.bind(handle);
      handle.sync = () => {
        seen.push({ dir: String(args[0]), targetThere: existsSync(target) });
        return sync();
      };
    }
    return handle;
  });
  return seen;
}

afterEach(() => {
  vi.restoreAllMocks();
});

type Write = (arrays: Uint8Array[], at: number) => Promise<{ bytesWritten: number }>;

/** Puts `wrap(the real writev)` in place of the sink's file handle's writev; returns the real one. */
function replaceWrite(sink: FileSink, wrap: (real: Write) => Write): Write {
  const handle = (sink as unknown as { handle: { writev: Write } }).handle;
  const real = handle.writev.bind(handle);
  handle.writev = wrap(real);
  return real;
}

/** The first `n` bytes of `arrays` (all of them when they hold no more). */
function firstBytes(arrays: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const a of arrays) {
    if (n <= 0) break;
    out.push(a.subarray(0, n));
    n -= a.length;
  }
  return out;
}

/** The sink's writes wait until the test lets each go (`held`), so one can be caught in flight. */
function holdWrites(sink: FileSink): { held: (() => void)[]; restore(): void } {
  const held: (() => void)[] = [];
  const real = replaceWrite(
    sink,
    (real) => (arrays, at) =>
      new Promise<void>((resolve) => held.push(resolve)).then(() => real(arrays, at)),
  );
  return {
    held,
    restore: () => replaceWrite(sink, () => real),
  };
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('FileSink', () => {
  it('durable: syncs in the background while a large image is written, fsyncs it, then syncs the directory after the rename', async () => {
    const target = join(tmp.path, 'big.img');
    const dirSyncs = watchDirectorySyncs(target);
    const sink = await FileSink.create(target, { durable: true });
    const syncs = countSyncs(sink);
    const chunk = pattern(MiB, 7);
    for (let i = 0; i < 40; i++) await sink.append(chunk);
    await sink.commit();
    expect(syncs.datasync).toBeGreaterThanOrEqual(1);
    expect(syncs.sync).toBe(1);
    expect(dirSyncs).toEqual([{ dir: tmp.path, targetThere: true }]);
    const written = readFileSync(target);
    expect(written.length).toBe(40 * MiB);
    for (let i = 0; i < 40; i++) {
      expect(Buffer.compare(written.subarray(i * MiB, (i + 1) * MiB), chunk)).toBe(0);
    }
  });

  it('by default syncs neither the image nor its directory, and the image is whole', async () => {
    const target = join(tmp.path, 'plain.img');
    const dirSyncs = watchDirectorySyncs(target);
    const sink = await FileSink.create(target);
    const syncs = countSyncs(sink);
    const chunk = pattern(MiB, 5);
    for (let i = 0; i < 40; i++) await sink.append(chunk);
    await sink.commit();
    expect(syncs).toEqual({ datasync: 0, sync: 0 });
    expect(dirSyncs).toEqual([]);
    const written = readFileSync(target);
    expect(written.length).toBe(40 * MiB);
    expect(Buffer.compare(written.subarray(39 * MiB), chunk)).toBe(0);
    expect(readdirSync(tmp.path).filter((n) => n.includes('plain'))).toEqual(['plain.img']);
  });

  it('accepts a temporary directory as a string second argument (the 0.1 form)', async () => {
    const target = join(tmp.path, 'elsewhere.img');
    const spoolDir = join(tmp.path, 'spool');
    await fsp.mkdir(spoolDir);
    const sink = await FileSink.create(target, spoolDir);
    await sink.append(pattern(1000, 1));
    expect(readdirSync(spoolDir)).toHaveLength(1);
    await sink.commit();
    expect(readFileSync(target).length).toBe(1000);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('fails the commit, and leaves nothing at the output path, when a background sync failed', async () => {
    const target = join(tmp.path, 'failed.img');
    const sink = await FileSink.create(target, { durable: true });
    handleOf(sink).datasync = () =>
      Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const chunk = pattern(MiB, 3);
    for (let i = 0; i < 40; i++) await sink.append(chunk);
    await expect(sink.commit()).rejects.toThrow(/failed\.img/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(tmp.path).filter((n) => n.includes('failed'))).toEqual([]);
  });

  it('reads back staged, in-flight and written bytes without flushing the staging buffer', async () => {
    const target = join(tmp.path, 'readback.img');
    const sink = await FileSink.create(target);
    // Each write finishes only when the test lets it, so one can be caught in flight.
    const { held: letGo, restore } = holdWrites(sink);
    let writes = 0;
    replaceWrite(
      sink,
      (held) =>
        (...args) => (writes++, held(...args)),
    );
    const all = pattern(3 * MiB + 1000, 11);
    // 2 MiB + 1000 bytes: one write done, one in flight, 1000 bytes staged.
    await sink.append(all.subarray(0, MiB));
    await sink.append(all.subarray(MiB, MiB + 10)); // starts the first write
    for (const go of letGo.splice(0)) go();
    await sink.append(all.subarray(MiB + 10, 2 * MiB + 1000)); // the second write, held
    expect(writes).toBe(2);
    const staged = await sink.readAt(2 * MiB + 10, 500);
    expect(Buffer.compare(staged, all.subarray(2 * MiB + 10, 2 * MiB + 510))).toBe(0);
    expect(writes).toBe(2); // nothing flushed to read it
    const fromFile = await sink.readAt(100, 5000);
    expect(Buffer.compare(fromFile, all.subarray(100, 5100))).toBe(0);
    // Across the written part, the write in flight and the staged bytes.
    const across = sink.readAt(MiB - 50, MiB + 1000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const go of letGo.splice(0)) go();
    expect(Buffer.compare(await across, all.subarray(MiB - 50, 2 * MiB + 950))).toBe(0);
    expect(writes).toBe(2);
    // Into a caller's buffer: the same bytes, as a view of it; one too small is not used.
    const into = new Uint8Array(MiB + 2000).fill(7);
    const viewed = await sink.readAt(MiB - 50, MiB + 1000, into);
    expect(viewed.buffer).toBe(into.buffer);
    expect(Buffer.compare(viewed, all.subarray(MiB - 50, 2 * MiB + 950))).toBe(0);
    const small = new Uint8Array(10);
    const fresh = await sink.readAt(100, 5000, small);
    expect(fresh.buffer).not.toBe(small.buffer);
    expect(Buffer.compare(fresh, all.subarray(100, 5100))).toBe(0);
    await expect(sink.readAt(2 * MiB + 900, 200)).rejects.toThrow(
      /readback\.img: read of 200 bytes at 2098052 is past the end \(2098152\)/,
    );
    restore();
    await sink.commit();
    expect(Buffer.compare(readFileSync(target), all.subarray(0, 2 * MiB + 1000))).toBe(0);
  });

  it('keeps two writes in flight, waits for the oldest when no buffer is free, and reads bytes of a write that finished early only after the ones before it', async () => {
    const target = join(tmp.path, 'three.img');
    const sink = await FileSink.create(target);
    const { held, restore } = holdWrites(sink);
    const all = pattern(3 * MiB + 10, 5);
    // Two full buffers go out at once, and the writer is not kept waiting (regression: with one
    // write in flight, the second buffer waited for the first write).
    await sink.append(all.subarray(0, 2 * MiB));
    expect(held.length).toBe(2);
    // A third full buffer needs a free one: append waits for the oldest write.
    let third = false;
    const appended = sink.append(all.subarray(2 * MiB, 3 * MiB + 10)).then(() => (third = true));
    // The second write finishes first: its bytes are read only once the first has finished too.
    held[1]!();
    let read = false;
    const second = sink.readAt(MiB + 5, 100).then((b) => ((read = true), b));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(third).toBe(false);
    expect(read).toBe(false);
    held[0]!();
    expect(Buffer.compare(await second, all.subarray(MiB + 5, MiB + 105))).toBe(0);
    await appended;
    expect(third).toBe(true);
    expect(held.length).toBe(3);
    for (const go of held.slice(2)) go();
    restore();
    await sink.commit();
    expect(Buffer.compare(readFileSync(target), all)).toBe(0);
  });

  it('writes on after a short write instead of losing the rest of the buffer', async () => {
    const target = join(tmp.path, 'short.img');
    const sink = await FileSink.create(target);
    let calls = 0;
    // Every write writes at most 300 000 bytes, as a write can when the disk is nearly full.
    replaceWrite(sink, (real) => (arrays, at) => (calls++, real(firstBytes(arrays, 300_000), at)));
    const all = pattern(2 * MiB + 77, 9);
    await sink.append(all);
    await sink.commit();
    expect(calls).toBeGreaterThan(7);
    expect(Buffer.compare(readFileSync(target), all)).toBe(0);
  });
});
