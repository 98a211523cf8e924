/**
 * The image reader: `openImage(pathOrBytes)` gives random access to a squashfs 4.0 image by
 * inode reference and by path, directory listings, file contents as a stream of blocks, symlink
 * targets, xattrs and a whole-tree walk.
 *
 * Nothing from the image is trusted: every position is checked against bytes_used before it is
 * read, every count is checked before it drives a loop or an allocation (and every loop also
 * consumes bytes of a bounded table), every decompression has a maximum output and the exact
 * expected length, and every name is checked before a caller could use it as a path component.
 * Problems are SquashfsErrors with a code and, where one applies, the byte offset.
 */
import { SquashfsError } from '../errors.js';
import {
  DATA_SIZE_MASK,
  DATA_UNCOMPRESSED,
  DIR_RUN_MAX,
  InodeType,
  MAX_NAME_LENGTH,
  METADATA_SIZE,
  NO_INDEX,
  XATTR_PREFIXES,
  XATTR_VALUE_OUT_OF_LINE,
} from '../format/constants.js';
import { decodeDirHeader, DIR_ENTRY_SIZE, DIR_HEADER_SIZE } from '../format/directory.js';
import {
  basicTypeOf,
  decodeInode,
  type DeviceInode,
  type DirInode,
  type FileInode,
  type Inode,
  type IpcInode,
  type SymlinkInode,
} from '../format/inode.js';
import { makeRef, refBlock, refOffset } from '../format/metadata.js';
import type { Superblock } from '../format/superblock.js';
import {
  decodeFragmentEntry,
  decodeXattrIdEntry,
  decodeXattrIdHeader,
  EXPORT_ENTRY_SIZE,
  FRAGMENT_ENTRY_SIZE,
  ID_ENTRY_SIZE,
  XATTR_ID_ENTRY_SIZE,
  XATTR_ID_HEADER_SIZE,
  type FragmentEntry,
  type XattrIdEntry,
} from '../format/tables.js';
import { ByteReader } from '../io/bytes.js';
import type { Xattr } from '../tree.js';
import type { Decompressor } from '../compress/index.js';
import { MetadataReader } from './metadata-reader.js';
import { loadSuperblock } from './superblock.js';
import { openSource, type ImageSource } from './source.js';
import { LookupTable } from './tables.js';

/** An inode as read, with the reference it was read from (hard links share it). */
export type ReadInode<T extends Inode = Inode> = T & { ref: number };

export interface DirectoryEntry {
  name: Uint8Array;
  /** The *basic* inode type the entry states (1–7). */
  type: number;
  inodeNumber: number;
  /** Reference of the inode, relative to the inode table. */
  ref: number;
}

export interface WalkEntry {
  /** Path from the root, '/'-separated raw bytes; empty for the root itself. */
  path: Uint8Array;
  inode: ReadInode;
}

/** Fixed size of each inode type including the 16-byte header (format page §8.2). */
const FIXED_INODE_SIZE: Record<number, number> = {
  1: 32,
  2: 32,
  3: 24,
  4: 24,
  5: 24,
  6: 20,
  7: 20,
  8: 40,
  9: 56,
  10: 24,
  11: 28,
  12: 28,
  13: 24,
  14: 24,
};
/** mksquashfs stores symlink targets up to 65535 bytes (the kernel reads up to 4096). */
const MAX_SYMLINK_READ = 65535;
/** Linux's XATTR_SIZE_MAX. */
const MAX_XATTR_VALUE = 65536;
const MAX_XATTRS_PER_INODE = 65536;

