/**
 * Loading and judging the superblock (format page §2, §3, §14, §19.1) and building the compressor
 * it names. The checks are the ones the reader relies on to stay in bounds; the full rule set
 * (table order and exact ends) is the verifier's.
 */
import { createDecompressor, type Decompressor } from '../compress/index.js';
import { SquashfsError } from '../errors.js';
import {
  COMPRESSION_NAMES,
  Flags,
  MAX_BLOCK_SIZE,
  METADATA_SIZE,
  MIN_BLOCK_SIZE,
  SQUASHFS_MAGIC,
  VERSION_MAJOR,
  VERSION_MINOR,
} from '../format/constants.js';
import { decodeMetadataHeader, refOffset } from '../format/metadata.js';
import { decodeSuperblock, SUPERBLOCK_SIZE, type Superblock } from '../format/superblock.js';
import type { ImageSource } from './source.js';

export interface LoadedSuperblock {
  superblock: Superblock;
  /** Payload of the compressor-options block (flag 0x0400), or null. */
  compressorOptions: Uint8Array | null;
  compressor: Decompressor;
  compressionName: string;
}

function corrupt(message: string, offset: number): SquashfsError {
  return new SquashfsError('CORRUPT', `superblock: ${message}`, { offset });
}

/** Reads and decodes the 96 superblock bytes, judging nothing but that they exist. */
export async function readSuperblock(source: ImageSource): Promise<Superblock> {
  if (source.size < SUPERBLOCK_SIZE) {
    throw new SquashfsError(
      'OUT_OF_BOUNDS',
      `${source.name} is ${source.size} bytes, smaller than a squashfs superblock (96 bytes)`,
      { offset: 0 },
    );
  }
  return decodeSuperblock(await source.read(0, SUPERBLOCK_SIZE, 'superblock'));
}

export async function loadSuperblock(source: ImageSource): Promise<LoadedSuperblock> {
  const sb = await readSuperblock(source);
  checkSuperblock(sb, source.size);
  const name = COMPRESSION_NAMES[sb.compression] ?? `id ${sb.compression}`;
  const compressor = createDecompressor(sb.compression, sb.blockSize);
  let compressorOptions: Uint8Array | null = null;
  if ((sb.flags & Flags.COMPRESSOR_OPTIONS) !== 0) {
    const at = SUPERBLOCK_SIZE;
    const header = await source.read(at, 2, 'compressor options header', sb.bytesUsed);
    const { length, raw } = decodeMetadataHeader(header[0]! | (header[1]! << 8));
    if (!raw) throw corrupt('the compressor options block is not stored raw', at);
    if (length === 0 || length > 64) {
      throw corrupt(`compressor options block of ${length} bytes`, at);
    }
    compressorOptions = await source.read(at + 2, length, 'compressor options', sb.bytesUsed);
  }
  return { superblock: sb, compressorOptions, compressor, compressionName: name };
}

export function checkSuperblock(sb: Superblock, fileSize: number): void {
  if (sb.magic !== SQUASHFS_MAGIC) {
    throw corrupt(`bad magic 0x${sb.magic.toString(16).padStart(8, '0')}: not a squashfs image`, 0);
  }
  if (sb.versionMajor !== VERSION_MAJOR || sb.versionMinor !== VERSION_MINOR) {
    throw new SquashfsError(
      'UNSUPPORTED',
      `superblock: version ${sb.versionMajor}.${sb.versionMinor}, only 4.0 is supported`,
      { offset: 0x1c },
    );
  }
  if (COMPRESSION_NAMES[sb.compression] === undefined) {
    throw corrupt(`unknown compression id ${sb.compression}`, 0x14);
  }
  const bs = sb.blockSize;
  if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) {
    throw corrupt(`block size ${bs} is not a power of two from 4096 to 1048576`, 0x0c);
  }
  if (sb.blockLog > 20 || 1 << sb.blockLog !== bs) {
    throw corrupt(`block_log ${sb.blockLog} does not match block size ${bs}`, 0x16);
  }
  if (sb.bytesUsed < SUPERBLOCK_SIZE || sb.bytesUsed > fileSize) {
    throw new SquashfsError(
      'OUT_OF_BOUNDS',
      `superblock: bytes_used ${sb.bytesUsed} is not within the file's ${fileSize} bytes (truncated image?)`,
      { offset: 0x28 },
    );
  }
  if (sb.idCount === 0) throw corrupt('id_count is 0 (at least one id is needed)', 0x1a);
  if (sb.inodeCount === 0) throw corrupt('inode_count is 0', 0x04);
  const inside = (field: string, at: number, value: number, optional: boolean) => {
    if (optional && value === -1) return;
    if (value < SUPERBLOCK_SIZE || value >= sb.bytesUsed) {
      throw corrupt(`${field} ${value} is outside ${SUPERBLOCK_SIZE}..${sb.bytesUsed}`, at);
    }
  };
  inside('inode_table_start', 0x40, sb.inodeTableStart, false);
  // An empty directory table is allowed: it may start where the next table starts.
  inside('directory_table_start', 0x48, sb.directoryTableStart, false);
  inside('id_table_start', 0x30, sb.idTableStart, false);
  inside('xattr_id_table_start', 0x38, sb.xattrIdTableStart, true);
  inside('export_table_start', 0x58, sb.exportTableStart, true);
  if (sb.fragmentCount > 0) inside('fragment_table_start', 0x50, sb.fragmentTableStart, false);
  if (sb.inodeTableStart >= sb.directoryTableStart) {
    throw corrupt(
      `inode_table_start ${sb.inodeTableStart} is not before directory_table_start ${sb.directoryTableStart}`,
      0x40,
    );
  }
  if (refOffset(sb.rootInode) >= METADATA_SIZE) {
    throw corrupt(`root inode reference offset ${refOffset(sb.rootInode)} exceeds 8191`, 0x20);
  }
}
