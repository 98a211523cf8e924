/**
 * An append-only metadata stream (format page §6). Bytes accumulate in an open 8 KiB chunk; each
 * full chunk is compressed at once and appended to the table as a block with its u16 header, so
 * the reference of the next byte is always known: (bytes of completed blocks) * 65536 + (bytes in
 * the open chunk). Every inode and directory reference is taken from `nextRef()` at the moment its
 * record is written, never computed in advance.
 */
import type { Compressor } from '../compress/compressor.js';
import { METADATA_SIZE } from '../format/constants.js';
import { encodeMetadataHeader, makeRef } from '../format/metadata.js';
import { ByteBuilder } from '../io/bytes.js';

export class MetadataWriter {
  private readonly blocks = new ByteBuilder(1 << 16);
  private readonly open = new Uint8Array(METADATA_SIZE);
  private openLength = 0;
  /** Uncompressed bytes appended in total. */
  uncompressedSize = 0;

  constructor(
    /** null stores every block raw (-noI, -noX, ...). */
    private readonly compressor: Compressor | null,
  ) {}

  /** Reference of the next byte to be appended. */
  nextRef(): number {
    return makeRef(this.blocks.length, this.openLength);
  }

  /** Position (within the table) of the block that will hold the next byte. */
  get blockPosition(): number {
    return this.blocks.length;
  }

  /** Byte offset of the next byte inside its (uncompressed) block. */
  get offsetInBlock(): number {
    return this.openLength;
  }

  append(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(bytes.length - from, METADATA_SIZE - this.openLength);
      this.open.set(bytes.subarray(from, from + n), this.openLength);
      this.openLength += n;
      from += n;
      if (this.openLength === METADATA_SIZE) this.cutBlock();
    }
    this.uncompressedSize += bytes.length;
  }

  private cutBlock(): void {
    const payload = this.open.subarray(0, this.openLength);
    const compressed = this.compressor?.compress(payload, 'metadata') ?? null;
    if (compressed) {
      this.blocks.u16(encodeMetadataHeader(compressed.length, false)).bytes(compressed);
    } else {
      this.blocks.u16(encodeMetadataHeader(payload.length, true)).bytes(payload);
    }
    this.openLength = 0;
  }

  /** Cuts the last (short) block and returns the whole table. An empty stream yields no block. */
  finish(): Uint8Array {
    if (this.openLength > 0) this.cutBlock();
    return this.blocks.toBytes();
  }
}

/**
 * Writes a lookup table (fragment, export, id, xattr-id): the records as metadata blocks, then
 * the list of the blocks' absolute positions. Returns the bytes and the offset of the list inside
 * them (the superblock points at the list).
 */
export function buildLookupTable(
  records: Uint8Array,
  tableStart: number,
  compressor: Compressor | null,
  between: Uint8Array = new Uint8Array(0),
): { bytes: Uint8Array; listOffset: number } {
  const out = new ByteBuilder(records.length + 64);
  const positions: number[] = [];
  for (let at = 0; at < records.length; at += METADATA_SIZE) {
    positions.push(tableStart + out.length);
    const chunk = records.subarray(at, Math.min(at + METADATA_SIZE, records.length));
    const compressed = compressor?.compress(chunk, 'metadata') ?? null;
    if (compressed) out.u16(encodeMetadataHeader(compressed.length, false)).bytes(compressed);
    else out.u16(encodeMetadataHeader(chunk.length, true)).bytes(chunk);
  }
  out.bytes(between);
  const listOffset = out.length;
  for (const p of positions) out.u64(p);
  return { bytes: out.toBytes(), listOffset };
}
