/** Builds the compressor an image's options ask for. */
import type { CompressionOptions, Compressor } from './compressor.js';
import { GzipCompressor } from './gzip.js';
import { NoneCompressor } from './none.js';
import { XzCompressor } from './xz.js';

export function createCompressor(options: CompressionOptions, blockSize: number): Compressor {
  switch (options.name) {
    case 'gzip':
      return new GzipCompressor(options);
    case 'xz':
      return new XzCompressor(blockSize, options);
    case 'none':
      return new NoneCompressor();
  }
}

export type { Compressor, CompressionOptions } from './compressor.js';
export type { Decompressor } from './compressor.js';
export { canDecompress, createDecompressor } from './decompressors.js';
