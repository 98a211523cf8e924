/**
 * A small file that the page cache holds is read on the calling thread (native/read-file.c:
 * readFileCached); the rest, and every chunk of a large file, go to the threadpool. Whichever way
 * a file is read, its bytes and errors must be the same. To read a file the slow way, its pages are
 * dropped from the page cache first (fsync, then `dd iflag=nocache`, which advises
 * POSIX_FADV_DONTNEED, until mincore(2) says they are gone): a tmpfs cannot drop them, and there
 * those tests say so and do not run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_READ_CHUNK, HostFileSource } from '../../src/layout/host-file-source.js';
import type { HostStats } from '../../src/layout/host-stat.js';
import {
  CACHED_READ_MAX,
  queuedReads,
  wholeFileReader,
} from '../../src/layout/whole-file-reader.js';
import { isPendingBytes, type PendingBytes } from '../../src/squashfs/tree.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

const readWhole = wholeFileReader();
if (!readWhole) console.log('cached-read: the native addon is not built; not tested');

const TMPFS_MAGIC = 0x01021994;

function pattern(n: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 9)) & 0xff));
}

/**
 * Pages of `file` that the page cache holds, as the kernel's mincore(2) tells (python3's ctypes
 * maps the file without reading it): the check that a drop worked, from outside the addon.
 */
const CACHED_PAGES = `
import ctypes, mmap, sys
with open(sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    n = (len(m) + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * n)()
    libc = ctypes.CDLL(None, use_errno=True)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    if libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(len(m)), vec) != 0:
        sys.exit('mincore: errno %d' % ctypes.get_errno())
    print(sum(b & 1 for b in vec))
`;

function cachedPages(file: string): number {
  const py = spawnSync('python3', ['-c', CACHED_PAGES, file], { encoding: 'utf8' });
  expect(py.status, py.stderr).toBe(0);
  return Number(py.stdout);
}

/**
 * Writes `bytes` to `file` and drops its pages from the page cache. The advice is only advice:
 * on a loaded machine (the whole suite running, and this VM's DAMON scanning pages) a page was
 * sometimes still cached after it, so the drop is repeated until mincore says none is left.
 */
