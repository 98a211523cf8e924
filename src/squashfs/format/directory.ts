/**
 * Directory listings (format page §9): runs of a 12-byte header (count-1, inode-table block of
 * the run's inodes, base inode number) followed by 1–256 entries (u16 offset of the inode inside
 * that block, s16 inode number delta from base, u16 *basic* type, u16 name length-1, name).
 * The listing size stored in the directory inode is these bytes + 3.
 */
import { ByteBuilder, ByteReader } from '../io/bytes.js';

export const DIR_HEADER_SIZE = 12;
export const DIR_ENTRY_SIZE = 8;
export const DIR_INDEX_ENTRY_SIZE = 12;

export interface DirHeader {
  count: number; // entries in the run, 1..256 (stored minus one)
  startBlock: number;
  inodeNumber: number;
}

export interface DirEntry {
  offset: number;
  inodeDelta: number;
  type: number;
  name: Uint8Array;
}

export function encodeDirHeader(out: ByteBuilder, h: DirHeader): void {
  out
    .u32(h.count - 1)
    .u32(h.startBlock)
    .u32(h.inodeNumber);
}

export function encodeDirEntry(out: ByteBuilder, e: DirEntry): void {
  out
    .u16(e.offset)
    .i16(e.inodeDelta)
    .u16(e.type)
    .u16(e.name.length - 1)
    .bytes(e.name);
}

export function decodeDirHeader(r: ByteReader): DirHeader {
  return { count: r.u32() + 1, startBlock: r.u32(), inodeNumber: r.u32() };
}

export function decodeDirEntry(r: ByteReader): DirEntry {
  const offset = r.u16();
  const inodeDelta = r.i16();
  const type = r.u16();
  const name = r.take(r.u16() + 1);
  return { offset, inodeDelta, type, name };
}
