/**
 * Turning a host `lstat` result into Tree metadata. Stats are BigInt so that 64-bit inode and
 * device numbers stay exact: two files whose inode numbers differ only above 2^53 must not be
 * taken for hard links, and st_rdev keeps the high major/minor bits glibc puts above bit 32.
 */
import type { BigIntStats } from 'node:fs';
import type { NodeKind } from '../squashfs/tree.js';

/**
 * What the scan uses of an lstat result: Node's BigIntStats, or the addon's batched lstat
 * (lstat-batch.ts) in the same shape.
 */
export type HostStats = Pick<
  BigIntStats,
  | 'dev'
  | 'ino'
  | 'mode'
  | 'nlink'
  | 'uid'
  | 'gid'
  | 'rdev'
  | 'size'
  | 'blocks'
  | 'mtimeNs'
  | 'isDirectory'
  | 'isFile'
  | 'isSymbolicLink'
  | 'isBlockDevice'
  | 'isCharacterDevice'
  | 'isFIFO'
  | 'isSocket'
>;

const MAX_MTIME = 0xffffffff;
const NS_PER_SECOND = 1_000_000_000n;

/** The Tree kind of a host inode, or undefined for a type squashfs cannot store. */
export function nodeKind(stats: HostStats): NodeKind | undefined {
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isBlockDevice()) return 'blockdev';
  if (stats.isCharacterDevice()) return 'chardev';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  return undefined;
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
  return Number(stats.mode & 0o7777n);
}

/**
 * Whole seconds, rounded down (so -0.5 s is -1, before 1970), and whether the value had to be
 * clamped into squashfs's unsigned 32-bit field. mksquashfs 4.7 stores 0 for times before 1970.
 */
export function mtimeSeconds(stats: HostStats): { seconds: number; clamped: boolean } {
  const ns = stats.mtimeNs;
  let seconds = ns / NS_PER_SECOND;
  if (ns < 0n && seconds * NS_PER_SECOND !== ns) seconds -= 1n; // BigInt division truncates
  if (seconds < 0n) return { seconds: 0, clamped: true };
  if (seconds > BigInt(MAX_MTIME)) return { seconds: MAX_MTIME, clamped: true };
  return { seconds: Number(seconds), clamped: false };
}

/** The identity hard links share: inode numbers are unique only within one device. */
export function inodeKey(stats: HostStats): string {
  return `${stats.dev}:${stats.ino}`;
}
