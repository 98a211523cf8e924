/**
 * The byte-level verifier: `verifyImage(pathOrBytes)` checks an image against the rules of the
 * format page (§14 what the kernel enforces, §19 the reader/verifier checklist) and reports every
 * problem it finds, not only the first, with a stable rule id, the absolute byte offset and the
 * structure. Each pass keeps going past a problem where it safely can: a broken directory's
 * subtree is skipped, a bad block is skipped, the rest is still checked.
 *
 * Passes, in checklist order: superblock; options block; lookup tables and region placement;
 * inode, directory and xattr metadata blocks; the tree (inodes, listings, directory index); file
 * data and fragments; export table; xattr lists; padding; mksquashfs conventions (warnings).
 *
 * Warnings mark what is legal but not what mksquashfs writes (nlink conventions, the root's
 * parent number, inode numbering order, unreferenced bytes, padding).
 */
import { canDecompress, createDecompressor } from '../compress/index.js';
import { SquashfsError } from '../errors.js';
import { decodeSuperblock, SUPERBLOCK_SIZE } from '../format/superblock.js';
import { getU64 } from '../io/bytes.js';
import { openSource, type ImageSource } from './source.js';
import { DataVerifier } from './verify-data.js';
import { MetaStream, readMetaRegion, type VerifyContext } from './verify-metadata.js';
import { ProblemLimitReached, ProblemList, type Problem } from './verify-report.js';
import { codecLimits } from './verify-codec.js';
import { verifyOptions, verifySuperblock } from './verify-superblock.js';
import { verifyTables, type Tables } from './verify-tables.js';
import { TreeVerifier, type TreeResult } from './verify-tree.js';
import { verifyXattrs } from './verify-xattr.js';

export type { Problem, Severity } from './verify-report.js';

export interface VerifyOptions {
  /** Stop after this many problems (default 1000). */
  maxProblems?: number;
  /** Decode every data and fragment block (default true). */
  data?: boolean;
}

export interface VerifyStats {
  fileSize: number;
  bytesUsed: number;
  /** Distinct inodes decoded (reachable from the root). */
  inodes: number;
  directories: number;
  files: number;
  /** Directory entries walked. */
  entries: number;
  metadataBlocks: number;
  dataBlocks: number;
  sparseBlocks: number;
  fragmentBlocks: number;
  xattrLists: number;
  /** False when the verifier had to stop early (fatal superblock problem, problem limit, ...). */
  complete: boolean;
}

export interface VerifyResult {
  problems: Problem[];
  stats: VerifyStats;
  errors: number;
  warnings: number;
}

export async function verifyImage(
  pathOrBytes: string | Uint8Array,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const source = await openSource(pathOrBytes);
  const p = new ProblemList(options.maxProblems ?? 1000);
  const stats: VerifyStats = {
    fileSize: source.size,
    bytesUsed: 0,
    inodes: 0,
    directories: 0,
    files: 0,
    entries: 0,
    metadataBlocks: 0,
    dataBlocks: 0,
    sparseBlocks: 0,
    fragmentBlocks: 0,
    xattrLists: 0,
    complete: false,
  };
  try {
    stats.complete = await run(source, p, stats, options);
  } catch (err) {
    if (!(err instanceof ProblemLimitReached)) throw err;
  } finally {
    await source.close();
  }
  const errors = p.errorCount;
  return { problems: p.problems, stats, errors, warnings: p.problems.length - errors };
}

/** Runs one pass; a read the passes did not foresee becomes a problem instead of a crash. */
async function pass<T>(p: ProblemList, what: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SquashfsError) {
      p.error('verify.read', err.offset ?? null, what, err.message);
      return null;
    }
    throw err;
  }
}

