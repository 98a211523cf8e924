/**
 * The planner's output, per inode, in columns (see column.ts) rather than an object per inode.
 *
 * Rows are in the order the planner meets the inodes: the root is row 0, and every other inode's
 * row is its inode number, because mksquashfs numbers inodes in that same order and the root
 * last. So `number(0)` is the inode count, and `number(row)` is `row` for everything else.
 */
import type { DirEntryNode, TreeNode } from '../tree.js';
import { i32Column, u16Column, u32Column } from './column.js';

/** A directory: its entries in name order and the row of each entry's inode. */
export interface PlannedDir {
  row: number;
  entries: DirEntryNode[];
  children: Int32Array;
}

export interface InodeMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export class PlannedInodes {
  /** The tree node of each row (a hard link's rows: one node, one row). */
  readonly nodes: TreeNode[] = [];
  /** The effective metadata, after the ownership and time overrides. */
  readonly mode = u16Column();
  readonly uid = u32Column();
  readonly gid = u32Column();
  readonly mtime = u32Column();
  /** Names of the inode in the image; for directories 2 + sub-directories (mksquashfs). */
  readonly nlink = u32Column();
  /**
   * The directory of the first name (-1 for the root), and that name's index in its entries:
   * the path for error messages is built from them on demand, not stored per inode.
   */
  readonly parent = i32Column();
  readonly nameIndex = i32Column();
  /** Directories by row. */
  readonly dirs = new Map<number, PlannedDir>();

  get count(): number {
    return this.nodes.length;
  }

  /** A new row with one name; returns it. */
  add(node: TreeNode, meta: InodeMeta, parent: number, nameIndex: number): number {
    this.mode.push(meta.mode);
    this.uid.push(meta.uid);
    this.gid.push(meta.gid);
    this.mtime.push(meta.mtime);
    this.nlink.push(1);
    this.parent.push(parent);
    this.nameIndex.push(nameIndex);
    return this.nodes.push(node) - 1;
  }

  /** The inode number of a row. */
  number(row: number): number {
    return row === 0 ? this.count : row;
  }

  /** The inode number a directory records as its parent (the root: inode count + 1). */
  parentNumber(row: number): number {
    const parent = this.parent.get(row);
    return parent < 0 ? this.count + 1 : this.number(parent);
  }

  /** The path of the row's first name, as error messages show it. */
  pathOf(row: number): string {
    const names: string[] = [];
    for (let at = row; at > 0; at = this.parent.get(at)) {
      const dir = this.dirs.get(this.parent.get(at))!;
      names.push(decoder.decode(dir.entries[this.nameIndex.get(at)]!.name));
    }
    return '/' + names.reverse().join('/');
  }
}
