/**
 * Writes a whole image (format page §16): plan, superblock placeholder and options block, file
 * data, inode and directory tables (post-order), then the fragment, export, id and xattr tables,
 * padding to 4 KiB, and finally the superblock at offset 0. The sink is committed only when all of
 * that succeeded; on any failure it is aborted and nothing is left at the output path.
 */
import { createCompressor, type Compressor } from '../compress/index.js';
import { createBlockCompressor, defaultWorkerCount } from '../compress/pool.js';
import { SquashfsError } from '../errors.js';
import {
  DEFAULT_BLOCK_SIZE,
  Flags,
  InodeType,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  NO_INDEX,
} from '../format/constants.js';
import { encodeInodeParts, encodeRdev, type InodeBody, type InodeCommon } from '../format/inode.js';
import { encodeMetadataHeader } from '../format/metadata.js';
import { encodeSuperblock, SUPERBLOCK_SIZE } from '../format/superblock.js';
import {
  encodeFragmentEntry,
  encodeXattrIdHeader,
  XATTR_ID_HEADER_SIZE,
} from '../format/tables.js';
import { ByteBuilder } from '../io/bytes.js';
import { FileSink, StreamSink, type Sink } from '../io/sink.js';
import type { Writable } from 'node:stream';
import type { DirNode, FileNode, FileSource } from '../tree.js';
import { DataWriter } from './data-writer.js';
import { listingByteCount, writeListing, type ListingEntry } from './directory-writer.js';
import { IdTable } from './id-table.js';
import { buildLookupTable, MetadataWriter } from './metadata-writer.js';
import type { WriteOptions, WriteReport } from './options.js';
import type { PlannedDir } from './planned-inodes.js';
import { planTree } from './planner.js';
import { Prefetcher } from './prefetch.js';
import { RepeatedSizes } from './repeated-sizes.js';
import { XattrWriter } from './xattr-writer.js';

const PAD_TO = 4096;
/** Read-ahead: file bytes waiting in memory, and files open, at most. */
const PREFETCH_BYTES = 16 << 20;
const PREFETCH_FILES = 64;
const TWO_32 = 0x1_0000_0000;

const BASIC_TYPE = {
  dir: InodeType.Dir,
  file: InodeType.File,
  symlink: InodeType.Symlink,
  blockdev: InodeType.BlockDev,
  chardev: InodeType.CharDev,
  fifo: InodeType.Fifo,
  socket: InodeType.Socket,
} as const;

/** Checks the block size: a power of two from 4 KiB to 1 MiB. */
export function checkBlockSize(blockSize: number): number {
  if (
    !Number.isInteger(blockSize) ||
    blockSize < MIN_BLOCK_SIZE ||
    blockSize > MAX_BLOCK_SIZE ||
    (blockSize & (blockSize - 1)) !== 0
  ) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `block size must be a power of two from 4K to 1M, got ${blockSize}`,
    );
  }
  return blockSize;
}

/**
 * Writes `root` as a squashfs image to `output`: a path (written atomically), a Node Writable
 * stream (spooled to a temporary file, then copied into it), or any Sink.
 * The same tree and options always give the same bytes.
 */
