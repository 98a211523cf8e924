/**
 * The superblock (format page §2) as a list of fields with their byte offset, size, value and a
 * human meaning: flags by name, the compressor by name, times as ISO 8601, absent tables as such.
 * Built from the decoded Superblock (format/superblock.ts), so no layout is repeated here beyond
 * the field offsets shown to the user.
 */
import { COMPRESSION_NAMES, Flags, SQUASHFS_MAGIC } from '../format/constants.js';
import { refBlock, refOffset } from '../format/metadata.js';
import type { Superblock } from '../format/superblock.js';

export interface SuperblockField {
  /** The field's name in the format page. */
  name: string;
  /** Byte offset in the superblock. */
  offset: number;
  /** Size in bytes. */
  size: number;
  /** The decoded value (u64 all-ones, "absent", is -1). */
  value: number;
  meaning: string;
}

const FLAG_NAMES: [number, string][] = Object.entries(Flags).map(([name, bit]) => [
  bit,
  name.toLowerCase(),
]);

export function flagNames(flags: number): string[] {
  const names = FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  const known = FLAG_NAMES.reduce((m, [bit]) => m | bit, 0);
  if ((flags & ~known) !== 0) names.push(`unknown_0x${(flags & ~known).toString(16)}`);
  return names;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export function superblockFields(sb: Superblock, fileSize: number): SuperblockField[] {
  const table = (what: string, value: number, optional: boolean) =>
    value === -1
      ? optional
        ? `absent (all ones): no ${what}`
        : `absent, but a ${what} is required`
      : `${what} location list at byte ${value}`;
  const padding = fileSize - sb.bytesUsed;
  return [
    {
      name: 'magic',
      offset: 0x00,
      size: 4,
      value: sb.magic,
      meaning:
        sb.magic === SQUASHFS_MAGIC
          ? '"hsqs": squashfs, little-endian'
          : `0x${sb.magic.toString(16)}: not squashfs`,
    },
    { name: 'inode_count', offset: 0x04, size: 4, value: sb.inodeCount, meaning: 'inodes' },
    {
      name: 'modification_time',
      offset: 0x08,
      size: 4,
      value: sb.mkfsTime,
      meaning: iso(sb.mkfsTime),
    },
    {
      name: 'block_size',
      offset: 0x0c,
      size: 4,
      value: sb.blockSize,
      meaning: `${sb.blockSize / 1024} KiB data blocks`,
    },
    {
      name: 'fragment_entry_count',
      offset: 0x10,
      size: 4,
      value: sb.fragmentCount,
      meaning: 'fragment blocks',
    },
    {
      name: 'compression_id',
      offset: 0x14,
      size: 2,
      value: sb.compression,
      meaning: COMPRESSION_NAMES[sb.compression] ?? 'unknown compressor',
    },
    {
      name: 'block_log',
      offset: 0x16,
      size: 2,
      value: sb.blockLog,
      meaning:
        1 << sb.blockLog === sb.blockSize
          ? `log2(block_size)`
          : `does not match block_size (2^${sb.blockLog})`,
    },
    {
      name: 'flags',
      offset: 0x18,
      size: 2,
      value: sb.flags,
      meaning: flagNames(sb.flags).join(', ') || 'none',
    },
    {
      name: 'id_count',
      offset: 0x1a,
      size: 2,
      value: sb.idCount,
      meaning: 'unique uids/gids in the id table',
    },
    {
      name: 'version_major',
      offset: 0x1c,
      size: 2,
      value: sb.versionMajor,
      meaning: sb.versionMajor === 4 ? 'squashfs 4' : 'unsupported',
    },
    {
      name: 'version_minor',
      offset: 0x1e,
      size: 2,
      value: sb.versionMinor,
      meaning: sb.versionMinor === 0 ? 'squashfs 4.0' : 'unsupported',
    },
    {
      name: 'root_inode_ref',
      offset: 0x20,
      size: 8,
      value: sb.rootInode,
      meaning: `inode table block at +${refBlock(sb.rootInode)}, offset ${refOffset(sb.rootInode)}`,
    },
    {
      name: 'bytes_used',
      offset: 0x28,
      size: 8,
      value: sb.bytesUsed,
      meaning:
        padding >= 0
          ? `image end; file is ${fileSize} bytes (${padding} bytes of padding)`
          : `past the end of the ${fileSize}-byte file (truncated?)`,
    },
    {
      name: 'id_table_start',
      offset: 0x30,
      size: 8,
      value: sb.idTableStart,
      meaning: table('id table', sb.idTableStart, false),
    },
    {
      name: 'xattr_id_table_start',
      offset: 0x38,
      size: 8,
      value: sb.xattrIdTableStart,
      meaning:
        sb.xattrIdTableStart === -1
          ? 'absent (all ones): no xattrs'
          : `xattr id table header at byte ${sb.xattrIdTableStart}`,
    },
    {
      name: 'inode_table_start',
      offset: 0x40,
      size: 8,
      value: sb.inodeTableStart,
      meaning: `first inode table block at byte ${sb.inodeTableStart}`,
    },
    {
      name: 'directory_table_start',
      offset: 0x48,
      size: 8,
      value: sb.directoryTableStart,
      meaning: `first directory table block at byte ${sb.directoryTableStart}`,
    },
    {
      name: 'fragment_table_start',
      offset: 0x50,
      size: 8,
      value: sb.fragmentTableStart,
      meaning: table('fragment table', sb.fragmentTableStart, true),
    },
    {
      name: 'export_table_start',
      offset: 0x58,
      size: 8,
      value: sb.exportTableStart,
      meaning: table('export table', sb.exportTableStart, true),
    },
  ];
}
