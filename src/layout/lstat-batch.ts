/**
 * lstat of a directory's entries by the native addon (native/lstat-many.c): up to BATCH_NAMES of
 * them per libuv threadpool job, each fstatat'ed relative to one descriptor of the directory.
 * Node's fs makes every lstat a job and a promise of its own, and creating its BigIntStats is
 * not cheap either: on small-20000 the scan's lstat calls took about 450 ms of the main thread.
 *
 * An entry the addon could not stat comes back undefined, and the scanner asks Node's lstat for
 * it: so a vanished file, a permission error or a directory that could not be opened gets the
 * same handling and the same message as without the addon.
 * Null when the addon is not built, is turned off (TSQUASHFS_NATIVE=0) or predates lstatMany.
 */
import { constants } from 'node:fs';
import { loadNative } from '../squashfs/compress/native.js';
import type { HostStats } from './host-stat.js';

/** Values per entry in the addon's output, in its order (see native/lstat-many.c). */
const FIELDS = 12;
const ERRNO = 11;
/** Names per threadpool job: a large directory is stat'ed by several threads at once. */
export const BATCH_NAMES = 256;

type LstatMany = (
  dir: Uint8Array,
  names: Uint8Array[],
  out: BigInt64Array,
  callback: () => void,
) => void;

export type LstatEntries = (dir: Buffer, names: Buffer[]) => Promise<(HostStats | undefined)[]>;

let batch: LstatEntries | null | undefined;

export function lstatEntries(): LstatEntries | null {
  if (batch === undefined) {
    const addon = loadNative() as { lstatMany?: LstatMany } | null;
    const lstatMany = addon?.lstatMany;
    batch = typeof lstatMany === 'function' ? (dir, names) => statAll(lstatMany, dir, names) : null;
  }
  return batch;
}

async function statAll(
  lstatMany: LstatMany,
  dir: Buffer,
  names: Buffer[],
): Promise<(HostStats | undefined)[]> {
  const jobs: Promise<(HostStats | undefined)[]>[] = [];
  for (let at = 0; at < names.length; at += BATCH_NAMES) {
    const part = names.slice(at, at + BATCH_NAMES);
    const out = new BigInt64Array(part.length * FIELDS);
    jobs.push(
      new Promise<void>((resolve, reject) => {
        try {
          lstatMany(dir, part, out, resolve);
        } catch (err) {
          // A NUL byte in a name: cannot come from readdir, but Node's lstat will say so.
          reject(err as Error);
        }
      }).then(
        () =>
          part.map((_, i) => (out[i * FIELDS + ERRNO] === 0n ? new BatchStats(out, i) : undefined)),
        () => part.map(() => undefined),
      ),
    );
  }
  return (await Promise.all(jobs)).flat();
}

const S_IFMT = BigInt(constants.S_IFMT);
const NS_PER_SECOND = 1_000_000_000n;

/** One entry of the addon's output, shaped like the parts of BigIntStats the scan uses. */
class BatchStats implements HostStats {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: bigint;
  readonly nlink: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly rdev: bigint;
  readonly size: bigint;
  readonly blocks: bigint;
  readonly mtimeNs: bigint;
  /** The file type bits of the mode, for the is…() tests. */
  private readonly type: number;

  constructor(out: BigInt64Array, i: number) {
    const o = i * FIELDS;
    // dev_t and ino_t are unsigned 64-bit: stored bit for bit in a signed array.
    this.dev = BigInt.asUintN(64, out[o]!);
    this.ino = BigInt.asUintN(64, out[o + 1]!);
    this.mode = out[o + 2]!;
    this.nlink = out[o + 3]!;
    this.uid = out[o + 4]!;
    this.gid = out[o + 5]!;
    this.rdev = BigInt.asUintN(64, out[o + 6]!);
    this.size = out[o + 7]!;
    this.blocks = out[o + 8]!;
    this.mtimeNs = out[o + 9]! * NS_PER_SECOND + out[o + 10]!;
    this.type = Number(this.mode & S_IFMT);
  }

  isDirectory(): boolean {
    return this.type === constants.S_IFDIR;
  }
  isFile(): boolean {
    return this.type === constants.S_IFREG;
  }
  isSymbolicLink(): boolean {
    return this.type === constants.S_IFLNK;
  }
  isBlockDevice(): boolean {
    return this.type === constants.S_IFBLK;
  }
  isCharacterDevice(): boolean {
    return this.type === constants.S_IFCHR;
  }
  isFIFO(): boolean {
    return this.type === constants.S_IFIFO;
  }
  isSocket(): boolean {
    return this.type === constants.S_IFSOCK;
  }
}
