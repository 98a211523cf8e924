/**
 * Verifier checks of inodes and directories (format page §8, §9, §12, §19.4–5): every inode
 * reachable from the root is decoded from the inode table stream and judged, every directory
 * listing is walked exactly to its file_size, and the directory index of extended directories is
 * checked against the runs it points at. A broken inode or listing is reported and its subtree
 * skipped; the rest of the tree is still walked.
 */
import { SquashfsError } from '../errors.js';
import {
  DIR_RUN_MAX,
  InodeType,
  MAX_NAME_LENGTH,
  MAX_SYMLINK_LENGTH,
  NO_INDEX,
} from '../format/constants.js';
import { DIR_ENTRY_SIZE, DIR_HEADER_SIZE } from '../format/directory.js';
import { basicTypeOf, decodeInode, type DirInode, type Inode } from '../format/inode.js';
import { makeRef } from '../format/metadata.js';
import { ByteReader } from '../io/bytes.js';
import { showName } from './image.js';
import type { MetaStream, VerifyContext } from './verify-metadata.js';

export interface InodeInfo {
  ref: number;
  inode: Inode;
  /** Stream positions of the inode's first byte and one past its last. */
  start: number;
  end: number;
  /** The first path it was reached by ('/' for the root). */
  path: string;
  /** Directory entries naming it. */
  names: number;
  /** Directories: entries that are directories. */
  subdirs: number;
}

export interface TreeResult {
  root: InodeInfo | null;
  /** Every inode decoded, by reference. */
  inodes: Map<number, InodeInfo>;
  byNumber: Map<number, InodeInfo>;
  /** Each walked directory's children (by reference), in listing order. */
  children: Map<number, number[]>;
  entries: number;
}

interface Referrer {
  structure: string;
  offset: number | null;
  rule: string;
}

interface ListingEntry {
  name: Uint8Array;
  type: number;
  inodeNumber: number;
  ref: number;
  /** Stream position of the entry in the directory table. */
  at: number;
}

/** Xattr field offset of the extended types (symlinks: after the target). */
function xattrField(inode: Inode): number {
  switch (inode.type) {
    case InodeType.ExtDir:
      return 36;
    case InodeType.ExtFile:
      return 52;
    case InodeType.ExtSymlink:
      return 24 + (inode.kind === 'symlink' ? inode.target.length : 0);
    case InodeType.ExtBlockDev:
    case InodeType.ExtCharDev:
      return 24;
    default:
      return 20;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function nameProblem(name: Uint8Array): string | null {
  if (name.length > MAX_NAME_LENGTH) return `is ${name.length} bytes (at most 256)`;
  if (name.includes(0x2f)) return "contains '/'";
  if (name.includes(0)) return 'contains a NUL byte';
  if (name.length === 1 && name[0] === 0x2e) return "is '.' (synthesised, never stored)";
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) {
    return "is '..' (synthesised, never stored)";
  }
  return null;
}

const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number) =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

export class TreeVerifier {
  private readonly result: TreeResult = {
    root: null,
    inodes: new Map(),
    byNumber: new Map(),
    children: new Map(),
    entries: 0,
  };
  private readonly failed = new Set<number>();
  /** Directory listing extents [start, end) in the directory stream, for the overlap check. */
  private readonly listings: { start: number; end: number; dir: InodeInfo }[] = [];

  constructor(
    private readonly ctx: VerifyContext,
    private readonly inodes: MetaStream,
    private readonly dirs: MetaStream,
    private readonly xattrCount: number | null,
  ) {}

  private describe(info: InodeInfo): string {
    return `inode ${info.inode.inodeNumber} (${info.path})`;
  }

