/**
 * The byte map behind `tsquashfs inspect`: every byte of an image file attributed to the
 * structure that owns it (format page §1, §13): the superblock, the compressor options block,
 * each file's data blocks (named by inode and path), each fragment block, every metadata block of
 * the inode, directory, fragment, export, id, xattr key/value and xattr-id tables, each location
 * list, the xattr-id header, and the padding after bytes_used.
 *
 * How it is found:
 * - Lookup tables (fragment, export, id, xattr-id) are read from their location lists; their
 *   blocks are exactly the listed positions.
 * - The inode, directory and xattr key/value streams are followed block by block from their start
 *   (`header + on-disk length`) up to the first byte another table claims (the next table's first
 *   block or list, the xattr-id header, or bytes_used).
 * - Data blocks come from the file inodes the reader's tree walk reaches, plus any inode only the
 *   export table names (unreachable from the root). Blocks two files share (de-duplication) are
 *   one region naming both; sparse blocks take no bytes. Fragment blocks come from the fragment
 *   table.
 *
 * The claims are then swept into a partition of [0, file size): bytes no structure claims become
 * `unaccounted` regions (a warning), bytes two structures claim become `overlap` regions (an
 * error, except identical shared data blocks, which are one claim). The regions' lengths therefore
 * always add up to the file size. Nothing here throws on a damaged image once the superblock
 * magic is right: what cannot be read is reported as a problem and left unclaimed.
 */
import { canDecompress, createDecompressor, type Decompressor } from '../compress/index.js';
import { SquashfsError } from '../errors.js';
import {
  COMPRESSION_NAMES,
  DATA_SIZE_MASK,
  DATA_UNCOMPRESSED,
  Flags,
  METADATA_SIZE,
  NO_INDEX,
  SQUASHFS_MAGIC,
} from '../format/constants.js';
import type { FileInode } from '../format/inode.js';
import { decodeMetadataHeader, METADATA_HEADER_SIZE } from '../format/metadata.js';
import { SUPERBLOCK_SIZE, type Superblock } from '../format/superblock.js';
import {
  decodeFragmentEntry,
  decodeXattrIdHeader,
  EXPORT_ENTRY_SIZE,
  FRAGMENT_ENTRY_SIZE,
  ID_ENTRY_SIZE,
  tableBlockCount,
  XATTR_ID_ENTRY_SIZE,
  XATTR_ID_HEADER_SIZE,
  type FragmentEntry,
} from '../format/tables.js';
import { ByteReader, getU64 } from '../io/bytes.js';
import { describeCompressorOptions, type CompressorOptionsInfo } from './compressor-options.js';
import { openImage, showName, type ReadInode, type SquashfsImage } from './image.js';
import { openSource, type ImageSource } from './source.js';
import { superblockFields, type SuperblockField } from './superblock-fields.js';
import { readSuperblock } from './superblock.js';

export const INSPECT_SCHEMA = 'tsquashfs-inspect/1';

export type RegionKind =
  | 'superblock'
  | 'compressor-options'
  | 'data'
  | 'fragment-block'
  | 'metadata-block'
  | 'location-list'
  | 'xattr-id-header'
  | 'padding'
  | 'unaccounted'
  | 'overlap';

/** The kinds in the order the summary lists them. */
export const REGION_KINDS: readonly RegionKind[] = [
  'superblock',
  'compressor-options',
  'data',
  'fragment-block',
  'metadata-block',
  'location-list',
  'xattr-id-header',
  'padding',
  'unaccounted',
  'overlap',
];

export type TableName =
  'inode' | 'directory' | 'fragment' | 'export' | 'id' | 'xattr-kv' | 'xattr-id';

const TABLE_TITLES: Record<TableName, string> = {
  inode: 'inode table',
  directory: 'directory table',
  fragment: 'fragment table',
  export: 'export table',
  id: 'id table',
  'xattr-kv': 'xattr key/value table',
  'xattr-id': 'xattr id table',
};

/** A file whose data blocks a `data` region holds. */
export interface DataOwner {
  /** Inode number. */
  inode: number;
  /** Paths of the inode from the root ('/'-separated, bytes outside printable ASCII and '\' as \xNN); empty if only the export table reaches it. */
  paths: string[];
  /** Index in the file's block list of the region's first block. */
  firstBlock: number;
}

