/**
 * Lookup tables (format page §10): fixed-size records in metadata blocks whose absolute positions
 * are listed, raw, at the position the superblock gives. Entries are read lazily by index; the
 * index is checked against the count before anything is read, and the location-list entry and
 * the block are checked against bytes_used.
 */
import { SquashfsError } from '../errors.js';
import { METADATA_SIZE } from '../format/constants.js';
import { makeRef } from '../format/metadata.js';
import { ByteReader, getU64 } from '../io/bytes.js';
import type { MetadataReader } from './metadata-reader.js';
import type { ImageSource } from './source.js';

export class LookupTable<T> {
  private readonly locations = new Map<number, number>();

  constructor(
    private readonly source: ImageSource,
    /** A reader with tableStart 0: location-list entries are absolute positions. */
    private readonly blocks: MetadataReader,
    readonly what: string,
    private readonly listStart: number,
    readonly count: number,
    private readonly entrySize: number,
    private readonly limit: number,
    private readonly decode: (r: ByteReader) => T,
  ) {}

  async get(index: number): Promise<T> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new SquashfsError(
        'CORRUPT',
        `${this.what} index ${index} is out of range (the table has ${this.count} entries)`,
      );
    }
    const byte = index * this.entrySize;
    const blockIndex = Math.floor(byte / METADATA_SIZE);
    const location = await this.location(blockIndex);
    const bytes = await this.blocks
      .at(makeRef(location, byte % METADATA_SIZE))
      .read(this.entrySize);
    return this.decode(new ByteReader(bytes, 0, 0, `${this.what} entry ${index}`));
  }

  private async location(blockIndex: number): Promise<number> {
    const known = this.locations.get(blockIndex);
    if (known !== undefined) return known;
    const at = this.listStart + blockIndex * 8;
    const raw = await this.source.read(at, 8, `${this.what} location list`, this.limit);
    const location = getU64(new DataView(raw.buffer, raw.byteOffset, 8), 0);
    if (location < 0 || location >= this.limit) {
      throw new SquashfsError(
        'OUT_OF_BOUNDS',
        `${this.what}: location list entry at byte ${at} points at ${location}, outside the image`,
        { offset: at },
      );
    }
    this.locations.set(blockIndex, location);
    return location;
  }
}