function writeUncached(file: string, bytes: Uint8Array): void {
  fs.writeFileSync(file, bytes);
  const fd = fs.openSync(file, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  let left = -1;
  for (let attempt = 0; attempt < 20 && left !== 0; attempt++) {
    if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    const dd = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    expect(dd.status, dd.stderr?.toString()).toBe(0);
    left = cachedPages(file);
  }
  if (left !== 0) throw new Error(`${file}: ${left} pages still cached after 20 drops`);
}

/**
 * Tries at a read of a dropped file that must go to the threadpool. preadv2 with RWF_NOWAIT
 * starts readahead of a page it does not find, and on this VM's virtual disk that readahead
 * sometimes completed before the read gave up (seen with the whole suite running, after mincore
 * had said the file was out of the cache): the read was then served at once, correctly. So the
 * drop and the read are repeated until the read waits.
 */
const UNCACHED_ATTEMPTS = 5;

function stats(size: number): HostStats {
  return {
    mode: 0o100644,
    nlink: 1,
    uid: 0,
    gid: 0,
    size,
    blocks: size / 512,
    mtimeSeconds: 0,
  } as HostStats;
}

async function readAll(file: string, size: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of new HostFileSource(Buffer.from(file), stats(size)).read()) {
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

describe.runIf(readWhole)('reads served by the page cache', () => {
  let tmp: TempDir;
  let dropsPages = false;
  beforeAll(async () => {
    tmp = await makeTempDir('cached-read');
    dropsPages = fs.statfsSync(tmp.path).type !== TMPFS_MAGIC;
    if (!dropsPages) console.log(`cached-read: ${tmp.path} is a tmpfs; uncached reads not tested`);
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });

  it('a large file reads the same bytes cached and from the disk', async () => {
    const file = path.join(tmp.path, 'large');
    const content = pattern((5 << 20) + 123, 13);
    fs.writeFileSync(file, content);
    expect((await readAll(file, content.length)).equals(content)).toBe(true);
    if (!dropsPages) return;
    writeUncached(file, content);
    expect((await readAll(file, content.length)).equals(content)).toBe(true);
  });

  it('a large file comes in whole chunks when the page cache holds only part of it', async () => {
    if (!dropsPages) return;
    const file = path.join(tmp.path, 'part');
    const content = pattern((4 << 20) + 5, 17);
    writeUncached(file, content);
    // Cache the first 100 KiB and what readahead adds to them (512 KiB here): part of the first
    // chunk is in the cache, the rest and the other chunks are read from the disk.
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, Buffer.alloc(100 << 10), 0, 100 << 10, 0);
    fs.closeSync(fd);
    const sizes: number[] = [];
    const chunks: Buffer[] = [];
    for await (const c of new HostFileSource(Buffer.from(file), stats(content.length)).read()) {
      sizes.push(c.length);
      chunks.push(Buffer.from(c));
    }
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    // A chunk cut short would make blocks straddle two chunks (fresh memory for each).
    expect(sizes).toEqual([HOST_READ_CHUNK, HOST_READ_CHUNK, HOST_READ_CHUNK, HOST_READ_CHUNK, 5]);
  });

  it('a small cached file is read on the calling thread; an uncached one by the threadpool', async () => {
    const file = path.join(tmp.path, 'small');
    const content = pattern(CACHED_READ_MAX - 1, 3);
    fs.writeFileSync(file, content);
    const into = Buffer.alloc(content.length + 1);
    let result: number | NodeJS.ErrnoException | undefined;
    readWhole!(Buffer.from(file), into, content.length, (err, n) => (result = err ?? n));
    expect(result).toBe(content.length); // before readWhole returned
    expect(into.subarray(0, content.length).equals(content)).toBe(true);
    if (!dropsPages) return;
    const later = Buffer.alloc(content.length + 1);
    let outcome: { returned: boolean; err: NodeJS.ErrnoException | null; n?: number } | undefined;
    for (let attempt = 0; attempt < UNCACHED_ATTEMPTS && !outcome?.returned; attempt++) {
      writeUncached(file, content);
      outcome = await new Promise((resolve) => {
        let returned = false;
        readWhole!(Buffer.from(file), later, content.length, (err, n) =>
          resolve({ returned, err, n }),
        );
        returned = true;
      });
    }
    expect(outcome!.returned).toBe(true);
    expect(outcome!.err).toBeNull();
    expect(outcome!.n).toBe(content.length);
    expect(later.subarray(0, content.length).equals(content)).toBe(true);
  });

  it("a host file's readWhole goes to the reader thread, or when it is full reads cached bytes at once, else a promise; a size change fails either way", async () => {
    const file = path.join(tmp.path, 'whole');
    const content = pattern(5000, 7);
    fs.writeFileSync(file, content);
    const source = (size: number, name = file) =>
      new HostFileSource(Buffer.from(name), stats(size));
    const queue = queuedReads();
    if (queue) {
      const pending = source(content.length).readWhole();
      expect(pending && isPendingBytes(pending)).toBe(true);
      expect(Buffer.from((pending as PendingBytes).wait()).equals(content)).toBe(true);
      // The scan saw another size: the same error as a read that finds it, thrown by wait().
      const grown = source(content.length - 1).readWhole() as PendingBytes;
      expect(() => grown.wait()).toThrow(
        /changed size while being read \(expected 4999 bytes, got at least 5000\)/,
      );
      const missing = source(10, `${file}-gone`).readWhole() as PendingBytes;
      expect(() => missing.wait()).toThrow(expect.objectContaining({ code: 'IO' }));
      if (dropsPages) {
        writeUncached(file, content);
        const uncached = source(content.length).readWhole() as PendingBytes;
        expect(Buffer.from(uncached.wait()).equals(content)).toBe(true);
      }
    }
    // With the reader thread's slots all taken (or no reader thread), the calling thread reads.
    const hold = Buffer.alloc(1);
    const held: number[] = [];
    for (let t = queue?.submit(Buffer.from(file), hold, 0) ?? -1; t >= 0;) {
      held.push(t);
      t = queue!.submit(Buffer.from(file), hold, 0);
    }
    try {
      fs.writeFileSync(file, content);
      const cached = source(content.length).readWhole();
      expect(cached).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(cached as Uint8Array).equals(content)).toBe(true);
      const grown = source(content.length - 1).readWhole();
      expect(grown).toBeInstanceOf(Promise);
      await expect(grown).rejects.toThrow(
        /changed size while being read \(expected 4999 bytes, got at least 5000\)/,
      );
      const shrunk = source(content.length + 10).readWhole();
      await expect(shrunk).rejects.toThrow(/expected 5010 bytes, got 5000\)/);
      const missing = source(10, `${file}-gone`).readWhole();
      await expect(missing).rejects.toMatchObject({
        code: 'IO',
        message: /cannot read .*whole-gone: /,
      });
      if (!dropsPages) return;
      let later: ReturnType<HostFileSource['readWhole']> = null;
      for (let attempt = 0; attempt < UNCACHED_ATTEMPTS && !(later instanceof Promise); attempt++) {
        writeUncached(file, content);
        later = source(content.length).readWhole();
      }
      expect(later).toBeInstanceOf(Promise);
      expect(Buffer.from(await (later as Promise<Uint8Array>)).equals(content)).toBe(true);
    } finally {
      for (const t of held) queue!.collect(t);
    }
  });
});