export async function writeImage(
  root: DirNode,
  output: string | Writable | Sink,
  options: WriteOptions = {},
): Promise<WriteReport> {
  const blockSize = checkBlockSize(options.blockSize ?? DEFAULT_BLOCK_SIZE);
  const compression = options.compression ?? { name: 'gzip' };
  const compressor = createCompressor(compression, blockSize);
  const plan = planTree(root, options);
  const sink =
    typeof output === 'string'
      ? await FileSink.create(output, { durable: options.durable === true })
      : isSink(output)
        ? output
        : await StreamSink.create(output);
  try {
    const report = await writeAll(sink, plan, compressor, blockSize, options);
    await sink.commit();
    return report;
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

/**
 * Blocks the writer keeps queued for compression: enough to keep every worker busy while the
 * head of the queue is written.
 */
export function blocksInFlight(workers: number): number {
  return 2 * Math.max(workers, 1) + 2;
}

function isSink(o: Writable | Sink): o is Sink {
  return typeof (o as Sink).readAt === 'function' && typeof (o as Sink).rewind === 'function';
}

/**
 * Streams every file's data into the sink, compressing blocks in a pool of workers (when
 * anything is compressed at all), and returns where each file's data went.
 */
async function writeFileData(
  sink: Sink,
  plan: ReturnType<typeof planTree>,
  compressor: Compressor,
  blockSize: number,
  options: WriteOptions,
  what: {
    compressData: boolean;
    compressFragments: boolean;
    fragments: 'never' | 'small' | 'always';
    duplicates: boolean;
  },
): Promise<{ data: DataWriter; fileRows: Int32Array }> {
  const workers = options.workers ?? defaultWorkerCount();
  const pool =
    what.compressData || what.compressFragments
      ? createBlockCompressor(options.compression ?? { name: 'gzip' }, blockSize, workers)
      : null;
  let prefetch: Prefetcher | undefined;
  const { files, inodes } = plan;
  const sourceOf = (i: number): FileSource => (inodes.nodes[files[i]!] as FileNode).source;
  try {
    const data = await DataWriter.create(sink, {
      blockSize,
      dataCompressor: what.compressData ? pool : null,
      fragmentCompressor: what.compressFragments ? pool : null,
      decompressor: compressor,
      fragments: what.fragments,
      duplicates: what.duplicates,
      repeatedSizes: what.duplicates
        ? RepeatedSizes.of(files.length, (i) => sourceOf(i).size)
        : undefined,
      sparse: options.sparse ?? true,
      inFlight: blocksInFlight(workers),
      signal: options.signal,
    });
    // By inode row: the file's row in data.files (-1 for anything but a regular file).
    const fileRows = new Int32Array(plan.inodeCount).fill(-1);
    prefetch = new Prefetcher(files.length, sourceOf, PREFETCH_BYTES, PREFETCH_FILES);
    const progress = { filesDone: 0, filesTotal: files.length, bytesRead: 0, bytesTotal: 0 };
    for (let i = 0; i < files.length; i++) progress.bytesTotal += sourceOf(i).size;
    const onBytes = (n: number) => {
      progress.bytesRead += n;
      options.onProgress?.(progress);
    };
    for (let i = 0; i < files.length; i++) {
      const next = prefetch.next();
      // An array is the bytes of a file read at once: no promise to wait for.
      const chunks = Array.isArray(next) ? next : await next;
      const row = data.write(sourceOf(i), onBytes, chunks);
      fileRows[files[i]!] = typeof row === 'number' ? row : await row;
      progress.filesDone++;
      options.onProgress?.(progress);
    }
    await data.finish();
    return { data, fileRows };
  } finally {
    await prefetch?.close();
    await pool?.close();
  }
}

async function writeAll(
  sink: Sink,
  plan: ReturnType<typeof planTree>,
  compressor: Compressor,
  blockSize: number,
  options: WriteOptions,
): Promise<WriteReport> {
  const isNone = compressor.name === 'none';
  const noI = options.uncompressedInodes === true || isNone;
  const noD = options.uncompressedData === true || isNone;
  const noF = options.uncompressedFragments === true || isNone;
  const noX = options.uncompressedXattrs === true || isNone;
  const noId = options.uncompressedIds === true;
  const fragments = options.fragments ?? 'small';
  const duplicates = options.duplicates ?? true;
  const keepXattrs = options.xattrs ?? true;
  const exportable = options.exports ?? true;
  const orNull = (raw: boolean) => (raw ? null : compressor);

  // 1. Superblock placeholder and compressor options (one raw metadata block).
  await sink.append(new Uint8Array(SUPERBLOCK_SIZE));
  const optionsPayload = compressor.optionsPayload();
  if (optionsPayload) {
    const block = new ByteBuilder(optionsPayload.length + 2);
    block.u16(encodeMetadataHeader(optionsPayload.length, true)).bytes(optionsPayload);
    await sink.append(block.toBytes());
  }

  // 2. File data, in plan order.
  const { data, fileRows } = await writeFileData(sink, plan, compressor, blockSize, options, {
    compressData: !noD,
    compressFragments: !noF,
    fragments,
    duplicates,
  });

  options.signal?.throwIfAborted();

  // 3. Inodes and directories, post-order.
  const inodes = new MetadataWriter(orNull(noI));
  const dirs = new MetadataWriter(orNull(noI));
  const { inodes: planned } = plan;
  const ids = new IdTable((row) => planned.pathOf(row));
  const xattrs = new XattrWriter(orNull(noX));
  /** Inode references by row (NaN: not written yet); the export table lists them by number. */
  const refs = new Float64Array(plan.inodeCount).fill(NaN);
  const record = new ByteBuilder(256);
  /** The fields every inode has, refilled for each one (see encodeInodeParts). */
  const common: InodeCommon = { mode: 0, uidIndex: 0, gidIndex: 0, mtime: 0, inodeNumber: 0 };

  const emit = (row: number, body: InodeBody) => {
    const ref = inodes.nextRef();
    record.reset();
    common.mode = planned.mode.get(row);
    common.uidIndex = ids.indexOf(planned.uid.get(row), row);
    common.gidIndex = ids.indexOf(planned.gid.get(row), row);
    common.mtime = planned.mtime.get(row);
    common.inodeNumber = planned.number(row);
    encodeInodeParts(record, common, body);
    inodes.append(record.peek());
    refs[row] = ref;
    return ref;
  };

  const emitLeaf = (row: number) => {
    const node = planned.nodes[row]!;
    const nlink = planned.nlink.get(row);
    const xattr = keepXattrs ? xattrs.add(node.xattrs) : NO_INDEX;
    const ext = xattr !== NO_INDEX;
    switch (node.kind) {
      case 'file': {
        const d = data.files.get(fileRows[row]!);
        const extended =
          ext || nlink > 1 || d.fileSize >= TWO_32 || d.blocksStart >= TWO_32 || d.sparse !== 0;
        return emit(row, {
          kind: 'file',
          type: extended ? InodeType.ExtFile : InodeType.File,
          blocksStart: d.blocksStart,
          fragment: d.fragment,
          fragmentOffset: d.fragmentOffset,
          fileSize: d.fileSize,
          sparse: d.sparse,
          nlink,
          xattr,
          blockSizes: d.blockSizes,
        });
      }
      case 'symlink':
        return emit(row, {
          kind: 'symlink',
          type: ext ? InodeType.ExtSymlink : InodeType.Symlink,
          nlink,
          target: node.target,
          xattr,
        });
      case 'blockdev':
      case 'chardev':
        return emit(row, {
          kind: 'device',
          type: BASIC_TYPE[node.kind] + (ext ? 7 : 0),
          nlink,
          rdev: encodeRdev(node.major, node.minor),
          xattr,
        });
      case 'fifo':
      case 'socket':
        return emit(row, {
          kind: 'ipc',
          type: BASIC_TYPE[node.kind] + (ext ? 7 : 0),
          nlink,
          xattr,
        });
      case 'dir':
        throw new Error('unreachable: directories are emitted by emitDir');
    }
  };

  const emitDir = (dir: PlannedDir) => {
    const entries: ListingEntry[] = dir.entries.map((e, i) => {
      const child = dir.children[i]!;
      return {
        name: e.name,
        inodeRef: refs[child]!,
        inodeNumber: planned.number(child),
        basicType: BASIC_TYPE[planned.nodes[child]!.kind],
      };
    });
    const listing = writeListing(dirs, entries);
    const xattr = keepXattrs ? xattrs.add(planned.nodes[dir.row]!.xattrs) : NO_INDEX;
    const extended =
      xattr !== NO_INDEX ||
      entries.length > 256 ||
      listingByteCount(entries) >= 8192 ||
      listing.fileSize > 0xffff;
    return emit(dir.row, {
      kind: 'dir',
      type: extended ? InodeType.ExtDir : InodeType.Dir,
      startBlock: listing.startBlock,
      nlink: planned.nlink.get(dir.row),
      fileSize: listing.fileSize,
      offset: listing.offset,
      parentInode: planned.parentNumber(dir.row),
      xattr,
      index: extended ? listing.index : [],
    });
  };

  // Explicit stack: a directory is emitted after all of its children (post-order).
  const stack: { dir: PlannedDir; next: number }[] = [{ dir: planned.dirs.get(0)!, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.dir.children.length) {
      emitDir(top.dir);
      stack.pop();
      continue;
    }
    const child = top.dir.children[top.next++]!;
    if (planned.nodes[child]!.kind === 'dir')
      stack.push({ dir: planned.dirs.get(child)!, next: 0 });
    else if (Number.isNaN(refs[child])) emitLeaf(child);
  }

  options.signal?.throwIfAborted();

  // 4. Tables, in the order the kernel's placement checks expect (format page §10.2).
  const inodeTableStart = sink.position;
  const inodeTable = inodes.finish();
  await sink.append(inodeTable);
  const directoryTableStart = sink.position;
  const directoryTable = dirs.finish();
  await sink.append(directoryTable);

  // With no fragments mksquashfs writes an empty table: the field then holds the position where
  // the next table starts. The kernel ignores it when fragment_count is 0.
  let fragmentTableStart = sink.position;
  const fragmentTable = data.fragmentTable;
  if (fragmentTable.length > 0) {
    const recs = new ByteBuilder(fragmentTable.length * 16);
    for (const e of fragmentTable) encodeFragmentEntry(recs, e);
    const t = buildLookupTable(recs.toBytes(), sink.position, orNull(noF));
    fragmentTableStart = sink.position + t.listOffset;
    await sink.append(t.bytes);
  }

  let exportTableStart = -1;
  if (exportable) {
    const recs = new ByteBuilder(plan.inodeCount * 8);
    // Inode number n is row n, except the root: row 0, numbered last.
    for (let n = 1; n < plan.inodeCount; n++) recs.u64(refs[n]!);
    recs.u64(refs[0]!);
    const t = buildLookupTable(recs.toBytes(), sink.position, orNull(noI));
    exportTableStart = sink.position + t.listOffset;
    await sink.append(t.bytes);
  }

  // mksquashfs 4.5.1 stores the id table raw under -noI too (without setting the flag).
  const idTable = buildLookupTable(ids.records(), sink.position, orNull(noId || noI));
  const idTableStart = sink.position + idTable.listOffset;
  await sink.append(idTable.bytes);

  let xattrIdTableStart = -1;
  if (xattrs.ids.length > 0) {
    const kvStart = sink.position;
    await sink.append(xattrs.kv.finish());
    const header = new ByteBuilder(XATTR_ID_HEADER_SIZE);
    encodeXattrIdHeader(header, kvStart, xattrs.ids.length);
    const t = buildLookupTable(xattrs.idRecords(), sink.position, orNull(noX), header.toBytes());
    xattrIdTableStart = sink.position + t.listOffset - XATTR_ID_HEADER_SIZE;
    await sink.append(t.bytes);
  }

  const bytesUsed = sink.position;
  const padded = Math.ceil(bytesUsed / PAD_TO) * PAD_TO;
  if (padded > bytesUsed) await sink.append(new Uint8Array(padded - bytesUsed));

  let flags = 0;
  if (noI) flags |= Flags.UNCOMPRESSED_INODES;
  if (noD) flags |= Flags.UNCOMPRESSED_DATA;
  if (noF) flags |= Flags.UNCOMPRESSED_FRAGMENTS;
  if (fragments === 'never') flags |= Flags.NO_FRAGMENTS;
  if (fragments === 'always') flags |= Flags.ALWAYS_FRAGMENTS;
  if (duplicates) flags |= Flags.DUPLICATES;
  if (exportable) flags |= Flags.EXPORTABLE;
  if (noX) flags |= Flags.UNCOMPRESSED_XATTRS;
  if (!keepXattrs) flags |= Flags.NO_XATTRS;
  if (optionsPayload) flags |= Flags.COMPRESSOR_OPTIONS;
  if (noId) flags |= Flags.UNCOMPRESSED_IDS;

  await sink.patch(
    0,
    encodeSuperblock({
      inodeCount: plan.inodeCount,
      mkfsTime: options.mkfsTime ?? 0,
      blockSize,
      fragmentCount: fragmentTable.length,
      compression: compressor.id,
      blockLog: Math.log2(blockSize),
      flags,
      idCount: ids.ids.length,
      rootInode: refs[0]!,
      bytesUsed,
      idTableStart,
      xattrIdTableStart,
      inodeTableStart,
      directoryTableStart,
      fragmentTableStart,
      exportTableStart,
    }),
  );

  return {
    imageSize: bytesUsed,
    paddedSize: padded,
    blockSize,
    compression: compressor.name,
    inodeCount: plan.inodeCount,
    ...plan.counts,
    fragments: fragmentTable.length,
    duplicateFiles: data.stats.duplicateFiles,
    blocksCompressed: data.stats.blocksCompressed,
    sparseBlocks: data.stats.sparseBlocks,
    idCount: ids.ids.length,
    xattrSets: xattrs.ids.length,
    dataBytes: data.stats.dataBytes,
    dataBytesOnDisk: data.stats.dataBytesOnDisk,
    inodeTableSize: inodeTable.length,
    directoryTableSize: directoryTable.length,
  };
}