  /** Decodes and judges the inode at `ref`; null (reported) if it cannot be decoded. */
  private inode(ref: number, path: string, from: Referrer): InodeInfo | null {
    const known = this.result.inodes.get(ref);
    if (known !== undefined) return known;
    if (this.failed.has(ref)) return null;
    const p = this.ctx.p;
    const fail = (rule: string, offset: number | null, structure: string, message: string) => {
      this.failed.add(ref);
      p.error(rule, offset, structure, message);
      return null;
    };
    const s = this.inodes.resolve(ref);
    if (typeof s === 'string') {
      return fail(
        from.rule,
        from.offset,
        from.structure,
        `inode reference 0x${ref.toString(16)}: ${s}`,
      );
    }
    const abs = (off: number) => this.inodes.abs(s + off);
    const where = `inode at ${abs(0)} (${path})`;
    const headerProblem = this.inodes.readable(s, 16);
    if (headerProblem !== null) return fail('inode.truncated', abs(0), where, headerProblem);
    const bytes = this.inodes.bytes;
    const type = u16(bytes, s);
    if (type < 1 || type > 14) {
      return fail('inode.type', abs(0), where, `type ${type} is not 1..14`);
    }
    const reader = new ByteReader(bytes, s, 0, 'inode');
    let inode: Inode;
    try {
      inode = decodeInode(reader, this.ctx.blockSize);
    } catch (err) {
      if (err instanceof SquashfsError && err.code === 'OUT_OF_BOUNDS') {
        return fail(
          'inode.truncated',
          abs(0),
          where,
          `a type ${type} inode runs past the end of the inode table (a wrong size or count?)`,
        );
      }
      if (err instanceof SquashfsError) {
        return fail('inode.decode', abs(0), where, err.message);
      }
      throw err;
    }
    const straddle = this.inodes.readable(s, reader.pos - s);
    if (straddle !== null) return fail('inode.truncated', abs(0), where, straddle);
    const info: InodeInfo = {
      ref,
      inode,
      start: s,
      end: reader.pos,
      path,
      names: 0,
      subdirs: 0,
    };
    this.result.inodes.set(ref, info);
    const structure = this.describe(info);
    const sb = this.ctx.sb;
    if (inode.inodeNumber === 0 || inode.inodeNumber > sb.inodeCount) {
      p.error(
        'inode.number-range',
        abs(12),
        structure,
        `inode number ${inode.inodeNumber} is outside 1..${sb.inodeCount} (inode_count)`,
      );
    } else {
      const other = this.result.byNumber.get(inode.inodeNumber);
      if (other !== undefined) {
        p.error(
          'inode.number-unique',
          abs(12),
          structure,
          `inode number ${inode.inodeNumber} is also carried by the inode at ${this.inodes.abs(other.start)} (${other.path}); only hard links share a number, and they share the inode`,
        );
      } else this.result.byNumber.set(inode.inodeNumber, info);
    }
    if ((inode.mode & ~0o7777) !== 0) {
      p.error(
        'inode.mode',
        abs(2),
        structure,
        `mode 0o${inode.mode.toString(8)} has file-type bits (only permission bits are stored)`,
      );
    }
    for (const [field, index] of [
      [4, inode.uidIndex],
      [6, inode.gidIndex],
    ] as const) {
      if (index >= sb.idCount) {
        p.error(
          'inode.id-index',
          abs(field),
          structure,
          `${field === 4 ? 'uid' : 'gid'} index ${index} is not below id_count ${sb.idCount}`,
        );
      }
    }
    if (inode.type >= InodeType.ExtDir && inode.xattr !== NO_INDEX) {
      if (this.xattrCount === null || inode.xattr >= this.xattrCount) {
        p.error(
          'inode.xattr-index',
          abs(xattrField(inode)),
          structure,
          this.xattrCount === null
            ? `xattr index ${inode.xattr}, but the image has no xattr table`
            : `xattr index ${inode.xattr} is not below the xattr id count ${this.xattrCount}`,
        );
      }
    }
    if (inode.kind === 'file') {
      const ext = inode.type === InodeType.ExtFile;
      const fragmentField = ext ? 44 : 20;
      if (inode.fragment !== NO_INDEX) {
        if (inode.fragment >= sb.fragmentCount) {
          p.error(
            'file.fragment-index',
            abs(fragmentField),
            structure,
            `fragment index ${inode.fragment} is not below fragment_count ${sb.fragmentCount}`,
          );
        }
        if (inode.fileSize % this.ctx.blockSize === 0) {
          p.error(
            'file.fragment-on-aligned-size',
            abs(fragmentField),
            structure,
            `uses fragment ${inode.fragment} although its size ${inode.fileSize} is a multiple of the block size ${this.ctx.blockSize} (the kernel refuses with EINVAL)`,
          );
        }
      }
    } else if (inode.kind === 'symlink') {
      if (inode.target.length > MAX_SYMLINK_LENGTH) {
        p.error(
          'symlink.length',
          abs(20),
          structure,
          `target of ${inode.target.length} bytes; the kernel refuses targets over 4096 bytes`,
        );
      } else if (inode.target.length === 0) {
        p.error('symlink.length', abs(20), structure, 'empty symlink target');
      }
    }
    return info;
  }

