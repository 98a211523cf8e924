/**
 * Where each file's data went, one row per file written, in columns (see column.ts): the file
 * inode's fields plus its block list, a range of one flat column of size words. A duplicate's row
 * points at the range of the file it duplicates, so its block list is stored once.
 */
import { NO_INDEX } from '../format/constants.js';
import { f64Column, u32Column } from './column.js';

/** One row, as the inode writer reads it. */
export interface FileData {
  blocksStart: number;
  /** Size words: on-disk size | DATA_UNCOMPRESSED, or 0 for a sparse block. */
  blockSizes: Uint32Array;
  fragment: number;
  fragmentOffset: number;
  fileSize: number;
  /** Bytes held in sparse blocks, when the source was sparse on disk (else 0, as mksquashfs). */
  sparse: number;
}

export class FileTable {
  readonly blocksStart = f64Column();
  readonly fileSize = f64Column();
  readonly sparse = f64Column();
  readonly fragment = u32Column();
  readonly fragmentOffset = u32Column();
  /** The row's block list: sizeWords rows firstBlock … firstBlock + blockCount - 1. */
  readonly firstBlock = f64Column();
  readonly blockCount = u32Column();
  readonly sizeWords = u32Column();

  get length(): number {
    return this.fileSize.length;
  }

  /** A new row for a file of `size` bytes, with no blocks and no fragment yet; returns it. */
  add(size: number): number {
    this.blocksStart.push(0);
    this.sparse.push(0);
    this.fragment.push(NO_INDEX);
    this.fragmentOffset.push(0);
    this.firstBlock.push(this.sizeWords.length);
    this.blockCount.push(0);
    return this.fileSize.push(size);
  }

  /** Appends a size word (0 until the block is written) to the last row; returns its index. */
  addBlock(row: number): number {
    if (row !== this.length - 1) throw new Error('blocks can only be added to the last row');
    const index = this.blockCount.get(row);
    this.blockCount.set(row, index + 1);
    this.sizeWords.push(0);
    return index;
  }

  /** Sets the size word of block `index` of `row`. */
  setSizeWord(row: number, index: number, word: number): void {
    this.sizeWords.set(this.firstBlock.get(row) + index, word);
  }

  sizeWord(row: number, index: number): number {
    return this.sizeWords.get(this.firstBlock.get(row) + index);
  }

  /**
   * Makes the last row a duplicate of `original`: the same blocks, block list and fragment. Its
   * own size words are dropped (none of them may still be waiting to be set).
   */
  shareWith(row: number, original: number): void {
    if (row !== this.length - 1) throw new Error('only the last row can become a duplicate');
    this.sizeWords.resize(this.firstBlock.get(row));
    this.blocksStart.set(row, this.blocksStart.get(original));
    this.fragment.set(row, this.fragment.get(original));
    this.fragmentOffset.set(row, this.fragmentOffset.get(original));
    this.firstBlock.set(row, this.firstBlock.get(original));
    this.blockCount.set(row, this.blockCount.get(original));
  }

  /** The row as an object; its blockSizes is a view, valid until more blocks are added. */
  get(row: number): FileData {
    const first = this.firstBlock.get(row);
    return {
      blocksStart: this.blocksStart.get(row),
      blockSizes: this.sizeWords.view(first, first + this.blockCount.get(row)),
      fragment: this.fragment.get(row),
      fragmentOffset: this.fragmentOffset.get(row),
      fileSize: this.fileSize.get(row),
      sparse: this.sparse.get(row),
    };
  }
}