export interface MapRegion {
  offset: number;
  length: number;
  kind: RegionKind;
  /** One line for people. */
  detail: string;
  /** metadata-block, location-list: the table. */
  table?: TableName;
  /** metadata-block: ordinal of the block in its table; fragment-block: fragment index. */
  index?: number;
  /** metadata-block, fragment-block, compressor-options: whether the payload is compressed. */
  compressed?: boolean;
  /** metadata-block, fragment-block: decoded size; null when it could not be decoded. data: the files' bytes the blocks hold. */
  uncompressedLength?: number | null;
  /** location-list: number of u64 entries. */
  entries?: number;
  /** data: the files whose blocks these are (more than one: de-duplicated blocks). */
  owners?: DataOwner[];
  /** data: number of blocks in the run. */
  blocks?: number;
  /** data: how many of them are stored uncompressed. */
  rawBlocks?: number;
  /** fragment-block: number of file inodes with their tail in it (absent if the tree walk failed). */
  files?: number;
  /** padding, unaccounted: whether every byte is zero. */
  zero?: boolean;
  /** overlap: the details of the structures that claim these bytes. */
  claimants?: string[];
}

export interface MapProblem {
  severity: 'error' | 'warning';
  /** Byte offset the problem is about, or null. */
  offset: number | null;
  message: string;
}

export interface KindSummary {
  kind: RegionKind;
  regions: number;
  bytes: number;
}

export interface ImageMap {
  schema: typeof INSPECT_SCHEMA;
  image: { name: string; size: number };
  compression: string;
  superblock: SuperblockField[];
  compressorOptions: CompressorOptionsInfo;
  /** Sorted by offset, contiguous, covering [0, image.size) exactly. */
  regions: MapRegion[];
  /** Bytes per region kind, in REGION_KINDS order, kinds with no region left out. */
  summary: KindSummary[];
  problems: MapProblem[];
}

type RegionBody = Omit<MapRegion, 'offset' | 'length'>;

interface Claim {
  offset: number;
  end: number;
  body: RegionBody;
}

interface BlockOwner {
  inode: number;
  paths: string[];
  index: number;
}

interface BlockClaim {
  offset: number;
  length: number;
  raw: boolean;
  uncompressed: number;
  owners: Map<number, BlockOwner>;
}

const MAX_PROBLEMS = 1000;
const ZERO_CHUNK = 1 << 20;

class Mapper {
  readonly claims: Claim[] = [];
  readonly problems: MapProblem[] = [];
  private droppedProblems = 0;
  /** Start positions of the tables (blocks and lists), for the ends of the streams. */
  readonly starts: number[] = [];
  readonly limit: number;

  constructor(
    readonly source: ImageSource,
    readonly sb: Superblock,
    readonly compressor: Decompressor | null,
  ) {
    this.limit = Math.min(sb.bytesUsed, source.size);
  }

  problem(severity: MapProblem['severity'], offset: number | null, message: string): void {
    if (this.problems.length >= MAX_PROBLEMS) this.droppedProblems++;
    else this.problems.push({ severity, offset, message });
  }

  finishProblems(): void {
    if (this.droppedProblems > 0) {
      this.problems.push({
        severity: 'error',
        offset: null,
        message: `${this.droppedProblems} more problems not listed`,
      });
    }
  }

  claim(offset: number, length: number, body: RegionBody): void {
    if (length <= 0) return;
    let end = offset + length;
    if (offset >= this.source.size) {
      this.problem('error', offset, `${body.detail}: starts past the end of the file`);
      return;
    }
    if (end > this.source.size) {
      this.problem('error', offset, `${body.detail}: runs past the end of the file`);
      end = this.source.size;
    }
    this.claims.push({ offset, end, body });
  }

  async read(offset: number, length: number, what: string): Promise<Uint8Array | null> {
    try {
      return await this.source.read(offset, length, what, this.limit);
    } catch (err) {
      this.problem('error', offset, (err as Error).message);
      return null;
    }
  }