  /** Walks the tree from the root reference. */
  walk(): TreeResult {
    const sb = this.ctx.sb;
    const root = this.inode(sb.rootInode, '/', {
      structure: 'superblock',
      offset: 0x20,
      rule: 'superblock.root-ref',
    });
    if (root === null) return this.result;
    if (root.inode.kind !== 'dir') {
      this.ctx.p.error(
        'superblock.root-ref',
        0x20,
        'superblock',
        `the root inode is of type ${root.inode.type}, not a directory`,
      );
      return this.result;
    }
    this.result.root = root;
    const visited = new Set<number>([root.ref]);
    const stack: InodeInfo[] = [root];
    // Each directory is pushed once (visited), so the loop is bounded by the inode table.
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const subdirs = this.directory(dir, visited);
      // Reverse, so that the walk (and its reports) go in name order.
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
    this.checkAfterWalk();
    return this.result;
  }

  /** Reads and judges one directory; returns its sub-directories still to walk. */
  private directory(dir: InodeInfo, visited: Set<number>): InodeInfo[] {
    const d = dir.inode as DirInode;
    const p = this.ctx.p;
    const structure = `directory ${dir.path} (inode ${d.inodeNumber})`;
    const ext = d.type === InodeType.ExtDir;
    const inodeAbs = (off: number) => this.inodes.abs(dir.start + off);
    const sizeField = inodeAbs(ext ? 20 : 24);
    const children: number[] = [];
    this.result.children.set(dir.ref, children);
    const out: InodeInfo[] = [];
    const listing = this.listing(dir, structure, sizeField, inodeAbs(ext ? 24 : 16));
    if (listing === null) return out;
    const { entries, headers } = listing;
    // Names: valid, strictly increasing by bytes; entry types 1..7.
    let previous: ListingEntry | undefined;
    for (const e of entries) {
      const at = this.dirs.abs(e.at);
      const bad = nameProblem(e.name);
      if (bad !== null) {
        p.error('dir.name', at + 8, structure, `entry name "${showName(e.name)}" ${bad}`);
      }
      if (previous !== undefined) {
        const c = compareBytes(previous.name, e.name);
        if (c === 0) {
          p.error('dir.unique', at, structure, `entry "${showName(e.name)}" appears twice`);
        } else if (c > 0) {
          p.error(
            'dir.sorted',
            at,
            structure,
            `entry "${showName(e.name)}" comes after "${showName(previous.name)}": names must be sorted by bytes (lookups miss entries)`,
          );
        }
      }
      previous = e;
    }
    if (ext) this.checkIndex(dir, headers, structure);
    // Children.
    for (const e of entries) {
      this.result.entries++;
      const at = this.dirs.abs(e.at);
      const childPath = `${dir.path === '/' ? '' : dir.path}/${showName(e.name)}`;
      const entryStructure = `entry "${showName(e.name)}" of ${structure}`;
      if (e.type < 1 || e.type > 7) {
        p.error('dir.entry-type', at + 4, entryStructure, `entry type ${e.type} is not 1..7`);
      }
      const child = this.inode(e.ref, childPath, {
        structure: entryStructure,
        offset: at,
        rule: 'dir.entry-ref',
      });
      if (child === null) continue;
      children.push(child.ref);
      child.names++;
      if (child.inode.inodeNumber !== e.inodeNumber) {
        p.error(
          'dir.entry-number',
          at + 2,
          entryStructure,
          `the entry says inode number ${e.inodeNumber}, its inode (at ${this.inodes.abs(child.start)}) carries ${child.inode.inodeNumber}`,
        );
      }
      if (e.type >= 1 && e.type <= 7 && basicTypeOf(child.inode.type) !== e.type) {
        p.error(
          'dir.entry-type',
          at + 4,
          entryStructure,
          `the entry says type ${e.type}, its inode has type ${child.inode.type} (basic ${basicTypeOf(child.inode.type)})`,
        );
      }
      if (child.inode.kind !== 'dir') continue;
      dir.subdirs++;
      if (visited.has(child.ref)) {
        p.error(
          'dir.loop',
          at,
          entryStructure,
          `directory inode ${child.inode.inodeNumber} (${child.path}) is reached a second time: a directory loop or a hard-linked directory`,
        );
        continue;
      }
      visited.add(child.ref);
      if (child.inode.parentInode !== d.inodeNumber) {
        p.error(
          'dir.parent',
          this.inodes.abs(child.start + 28),
          this.describe(child),
          `parent_inode is ${child.inode.parentInode}, the directory is in inode ${d.inodeNumber}`,
        );
      }
      out.push(child);
    }
    return out;
  }