const SLASH = 0x2f;
const decoder = new TextDecoder();

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
function u64(b: Uint8Array, at: number, what: string): number {
  const lo = u32(b, at);
  const hi = u32(b, at + 4);
  if (lo === 0xffffffff && hi === 0xffffffff) return -1;
  if (hi >= 0x200000) throw new SquashfsError('CORRUPT', `${what}: 64-bit value too large`);
  return hi * 0x1_0000_0000 + lo;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Prints raw name bytes for messages: UTF-8 where valid, \xNN otherwise. */
export function showName(name: Uint8Array): string {
  let out = '';
  for (const byte of name) {
    out +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * A directory entry name must be usable as exactly one path component: 1–256 bytes, no '/', no
 * NUL, not '.' or '..' (format page §17.19). Anything else is corrupt, and dangerous to extract.
 */
export function checkEntryName(name: Uint8Array, where: string): void {
  const bad =
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    name.includes(SLASH) ||
    name.includes(0) ||
    (name.length === 1 && name[0] === 0x2e) ||
    (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
  if (bad) {
    throw new SquashfsError(
      'CORRUPT',
      `${where}: invalid entry name "${showName(name)}" (names must be 1-256 bytes without '/' or NUL, and not '.' or '..')`,
    );
  }
}

export class SquashfsImage {
  readonly superblock: Superblock;
  readonly compressorOptions: Uint8Array | null;
  readonly compressionName: string;
  readonly blockSize: number;
  /** The root directory inode. */
  root!: ReadInode<DirInode>;

  private readonly inodes: MetadataReader;
  private readonly dirs: MetadataReader;
  private readonly tableBlocks: MetadataReader;
  private readonly ids: LookupTable<number>;
  private readonly fragments: LookupTable<FragmentEntry> | undefined;
  private readonly exports: LookupTable<number> | undefined;
  private xattrIds: LookupTable<XattrIdEntry> | undefined;
  private kv: MetadataReader | undefined;
  private readonly fragmentCache = new Map<number, Promise<Uint8Array>>();

  private constructor(
    private readonly source: ImageSource,
    loaded: Awaited<ReturnType<typeof loadSuperblock>>,
  ) {
    const sb = loaded.superblock;
    this.superblock = sb;
    this.compressorOptions = loaded.compressorOptions;
    this.compressionName = loaded.compressionName;
    this.blockSize = sb.blockSize;
    this.compressor = loaded.compressor;
    const c = loaded.compressor;
    this.inodes = new MetadataReader(
      source,
      c,
      sb.inodeTableStart,
      sb.directoryTableStart,
      'inode table',
    );
    this.dirs = new MetadataReader(
      source,
      c,
      sb.directoryTableStart,
      sb.bytesUsed,
      'directory table',
    );
    this.tableBlocks = new MetadataReader(source, c, 0, sb.bytesUsed, 'lookup table', 16);
    const table = <T>(
      what: string,
      start: number,
      count: number,
      size: number,
      decode: (r: ByteReader) => T,
    ) =>
      new LookupTable<T>(source, this.tableBlocks, what, start, count, size, sb.bytesUsed, decode);
    this.ids = table('id table', sb.idTableStart, sb.idCount, ID_ENTRY_SIZE, (r) => r.u32());
    this.fragments =
      sb.fragmentCount > 0
        ? table(
            'fragment table',
            sb.fragmentTableStart,
            sb.fragmentCount,
            FRAGMENT_ENTRY_SIZE,
            decodeFragmentEntry,
          )
        : undefined;
    this.exports =
      sb.exportTableStart !== -1
        ? table('export table', sb.exportTableStart, sb.inodeCount, EXPORT_ENTRY_SIZE, (r) =>
            r.u64(),
          )
        : undefined;
  }

  readonly compressor: Decompressor;

  static async open(source: ImageSource): Promise<SquashfsImage> {
    try {
      const image = new SquashfsImage(source, await loadSuperblock(source));
      await image.loadXattrTable();
      const root = await image.inode(image.superblock.rootInode);
      if (root.kind !== 'dir') {
        throw new SquashfsError('CORRUPT', `the root inode is a ${root.kind}, not a directory`, {
          offset: 0x20,
        });
      }
      image.root = root;
      return image;
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  private async loadXattrTable(): Promise<void> {
    const sb = this.superblock;
    if (sb.xattrIdTableStart === -1) return;
    const raw = await this.source.read(
      sb.xattrIdTableStart,
      XATTR_ID_HEADER_SIZE,
      'xattr id table header',
      sb.bytesUsed,
    );
    const { kvStart, count } = decodeXattrIdHeader(
      new ByteReader(raw, 0, sb.xattrIdTableStart, 'xattr id table header'),
    );
    if (kvStart < 0 || kvStart >= sb.xattrIdTableStart) {
      throw new SquashfsError(
        'CORRUPT',
        `xattr id table header: kv_start ${kvStart} is not before the header at ${sb.xattrIdTableStart}`,
        { offset: sb.xattrIdTableStart },
      );
    }
    this.kv = new MetadataReader(
      this.source,
      this.compressor,
      kvStart,
      sb.bytesUsed,
      'xattr table',
    );
    this.xattrIds = new LookupTable(
      this.source,
      this.tableBlocks,
      'xattr id table',
      sb.xattrIdTableStart + XATTR_ID_HEADER_SIZE,
      count,
      XATTR_ID_ENTRY_SIZE,
      sb.bytesUsed,
      decodeXattrIdEntry,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Inodes
  // -------------------------------------------------------------------------------------------

  /** Reads the inode at a reference relative to the inode table. */
  async inode(ref: number): Promise<ReadInode> {
    if (refOffset(ref) >= METADATA_SIZE) {
      throw new SquashfsError(
        'CORRUPT',
        `inode reference 0x${ref.toString(16)}: offset ${refOffset(ref)} exceeds 8191`,
      );
    }
    const cursor = this.inodes.at(ref);
    const where = `inode at reference 0x${ref.toString(16)} (${cursor.describe()})`;
    const at = { offset: this.inodes.absolute(refBlock(ref)) };
    const head = await cursor.read(16);
    const type = u16(head, 0);
    const fixed = FIXED_INODE_SIZE[type];
    if (fixed === undefined)
      throw new SquashfsError('CORRUPT', `${where}: unknown inode type ${type}`, at);
    const body = await cursor.read(fixed - 16);
    const parts = [head, body];
    switch (type) {
      case InodeType.ExtDir: {
        const count = u16(body, 16);
        for (let i = 0; i < count; i++) {
          const entry = await cursor.read(12);
          const nameLength = u32(entry, 8) + 1;
          if (nameLength > MAX_NAME_LENGTH) {
            throw new SquashfsError(
              'CORRUPT',
              `${where}: directory index name of ${nameLength} bytes`,
              at,
            );
          }
          parts.push(entry, await cursor.read(nameLength));
        }
        break;
      }
      case InodeType.File:
      case InodeType.ExtFile: {
        const basic = type === InodeType.File;
        const fragment = u32(body, basic ? 4 : 28);
        const size = basic ? u32(body, 12) : u64(body, 8, where);
        const count =
          fragment === NO_INDEX
            ? Math.ceil(size / this.blockSize)
            : Math.floor(size / this.blockSize);
        // The cursor allocates only what the table really holds, so a huge count in a corrupt
        // inode fails at the end of the inode table instead of allocating it.
        parts.push(await cursor.read(count * 4));
        break;
      }
      case InodeType.Symlink:
      case InodeType.ExtSymlink: {
        const length = u32(body, 4);
        if (length > MAX_SYMLINK_READ) {
          throw new SquashfsError('CORRUPT', `${where}: symlink target of ${length} bytes`, at);
        }
        parts.push(await cursor.read(length + (type === InodeType.ExtSymlink ? 4 : 0)));
        break;
      }
    }
    let total = 0;
    for (const p of parts) total += p.length;
    const bytes = new Uint8Array(total);
    total = 0;
    for (const p of parts) {
      bytes.set(p, total);
      total += p.length;
    }
    let inode: Inode;
    try {
      inode = decodeInode(new ByteReader(bytes, 0, 0, where), this.blockSize);
    } catch (err) {
      if (err instanceof SquashfsError) {
        throw new SquashfsError(err.code, `${where}: ${err.message}`, { ...at, cause: err });
      }
      throw err;
    }
    if (inode.inodeNumber === 0 || inode.inodeNumber > this.superblock.inodeCount) {
      throw new SquashfsError(
        'CORRUPT',
        `${where}: inode number ${inode.inodeNumber} is outside 1..${this.superblock.inodeCount}`,
        at,
      );
    }
    return Object.assign(inode, { ref });
  }

  /** The uid and gid values of an inode, from the id table. */
  async owner(inode: Inode): Promise<{ uid: number; gid: number }> {
    return { uid: await this.ids.get(inode.uidIndex), gid: await this.ids.get(inode.gidIndex) };
  }

  /** The reference of inode number `n` from the export table, if the image has one. */
  async exportRef(n: number): Promise<number | undefined> {
    if (this.exports === undefined) return undefined;
    return this.exports.get(n - 1);
  }

  // -------------------------------------------------------------------------------------------
  // Directories
  // -------------------------------------------------------------------------------------------

  /** All entries of a directory, checked: valid names, strictly increasing byte order. */
  async readdir(dir: ReadInode): Promise<DirectoryEntry[]> {
    const d = this.asDir(dir);
    const out: DirectoryEntry[] = [];
    let previous: Uint8Array | undefined;
    for await (const entry of this.listing(d, d.startBlock, d.offset, 0)) {
      if (previous !== undefined && compareBytes(previous, entry.name) >= 0) {
        throw new SquashfsError(
          'CORRUPT',
          `directory inode ${d.inodeNumber}: entry "${showName(entry.name)}" is ${
            compareBytes(previous, entry.name) === 0 ? 'a duplicate' : 'out of order'
          } (names must be unique and sorted by bytes)`,
        );
      }
      previous = entry.name;
      out.push(entry);
    }
    return out;
  }

  /**
   * Looks one name up in a directory as the kernel does: skips ahead with the directory index
   * of an extended directory, then reads runs in order and stops at the first greater name.
   */
  async lookupEntry(dir: ReadInode, name: Uint8Array): Promise<DirectoryEntry | undefined> {
    const d = this.asDir(dir);
    let block = d.startBlock;
    let offset = d.offset;
    let consumed = 0;
    for (const idx of d.index) {
      if (compareBytes(idx.name, name) > 0) break;
      if (idx.index < consumed || idx.index >= d.fileSize - 3) {
        throw new SquashfsError(
          'CORRUPT',
          `directory inode ${d.inodeNumber}: index entry "${showName(idx.name)}" points at listing byte ${idx.index}, outside ${consumed}..${d.fileSize - 3}`,
        );
      }
      block = idx.start;
      offset = (idx.index + d.offset) % METADATA_SIZE;
      consumed = idx.index;
    }
    for await (const entry of this.listing(d, block, offset, consumed)) {
      const c = compareBytes(entry.name, name);
      if (c === 0) return entry;
      if (c > 0) return undefined;
    }
    return undefined;
  }

  private asDir(inode: ReadInode): ReadInode<DirInode> {
    if (inode.kind !== 'dir') {
      throw new SquashfsError('INVALID_ARGUMENT', `inode ${inode.inodeNumber} is not a directory`);
    }
    return inode;
  }

  /** The runs of a listing from a position in it; every count and length checked. */
  private async *listing(
    dir: DirInode,
    block: number,
    offset: number,
    consumedAtStart: number,
  ): AsyncGenerator<DirectoryEntry> {
    const where = `directory inode ${dir.inodeNumber}`;
    if (dir.fileSize < 3) {
      throw new SquashfsError('CORRUPT', `${where}: file_size ${dir.fileSize} is below 3`);
    }
    const total = dir.fileSize - 3;
    if (total === 0) return;
    if (offset >= METADATA_SIZE) {
      throw new SquashfsError('CORRUPT', `${where}: listing offset ${offset} exceeds 8191`);
    }
    const cursor = this.dirs.cursor(block, offset);
    let consumed = consumedAtStart;
    // Each pass consumes at least 12 bytes of a listing of `total` bytes.
    while (consumed < total) {
      if (total - consumed < DIR_HEADER_SIZE) {
        throw new SquashfsError(
          'CORRUPT',
          `${where}: ${total - consumed} bytes left in the listing, too few for a run header (file_size wrong?)`,
        );
      }
      const header = decodeDirHeader(
        new ByteReader(await cursor.read(DIR_HEADER_SIZE), 0, 0, `${where} run header`),
      );
      consumed += DIR_HEADER_SIZE;
      if (header.count > DIR_RUN_MAX) {
        throw new SquashfsError(
          'CORRUPT',
          `${where}: a run header at listing byte ${consumed - DIR_HEADER_SIZE} claims ${header.count} entries (at most 256)`,
        );
      }
      for (let i = 0; i < header.count; i++) {
        const fixed = await cursor.read(DIR_ENTRY_SIZE);
        const nameLength = u16(fixed, 6) + 1;
        if (nameLength > MAX_NAME_LENGTH) {
          throw new SquashfsError(
            'CORRUPT',
            `${where}: entry name of ${nameLength} bytes (at most 256)`,
          );
        }
        const name = (await cursor.read(nameLength)).slice();
        consumed += DIR_ENTRY_SIZE + nameLength;
        if (consumed > total) {
          throw new SquashfsError(
            'CORRUPT',
            `${where}: entries run past the listing size ${total} (file_size ${dir.fileSize})`,
          );
        }
        checkEntryName(name, where);
        const entryOffset = u16(fixed, 0);
        const delta = (u16(fixed, 2) << 16) >> 16;
        const type = u16(fixed, 4);
        if (type < 1 || type > 7) {
          throw new SquashfsError(
            'CORRUPT',
            `${where}: entry "${showName(name)}" has type ${type}`,
          );
        }
        if (entryOffset >= METADATA_SIZE) {
          throw new SquashfsError(
            'CORRUPT',
            `${where}: entry "${showName(name)}" has inode offset ${entryOffset} (at most 8191)`,
          );
        }
        const inodeNumber = header.inodeNumber + delta;
        if (inodeNumber < 1 || inodeNumber > this.superblock.inodeCount) {
          throw new SquashfsError(
            'CORRUPT',
            `${where}: entry "${showName(name)}" has inode number ${inodeNumber}, outside 1..${this.superblock.inodeCount}`,
          );
        }
        yield { name, type, inodeNumber, ref: makeRef(header.startBlock, entryOffset) };
      }
    }
  }

  /** The inode an entry names, checked against what the entry says about it. */
  async child(entry: DirectoryEntry): Promise<ReadInode> {
    const inode = await this.inode(entry.ref);
    if (inode.inodeNumber !== entry.inodeNumber || basicTypeOf(inode.type) !== entry.type) {
      throw new SquashfsError(
        'CORRUPT',
        `entry "${showName(entry.name)}" says inode ${entry.inodeNumber} of type ${entry.type}, but its inode is number ${inode.inodeNumber} of type ${inode.type}`,
      );
    }
    return inode;
  }

  /**
   * The inode at a path ('/'-separated, relative to the root; '' or '/' is the root), or
   * undefined if no such entry exists. Symlinks are not followed.
   */
  async lookup(path: string | Uint8Array): Promise<ReadInode | undefined> {
    const bytes = typeof path === 'string' ? new TextEncoder().encode(path) : path;
    let current: ReadInode = this.root;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== SLASH) continue;
      const part = bytes.subarray(start, i);
      start = i + 1;
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
      if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) {
        throw new SquashfsError('INVALID_ARGUMENT', `path ${showName(bytes)}: '..' is not allowed`);
      }
      if (current.kind !== 'dir') return undefined;
      const entry = await this.lookupEntry(current, part);
      if (entry === undefined) return undefined;
      current = await this.child(entry);
    }
    return current;
  }

  /**
   * Every entry under `from` (default: the root), depth first, each directory's entries in name
   * order, `from` itself first. A directory reached twice (a loop, or a hard-linked directory)
   * is corrupt. Paths are relative to `from`.
   */
  async *walk(
    from: ReadInode = this.root,
    prefix: Uint8Array = new Uint8Array(0),
  ): AsyncGenerator<WalkEntry> {
    yield { path: prefix, inode: from };
    if (from.kind !== 'dir') return;
    const seen = new Set<number>([from.ref]);
    const stack: { path: Uint8Array; entries: DirectoryEntry[]; next: number }[] = [
      { path: prefix, entries: await this.readdir(from), next: 0 },
    ];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next >= top.entries.length) {
        stack.pop();
        continue;
      }
      const entry = top.entries[top.next++]!;
      const inode = await this.child(entry);
      const path = joinPath(top.path, entry.name);
      yield { path, inode };
      if (inode.kind === 'dir') {
        if (seen.has(inode.ref)) {
          throw new SquashfsError(
            'CORRUPT',
            `directory ${showName(path)} (inode ${inode.inodeNumber}) was already visited: a directory loop or a hard-linked directory`,
          );
        }
        seen.add(inode.ref);
        stack.push({ path, entries: await this.readdir(inode), next: 0 });
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Contents
  // -------------------------------------------------------------------------------------------

  readlink(inode: ReadInode): Uint8Array {
    if (inode.kind !== 'symlink') {
      throw new SquashfsError('INVALID_ARGUMENT', `inode ${inode.inodeNumber} is not a symlink`);
    }
    return (inode as SymlinkInode).target;
  }

  /**
   * The bytes of a regular file, one block per chunk (sparse blocks as zeros, the fragment tail
   * last). Each chunk is a fresh buffer of exactly the expected length.
   */
  async *readFile(inode: ReadInode): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.readFileChunks(inode)) {
      yield typeof chunk === 'number' ? new Uint8Array(chunk) : chunk;
    }
  }

  /**
   * Like readFile, but a sparse block comes as its length (a number) instead of zeros, so that
   * an extractor can leave a hole and a 4 GiB sparse file costs no 4 GiB of buffers.
   */
  async *readFileChunks(inode: ReadInode): AsyncGenerator<Uint8Array | number> {
    if (inode.kind !== 'file') {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `inode ${inode.inodeNumber} is not a regular file`,
      );
    }
    const file = inode as FileInode;
    const bs = this.blockSize;
    const where = `file inode ${file.inodeNumber}`;
    const hasFragment = file.fragment !== NO_INDEX;
    const tail = file.fileSize % bs;
    if (hasFragment && tail === 0) {
      throw new SquashfsError(
        'CORRUPT',
        `${where}: uses a fragment although its size ${file.fileSize} is a multiple of the block size`,
      );
    }
    const n = file.blockSizes.length;
    let position = file.blocksStart;
    for (let i = 0; i < n; i++) {
      const word = file.blockSizes[i]!;
      const expected = i < n - 1 || hasFragment ? bs : file.fileSize - i * bs;
      if (word === 0) {
        yield expected;
        continue;
      }
      yield await this.dataBlock(word, position, expected, `${where} block ${i}`);
      position += word & DATA_SIZE_MASK;
    }
    if (hasFragment) {
      const block = await this.fragmentBlock(file.fragment, where);
      if (file.fragmentOffset + tail > block.length) {
        throw new SquashfsError(
          'CORRUPT',
          `${where}: its ${tail}-byte tail at offset ${file.fragmentOffset} lies outside fragment ${file.fragment} (${block.length} bytes)`,
        );
      }
      yield block.slice(file.fragmentOffset, file.fragmentOffset + tail);
    }
  }

  /** Reads and decodes one data or fragment block; `expected` = exact length, or -1 for "≤ bs". */
  private async dataBlock(
    word: number,
    position: number,
    expected: number,
    what: string,
  ): Promise<Uint8Array> {
    const bs = this.blockSize;
    const size = word & DATA_SIZE_MASK;
    if ((word & ~(DATA_SIZE_MASK | DATA_UNCOMPRESSED)) !== 0 || size > bs || size === 0) {
      throw new SquashfsError(
        'CORRUPT',
        `${what}: size word 0x${word.toString(16)} is invalid (on-disk size 1..${bs}, bits 25-31 clear)`,
        { offset: position },
      );
    }
    const bytes = await this.source.read(position, size, what, this.superblock.bytesUsed);
    let out: Uint8Array;
    if ((word & DATA_UNCOMPRESSED) !== 0) out = bytes.slice();
    else {
      try {
        out = this.compressor.decompress(bytes, bs);
      } catch (err) {
        throw new SquashfsError(
          'CORRUPT',
          `${what} at byte ${position} does not decompress: ${(err as Error).message}`,
          { offset: position, cause: err },
        );
      }
    }
    if (expected >= 0 ? out.length !== expected : out.length > bs || out.length === 0) {
      throw new SquashfsError(
        'CORRUPT',
        `${what} at byte ${position} decodes to ${out.length} bytes, expected ${expected >= 0 ? expected : `1..${bs}`}`,
        { offset: position },
      );
    }
    return out;
  }

  private fragmentBlock(index: number, where: string): Promise<Uint8Array> {
    const hit = this.fragmentCache.get(index);
    if (hit !== undefined) return hit;
    const loading = (async () => {
      if (this.fragments === undefined) {
        throw new SquashfsError(
          'CORRUPT',
          `${where}: uses fragment ${index}, but the image has none`,
        );
      }
      const entry = await this.fragments.get(index);
      return this.dataBlock(entry.sizeWord, entry.start, -1, `fragment block ${index}`);
    })();
    this.fragmentCache.set(index, loading);
    loading.catch(() => this.fragmentCache.delete(index));
    // A few fragment blocks cover files read in order; keep memory at a few block sizes.
    while (this.fragmentCache.size > 4) {
      this.fragmentCache.delete(this.fragmentCache.keys().next().value as number);
    }
    return loading;
  }

  /** The xattrs of an inode in stored order, out-of-line values resolved. */
  async xattrs(inode: ReadInode): Promise<Xattr[]> {
    const index = (inode as DirInode | FileInode | SymlinkInode | DeviceInode | IpcInode).xattr;
    if (index === NO_INDEX) return [];
    const where = `xattrs of inode ${inode.inodeNumber}`;
    if (this.xattrIds === undefined || this.kv === undefined) {
      throw new SquashfsError(
        'CORRUPT',
        `${where}: xattr index ${index}, but the image has no xattr table`,
      );
    }
    const entry = await this.xattrIds.get(index);
    if (entry.count > MAX_XATTRS_PER_INODE) {
      throw new SquashfsError('CORRUPT', `${where}: ${entry.count} xattrs`);
    }
    const cursor = this.kv.at(entry.ref);
    const out: Xattr[] = [];
    for (let i = 0; i < entry.count; i++) {
      const key = await cursor.read(4);
      const type = u16(key, 0);
      const prefix = XATTR_PREFIXES[type & 0xff];
      if (prefix === undefined || (type & ~(0xff | XATTR_VALUE_OUT_OF_LINE)) !== 0) {
        throw new SquashfsError('CORRUPT', `${where}: key ${i} has type 0x${type.toString(16)}`);
      }
      const suffix = await cursor.read(u16(key, 2));
      const name = prefix + decoder.decode(suffix);
      const size = u32(await cursor.read(4), 0);
      let value: Uint8Array;
      if ((type & XATTR_VALUE_OUT_OF_LINE) !== 0) {
        if (size !== 8) {
          throw new SquashfsError(
            'CORRUPT',
            `${where}: ${name} is out of line with a ${size}-byte reference`,
          );
        }
        const ref = u64(await cursor.read(8), 0, where);
        if (ref < 0 || refOffset(ref) >= METADATA_SIZE) {
          throw new SquashfsError('CORRUPT', `${where}: ${name} has an invalid value reference`);
        }
        const valueCursor = this.kv.at(ref);
        const length = u32(await valueCursor.read(4), 0);
        if (length > MAX_XATTR_VALUE) {
          throw new SquashfsError('CORRUPT', `${where}: ${name} has a ${length}-byte value`);
        }
        value = (await valueCursor.read(length)).slice();
      } else {
        if (size > MAX_XATTR_VALUE) {
          throw new SquashfsError('CORRUPT', `${where}: ${name} has a ${size}-byte value`);
        }
        value = (await cursor.read(size)).slice();
      }
      out.push({ name, value });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

export function joinPath(parent: Uint8Array, name: Uint8Array): Uint8Array {
  if (parent.length === 0) return name;
  const out = new Uint8Array(parent.length + 1 + name.length);
  out.set(parent, 0);
  out[parent.length] = SLASH;
  out.set(name, parent.length + 1);
  return out;
}

/** Opens an image file (read through a file handle) or an image held in memory. */
export async function openImage(pathOrBytes: string | Uint8Array): Promise<SquashfsImage> {
  return SquashfsImage.open(await openSource(pathOrBytes));
}
