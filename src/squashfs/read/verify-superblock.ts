/**
 * Verifier checks of the superblock and the compressor options block (format page §2, §3, §14,
 * §19.1–2). Problems that make the rest of the image uninterpretable (bad magic, version, block
 * size) are marked fatal: the verifier reports them and stops.
 */
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
import { SUPERBLOCK_SIZE, type Superblock } from '../format/superblock.js';
import type { ImageSource } from './source.js';
import type { ProblemList } from './verify-report.js';

const SB = 'superblock';

/** Returns false when the image cannot be interpreted any further. */
export function verifySuperblock(sb: Superblock, fileSize: number, p: ProblemList): boolean {
  let ok = true;
  if (sb.magic !== SQUASHFS_MAGIC) {
    p.error(
      'superblock.magic',
      0x00,
      SB,
      `magic 0x${sb.magic.toString(16).padStart(8, '0')} is not 0x73717368 ("hsqs"): not a squashfs image`,
    );
    return false;
  }
  if (sb.versionMajor !== VERSION_MAJOR || sb.versionMinor !== VERSION_MINOR) {
    p.error(
      'superblock.version',
      0x1c,
      SB,
      `version ${sb.versionMajor}.${sb.versionMinor}; the kernel mounts only 4.0`,
    );
    ok = false;
  }
  if (COMPRESSION_NAMES[sb.compression] === undefined) {
    p.error('superblock.compression', 0x14, SB, `unknown compression id ${sb.compression}`);
    ok = false;
  } else if (sb.compression === 2) {
    p.error(
      'superblock.compression',
      0x14,
      SB,
      'compression 2 (lzma) is never supported by the kernel for 4.0 images',
    );
  }
  const bs = sb.blockSize;
  if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) {
    p.error(
      'superblock.block-size',
      0x0c,
      SB,
      `block size ${bs} is not a power of two from 4096 to 1048576`,
    );
    ok = false;
  } else if (sb.blockLog > 20 || 2 ** sb.blockLog !== bs) {
    p.error(
      'superblock.block-log',
      0x16,
      SB,
      `block_log ${sb.blockLog} does not match block size ${bs} (log2 = ${Math.log2(bs)})`,
    );
  }
  if (sb.bytesUsed < SUPERBLOCK_SIZE) {
    p.error('superblock.bytes-used', 0x28, SB, `bytes_used ${sb.bytesUsed} is below 96`);
    ok = false;
  } else if (sb.bytesUsed > fileSize) {
    p.error(
      'superblock.bytes-used',
      0x28,
      SB,
      `bytes_used ${sb.bytesUsed} exceeds the file size ${fileSize} (truncated image?)`,
    );
  }
  if (sb.idCount === 0) p.error('superblock.id-count', 0x1a, SB, 'id_count is 0 (at least 1)');
  if (sb.inodeCount === 0) p.error('superblock.inode-count', 0x04, SB, 'inode_count is 0');
  if (refOffset(sb.rootInode) >= METADATA_SIZE) {
    p.error(
      'superblock.root-ref',
      0x20,
      SB,
      `root inode reference 0x${sb.rootInode.toString(16)} has offset ${refOffset(sb.rootInode)} (at most 8191)`,
    );
  }
  const unknownFlags = sb.flags & ~0x0fff;
  if (unknownFlags !== 0 || (sb.flags & Flags.CHECK) !== 0) {
    p.warn(
      'superblock.flags',
      0x18,
      SB,
      `flags 0x${sb.flags.toString(16)} set bits no 4.0 writer sets (0x${(unknownFlags | (sb.flags & Flags.CHECK)).toString(16)})`,
    );
  }
  const used = Math.min(sb.bytesUsed, fileSize);
  const inside = (rule: string, at: number, value: number, optional: boolean) => {
    if (optional && value === -1) return;
    if (value < SUPERBLOCK_SIZE || value >= used) {
      p.error(
        rule,
        at,
        SB,
        `${rule.slice('superblock.'.length).replace(/-/g, '_')} ${value} is outside ${SUPERBLOCK_SIZE}..${used}`,
      );
      ok = false;
    }
  };
  if (ok) {
    inside('superblock.inode-table-start', 0x40, sb.inodeTableStart, false);
    // An empty directory table may start where the next table starts, but not past bytes_used.
    if (sb.directoryTableStart < SUPERBLOCK_SIZE || sb.directoryTableStart > used) {
      p.error(
        'superblock.directory-table-start',
        0x48,
        SB,
        `directory_table_start ${sb.directoryTableStart} is outside ${SUPERBLOCK_SIZE}..${used}`,
      );
      ok = false;
    }
    inside('superblock.id-table-start', 0x30, sb.idTableStart, false);
    inside('superblock.xattr-id-table-start', 0x38, sb.xattrIdTableStart, true);
    inside('superblock.export-table-start', 0x58, sb.exportTableStart, true);
    if (sb.fragmentCount > 0) {
      inside('superblock.fragment-table-start', 0x50, sb.fragmentTableStart, false);
    } else if (sb.fragmentTableStart !== -1 && sb.fragmentTableStart > used) {
      // With no fragments mksquashfs writes the next table's position, tools-ng all-ones.
      p.warn(
        'superblock.fragment-table-start',
        0x50,
        SB,
        `fragment_table_start ${sb.fragmentTableStart} is past bytes_used (no fragments, so unused)`,
      );
    }
  }
  return ok;
}