  /**
   * Walks a listing exactly to file_size - 3 bytes. Returns its entries and run headers (by
   * listing offset), or null when nothing of it can be read.
   */
  private listing(
    dir: InodeInfo,
    structure: string,
    sizeField: number,
    startField: number,
  ): {
    entries: ListingEntry[];
    headers: Map<number, { at: number; first: Uint8Array | undefined }>;
  } | null {
    const p = this.ctx.p;
    const d = dir.inode as DirInode;
    const entries: ListingEntry[] = [];
    const headers = new Map<number, { at: number; first: Uint8Array | undefined }>();
    if (d.fileSize < 3) {
      p.error('dir.file-size', sizeField, structure, `file_size ${d.fileSize} is below 3`);
      return null;
    }
    const total = d.fileSize - 3;
    if (total === 0) return { entries, headers };
    const s0 = this.dirs.resolveAt(d.startBlock, d.offset);
    if (typeof s0 === 'string') {
      p.error(
        'dir.start',
        startField,
        structure,
        `the listing start (block ${d.startBlock}, offset ${d.offset}): ${s0}`,
      );
      return null;
    }
    const bytes = this.dirs.bytes;
    const sizeError = (message: string) =>
      p.error(
        'dir.file-size',
        sizeField,
        structure,
        `file_size ${d.fileSize} (listing of ${total} bytes + 3) does not match the listing: ${message}`,
      );
    let consumed = 0;
    // Each pass consumes at least 12 bytes of the listing.
    walk: while (consumed < total) {
      const h = s0 + consumed;
      if (total - consumed < DIR_HEADER_SIZE) {
        sizeError(
          `${total - consumed} bytes are left after the last run, too few for a run header`,
        );
        break;
      }
      const hp = this.dirs.readable(h, DIR_HEADER_SIZE);
      if (hp !== null) {
        sizeError(hp);
        break;
      }
      const count = u32(bytes, h) + 1;
      const startBlock = u32(bytes, h + 4);
      const base = u32(bytes, h + 8);
      const header = { at: h, first: undefined as Uint8Array | undefined };
      headers.set(consumed, header);
      if (count > DIR_RUN_MAX) {
        p.error(
          'dir.run-count',
          this.dirs.abs(h),
          structure,
          `a run header at listing byte ${consumed} claims ${count} entries (at most 256; the kernel lists nothing)`,
        );
        break;
      }
      consumed += DIR_HEADER_SIZE;
      for (let i = 0; i < count; i++) {
        const e = s0 + consumed;
        if (total - consumed < DIR_ENTRY_SIZE) {
          sizeError(`the listing ends inside entry ${i} of the run at listing byte ${h - s0}`);
          break walk;
        }
        const ep = this.dirs.readable(e, DIR_ENTRY_SIZE);
        if (ep !== null) {
          sizeError(ep);
          break walk;
        }
        const nameLength = u16(bytes, e + 6) + 1;
        consumed += DIR_ENTRY_SIZE + nameLength;
        if (consumed > total) {
          sizeError(
            `entry ${i} of the run at listing byte ${h - s0} ends ${consumed - total} bytes past it`,
          );
          break walk;
        }
        const np = this.dirs.readable(e + DIR_ENTRY_SIZE, nameLength);
        if (np !== null) {
          sizeError(np);
          break walk;
        }
        const name = bytes.slice(e + DIR_ENTRY_SIZE, e + DIR_ENTRY_SIZE + nameLength);
        if (i === 0) header.first = name;
        const delta = (u16(bytes, e + 2) << 16) >> 16;
        entries.push({
          name,
          type: u16(bytes, e + 4),
          inodeNumber: base + delta,
          ref: makeRef(startBlock, u16(bytes, e)),
          at: e,
        });
      }
    }
    this.listings.push({ start: s0, end: s0 + Math.min(consumed, total), dir });
    return { entries, headers };
  }

