/**
 * Turns a Tree into the plan the writer follows (format page §12, §16 step 1):
 * - validates names (1–256 bytes, no '/', no NUL, not '.' or '..', unique) and node fields;
 * - sorts every directory by unsigned byte order of the names (the kernel's lookup relies on it);
 * - resolves hard links (one node object under several names = one inode);
 * - numbers inodes as mksquashfs does: depth first, a child numbered when its parent is scanned,
 *   a sub-directory recursed into right after it is numbered, the root numbered last;
 * - applies the ownership and time overrides (-all-root, -all-time, SOURCE_DATE_EPOCH, -root-*).
 */
import { SquashfsError } from '../errors.js';
import { MAX_NAME_LENGTH, MAX_SYMLINK_LENGTH } from '../format/constants.js';
import type { DirNode, TreeNode } from '../tree.js';
import { i32Column } from './column.js';
import type { TreeCounts, WriteOptions } from './options.js';
import { PlannedInodes, type InodeMeta, type PlannedDir } from './planned-inodes.js';

export interface Plan {
  /** Every inode, by row; the root is row 0 (see planned-inodes.ts). */
  inodes: PlannedInodes;
  inodeCount: number;
  /** Rows of the regular files, in the order their data is written (each once). */
  files: Int32Array;
  /** Counts for the summary. */
  counts: TreeCounts;
}

const decoder = new TextDecoder('utf-8', { fatal: false });
const MAX_U32 = 0xffffffff;

export function compareNames(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function displayPath(parent: string, name: Uint8Array): string {
  return (parent === '/' ? '/' : parent + '/') + decoder.decode(name);
}

/**
 * The path of entry `name` of the directory at `parent` (`name` null: the directory itself), for
 * messages. Made only when one is thrown: decoding every name cost about 0.4 us a file.
 */
function entryPath(parent: string, name: Uint8Array | null): string {
  return name === null ? parent : displayPath(parent, name);
}

function checkName(name: Uint8Array, parentPath: string): void {
  if (name.length === 0)
    throw new SquashfsError('INVALID_ARGUMENT', `empty file name in ${parentPath}`, {
      path: parentPath,
    });
  if (name.length > MAX_NAME_LENGTH) {
    const where = displayPath(parentPath, name);
    throw new SquashfsError(
      'LIMIT',
      `file name longer than ${MAX_NAME_LENGTH} bytes (${name.length}): ${where}`,
      { path: where },
    );
  }
  if (name.includes(0x2f) || name.includes(0)) {
    const where = displayPath(parentPath, name);
    throw new SquashfsError('INVALID_ARGUMENT', `file name contains '/' or NUL: ${where}`, {
      path: where,
    });
  }
  if (
    (name.length === 1 && name[0] === 0x2e) ||
    (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
  ) {
    const where = displayPath(parentPath, name);
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `'.' and '..' cannot be stored as names: ${where}`,
      { path: where },
    );
  }
}

function checkU32(value: number, what: string, parent: string, name: Uint8Array | null): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    const path = entryPath(parent, name);
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `${what} ${value} of ${path} is not an integer from 0 to ${MAX_U32}`,
      { path },
    );
  }
}

function checkNode(node: TreeNode, parent: string, name: Uint8Array | null): void {
  if (!Number.isInteger(node.mode) || node.mode < 0 || node.mode > 0o7777) {
    const path = entryPath(parent, name);
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `mode ${node.mode} of ${path} must hold permission bits only (0 to 07777)`,
      { path },
    );
  }
  checkU32(node.uid, 'uid', parent, name);
  checkU32(node.gid, 'gid', parent, name);
  checkU32(node.mtime, 'mtime', parent, name);
  if (node.kind === 'symlink') {
    if (node.target.length === 0 || node.target.length > MAX_SYMLINK_LENGTH) {
      const path = entryPath(parent, name);
      throw new SquashfsError(
        'LIMIT',
        `symlink target of ${path} must be 1 to ${MAX_SYMLINK_LENGTH} bytes, is ${node.target.length}`,
        { path },
      );
    }
  } else if (node.kind === 'blockdev' || node.kind === 'chardev') {
    if (
      !Number.isInteger(node.major) ||
      node.major < 0 ||
      node.major > 0xfff ||
      !Number.isInteger(node.minor) ||
      node.minor < 0 ||
      node.minor > 0xfffff
    ) {
      const path = entryPath(parent, name);
      throw new SquashfsError(
        'LIMIT',
        `device number ${node.major}:${node.minor} of ${path} does not fit squashfs (major <= 4095, minor <= 1048575)`,
        { path },
      );
    }
  } else if (node.kind === 'file') {
    if (!Number.isSafeInteger(node.source.size) || node.source.size < 0) {
      const path = entryPath(parent, name);
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `size ${node.source.size} of ${path} is not a valid file size`,
        { path },
      );
    }
  }
}

