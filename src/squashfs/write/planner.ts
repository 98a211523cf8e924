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
import type { TreeCounts, WriteOptions } from './options.js';

export interface PlannedEntry {
  name: Uint8Array;
  inode: PlannedInode;
}

export interface PlannedInode {
  node: TreeNode;
  number: number;
  /** Names of this inode in the image; for directories 2 + sub-directories (mksquashfs). */
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /**
   * The directory of the first name, and that name: the path for error messages is built from
   * them on demand (plannedPath), not stored as a string per inode.
   */
  parent: PlannedInode | null;
  name: Uint8Array;
  /** Directories only: children in name order. */
  children: PlannedEntry[];
  /** Directories only: the parent's inode number (root: inode count + 1, as mksquashfs). */
  parentNumber: number;
}

export interface Plan {
  root: PlannedInode;
  inodeCount: number;
  /** Regular-file inodes in the order their data is written (each once). */
  files: PlannedInode[];
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

/** The path of an inode's first name, as error messages show it. */
export function plannedPath(p: PlannedInode): string {
  const names: Uint8Array[] = [];
  for (let at: PlannedInode | null = p; at?.parent; at = at.parent) names.push(at.name);
  let path = '/';
  for (let i = names.length - 1; i >= 0; i--) path = displayPath(path, names[i]!);
  return path;
}

function checkName(name: Uint8Array, parentPath: string): void {
  const where = displayPath(parentPath, name);
  if (name.length === 0)
    throw new SquashfsError('INVALID_ARGUMENT', `empty file name in ${parentPath}`, {
      path: parentPath,
    });
  if (name.length > MAX_NAME_LENGTH) {
    throw new SquashfsError(
      'LIMIT',
      `file name longer than ${MAX_NAME_LENGTH} bytes (${name.length}): ${where}`,
      { path: where },
    );
  }
  if (name.includes(0x2f) || name.includes(0)) {
    throw new SquashfsError('INVALID_ARGUMENT', `file name contains '/' or NUL: ${where}`, {
      path: where,
    });
  }
  if (
    (name.length === 1 && name[0] === 0x2e) ||
    (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
  ) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `'.' and '..' cannot be stored as names: ${where}`,
      { path: where },
    );
  }
}

function checkU32(value: number, what: string, path: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `${what} ${value} of ${path} is not an integer from 0 to ${MAX_U32}`,
      { path },
    );
  }
}

function checkNode(node: TreeNode, path: string): void {
  if (!Number.isInteger(node.mode) || node.mode < 0 || node.mode > 0o7777) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `mode ${node.mode} of ${path} must hold permission bits only (0 to 07777)`,
      { path },
    );
  }
  checkU32(node.uid, 'uid', path);
  checkU32(node.gid, 'gid', path);
  checkU32(node.mtime, 'mtime', path);
  if (node.kind === 'symlink') {
    if (node.target.length === 0 || node.target.length > MAX_SYMLINK_LENGTH) {
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
      throw new SquashfsError(
        'LIMIT',
        `device number ${node.major}:${node.minor} of ${path} does not fit squashfs (major <= 4095, minor <= 1048575)`,
        { path },
      );
    }
  } else if (node.kind === 'file') {
    if (!Number.isSafeInteger(node.source.size) || node.source.size < 0) {
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
  const planned = new Map<TreeNode, PlannedInode>();
  const files: PlannedInode[] = [];
  const counts = {
    files: 0,
    directories: 0,
    symlinks: 0,
    devices: 0,
    fifos: 0,
    sockets: 0,
    hardLinkedNames: 0,
  };
  let nextNumber = 1;

  const effective = (node: TreeNode, isRoot: boolean) => {
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

  const make = (
    node: TreeNode,
    path: string,
    parent: PlannedInode | null,
    name: Uint8Array,
  ): PlannedInode => {
    checkNode(node, path);
    const p: PlannedInode = {
      node,
      number: 0,
      nlink: 1,
      parent,
      name,
      children: [],
      parentNumber: 0,
      ...effective(node, parent === null),
    };
    planned.set(node, p);
    switch (node.kind) {
      case 'dir':
        counts.directories++;
        break;
      case 'file':
        counts.files++;
        files.push(p);
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
    return p;
  };

  // Depth-first walk with an explicit stack, so a 10 000-deep tree cannot overflow the JS stack.
  const rootPlan = make(root, '/', null, new Uint8Array(0));
  type Frame = {
    dir: PlannedInode;
    /** The directory's path, for messages (kept per open directory only, not per inode). */
    path: string;
    index: number;
    sorted: DirNode['entries'];
    entries: PlannedEntry[];
  };
  const stack: Frame[] = [];
  const enter = (dir: PlannedInode, path: string): void => {
    const node = dir.node as DirNode;
    const sorted = [...node.entries].sort((a, b) => compareNames(a.name, b.name));
    const entries: PlannedEntry[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i]!;
      checkName(e.name, path);
      if (i > 0 && compareNames(sorted[i - 1]!.name, e.name) === 0) {
        const where = displayPath(path, e.name);
        throw new SquashfsError('INVALID_ARGUMENT', `duplicate name in directory: ${where}`, {
          path: where,
        });
      }
      entries.push({ name: e.name, inode: undefined as unknown as PlannedInode });
    }
    stack.push({ dir, path, index: 0, sorted, entries });
  };
  enter(rootPlan, '/');

  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.index === frame.sorted.length) {
      frame.dir.children = frame.entries;
      stack.pop();
      continue;
    }
    const i = frame.index++;
    const { name, node } = frame.sorted[i]!;
    const path = displayPath(frame.path, name);
    let child = planned.get(node);
    if (child) {
      if (node.kind === 'dir') {
        throw new SquashfsError(
          'INVALID_ARGUMENT',
          `directory appears twice in the tree (a directory cannot be hard-linked): ${path}`,
          { path },
        );
      }
      child.nlink++;
      counts.hardLinkedNames++;
    } else {
      child = make(node, path, frame.dir, name);
      child.number = nextNumber++;
    }
    frame.entries[i]!.inode = child;
    if (node.kind === 'dir') {
      child.parentNumber = frame.dir.number; // fixed up below for children of the root
      frame.dir.nlink++;
      enter(child, path);
    }
  }

  rootPlan.number = nextNumber;
  const inodeCount = nextNumber;
  rootPlan.parentNumber = inodeCount + 1;
  // Directories reference their parent's number; the root's number was only known at the end.
  for (const e of rootPlan.children)
    if (e.inode.node.kind === 'dir') e.inode.parentNumber = rootPlan.number;
  // Every directory starts with nlink 1 from `make` and gains one per sub-directory: add the
  // missing one for "." so that nlink = 2 + sub-directories.
  for (const p of planned.values()) if (p.node.kind === 'dir') p.nlink += 1;
  return { root: rootPlan, inodeCount, files, counts };
}