  /** Directory index (§9.5): ascending, each entry at a run header in the stated block. */
  private checkIndex(
    dir: InodeInfo,
    headers: Map<number, { at: number; first: Uint8Array | undefined }>,
    structure: string,
  ): void {
    const d = dir.inode as DirInode;
    const p = this.ctx.p;
    let pos = dir.start + 40;
    let previous: (typeof d.index)[number] | undefined;
    for (let k = 0; k < d.index.length; k++) {
      const idx = d.index[k]!;
      const at = this.inodes.abs(pos);
      const what = `index entry ${k} ("${showName(idx.name)}")`;
      if (previous !== undefined) {
        if (idx.index <= previous.index || compareBytes(previous.name, idx.name) >= 0) {
          p.error(
            'dir.index-order',
            at,
            structure,
            `${what} at listing byte ${idx.index} does not follow "${showName(previous.name)}" at ${previous.index} in both position and name`,
          );
        }
      }
      const header = headers.get(idx.index);
      if (header === undefined) {
        p.error(
          'dir.index-header',
          at,
          structure,
          `${what} points at listing byte ${idx.index}, which is not a run header`,
        );
      } else {
        const block = this.dirs.blockOf(header.at);
        if (block !== undefined && block.rel !== idx.start) {
          p.error(
            'dir.index-start',
            this.inodes.abs(pos + 4),
            structure,
            `${what} says block ${idx.start}, but the run header at listing byte ${idx.index} is in the directory block at table offset ${block.rel}`,
          );
        }
        if (header.first !== undefined && compareBytes(header.first, idx.name) !== 0) {
          p.error(
            'dir.index-name',
            this.inodes.abs(pos + 12),
            structure,
            `${what} names "${showName(idx.name)}", the run it points at starts with "${showName(header.first)}"`,
          );
        }
      }
      previous = idx;
      pos += 12 + idx.name.length;
    }
  }