  /** One metadata block at absolute `at`; claims it and returns its decoded payload. */
  async metadataBlock(
    table: TableName,
    at: number,
    ordinal: number,
  ): Promise<{ next: number; data: Uint8Array | null } | null> {
    const title = TABLE_TITLES[table];
    const header = await this.read(at, METADATA_HEADER_SIZE, `${title} block ${ordinal} header`);
    if (header === null) return null;
    const word = header[0]! | (header[1]! << 8);
    const { length, raw } = decodeMetadataHeader(word);
    const hex = `0x${word.toString(16).padStart(4, '0')}`;
    if (length === 0 || length > METADATA_SIZE) {
      this.problem(
        'error',
        at,
        `${title} block ${ordinal}: header ${hex} gives on-disk length ${length} (must be 1..8192)`,
      );
      this.claim(at, METADATA_HEADER_SIZE, {
        kind: 'metadata-block',
        table,
        index: ordinal,
        compressed: !raw,
        uncompressedLength: null,
        detail: `${title} block ${ordinal}: invalid header ${hex}`,
      });
      return null;
    }
    const payload = await this.read(at + METADATA_HEADER_SIZE, length, `${title} block ${ordinal}`);
    let data: Uint8Array | null = null;
    if (payload !== null) {
      if (raw) data = payload;
      else if (this.compressor !== null) {
        try {
          data = this.compressor.decompress(payload, METADATA_SIZE);
        } catch (err) {
          this.problem(
            'error',
            at,
            `${title} block ${ordinal} does not decompress: ${(err as Error).message}`,
          );
        }
      }
    }
    if (data !== null && data.length === 0) {
      this.problem('error', at, `${title} block ${ordinal} decodes to 0 bytes`);
    }
    const size = data === null ? '?' : String(data.length);
    this.claim(at, METADATA_HEADER_SIZE + length, {
      kind: 'metadata-block',
      table,
      index: ordinal,
      compressed: !raw,
      uncompressedLength: data === null ? null : data.length,
      detail: `${title} block ${ordinal}: header ${hex}, ${length} bytes ${raw ? 'raw' : `compressed -> ${size}`}`,
    });
    return { next: at + METADATA_HEADER_SIZE + length, data };
  }

  /** A stream of metadata blocks from `start` up to `end` (the next structure). */
  async stream(table: TableName, start: number, end: number): Promise<Uint8Array[]> {
    const title = TABLE_TITLES[table];
    const blocks: Uint8Array[] = [];
    let pos = start;
    let ordinal = 0;
    let previous: Uint8Array | null = null;
    // Every pass advances by at least 3 bytes or stops.
    while (pos < end) {
      if (previous !== null && previous.length !== METADATA_SIZE) {
        this.problem(
          'error',
          pos,
          `${title} block ${ordinal - 1} holds ${previous.length} bytes, but only the last block may hold fewer than 8192`,
        );
      }
      const block = await this.metadataBlock(table, pos, ordinal);
      if (block === null) break;
      if (block.next > end) {
        this.problem(
          'error',
          pos,
          `${title} block ${ordinal} ends at ${block.next}, past the table's end at ${end}`,
        );
      }
      if (block.data !== null) blocks.push(block.data);
      previous = block.data;
      pos = block.next;
      ordinal++;
    }
    return blocks;
  }

