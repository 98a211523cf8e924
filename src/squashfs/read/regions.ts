/**
 * A coarse map of an image's regions taken from its superblock (format page §1): where the data
 * area, each table and the padding lie. Used to say which structure a byte offset falls in (for
 * example, the first byte where two images differ). The full per-block byte map is `inspect`'s.
 */
import { SquashfsError } from '../errors.js';
import { SQUASHFS_MAGIC } from '../format/constants.js';
import { decodeSuperblock, SUPERBLOCK_SIZE } from '../format/superblock.js';
import { getU64 } from '../io/bytes.js';

export interface Region {
  name: string;
  start: number;
  end: number;
}

export function describeRegions(image: Uint8Array): Region[] {
  if (image.length < SUPERBLOCK_SIZE) {
    throw new SquashfsError(
      'OUT_OF_BOUNDS',
      `image is ${image.length} bytes, smaller than a superblock`,
      { offset: 0 },
    );
  }
  const sb = decodeSuperblock(image.subarray(0, SUPERBLOCK_SIZE));
  if (sb.magic !== SQUASHFS_MAGIC)
    throw new SquashfsError('CORRUPT', 'not a squashfs image (bad magic)', { offset: 0 });
  const hasOptions = (sb.flags & 0x0400) !== 0;
  const optionsEnd = hasOptions
    ? SUPERBLOCK_SIZE +
      2 +
      (new DataView(image.buffer, image.byteOffset).getUint16(SUPERBLOCK_SIZE, true) & 0x7fff)
    : SUPERBLOCK_SIZE;
  // Starts of the regions in on-disk order; each region ends where the next begins.
  const starts: [string, number][] = [
    ['superblock', 0],
    ...(hasOptions ? ([['compressor options', SUPERBLOCK_SIZE]] as [string, number][]) : []),
    ['data', optionsEnd],
    ['inode table', sb.inodeTableStart],
    ['directory table', sb.directoryTableStart],
  ];
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  // A lookup table's metadata blocks sit right before its location list; the list's first entry
  // says where they begin.
  const table = (name: string, listStart: number) => {
    if (listStart + 8 <= image.length) starts.push([`${name} blocks`, getU64(view, listStart)]);
    starts.push([`${name} location list`, listStart]);
  };
  if (sb.fragmentCount > 0 && sb.fragmentTableStart >= 0)
    table('fragment table', sb.fragmentTableStart);
  if (sb.exportTableStart >= 0) table('export table', sb.exportTableStart);
  table('id table', sb.idTableStart);
  if (sb.xattrIdTableStart >= 0 && sb.xattrIdTableStart + 16 <= image.length) {
    starts.push(['xattr key/value blocks', getU64(view, sb.xattrIdTableStart)]);
    if (sb.xattrIdTableStart + 24 <= image.length)
      starts.push(['xattr id table blocks', getU64(view, sb.xattrIdTableStart + 16)]);
    starts.push(['xattr id table header and list', sb.xattrIdTableStart]);
  }
  starts.push(['padding', sb.bytesUsed]);
  const all = starts.filter(([, at]) => at >= 0 && at <= image.length).sort((a, b) => a[1] - b[1]);
  const regions: Region[] = [];
  for (let i = 0; i < all.length; i++) {
    const [name, start] = all[i]!;
    const end = i + 1 < all.length ? all[i + 1]![1] : image.length;
    if (end > start) regions.push({ name, start, end });
  }
  return regions;
}

export function regionAt(regions: Region[], offset: number): Region | undefined {
  return regions.find((r) => offset >= r.start && offset < r.end);
}
