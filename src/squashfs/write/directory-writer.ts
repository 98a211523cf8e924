/**
 * Builds one directory's listing (format page §9) and appends it to the directory table.
 *
 * Runs are split as mksquashfs splits them: a new header after 256 entries, when the next entry's
 * inode lives in another inode-table block, when its inode number is too far from the run's base
 * for an s16 delta, and when the bytes since the last index point plus the next entry would pass
 * 8192; that last kind of split also records a directory-index entry. The index entry's `start`
 * is the directory-table block that holds the indexed header, read from the writer as the
 * listing is appended piece by piece.
 */
import { METADATA_SIZE } from '../format/constants.js';
import {
  DIR_ENTRY_SIZE,
  DIR_HEADER_SIZE,
  encodeDirEntry,
  encodeDirHeader,
} from '../format/directory.js';
import type { DirIndexEntry } from '../format/inode.js';
import { refBlock, refOffset } from '../format/metadata.js';
import { ByteBuilder } from '../io/bytes.js';
import type { MetadataWriter } from './metadata-writer.js';

export interface ListingEntry {
  name: Uint8Array;
  inodeRef: number;
  inodeNumber: number;
  basicType: number;
}

export interface WrittenListing {
  startBlock: number;
  offset: number;
  /** Listing bytes + 3, as stored in the directory inode. */
  fileSize: number;
  index: DirIndexEntry[];
}

export function writeListing(dirTable: MetadataWriter, entries: ListingEntry[]): WrittenListing {
  const buf = new ByteBuilder(1024);
  const index: { at: number; name: Uint8Array }[] = [];
  let runCount = 256;
  let countAt = -1;
  let runBlock = -1;
  let runBase = 0;
  let indexPoint = 0;

  for (const e of entries) {
    const block = refBlock(e.inodeRef);
    const delta = e.inodeNumber - runBase;
    const pastIndexPoint =
      countAt >= 0 && buf.length + DIR_ENTRY_SIZE + e.name.length - indexPoint > METADATA_SIZE;
    if (
      runCount === 256 ||
      block !== runBlock ||
      pastIndexPoint ||
      delta > 32767 ||
      delta < -32768
    ) {
      if (countAt >= 0) {
        if (pastIndexPoint) {
          index.push({ at: buf.length, name: e.name });
          indexPoint = buf.length;
        }
        buf.patchU32(countAt, runCount - 1);
      }
      countAt = buf.length;
      runCount = 0;
      runBlock = block;
      runBase = e.inodeNumber;
      encodeDirHeader(buf, { count: 1, startBlock: block, inodeNumber: runBase });
    }
    encodeDirEntry(buf, {
      offset: refOffset(e.inodeRef),
      inodeDelta: e.inodeNumber - runBase,
      type: e.basicType,
      name: e.name,
    });
    runCount++;
  }
  if (countAt >= 0) buf.patchU32(countAt, runCount - 1);

  const startBlock = dirTable.blockPosition;
  const offset = dirTable.offsetInBlock;
  const bytes = buf.peek();
  const written: DirIndexEntry[] = [];
  let from = 0;
  for (const i of index) {
    dirTable.append(bytes.subarray(from, i.at));
    from = i.at;
    written.push({ index: i.at, start: dirTable.blockPosition, name: i.name });
  }
  dirTable.append(bytes.subarray(from));
  return { startBlock, offset, fileSize: bytes.length + 3, index: written };
}

/** Σ(8 + name length) over the entries: mksquashfs's measure for choosing the extended type. */
export function listingByteCount(entries: { name: Uint8Array }[]): number {
  let n = 0;
  for (const e of entries) n += DIR_ENTRY_SIZE + e.name.length;
  return n;
}

export { DIR_HEADER_SIZE };
