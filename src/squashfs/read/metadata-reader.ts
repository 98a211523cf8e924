/**
 * Reading metadata streams (format page §6). A MetadataReader serves one table: block positions
 * are relative to `tableStart` (0 for the absolute positions of lookup-table location lists), and
 * no block may extend past `limit`. Decoded blocks are kept in a small LRU cache, so walking a
 * directory or reading neighbouring inodes decompresses each block once.
 *
 * A MetadataCursor reads records that straddle blocks: it follows a block into the next one
 * (`pos + 2 + on-disk length`). Every loop advances by at least one byte of a bounded table or
 * throws, and a cursor allocates only as much as it has really read.
 */
import type { Decompressor } from '../compress/index.js';
import { SquashfsError } from '../errors.js';
import { METADATA_SIZE } from '../format/constants.js';
import { decodeMetadataHeader, refBlock, refOffset } from '../format/metadata.js';
import type { ImageSource } from './source.js';

export interface MetadataBlock {
  /** Decoded payload, at most 8192 bytes. */
  data: Uint8Array;
  /** Table-relative position of the next block. */
  next: number;
}

export class MetadataReader {
  private readonly cache = new Map<number, Promise<MetadataBlock>>();

  constructor(
    private readonly source: ImageSource,
    private readonly compressor: Decompressor,
    /** Absolute position block positions are relative to. */
    readonly tableStart: number,
    /** Absolute end no block may pass (bytes_used, or the next table). */
    readonly limit: number,
    readonly what: string,
    private readonly cacheSize = 64,
  ) {}

  /** The decoded block whose header is at table-relative `pos`. */
  block(pos: number): Promise<MetadataBlock> {
    const hit = this.cache.get(pos);
    if (hit !== undefined) {
      // Re-inserting makes it the most recently used.
      this.cache.delete(pos);
      this.cache.set(pos, hit);
      return hit;
    }
    const loading = this.load(pos);
    this.cache.set(pos, loading);
    // A failed read is not cached: the error is reported to every caller that asks again.
    loading.catch(() => this.cache.delete(pos));
    while (this.cache.size > this.cacheSize) {
      this.cache.delete(this.cache.keys().next().value as number);
    }
    return loading;
  }

  private async load(pos: number): Promise<MetadataBlock> {
    const at = this.tableStart + pos;
    const header = await this.source.read(at, 2, `${this.what} metadata block header`, this.limit);
    const { length, raw } = decodeMetadataHeader(header[0]! | (header[1]! << 8));
    if (length === 0 || length > METADATA_SIZE) {
      throw new SquashfsError(
        'CORRUPT',
        `${this.what}: metadata block at byte ${at} has on-disk length ${length} (must be 1..8192)`,
        { offset: at },
      );
    }
    const payload = await this.source.read(
      at + 2,
      length,
      `${this.what} metadata block`,
      this.limit,
    );
    let data: Uint8Array;
    if (raw) data = payload;
    else {
      try {
        data = this.compressor.decompress(payload, METADATA_SIZE);
      } catch (err) {
        throw new SquashfsError(
          'CORRUPT',
          `${this.what}: metadata block at byte ${at} does not decompress: ${(err as Error).message}`,
          { offset: at, cause: err },
        );
      }
    }
    if (data.length === 0 || data.length > METADATA_SIZE) {
      throw new SquashfsError(
        'CORRUPT',
        `${this.what}: metadata block at byte ${at} holds ${data.length} bytes (must be 1..8192)`,
        { offset: at },
      );
    }
    return { data, next: pos + 2 + length };
  }

  /** A cursor at a metadata reference (block position << 16 | offset). */
  at(ref: number): MetadataCursor {
    return new MetadataCursor(this, refBlock(ref), refOffset(ref));
  }

  cursor(block: number, offset: number): MetadataCursor {
    return new MetadataCursor(this, block, offset);
  }

  /** Absolute byte of a block header, for messages. */
  absolute(block: number): number {
    return this.tableStart + block;
  }
}

export class MetadataCursor {
  constructor(
    private readonly reader: MetadataReader,
    public block: number,
    public offset: number,
  ) {}

  /** Reads `n` bytes, following into the next blocks as needed. */
  async read(n: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new SquashfsError('CORRUPT', `${this.reader.what}: invalid record length ${n}`);
    }
    const parts: Uint8Array[] = [];
    let left = n;
    while (left > 0) {
      const { data, next } = await this.reader.block(this.block);
      if (this.offset >= data.length) {
        if (this.offset === data.length && this.offset === METADATA_SIZE) {
          // A record that ended exactly at a block end continues at the next block.
          this.block = next;
          this.offset = 0;
          continue;
        }
        throw new SquashfsError(
          'CORRUPT',
          `${this.reader.what}: offset ${this.offset} is past the ${data.length} bytes of the metadata block at byte ${this.reader.absolute(this.block)}`,
          { offset: this.reader.absolute(this.block) },
        );
      }
      const take = Math.min(left, data.length - this.offset);
      parts.push(data.subarray(this.offset, this.offset + take));
      left -= take;
      this.offset += take;
      if (this.offset === data.length && left > 0) {
        if (data.length !== METADATA_SIZE) {
          throw new SquashfsError(
            'CORRUPT',
            `${this.reader.what}: a record runs past the short (last) metadata block at byte ${this.reader.absolute(this.block)}`,
            { offset: this.reader.absolute(this.block) },
          );
        }
        this.block = next;
        this.offset = 0;
      }
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Where the cursor is, for messages: "block at byte B, offset O". */
  describe(): string {
    return `metadata block at byte ${this.reader.absolute(this.block)}, offset ${this.offset}`;
  }
}
