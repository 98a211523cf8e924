/**
 * The decoder for an image's superblock compression id (format page §2, §4). Decoding never
 * depends on the options block: dictionary sizes, BCJ filters, levels and gzip settings are all
 * in the streams themselves, so one default decoder per id reads every image.
 */
import { COMPRESSION_NAMES, Compression } from '../format/constants.js';
import { SquashfsError } from '../errors.js';
import type { Decompressor } from './compressor.js';
import { GzipCompressor } from './gzip.js';
import { Lz4Decompressor } from './lz4.js';
import { LzoDecompressor } from './lzo.js';
import { XzCompressor } from './xz.js';
import { ZstdDecompressor } from './zstd.js';

/** Whether `createDecompressor` can decode compression `id`. */
export function canDecompress(id: number): boolean {
  return id === 1 || id === 3 || id === 4 || id === 5 || id === 6;
}

/** Throws UNSUPPORTED for lzma (id 2, which no kernel reads in 4.0 images) and unknown ids. */
export function createDecompressor(id: number, blockSize: number): Decompressor {
  switch (id) {
    case Compression.Gzip:
      return new GzipCompressor();
    case Compression.Xz:
      return new XzCompressor(blockSize);
    case Compression.Lzo:
      return new LzoDecompressor();
    case Compression.Lz4:
      return new Lz4Decompressor();
    case Compression.Zstd:
      return new ZstdDecompressor();
  }
  const name = COMPRESSION_NAMES[id];
  throw new SquashfsError(
    'UNSUPPORTED',
    name === 'lzma'
      ? 'compression lzma (id 2) is not supported: it is the legacy LZMA-alone format, which the kernel never reads in squashfs 4.0 images; rebuild the image with xz'
      : `compression id ${id} is unknown`,
    { offset: 0x14 },
  );
}
