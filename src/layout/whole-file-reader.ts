/**
 * Small host files read by the native addon (native/read-file.c): open, read and close of each
 * file in a libuv threadpool job that reads several files, where Node's fs needs three jobs per
 * file. Every job is a wake-up of a pool thread, which on a 2-core machine takes the main
 * thread's core: on small-20000 (20 000 files of a few KiB) those wake-ups were the largest part
 * of the writer's main-thread time, with one job per file still about a fifth of it.
 *
 * Requests made during one turn of the event loop (the read-ahead starts many at once) go out
 * together on the next turn, in jobs of at most BATCH_FILES files.
 * Null when the addon is not built, is turned off (TSQUASHFS_NATIVE=0) or predates readFiles.
 */
import { loadNative } from '../squashfs/compress/native.js';

/**
 * Reads the file at `path` (opened O_NOFOLLOW) into `into` until it is full, the file ends, or a
 * short read completes `expected` bytes; `callback` gets the byte count or an fs-style error
 * (with `code` and `syscall`). `into` must not be touched until then. A file of up to
 * CACHED_READ_MAX bytes that the page cache holds is read before the call returns, and so is
 * `callback` called (HostFileSource.readWhole counts on it).
 */
export type WholeFileReader = (
  path: Uint8Array,
  into: Uint8Array,
  expected: number,
  callback: (err: NodeJS.ErrnoException | null, bytesRead?: number) => void,
) => void;

type ReadFiles = (
  paths: Uint8Array[],
  intos: Uint8Array[],
  expected: number[],
  callback: (results: (number | NodeJS.ErrnoException)[]) => void,
) => void;

/**
 * readFiles for one file on the calling thread, when its path and bytes are in the kernel's
 * caches: the byte count, or -1 when some of it would wait for the disk. Throws fs-style errors.
 */
type ReadFileCached = (path: Uint8Array, into: Uint8Array, expected: number) => number;

/**
 * Largest file read on the calling thread when cached: for small files the threadpool round
 * trip costs more than the read, while the copy of a larger one is better left to a pool thread,
 * in parallel with the writer.
 */
export const CACHED_READ_MAX = 64 << 10;

/** Files per threadpool job: enough to save most wake-ups, few enough that jobs run in parallel. */
export const BATCH_FILES = 32;

interface Request {
  path: Uint8Array;
  into: Uint8Array;
  expected: number;
  callback: Parameters<WholeFileReader>[3];
}

let reader: WholeFileReader | null | undefined;

export function wholeFileReader(): WholeFileReader | null {
  if (reader === undefined) {
    const addon = loadNative() as { readFiles?: ReadFiles; readFileCached?: ReadFileCached } | null;
    reader =
      typeof addon?.readFiles === 'function'
        ? batching(addon.readFiles, addon.readFileCached ?? null)
        : null;
  }
  return reader;
}

function batching(readFiles: ReadFiles, readFileCached: ReadFileCached | null): WholeFileReader {
  let pending: Request[] = [];
  const flush = () => {
    const all = pending;
    pending = [];
    for (let at = 0; at < all.length; at += BATCH_FILES) {
      const batch = all.slice(at, at + BATCH_FILES);
      const done = (results: (number | NodeJS.ErrnoException)[]) =>
        batch.forEach((r, i) => {
          const result = results[i]!;
          if (typeof result === 'number') r.callback(null, result);
          else r.callback(result);
        });
      try {
        readFiles(
          batch.map((r) => r.path),
          batch.map((r) => r.into),
          batch.map((r) => r.expected),
          done,
        );
      } catch (err) {
        // A bad argument (a path with a NUL byte) fails its batch, not the process.
        done(batch.map(() => err as NodeJS.ErrnoException));
      }
    }
  };
  return (path, into, expected, callback) => {
    if (readFileCached && expected <= CACHED_READ_MAX) {
      let bytesRead: number;
      try {
        bytesRead = readFileCached(path, into, expected);
      } catch (err) {
        return callback(err as NodeJS.ErrnoException);
      }
      if (bytesRead >= 0) return callback(null, bytesRead);
    }
    if (pending.length === 0) setImmediate(flush);
    pending.push({ path, into, expected, callback });
  };
}

/**
 * Whole-file reads on the addon's reader thread (native/read-queue.c): submitted ahead of need,
 * collected in order. `submit` gives a ticket, or -1 when too many reads wait uncollected (read
 * the file some other way then); `collect` waits for the read and gives its byte count, or
 * throws an fs-style error. Every ticket is collected exactly once. Null where the addon is not
 * built, is turned off, or predates the reader thread.
 */
export interface QueuedReads {
  submit(path: Uint8Array, into: Uint8Array, expected: number): number;
  collect(ticket: number): number;
}

/**
 * Largest file read on the reader thread. Larger ones go to readFiles' threadpool jobs, which
 * read several at once (the page-cache copy of one of them is longer than the round trip).
 */
export const QUEUED_READ_MAX = CACHED_READ_MAX;

interface ReadQueueAddon {
  createReadQueue?: () => object;
  readQueueSubmit?: (queue: object, path: Uint8Array, into: Uint8Array, expected: number) => number;
  readQueueCollect?: (queue: object, ticket: number) => number;
}

let queued: QueuedReads | null | undefined;

export function queuedReads(): QueuedReads | null {
  if (queued === undefined) {
    const addon = loadNative() as ReadQueueAddon | null;
    const { createReadQueue, readQueueSubmit, readQueueCollect } = addon ?? {};
    if (createReadQueue && readQueueSubmit && readQueueCollect) {
      // One queue, and so one reader thread, for the whole process (its main thread).
      const queue = createReadQueue();
      queued = {
        submit: (path, into, expected) => readQueueSubmit(queue, path, into, expected),
        collect: (ticket) => readQueueCollect(queue, ticket),
      };
    } else {
      queued = null;
    }
  }
  return queued;
}