  /**
   * Records must not share bytes: an inode that overlaps the next one has a wrong size or block
   * count, a listing that overlaps another has a wrong file_size. Bytes no record uses are legal
   * but not what mksquashfs writes.
   */
  private checkTiling(): void {
    const p = this.ctx.p;
    const inodes = [...this.result.inodes.values()].sort((a, b) => a.start - b.start);
    let unused = 0;
    let firstUnused = -1;
    let end = 0;
    let last: InodeInfo | undefined;
    for (const info of inodes) {
      if (last !== undefined && info.start < end) {
        p.error(
          'inode.overlap',
          this.inodes.abs(info.start),
          this.describe(last),
          `runs ${end - info.start} bytes into ${this.describe(info)} (a wrong file size or block count?)`,
        );
      } else if (info.start > end) {
        unused += info.start - end;
        if (firstUnused < 0) firstUnused = end;
      }
      if (info.end > end) {
        end = info.end;
        last = info;
      }
    }
    if (this.inodes.length > end) {
      unused += this.inodes.length - end;
      if (firstUnused < 0) firstUnused = end;
    }
    if (unused > 0) {
      p.warn(
        'inode.unreferenced',
        this.inodes.abs(firstUnused),
        'inode table',
        `${unused} bytes of the inode table belong to no inode reachable from the root`,
      );
    }
    const listings = [...this.listings].sort((a, b) => a.start - b.start);
    unused = 0;
    firstUnused = -1;
    end = 0;
    let lastDir: InodeInfo | undefined;
    for (const l of listings) {
      if (lastDir !== undefined && l.start < end) {
        p.error(
          'dir.overlap',
          this.dirs.abs(l.start),
          `directory ${lastDir.path} (inode ${lastDir.inode.inodeNumber})`,
          `its listing runs ${end - l.start} bytes into the listing of ${l.dir.path} (a wrong file_size?)`,
        );
      } else if (l.start > end) {
        unused += l.start - end;
        if (firstUnused < 0) firstUnused = end;
      }
      if (l.end > end) {
        end = l.end;
        lastDir = l.dir;
      }
    }
    if (this.dirs.length > end) {
      unused += this.dirs.length - end;
      if (firstUnused < 0) firstUnused = end;
    }
    if (unused > 0) {
      p.warn(
        'dir.unreferenced',
        this.dirs.abs(firstUnused),
        'directory table',
        `${unused} bytes of the directory table belong to no listing reachable from the root`,
      );
    }
  }

  private checkAfterWalk(): void {
    const p = this.ctx.p;
    const sb = this.ctx.sb;
    this.checkTiling();
    const root = this.result.root;
    if (root !== null) {
      const parent = (root.inode as DirInode).parentInode;
      if (parent !== sb.inodeCount + 1) {
        p.warn(
          'dir.root-parent',
          this.inodes.abs(root.start + 28),
          this.describe(root),
          `the root's parent_inode is ${parent}; mksquashfs writes inode_count + 1 = ${sb.inodeCount + 1}`,
        );
      }
    }
    for (const info of this.result.inodes.values()) {
      const inode = info.inode;
      const structure = this.describe(info);
      const abs = (off: number) => this.inodes.abs(info.start + off);
      if (inode.kind === 'dir') {
        if (!this.result.children.has(info.ref)) continue;
        const expected = 2 + info.subdirs;
        if (inode.nlink !== expected) {
          p.warn(
            'nlink.dir',
            abs(inode.type === InodeType.ExtDir ? 16 : 20),
            structure,
            `nlink is ${inode.nlink}; mksquashfs writes 2 + sub-directories = ${expected}`,
          );
        }
        continue;
      }
      if (inode.type === InodeType.File) {
        if (info.names > 1) {
          p.error(
            'inode.extended-required',
            abs(0),
            structure,
            `a basic file inode is named by ${info.names} entries; hard-linked files need the extended type (basic files always report nlink 1)`,
          );
        }
        continue;
      }
      const nlinkField = inode.type === InodeType.ExtFile ? 40 : 16;
      if (inode.nlink !== info.names) {
        p.warn(
          'nlink.file',
          abs(nlinkField),
          structure,
          `nlink is ${inode.nlink}, but ${info.names} entr${info.names === 1 ? 'y names' : 'ies name'} it in the image`,
        );
      }
    }
  }
}
