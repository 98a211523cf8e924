/**
 * Numbers fixed by the squashfs 4.0 format (see shared/design/squashfs-format.md §1–§11).
 * Everything here is on-disk fact; writer, reader and inspector all take it from this file.
 */
export const SQUASHFS_MAGIC = 0x73717368;
export const VERSION_MAJOR = 4;
export const VERSION_MINOR = 0;

/** Uncompressed payload of one metadata block. */
export const METADATA_SIZE = 8192;
/** Header bit 15 of a metadata block: payload stored raw. */
export const METADATA_UNCOMPRESSED = 0x8000;
/** Bit 24 of a data/fragment size word: block stored raw. */
export const DATA_UNCOMPRESSED = 0x01000000;
export const DATA_SIZE_MASK = 0x00ffffff;

export const MIN_BLOCK_SIZE = 4096;
export const MAX_BLOCK_SIZE = 1 << 20;
export const DEFAULT_BLOCK_SIZE = 1 << 17;

/** "none" for fragment and xattr indices in inodes. */
export const NO_INDEX = 0xffffffff;

/** Directory runs hold at most this many entries. */
export const DIR_RUN_MAX = 256;
export const MAX_NAME_LENGTH = 256;
/** Linux refuses longer symlink targets (PAGE_SIZE on x86). */
export const MAX_SYMLINK_LENGTH = 4096;
/** The ID table's u16 index. */
export const MAX_IDS = 65536;

export const enum Compression {
  Gzip = 1,
  Lzma = 2,
  Lzo = 3,
  Xz = 4,
  Lz4 = 5,
  Zstd = 6,
}

export const COMPRESSION_NAMES: Record<number, string> = {
  1: 'gzip',
  2: 'lzma',
  3: 'lzo',
  4: 'xz',
  5: 'lz4',
  6: 'zstd',
};

/** Superblock flags (informational except COMPRESSOR_OPTIONS, which the kernel reads). */
export const Flags = {
  UNCOMPRESSED_INODES: 0x0001,
  UNCOMPRESSED_DATA: 0x0002,
  CHECK: 0x0004,
  UNCOMPRESSED_FRAGMENTS: 0x0008,
  NO_FRAGMENTS: 0x0010,
  ALWAYS_FRAGMENTS: 0x0020,
  DUPLICATES: 0x0040,
  EXPORTABLE: 0x0080,
  UNCOMPRESSED_XATTRS: 0x0100,
  NO_XATTRS: 0x0200,
  COMPRESSOR_OPTIONS: 0x0400,
  UNCOMPRESSED_IDS: 0x0800,
} as const;

/** Inode types; the extended type of each basic type is basic + 7. */
export const InodeType = {
  Dir: 1,
  File: 2,
  Symlink: 3,
  BlockDev: 4,
  CharDev: 5,
  Fifo: 6,
  Socket: 7,
  ExtDir: 8,
  ExtFile: 9,
  ExtSymlink: 10,
  ExtBlockDev: 11,
  ExtCharDev: 12,
  ExtFifo: 13,
  ExtSocket: 14,
} as const;
export type InodeTypeValue = (typeof InodeType)[keyof typeof InodeType];

/** Absent table pointer in the superblock. */
export const ABSENT = -1; // encoded as 0xFFFFFFFFFFFFFFFF

/** Xattr name prefixes by id, as stored in the key record's type field. */
export const XATTR_PREFIXES = ['user.', 'trusted.', 'security.'] as const;
export const XATTR_VALUE_OUT_OF_LINE = 0x0100;