/** Expected payload length of each compressor's options (§3). */
const OPTIONS_LENGTH: Record<number, number> = { 1: 8, 3: 8, 4: 8, 5: 8, 6: 4 };

export interface OptionsResult {
  /** Where the data area starts. */
  dataStart: number;
  /** The payload when it is raw and of the compressor's length, else null. */
  payload: Uint8Array | null;
}

/** Checks the options block. */
export async function verifyOptions(
  sb: Superblock,
  source: ImageSource,
  limit: number,
  p: ProblemList,
): Promise<OptionsResult> {
  const at = SUPERBLOCK_SIZE;
  const structure = `compressor options block at ${at}`;
  const present = (sb.flags & Flags.COMPRESSOR_OPTIONS) !== 0;
  if (!present) {
    if (sb.compression === 5) {
      p.error(
        'options.missing',
        0x18,
        SB,
        'lz4 images need a compressor options block (flag 0x0400); the kernel refuses to mount',
      );
    }
    return { dataStart: at, payload: null };
  }
  if (at + 2 > limit) {
    p.error('options.bounds', at, structure, 'the options block lies past bytes_used');
    return { dataStart: at, payload: null };
  }
  const header = await source.read(at, 2, 'compressor options header');
  const word = header[0]! | (header[1]! << 8);
  const { length, raw } = decodeMetadataHeader(word);
  if (!raw) {
    p.error(
      'options.raw',
      at,
      structure,
      `header 0x${word.toString(16)}: the options block must be stored uncompressed (bit 15)`,
    );
  }
  if (length === 0 || at + 2 + length > limit) {
    p.error('options.bounds', at, structure, `the ${length}-byte block does not fit the image`);
    return { dataStart: at, payload: null };
  }
  const payload = await source.read(at + 2, length, 'compressor options');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const expected = OPTIONS_LENGTH[sb.compression];
  if (expected === undefined) {
    p.error(
      'options.length',
      at,
      structure,
      `compression ${COMPRESSION_NAMES[sb.compression] ?? sb.compression} has no options block`,
    );
    return { dataStart: at + 2 + length, payload: null };
  }
  // lz4 in squashfs-tools master may write a 12-byte payload; the kernel reads the first 8.
  if (length !== expected && !(sb.compression === 5 && length === 12)) {
    p.error(
      'options.length',
      at,
      structure,
      `${length}-byte payload, ${COMPRESSION_NAMES[sb.compression]} options are ${expected} bytes`,
    );
    return { dataStart: at + 2 + length, payload: null };
  }
  if (!raw) return { dataStart: at + 2 + length, payload: null };
  const bad = (rule: string, off: number, message: string) =>
    p.error(rule, at + 2 + off, structure, message);
  const warnAt = (rule: string, off: number, message: string) =>
    p.warn(rule, at + 2 + off, structure, message);
  switch (sb.compression) {
    case 1: {
      const level = view.getUint32(0, true);
      const window = view.getUint16(4, true);
      const strategy = view.getUint16(6, true);
      if (level < 1 || level > 9) bad('options.value', 0, `gzip level ${level} is not 1..9`);
      if (window < 8 || window > 15) bad('options.value', 4, `gzip window ${window} is not 8..15`);
      if ((strategy & ~0x1f) !== 0)
        bad('options.value', 6, `gzip strategy mask 0x${strategy.toString(16)} has unknown bits`);
      break;
    }
    case 4: {
      const dict = view.getUint32(0, true);
      const n = Math.floor(Math.log2(dict));
      const valid = dict >= 8192 && (2 ** n === dict || (dict % 3 === 0 && 2 ** n * 1.5 === dict));
      if (!valid) {
        bad(
          'options.value',
          0,
          `xz dictionary size ${dict} is not 2^n or 3*2^n (at least 8192): the kernel refuses to mount`,
        );
      }
      const filters = view.getUint32(4, true);
      if ((filters & ~0xff) !== 0)
        bad('options.value', 4, `xz filter mask 0x${filters.toString(16)} has unknown bits`);
      break;
    }
    case 5: {
      const version = view.getUint32(0, true);
      if (version !== 1)
        bad('options.value', 0, `lz4 version ${version}, the kernel requires 1 to mount`);
      const flags = view.getUint32(4, true);
      // The kernel reads only the version; these are what mksquashfs accepts (0x1 = -Xhc).
      if ((flags & ~1) !== 0)
        warnAt('options.value', 4, `lz4 flags 0x${flags.toString(16)} have unknown bits`);
      break;
    }
    case 6: {
      const level = view.getUint32(0, true);
      if (level < 1 || level > 22)
        warnAt('options.value', 0, `zstd level ${level} is not 1..22 (the kernel ignores it)`);
      break;
    }
    case 3: {
      const algorithm = view.getUint32(0, true);
      const level = view.getUint32(4, true);
      if (algorithm > 4)
        warnAt(
          'options.value',
          0,
          `lzo algorithm ${algorithm} is not 0..4 (the kernel ignores it)`,
        );
      else if (algorithm === 4 ? level < 1 || level > 9 : level !== 0)
        warnAt(
          'options.value',
          4,
          `lzo level ${level}: mksquashfs writes 1..9 for lzo1x_999 and 0 for the others`,
        );
      break;
    }
  }
  return { dataStart: at + 2 + length, payload };
}
