/**
 * Superblock: 96 bytes at offset 0 (format page §2). Table positions are absolute; an absent
 * table is all-ones (-1 here). The kernel reads only the COMPRESSOR_OPTIONS flag; the rest of the
 * flags describe how the image was built.
 */
import { ByteReader, setU64 } from '../io/bytes.js';
import { SQUASHFS_MAGIC, VERSION_MAJOR, VERSION_MINOR } from './constants.js';

export const SUPERBLOCK_SIZE = 96;

export interface Superblock {
  magic: number; // 0x00 u32
  inodeCount: number; // 0x04 u32
  mkfsTime: number; // 0x08 u32
  blockSize: number; // 0x0C u32
  fragmentCount: number; // 0x10 u32
  compression: number; // 0x14 u16
  blockLog: number; // 0x16 u16
  flags: number; // 0x18 u16
  idCount: number; // 0x1A u16 (65536 ids are stored as 0 and cannot be represented; limit 65535)
  versionMajor: number; // 0x1C u16
  versionMinor: number; // 0x1E u16
  rootInode: number; // 0x20 u64 metadata ref
  bytesUsed: number; // 0x28 u64
  idTableStart: number; // 0x30 u64
  xattrIdTableStart: number; // 0x38 u64, -1 absent
  inodeTableStart: number; // 0x40 u64
  directoryTableStart: number; // 0x48 u64
  fragmentTableStart: number; // 0x50 u64, -1 absent
  exportTableStart: number; // 0x58 u64, -1 absent
}

export function encodeSuperblock(sb: Omit<Superblock, 'magic' | 'versionMajor' | 'versionMinor'>) {
  const out = new Uint8Array(SUPERBLOCK_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0x00, SQUASHFS_MAGIC, true);
  v.setUint32(0x04, sb.inodeCount, true);
  v.setUint32(0x08, sb.mkfsTime >>> 0, true);
  v.setUint32(0x0c, sb.blockSize, true);
  v.setUint32(0x10, sb.fragmentCount, true);
  v.setUint16(0x14, sb.compression, true);
  v.setUint16(0x16, sb.blockLog, true);
  v.setUint16(0x18, sb.flags, true);
  v.setUint16(0x1a, sb.idCount, true);
  v.setUint16(0x1c, VERSION_MAJOR, true);
  v.setUint16(0x1e, VERSION_MINOR, true);
  setU64(v, 0x20, sb.rootInode);
  setU64(v, 0x28, sb.bytesUsed);
  setU64(v, 0x30, sb.idTableStart);
  setU64(v, 0x38, sb.xattrIdTableStart);
  setU64(v, 0x40, sb.inodeTableStart);
  setU64(v, 0x48, sb.directoryTableStart);
  setU64(v, 0x50, sb.fragmentTableStart);
  setU64(v, 0x58, sb.exportTableStart);
  return out;
}

/** Decodes the fields without judging them; the reader and verifier apply the rules. */
export function decodeSuperblock(bytes: Uint8Array): Superblock {
  const r = new ByteReader(bytes, 0, 0, 'superblock');
  return {
    magic: r.u32(),
    inodeCount: r.u32(),
    mkfsTime: r.u32(),
    blockSize: r.u32(),
    fragmentCount: r.u32(),
    compression: r.u16(),
    blockLog: r.u16(),
    flags: r.u16(),
    idCount: r.u16(),
    versionMajor: r.u16(),
    versionMinor: r.u16(),
    rootInode: r.u64(),
    bytesUsed: r.u64(),
    idTableStart: r.u64(),
    xattrIdTableStart: r.u64(),
    inodeTableStart: r.u64(),
    directoryTableStart: r.u64(),
    fragmentTableStart: r.u64(),
    exportTableStart: r.u64(),
  };
}
