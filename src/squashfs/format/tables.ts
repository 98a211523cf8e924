/**
 * Lookup tables (format page §10): fixed-size records stored as a metadata stream, followed by a
 * raw list of absolute u64 positions of that stream's blocks. The superblock points at the list.
 *
 * fragment entry (16): u64 start, u32 size word, u32 unused (0)
 * export entry (8): u64 inode ref of inode number i+1
 * id entry (4): u32 uid/gid value
 * xattr-id entry (16): u64 ref to the first key, u32 count, u32 size
 * xattr-id header (16, raw): u64 kv_start, u32 count, u32 unused
 */
import { ByteBuilder, ByteReader } from '../io/bytes.js';

export const FRAGMENT_ENTRY_SIZE = 16;
export const EXPORT_ENTRY_SIZE = 8;
export const ID_ENTRY_SIZE = 4;
export const XATTR_ID_ENTRY_SIZE = 16;
export const XATTR_ID_HEADER_SIZE = 16;

export interface FragmentEntry {
  start: number;
  sizeWord: number;
}

export interface XattrIdEntry {
  ref: number;
  count: number;
  size: number;
}

export function encodeFragmentEntry(out: ByteBuilder, e: FragmentEntry): void {
  out.u64(e.start).u32(e.sizeWord).u32(0);
}
export function decodeFragmentEntry(r: ByteReader): FragmentEntry {
  const start = r.u64();
  const sizeWord = r.u32();
  r.u32();
  return { start, sizeWord };
}

export function encodeXattrIdEntry(out: ByteBuilder, e: XattrIdEntry): void {
  out.u64(e.ref).u32(e.count).u32(e.size);
}
export function decodeXattrIdEntry(r: ByteReader): XattrIdEntry {
  return { ref: r.u64(), count: r.u32(), size: r.u32() };
}

export function encodeXattrIdHeader(out: ByteBuilder, kvStart: number, count: number): void {
  out.u64(kvStart).u32(count).u32(0);
}
export function decodeXattrIdHeader(r: ByteReader): { kvStart: number; count: number } {
  const kvStart = r.u64();
  const count = r.u32();
  r.u32();
  return { kvStart, count };
}

/** Number of metadata blocks (= location-list entries) for `count` records of `size` bytes. */
export function tableBlockCount(count: number, size: number): number {
  return Math.ceil((count * size) / 8192);
}