  /**
   * A lookup table: the location list at `listStart` and the blocks it lists. Returns the block
   * positions and the concatenated records (null if any block could not be decoded).
   */
  async lookupTable(
    table: TableName,
    listStart: number,
    count: number,
    entrySize: number,
  ): Promise<{ locations: number[]; records: Uint8Array | null }> {
    const title = TABLE_TITLES[table];
    let n = tableBlockCount(count, entrySize);
    if (listStart < 0 || listStart >= this.limit) {
      this.problem('error', null, `${title}: location list at ${listStart} is outside the image`);
      return { locations: [], records: null };
    }
    if (listStart + 8 * n > this.limit) {
      this.problem(
        'error',
        listStart,
        `${title}: ${count} entries need a ${n}-entry location list, which runs past bytes_used`,
      );
      n = Math.floor((this.limit - listStart) / 8);
    }
    this.starts.push(listStart);
    this.claim(listStart, 8 * n, {
      kind: 'location-list',
      table,
      entries: n,
      detail: `${title} location list: ${n} ${n === 1 ? 'entry' : 'entries'} for ${count} ${count === 1 ? 'record' : 'records'}`,
    });
    const list = n > 0 ? await this.read(listStart, 8 * n, `${title} location list`) : null;
    const locations: number[] = [];
    const parts: Uint8Array[] = [];
    let complete = list !== null || n === 0;
    const total = count * entrySize;
    for (let i = 0; list !== null && i < n; i++) {
      let location: number;
      try {
        location = getU64(new DataView(list.buffer, list.byteOffset, list.byteLength), i * 8);
      } catch {
        location = -1;
      }
      if (location < 0 || location >= this.limit) {
        this.problem(
          'error',
          listStart + i * 8,
          `${title}: location list entry ${i} points at ${location}, outside the image`,
        );
        complete = false;
        continue;
      }
      locations.push(location);
      const block = await this.metadataBlock(table, location, i);
      const expected = i < n - 1 ? METADATA_SIZE : total - METADATA_SIZE * (n - 1);
      if (block?.data != null) {
        if (block.data.length !== expected) {
          this.problem(
            'error',
            location,
            `${title} block ${i} holds ${block.data.length} bytes, expected ${expected}`,
          );
          complete = false;
        }
        parts.push(block.data);
      } else complete = false;
    }
    if (locations.length > 0) this.starts.push(locations[0]!);
    return { locations, records: complete ? concat(parts) : null };
  }

  /** The end of a stream starting at `start`: the first other table start at or after it. */
  streamEnd(start: number, bound: number): number {
    let end = Math.min(bound, this.limit);
    for (const s of this.starts) if (s >= start && s < end) end = s;
    return end;
  }