async function run(
  source: ImageSource,
  p: ProblemList,
  stats: VerifyStats,
  options: VerifyOptions,
): Promise<boolean> {
  // 1. Superblock.
  if (source.size < SUPERBLOCK_SIZE) {
    p.error(
      'superblock.size',
      0,
      'superblock',
      `the file is ${source.size} bytes, smaller than a superblock (96 bytes)`,
    );
    return false;
  }
  const sb = decodeSuperblock(await source.read(0, SUPERBLOCK_SIZE, 'superblock'));
  stats.bytesUsed = sb.bytesUsed;
  if (!verifySuperblock(sb, source.size, p)) return false;
  const limit = Math.min(sb.bytesUsed, source.size);

  // 2. Options block.
  const { dataStart, payload: optionsPayload } = await verifyOptions(sb, source, limit, p);
  if (!canDecompress(sb.compression)) {
    p.warn(
      'verify.unsupported',
      0x14,
      'superblock',
      `compression id ${sb.compression} cannot be decoded here: only the superblock and options were verified`,
    );
    return false;
  }
  const compressor = createDecompressor(sb.compression, sb.blockSize);
  const codec = codecLimits(sb.compression, sb.blockSize, optionsPayload);
  const ctx: VerifyContext = { source, sb, limit, blockSize: sb.blockSize, compressor, codec, p };

  // 3. Tables and placement.
  const tables = await pass(p, 'lookup tables', () => verifyTables(ctx, dataStart));
  if (tables === null) return false;

  // 4. Metadata regions.
  const inodes = await readMetaRegion(
    ctx,
    'inode table',
    sb.inodeTableStart,
    Math.min(sb.directoryTableStart, limit),
  );
  const dirs = await readMetaRegion(
    ctx,
    'directory table',
    sb.directoryTableStart,
    Math.min(tables.directoryTableEnd, limit),
  );
  let kv: MetaStream | null = null;
  if (tables.kvStart !== null && tables.kvEnd !== null) {
    const kvStart = tables.kvStart;
    const kvEnd = tables.kvEnd;
    kv = await readMetaRegion(ctx, 'xattr key/value table', kvStart, Math.min(kvEnd, limit));
  }
  stats.metadataBlocks =
    inodes.blocks.length +
    dirs.blocks.length +
    (kv?.blocks.length ?? 0) +
    [tables.ids, tables.exports, tables.fragments, tables.xattrIds].reduce(
      (n, t) => n + (t?.stream.blocks.length ?? 0),
      0,
    );

  // 5. Inodes and directories.
  const xattrCount = tables.xattrIds?.count ?? null;
  const tree = new TreeVerifier(ctx, inodes, dirs, xattrCount).walk();
  stats.inodes = tree.inodes.size;
  stats.entries = tree.entries;
  for (const info of tree.inodes.values()) {
    if (info.inode.kind === 'dir') stats.directories++;
    if (info.inode.kind === 'file') stats.files++;
  }

  // 6. Data and fragments.
  if (options.data !== false) {
    const data = new DataVerifier(ctx, dataStart);
    await pass(p, 'file data', async () => {
      if (tables.fragments !== null) await data.fragments(tables.fragments);
      await data.files(tree, inodes);
    });
    Object.assign(stats, data.stats);
  }

  // 7. Export table.
  checkExports(ctx, tables, tree);

  // 8. Xattr lists.
  if (tables.xattrIds !== null && kv !== null) {
    const ids = tables.xattrIds;
    const kvStream = kv;
    stats.xattrLists = (await pass(p, 'xattrs', () => verifyXattrs(ctx, ids, kvStream))) ?? 0;
  }

  // 9. Padding.
  await pass(p, 'padding', () => checkPadding(ctx));

  // 10. mksquashfs conventions.
  checkNumbering(ctx, tree, inodes);
  return true;
}

function checkExports(ctx: VerifyContext, tables: Tables, tree: TreeResult): void {
  const { sb, p } = ctx;
  const exports = tables.exports;
  const distinct = tree.byNumber.size;
  if (tree.root !== null && distinct < sb.inodeCount) {
    p.warn(
      'inode.count',
      0x04,
      'superblock',
      `inode_count is ${sb.inodeCount}, but ${distinct} distinct inode numbers are reachable from the root`,
    );
  }
  if (exports === null) return;
  const stream = exports.stream;
  for (let n = 1; n <= sb.inodeCount; n++) {
    const s = (n - 1) * 8;
    if (stream.readable(s, 8) !== null) break;
    const info = tree.byNumber.get(n);
    if (info === undefined) continue;
    let ref: number;
    try {
      ref = getU64(new DataView(stream.bytes.buffer, stream.bytes.byteOffset + s, 8), 0);
    } catch {
      ref = -1;
    }
    if (ref !== info.ref) {
      p.error(
        'export.mapping',
        stream.abs(s),
        `export table entry ${n}`,
        `maps inode ${n} to reference 0x${ref.toString(16)}, but inode ${n} (${info.path}) is at 0x${info.ref.toString(16)}`,
      );
    }
  }
}

async function checkPadding(ctx: VerifyContext): Promise<void> {
  const { sb, source, p } = ctx;
  const size = source.size;
  if (size < sb.bytesUsed) return; // reported with the superblock
  if (size % 4096 !== 0) {
    p.warn(
      'image.padding',
      sb.bytesUsed,
      'padding',
      `the file is ${size} bytes, not padded to a multiple of 4096 (a loop device may cut the end off)`,
    );
  }
  const end = Math.min(size, Math.ceil(sb.bytesUsed / 4096) * 4096);
  if (end > sb.bytesUsed) {
    const bytes = await source.read(sb.bytesUsed, end - sb.bytesUsed, 'padding');
    const nonZero = bytes.findIndex((b) => b !== 0);
    if (nonZero >= 0) {
      p.warn(
        'image.padding',
        sb.bytesUsed + nonZero,
        'padding',
        'the padding after bytes_used is not all zeros',
      );
    }
  }
}

/**
 * mksquashfs numbers inodes depth first in name order, each child when its parent is scanned, a
 * sub-directory's subtree right after it, and the root last (§12). Other numberings are legal.
 */
function checkNumbering(ctx: VerifyContext, tree: TreeResult, inodes: MetaStream): void {
  if (tree.root === null) return;
  const expected = new Map<number, number>();
  let next = 1;
  const stack: { refs: number[]; i: number }[] = [
    { refs: tree.children.get(tree.root.ref) ?? [], i: 0 },
  ];
  const entered = new Set<number>([tree.root.ref]);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.refs.length) {
      stack.pop();
      continue;
    }
    const ref = top.refs[top.i++]!;
    if (!expected.has(ref)) expected.set(ref, next++);
    const children = tree.children.get(ref);
    if (children !== undefined && !entered.has(ref)) {
      entered.add(ref);
      stack.push({ refs: children, i: 0 });
    }
  }
  expected.set(tree.root.ref, next);
  for (const [ref, number] of expected) {
    const info = tree.inodes.get(ref)!;
    if (info.inode.inodeNumber !== number) {
      ctx.p.warn(
        'inode.numbering',
        inodes.abs(info.start + 12),
        `inode ${info.inode.inodeNumber} (${info.path})`,
        `inode numbers do not follow mksquashfs's order (depth first in name order, root last): mksquashfs would number this inode ${number}`,
      );
      return;
    }
  }
}