export function planTree(root: DirNode, options: WriteOptions): Plan {
  if (root.kind !== 'dir')
    throw new SquashfsError('INVALID_ARGUMENT', 'the root of the tree must be a directory');
  const inodes = new PlannedInodes();
  /** Row of every node met so far: a node met again is a hard link. Dropped after planning. */
  const rows = new Map<TreeNode, number>();
  const files = i32Column();
  const counts = {
    files: 0,
    directories: 0,
    symlinks: 0,
    devices: 0,
    fifos: 0,
    sockets: 0,
    hardLinkedNames: 0,
  };

  const effective = (node: TreeNode, isRoot: boolean): InodeMeta => {
    let { uid, gid, mtime, mode } = node;
    if (options.forceUid !== undefined) uid = options.forceUid;
    if (options.forceGid !== undefined) gid = options.forceGid;
    if (options.allTime !== undefined) mtime = options.allTime;
    if (options.clampTime !== undefined) mtime = Math.min(mtime, options.clampTime);
    if (isRoot) {
      if (options.rootMode !== undefined) mode = options.rootMode;
      if (options.rootUid !== undefined) uid = options.rootUid;
      if (options.rootGid !== undefined) gid = options.rootGid;
      if (options.rootTime !== undefined) mtime = options.rootTime;
    }
    return { uid, gid, mtime, mode };
  };

  /** A new row for `node`, first named by entry `nameIndex` of directory row `parent`. */
  /** `parentPath` and `name`: where the node is, for messages (`name` null for the root). */
  const make = (
    node: TreeNode,
    parentPath: string,
    name: Uint8Array | null,
    parent: number,
    nameIndex: number,
  ): number => {
    checkNode(node, parentPath, name);
    const row = inodes.add(node, effective(node, parent < 0), parent, nameIndex);
    rows.set(node, row);
    switch (node.kind) {
      case 'dir':
        counts.directories++;
        break;
      case 'file':
        counts.files++;
        files.push(row);
        break;
      case 'symlink':
        counts.symlinks++;
        break;
      case 'blockdev':
      case 'chardev':
        counts.devices++;
        break;
      case 'fifo':
        counts.fifos++;
        break;
      case 'socket':
        counts.sockets++;
        break;
    }
    return row;
  };

  // Depth-first walk with an explicit stack, so a 10 000-deep tree cannot overflow the JS stack.
  // Rows are made in the order mksquashfs numbers inodes: a child when its parent is scanned, a
  // sub-directory recursed into right after it is made; the root (row 0) is numbered last.
  type Frame = {
    dir: PlannedDir;
    /** The directory's path, for messages (kept per open directory only, not per inode). */
    path: string;
    index: number;
  };
  const stack: Frame[] = [];
  const enter = (row: number, path: string): void => {
    const node = inodes.nodes[row] as DirNode;
    const sorted = [...node.entries].sort((a, b) => compareNames(a.name, b.name));
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i]!;
      checkName(e.name, path);
      if (i > 0 && compareNames(sorted[i - 1]!.name, e.name) === 0) {
        const where = displayPath(path, e.name);
        throw new SquashfsError('INVALID_ARGUMENT', `duplicate name in directory: ${where}`, {
          path: where,
        });
      }
    }
    const dir: PlannedDir = { row, entries: sorted, children: new Int32Array(sorted.length) };
    inodes.dirs.set(row, dir);
    stack.push({ dir, path, index: 0 });
  };
  enter(make(root, '/', null, -1, -1), '/');

  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.index === frame.dir.entries.length) {
      stack.pop();
      continue;
    }
    const i = frame.index++;
    const { name, node } = frame.dir.entries[i]!;
    let child = rows.get(node);
    if (child !== undefined) {
      if (node.kind === 'dir') {
        const path = displayPath(frame.path, name);
        throw new SquashfsError(
          'INVALID_ARGUMENT',
          `directory appears twice in the tree (a directory cannot be hard-linked): ${path}`,
          { path },
        );
      }
      inodes.nlink.set(child, inodes.nlink.get(child) + 1);
      counts.hardLinkedNames++;
    } else {
      child = make(node, frame.path, name, frame.dir.row, i);
    }
    frame.dir.children[i] = child;
    if (node.kind === 'dir') {
      const parent = frame.dir.row;
      inodes.nlink.set(parent, inodes.nlink.get(parent) + 1);
      enter(child, displayPath(frame.path, name));
    }
  }

  // Every directory starts with nlink 1 from `make` and gains one per sub-directory: add the
  // missing one for "." so that nlink = 2 + sub-directories.
  for (const row of inodes.dirs.keys()) inodes.nlink.set(row, inodes.nlink.get(row) + 1);
  return { inodes, inodeCount: inodes.count, files: files.view().slice(), counts };
}