  async isZero(offset: number, length: number): Promise<boolean> {
    for (let at = offset; at < offset + length; at += ZERO_CHUNK) {
      const n = Math.min(ZERO_CHUNK, offset + length - at);
      let bytes: Uint8Array;
      try {
        bytes = await this.source.read(at, n, 'padding');
      } catch {
        return false;
      }
      for (const b of bytes) if (b !== 0) return false;
    }
    return true;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function displayPath(path: Uint8Array): string {
  return `/${showName(path)}`;
}

/**
 * Maps the image at `input` (a path, or the image's bytes). Throws a SquashfsError only when the
 * file is not a squashfs image at all (too small, bad magic, unreadable superblock); every other
 * problem is listed in `problems`.
 */
export async function mapImage(input: string | Uint8Array): Promise<ImageMap> {
  const source = await openSource(input);
  try {
    return await mapSource(source, input);
  } finally {
    await source.close();
  }
}

async function mapSource(source: ImageSource, input: string | Uint8Array): Promise<ImageMap> {
  const sb = await readSuperblock(source);
  if (sb.magic !== SQUASHFS_MAGIC) {
    throw new SquashfsError(
      'CORRUPT',
      `${source.name}: bad magic 0x${sb.magic.toString(16).padStart(8, '0')}: not a squashfs image`,
      { offset: 0 },
    );
  }
  const compression = COMPRESSION_NAMES[sb.compression] ?? `id ${sb.compression}`;
  const compressor = canDecompress(sb.compression)
    ? createDecompressor(sb.compression, sb.blockSize)
    : null;
  const m = new Mapper(source, sb, compressor);
  if (compressor === null) {
    m.problem(
      'warning',
      0x14,
      `${compression} blocks cannot be decoded here: uncompressed sizes are unknown and file data is not mapped`,
    );
  }
  if (sb.bytesUsed > source.size) {
    m.problem(
      'error',
      0x28,
      `bytes_used ${sb.bytesUsed} is past the end of the ${source.size}-byte file (truncated?)`,
    );
  }
  m.claim(0, SUPERBLOCK_SIZE, { kind: 'superblock', detail: 'superblock (96 bytes)' });

  // Compressor options.
  let optionsPayload: Uint8Array | null = null;
  let dataStart = SUPERBLOCK_SIZE;
  if ((sb.flags & Flags.COMPRESSOR_OPTIONS) !== 0) {
    const header = await m.read(SUPERBLOCK_SIZE, 2, 'compressor options header');
    if (header !== null) {
      const word = header[0]! | (header[1]! << 8);
      const { length, raw } = decodeMetadataHeader(word);
      if (!raw) m.problem('error', SUPERBLOCK_SIZE, 'the compressor options block is not raw');
      optionsPayload = await m.read(SUPERBLOCK_SIZE + 2, length, 'compressor options');
      dataStart = SUPERBLOCK_SIZE + 2 + length;
      m.claim(SUPERBLOCK_SIZE, 2 + length, {
        kind: 'compressor-options',
        compressed: !raw,
        detail: `${compression} options: header 0x${word.toString(16).padStart(4, '0')}, ${length}-byte payload`,
      });
    }
  }
  const compressorOptions = describeCompressorOptions(sb.compression, optionsPayload, sb.blockSize);
  for (const p of compressorOptions.problems) m.problem('warning', SUPERBLOCK_SIZE, p);

  // Lookup tables, in on-disk order.
  let fragments: FragmentEntry[] = [];
  if (sb.fragmentCount > 0) {
    const t = await m.lookupTable(
      'fragment',
      sb.fragmentTableStart,
      sb.fragmentCount,
      FRAGMENT_ENTRY_SIZE,
    );
    if (t.records !== null) {
      const r = new ByteReader(t.records, 0, 0, 'fragment table');
      fragments = Array.from({ length: sb.fragmentCount }, () => decodeFragmentEntry(r));
    }
  }
  let exportRefs: number[] = [];
  if (sb.exportTableStart !== -1) {
    const t = await m.lookupTable('export', sb.exportTableStart, sb.inodeCount, EXPORT_ENTRY_SIZE);
    if (t.records !== null) {
      const r = new ByteReader(t.records, 0, 0, 'export table');
      try {
        exportRefs = Array.from({ length: sb.inodeCount }, () => r.u64());
      } catch (err) {
        m.problem('error', sb.exportTableStart, `export table: ${(err as Error).message}`);
      }
    }
  }
  await m.lookupTable('id', sb.idTableStart, sb.idCount, ID_ENTRY_SIZE);
  let kvStart = -1;
  if (sb.xattrIdTableStart !== -1) {
    const at = sb.xattrIdTableStart;
    const raw = await m.read(at, XATTR_ID_HEADER_SIZE, 'xattr id table header');
    if (raw !== null) {
      const header = decodeXattrIdHeader(new ByteReader(raw, 0, at, 'xattr id table header'));
      m.claim(at, XATTR_ID_HEADER_SIZE, {
        kind: 'xattr-id-header',
        detail: `xattr id table header: kv_start ${header.kvStart}, ${header.count} xattr ids`,
      });
      m.starts.push(at);
      await m.lookupTable('xattr-id', at + XATTR_ID_HEADER_SIZE, header.count, XATTR_ID_ENTRY_SIZE);
      kvStart = header.kvStart;
      if (kvStart < 0 || kvStart >= at) {
        m.problem('error', at, `xattr id table header: kv_start ${kvStart} is not before it`);
        kvStart = -1;
      }
    }
  }
  m.starts.push(sb.inodeTableStart, sb.directoryTableStart, m.limit);
  if (kvStart !== -1) {
    await m.stream('xattr-kv', kvStart, m.streamEnd(kvStart + 1, m.limit));
    m.starts.push(kvStart);
  }
  // The streams: the inode table ends at the directory table (or an earlier table, if the
  // superblock is wrong); the directory table at the next table's first block.
  if (sb.inodeTableStart >= 0 && sb.inodeTableStart < m.limit) {
    await m.stream('inode', sb.inodeTableStart, m.streamEnd(sb.inodeTableStart + 1, m.limit));
  } else m.problem('error', 0x40, `inode_table_start ${sb.inodeTableStart} is outside the image`);
  const dirStart = sb.directoryTableStart;
  if (dirStart >= 0 && dirStart <= m.limit) {
    // An empty directory table starts where the next table starts.
    const empty = m.starts.filter((s) => s === dirStart).length > 1;
    await m.stream('directory', dirStart, empty ? dirStart : m.streamEnd(dirStart + 1, m.limit));
  } else {
    m.problem('error', 0x48, `directory_table_start ${dirStart} is outside the image`);
  }

  // Data: file blocks from the inodes, fragment blocks from the fragment table.
  const fragmentFiles = new Map<number, number>();
  const blocks = new Map<string, BlockClaim>();
  let walked = false;
  if (compressor !== null) {
    walked = await mapFiles(m, input, exportRefs, blocks, fragmentFiles);
  }
  fragments.forEach((entry, index) => {
    const size = entry.sizeWord & DATA_SIZE_MASK;
    const raw = (entry.sizeWord & DATA_UNCOMPRESSED) !== 0;
    if (
      size === 0 ||
      size > sb.blockSize ||
      (entry.sizeWord & ~(DATA_SIZE_MASK | DATA_UNCOMPRESSED)) !== 0
    ) {
      m.problem(
        'error',
        null,
        `fragment ${index}: size word 0x${entry.sizeWord.toString(16)} is invalid`,
      );
      return;
    }
    const files = fragmentFiles.get(index) ?? 0;
    m.claim(entry.start, size, {
      kind: 'fragment-block',
      index,
      compressed: !raw,
      ...(walked ? { files } : {}),
      detail: `fragment ${index}`,
    });
    if (walked && files === 0)
      m.problem('warning', entry.start, `fragment ${index} is used by no file`);
  });
  await decodeFragmentSizes(m, fragments);
  for (const run of dataRuns(blocks)) m.claim(run.offset, run.length, run.body);

  // Padding after bytes_used.
  if (source.size > sb.bytesUsed) {
    const length = source.size - sb.bytesUsed;
    const zero = await m.isZero(sb.bytesUsed, length);
    m.claim(sb.bytesUsed, length, {
      kind: 'padding',
      zero,
      detail: `padding after bytes_used: ${length} bytes${zero ? ', all zero' : ', NOT all zero'}${
        source.size % 4096 === 0 ? ', to a multiple of 4096' : ''
      }`,
    });
    if (!zero) m.problem('warning', sb.bytesUsed, 'the padding after bytes_used is not all zeros');
  }
  if (dataStart > sb.inodeTableStart) {
    m.problem('error', 0x40, `inode_table_start ${sb.inodeTableStart} is inside the options block`);
  }

  const regions = await partition(m, source.size);
  m.finishProblems();
  const summary: KindSummary[] = [];
  for (const kind of REGION_KINDS) {
    const of = regions.filter((r) => r.kind === kind);
    if (of.length > 0) {
      summary.push({ kind, regions: of.length, bytes: of.reduce((s, r) => s + r.length, 0) });
    }
  }
  return {
    schema: INSPECT_SCHEMA,
    image: { name: source.name, size: source.size },
    compression,
    superblock: superblockFields(sb, source.size),
    compressorOptions,
    regions,
    summary,
    problems: m.problems,
  };
}

/** Fills in each fragment block's decoded length (the claims were made before). */
async function decodeFragmentSizes(m: Mapper, fragments: FragmentEntry[]): Promise<void> {
  const byIndex = new Map<number, Claim>();
  for (const c of m.claims) if (c.body.kind === 'fragment-block') byIndex.set(c.body.index!, c);
  for (const [index, claim] of byIndex) {
    const entry = fragments[index]!;
    const bytes = await m.read(entry.start, claim.end - claim.offset, `fragment ${index}`);
    let length: number | null = null;
    if (bytes !== null) {
      if (!claim.body.compressed) length = bytes.length;
      else if (m.compressor !== null) {
        try {
          length = m.compressor.decompress(bytes, m.sb.blockSize).length;
        } catch (err) {
          m.problem(
            'error',
            entry.start,
            `fragment ${index} does not decompress: ${(err as Error).message}`,
          );
        }
      }
    }
    claim.body.uncompressedLength = length;
    const files = claim.body.files;
    claim.body.detail =
      `fragment ${index}: ${claim.end - claim.offset} bytes ` +
      (claim.body.compressed ? `compressed -> ${length ?? '?'}` : 'raw') +
      (files === undefined ? '' : `, tails of ${files} ${files === 1 ? 'file' : 'files'}`);
  }
}

/**
 * Walks the tree with the reader and records each file's data blocks; adds the inodes only the
 * export table names. Returns whether the walk completed.
 */
async function mapFiles(
  m: Mapper,
  input: string | Uint8Array,
  exportRefs: number[],
  blocks: Map<string, BlockClaim>,
  fragmentFiles: Map<number, number>,
): Promise<boolean> {
  let image: SquashfsImage;
  try {
    image = await openImage(input);
  } catch (err) {
    m.problem(
      'error',
      (err as SquashfsError).offset ?? null,
      `the reader cannot open the image, so file data is not mapped: ${(err as Error).message}`,
    );
    return false;
  }
  const files = new Map<number, { inode: ReadInode<FileInode>; paths: string[] }>();
  const seen = new Set<number>();
  let complete = true;
  try {
    try {
      for await (const { path, inode } of image.walk()) {
        seen.add(inode.ref);
        if (inode.kind !== 'file') continue;
        const known = files.get(inode.ref);
        if (known !== undefined) known.paths.push(displayPath(path));
        else
          files.set(inode.ref, {
            inode: inode as ReadInode<FileInode>,
            paths: [displayPath(path)],
          });
      }
    } catch (err) {
      complete = false;
      m.problem(
        'error',
        (err as SquashfsError).offset ?? null,
        `tree walk stopped, data of the files after this point is not mapped: ${(err as Error).message}`,
      );
    }
    let exportFailures = 0;
    for (const [i, ref] of exportRefs.entries()) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      try {
        const inode = await image.inode(ref);
        if (inode.kind === 'file') {
          files.set(ref, { inode: inode as ReadInode<FileInode>, paths: [] });
        }
        if (complete) {
          m.problem(
            'warning',
            null,
            `inode ${i + 1} (a ${inode.kind}) is in the export table but not reachable from the root`,
          );
        }
      } catch (err) {
        if (exportFailures++ === 0) {
          m.problem(
            'error',
            null,
            `export table entry ${i} (inode ${i + 1}): ${(err as Error).message}`,
          );
        }
      }
    }
  } finally {
    await image.close();
  }
  const bs = m.sb.blockSize;
  for (const { inode, paths } of files.values()) {
    if (inode.fragment !== NO_INDEX) {
      fragmentFiles.set(inode.fragment, (fragmentFiles.get(inode.fragment) ?? 0) + 1);
    }
    const n = inode.blockSizes.length;
    let position = inode.blocksStart;
    for (let i = 0; i < n; i++) {
      const word = inode.blockSizes[i]!;
      if (word === 0) continue;
      const size = word & DATA_SIZE_MASK;
      if (size > bs || (word & ~(DATA_SIZE_MASK | DATA_UNCOMPRESSED)) !== 0) {
        m.problem(
          'error',
          position,
          `inode ${inode.inodeNumber} block ${i}: invalid size word 0x${word.toString(16)}; its later blocks are not mapped`,
        );
        break;
      }
      const key = `${position}:${size}`;
      let claim = blocks.get(key);
      if (claim === undefined) {
        const last = i === n - 1 && inode.fragment === NO_INDEX;
        claim = {
          offset: position,
          length: size,
          raw: (word & DATA_UNCOMPRESSED) !== 0,
          uncompressed: last ? inode.fileSize - i * bs : bs,
          owners: new Map(),
        };
        blocks.set(key, claim);
      }
      if (!claim.owners.has(inode.ref)) {
        claim.owners.set(inode.ref, { inode: inode.inodeNumber, paths, index: i });
      }
      position += size;
    }
  }
  return complete;
}

/** Joins consecutive blocks with the same owners (each at its next block) into one region. */
function dataRuns(
  blocks: Map<string, BlockClaim>,
): { offset: number; length: number; body: RegionBody }[] {
  const sorted = [...blocks.values()].sort((a, b) => a.offset - b.offset || a.length - b.length);
  const runs: {
    offset: number;
    length: number;
    first: BlockClaim;
    count: number;
    raw: number;
    uncompressed: number;
  }[] = [];
  for (const b of sorted) {
    const run = runs[runs.length - 1];
    const continues =
      run !== undefined &&
      run.offset + run.length === b.offset &&
      run.first.owners.size === b.owners.size &&
      [...b.owners].every(([ref, o]) => {
        const start = run.first.owners.get(ref);
        return start !== undefined && start.index + run.count === o.index;
      });
    if (continues) {
      run.length += b.length;
      run.count++;
      run.raw += b.raw ? 1 : 0;
      run.uncompressed += b.uncompressed;
    } else {
      runs.push({
        offset: b.offset,
        length: b.length,
        first: b,
        count: 1,
        raw: b.raw ? 1 : 0,
        uncompressed: b.uncompressed,
      });
    }
  }
  return runs.map((run) => {
    const owners: DataOwner[] = [...run.first.owners.values()]
      .map((o) => ({ inode: o.inode, paths: o.paths, firstBlock: o.index }))
      .sort((a, b) => a.inode - b.inode);
    const name = (o: DataOwner) =>
      `inode ${o.inode} ${o.paths.length > 0 ? o.paths.join(' = ') : '(unreachable)'} block${
        run.count === 1 ? ` ${o.firstBlock}` : `s ${o.firstBlock}-${o.firstBlock + run.count - 1}`
      }`;
    return {
      offset: run.offset,
      length: run.length,
      body: {
        kind: 'data',
        owners,
        blocks: run.count,
        rawBlocks: run.raw,
        uncompressedLength: run.uncompressed,
        detail:
          owners.map(name).join('; shared with ') +
          ` (${run.count} ${run.count === 1 ? 'block' : 'blocks'}${run.raw > 0 ? `, ${run.raw} raw` : ''})`,
      },
    };
  });
}

/**
 * Sweeps the claims into regions covering [0, size): one region per stretch of bytes with the
 * same claimants; unclaimed stretches are `unaccounted`, multiply claimed ones `overlap`.
 */
async function partition(m: Mapper, size: number): Promise<MapRegion[]> {
  const claims = m.claims.sort((a, b) => a.offset - b.offset || b.end - a.end);
  const points = new Set<number>([0, size]);
  for (const c of claims) points.add(c.offset).add(c.end);
  const sorted = [...points].sort((a, b) => a - b);
  const regions: MapRegion[] = [];
  let active: Claim[] = [];
  let next = 0;
  let lastClaims: Claim[] = [];
  for (let k = 0; k + 1 < sorted.length; k++) {
    const a = sorted[k]!;
    const b = sorted[k + 1]!;
    active = active.filter((c) => c.end > a);
    while (next < claims.length && claims[next]!.offset <= a) {
      if (claims[next]!.end > a) active.push(claims[next]!);
      next++;
    }
    const last = regions[regions.length - 1];
    const same =
      last !== undefined &&
      last.offset + last.length === a &&
      lastClaims.length === active.length &&
      lastClaims.every((c, i) => c === active[i]);
    if (same) {
      last.length += b - a;
      continue;
    }
    lastClaims = [...active];
    if (active.length === 1) {
      regions.push({ offset: a, length: b - a, ...active[0]!.body });
    } else if (active.length === 0) {
      regions.push({ offset: a, length: b - a, kind: 'unaccounted', detail: '' });
    } else {
      regions.push({
        offset: a,
        length: b - a,
        kind: 'overlap',
        claimants: active.map((c) => c.body.detail),
        detail: `claimed by ${active.length} structures: ${active.map((c) => c.body.detail).join(' | ')}`,
      });
    }
  }
  for (const r of regions) {
    if (r.kind === 'unaccounted') {
      r.zero = await m.isZero(r.offset, r.length);
      r.detail = `${r.length} bytes no structure claims${r.zero ? ' (all zero)' : ''}`;
      m.problem('warning', r.offset, `bytes ${r.offset}..${r.offset + r.length - 1}: ${r.detail}`);
    } else if (r.kind === 'overlap') {
      m.problem('error', r.offset, `bytes ${r.offset}..${r.offset + r.length - 1} are ${r.detail}`);
    }
  }
  return regions;
}
