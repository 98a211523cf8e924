/**
 * What the scan keeps of a host `lstat` result, and turning it into Tree metadata.
 *
 * The scan's stats are plain numbers where numbers are exact (mode, ids, sizes, whole seconds):
 * a BigInt is a heap object, and Node's BigIntStats, or ten BigInts per entry from the batched
 * lstat, made the collector a third of the scan's time on small-20000. The three 64-bit values
 * that must stay exact are kept whole: the inode identity ("dev:ino", so that two files whose
 * inode numbers differ only above 2^53 are not taken for hard links) and st_rdev (glibc puts
 * major and minor bits above bit 32); both are only read when needed.
 */
import { constants, type BigIntStats } from 'node:fs';
import type { NodeKind } from '../squashfs/tree.js';

export interface HostStats {
  /** st_mode: the file type and the permission bits. */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Space allocated, in 512-byte units whatever the file system's block size. */
  readonly blocks: number;
  /** st_mtime in whole seconds, rounded down (negative before 1970). */
  readonly mtimeSeconds: number;
  /** st_rdev, all 64 bits. */
  readonly rdev: bigint;
  /** The identity hard links share: inode numbers are unique only within one device. */
  readonly inodeKey: string;
  /**
   * Whether the inode has any xattrs (of any namespace), where the listing could tell; then one
   * without needs none read. Undefined: not known.
   */
  readonly hasXattrs?: boolean;
}

const MAX_MTIME = 0xffffffff;
const NS_PER_SECOND = 1_000_000_000n;

/** The identity of inode `ino` on device `dev` (the one format every source of stats uses). */
export function inodeKeyOf(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}

/** Node's lstat/stat result (with `bigint: true`) as HostStats. */
export function fromNodeStats(s: BigIntStats): HostStats {
  let seconds = s.mtimeNs / NS_PER_SECOND;
  if (s.mtimeNs < 0n && seconds * NS_PER_SECOND !== s.mtimeNs) seconds -= 1n; // division truncates
  return {
    mode: Number(s.mode),
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    size: Number(s.size),
    blocks: Number(s.blocks),
    mtimeSeconds: Number(seconds),
    rdev: s.rdev,
    inodeKey: inodeKeyOf(s.dev, s.ino),
  };
}

/** The Tree kind of a host inode, or undefined for a type squashfs cannot store. */
export function nodeKind(stats: HostStats): NodeKind | undefined {
  switch (stats.mode & constants.S_IFMT) {
    case constants.S_IFDIR:
      return 'dir';
    case constants.S_IFREG:
      return 'file';
    case constants.S_IFLNK:
      return 'symlink';
    case constants.S_IFBLK:
      return 'blockdev';
    case constants.S_IFCHR:
      return 'chardev';
    case constants.S_IFIFO:
      return 'fifo';
    case constants.S_IFSOCK:
      return 'socket';
    default:
      return undefined;
  }
}

/**
 * glibc's gnu_dev_major/gnu_dev_minor: the low 8 bits of minor and 12 bits of major sit in the
 * low 20 bits of dev_t (the historical layout), the remaining bits above bit 20 and bit 32.
 */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** Permission bits only (with setuid, setgid, sticky): the kind carries the file type. */
export function permissionBits(stats: HostStats): number {
  return stats.mode & 0o7777;
}

/**
 * Whole seconds, rounded down (so -0.5 s is -1, before 1970), and whether the value had to be
 * clamped into squashfs's unsigned 32-bit field. mksquashfs 4.7 stores 0 for times before 1970.
 */
export function mtimeSeconds(stats: HostStats): { seconds: number; clamped: boolean } {
  const seconds = stats.mtimeSeconds;
  if (seconds < 0) return { seconds: 0, clamped: true };
  if (seconds > MAX_MTIME) return { seconds: MAX_MTIME, clamped: true };
  return { seconds, clamped: false };
}
