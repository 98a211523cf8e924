/**
 * A directory's names and the lstat of each entry, from the native addon (native/list-dir.c) in
 * one libuv threadpool job. Node's fs needs a job for the readdir, a Buffer per name made on the
 * main thread, and a job and a BigIntStats per lstat; on small-20000 (1 100 directories) those
 * round trips, and the garbage, were most of the scan.
 *
 * A directory the addon cannot list gives null, and an entry it cannot stat an undefined stats:
 * the scanner then asks Node, so a permission error, a vanished file or a name that is not a
 * directory any more gets the same handling and the same message as without the addon.
 * `directoryLister()` is null when the addon is not built or is turned off (TSQUASHFS_NATIVE=0).
 */
import { loadNative } from '../squashfs/compress/native.js';
import { inodeKeyOf, type HostStats } from './host-stat.js';

/** Values per entry in the addon's output, in its order (see native/list-dir.c). */
const ENTRY_FIELDS = 17;
const ERRNO = 0;
const NAME_START = 1;
const NAME_LENGTH = 2;

type ListCallback = (errno: number, names?: Buffer, entries?: Float64Array) => void;
type ListDir = (dir: Uint8Array, xattrs: boolean, callback: ListCallback) => void;
type ListDirs = (dirs: Uint8Array[], xattrs: boolean, callbacks: ListCallback[]) => void;

/**
 * Listings asked for during one turn of the event loop go out together on the next (listDirs),
 * in at most MAX_LIST_JOBS threadpool jobs of at least MIN_LIST_BATCH directories each. A job
 * per directory was a wake-up of a pool thread each, which on a 2-core machine takes the main
 * thread's core; a few jobs still keep several threads listing.
 */
export const MAX_LIST_JOBS = 4;
export const MIN_LIST_BATCH = 4;

export interface Listing {
  names: Buffer[];
  /** By name: undefined where the addon could not stat the entry. */
  stats: (HostStats | undefined)[];
}

/** `xattrs`: also tell, per entry, whether it has xattrs (HostStats.hasXattrs). */
export type DirectoryLister = (dir: Buffer, xattrs: boolean) => Promise<Listing | null>;

let lister: DirectoryLister | null | undefined;

/** Whether the lister sends listings asked for together in shared jobs (listDirs). */
export function listerBatches(): boolean {
  return typeof (loadNative() as { listDirs?: ListDirs } | null)?.listDirs === 'function';
}

export function directoryLister(): DirectoryLister | null {
  if (lister === undefined) {
    const addon = loadNative() as { listDir?: ListDir; listDirs?: ListDirs } | null;
    const listDirs = addon?.listDirs;
    const listDir = addon?.listDir;
    lister =
      typeof listDirs === 'function'
        ? batching(listDirs)
        : typeof listDir === 'function'
          ? (dir, xattrs) => list(listDir, dir, xattrs)
          : null;
  }
  return lister;
}

interface Request {
  dir: Buffer;
  xattrs: boolean;
  callback: ListCallback;
}

function batching(listDirs: ListDirs): DirectoryLister {
  let pending: Request[] = [];
  const flush = () => {
    const all = pending;
    pending = [];
    // A job applies one `xattrs` flag to all its directories (a scan asks with one flag).
    for (const xattrs of [false, true])
      send(
        listDirs,
        xattrs,
        all.filter((r) => r.xattrs === xattrs),
      );
  };
  return (dir, xattrs) =>
    new Promise((resolve) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ dir, xattrs, callback: (...r) => resolve(listingOf(...r)) });
    });
}

/** `requests` in at most MAX_LIST_JOBS jobs of at least MIN_LIST_BATCH directories. */
function send(listDirs: ListDirs, xattrs: boolean, requests: Request[]): void {
  if (requests.length === 0) return;
  const jobs = Math.max(1, Math.min(MAX_LIST_JOBS, Math.floor(requests.length / MIN_LIST_BATCH)));
  const size = Math.ceil(requests.length / jobs);
  for (let at = 0; at < requests.length; at += size) {
    const batch = requests.slice(at, at + size);
    try {
      listDirs(
        batch.map((r) => r.dir),
        xattrs,
        batch.map((r) => r.callback),
      );
    } catch {
      // A NUL byte in a path: cannot come from readdir, but Node will say what is wrong.
      for (const r of batch) r.callback(-1);
    }
  }
}

function list(listDir: ListDir, dir: Buffer, xattrs: boolean): Promise<Listing | null> {
  return new Promise((resolve) => {
    try {
      listDir(dir, xattrs, (...r) => resolve(listingOf(...r)));
    } catch {
      // A NUL byte in the path: cannot come from readdir, but Node will say what is wrong.
      resolve(null);
    }
  });
}

/** A listing from the addon's result, or null where it could not list the directory. */
function listingOf(errno: number, names?: Buffer, entries?: Float64Array): Listing | null {
  if (errno !== 0 || !names || !entries) return null;
  const count = entries.length / ENTRY_FIELDS;
  const listing: Listing = { names: new Array(count), stats: new Array(count) };
  for (let i = 0; i < count; i++) {
    const o = i * ENTRY_FIELDS;
    const start = entries[o + NAME_START]!;
    listing.names[i] = names.subarray(start, start + entries[o + NAME_LENGTH]!);
    listing.stats[i] = entries[o + ERRNO] === 0 ? new ListedStats(entries, o) : undefined;
  }
  return listing;
}

/** One entry of the addon's output, read where it lies. */
class ListedStats implements HostStats {
  constructor(
    private readonly f: Float64Array,
    private readonly o: number,
  ) {}

  get mode(): number {
    return this.f[this.o + 3]!;
  }
  get nlink(): number {
    return this.f[this.o + 4]!;
  }
  get uid(): number {
    return this.f[this.o + 5]!;
  }
  get gid(): number {
    return this.f[this.o + 6]!;
  }
  get size(): number {
    return this.f[this.o + 7]!;
  }
  get blocks(): number {
    return this.f[this.o + 8]!;
  }
  get mtimeSeconds(): number {
    return this.f[this.o + 9]!;
  }
  /** From the size of the xattr name list; undefined where it was not read. */
  get hasXattrs(): boolean | undefined {
    const size = this.f[this.o + 16]!;
    return size < 0 ? undefined : size > 0;
  }
  get rdev(): bigint {
    return this.u64(14);
  }
  get inodeKey(): string {
    return inodeKeyOf(this.u64(10), this.u64(12));
  }

  /** The 64-bit value stored as two 32-bit halves from field `at` on. */
  private u64(at: number): bigint {
    return (BigInt(this.f[this.o + at]!) << 32n) | BigInt(this.f[this.o + at + 1]!);
  }
}
