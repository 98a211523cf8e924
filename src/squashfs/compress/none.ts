/**
 * "Uncompressed": every block is stored raw. The superblock still needs a compression id; like
 * mksquashfs with -noI -noD -noF -noX we declare gzip (id 1), which any kernel with squashfs
 * support has, and never emit a compressed block.
 */
import { Compression } from '../format/constants.js';
import type { Compressor } from './compressor.js';
import { GzipCompressor } from './gzip.js';

export class NoneCompressor implements Compressor {
  readonly id = Compression.Gzip;
  readonly name = 'none';
  private readonly reader = new GzipCompressor();

  compress(): Uint8Array | null {
    return null;
  }

  decompress(block: Uint8Array, maxOut: number): Uint8Array {
    return this.reader.decompress(block, maxOut);
  }

  optionsPayload(): Uint8Array | null {
    return null;
  }
}
