/**
 * The kernel's codec limits (format page §4, §14 "codec limits of §4"): what a block must be for
 * the kernel's decoder, beyond decoding at all. Our decoders (and unsquashfs's) are more lenient,
 * so a block can read here and still fail with EIO under the kernel:
 *
 * - xz: check type CRC32 or none; an LZMA2 dictionary no larger than the one the kernel
 *   preallocates: the options block's dictionary if present, else max(block size, 8192).
 *   (The kernel also decodes only LZMA2 after at most one BCJ filter; liblzma, which reads the
 *   image here, rejects what else mksquashfs could not have written, so it is not checked.)
 * - zstd: a frame window no larger than max(block size, 8192).
 * - lz4: LZ4_decompress_safe's end-of-block rules, relative to the kernel's output buffer (the
 *   block size for data and fragments, 8192 for metadata).
 *
 * gzip (zlib header, window <= 15) and lzo (lzo1x_decompress_safe into the same buffer) have no
 * limit beyond decoding with that output bound, which the decoders already enforce.
 */
import { lz4SafeDecodeProblem } from '../compress/lz4.js';
import { lzma2DictSize, parseXzHeaders, XZ_FILTER_LZMA2 } from '../compress/xz-container.js';
import { parseZstdFrame } from '../compress/zstd-frame.js';
import { Compression, METADATA_SIZE } from '../format/constants.js';

export interface CodecLimits {
  compression: number;
  blockSize: number;
  /** xz: the dictionary the kernel preallocates. */
  xzDictionary: number;
}

export interface CodecProblem {
  rule: string;
  /** Offset of the offending byte within the block. */
  at: number;
  message: string;
}

const XZ_CHECKS: Record<number, string> = { 0: 'none', 1: 'CRC32', 4: 'CRC64', 10: 'SHA-256' };

/** The limits for an image: the xz dictionary comes from its options block, if any. */
export function codecLimits(
  compression: number,
  blockSize: number,
  options: Uint8Array | null,
): CodecLimits {
  let xzDictionary = Math.max(blockSize, METADATA_SIZE);
  if (compression === Compression.Xz && options !== null && options.length >= 4) {
    xzDictionary = new DataView(options.buffer, options.byteOffset, 4).getUint32(0, true);
  }
  return { compression, blockSize, xzDictionary };
}

/**
 * What the kernel would refuse in one compressed block that `capacity` bytes of output must hold
 * (block size for data and fragments, 8192 for metadata). Call it on a block that decodes.
 */
export function codecProblems(
  limits: CodecLimits,
  block: Uint8Array,
  capacity: number,
): CodecProblem[] {
  switch (limits.compression) {
    case Compression.Xz:
      return xzProblems(limits, block);
    case Compression.Zstd: {
      const frame = parseZstdFrame(block);
      const max = Math.max(limits.blockSize, METADATA_SIZE);
      if (frame.windowSize <= max) return [];
      return [
        {
          rule: 'codec.zstd-window',
          at: 5,
          message: `the zstd frame needs a ${frame.windowSize}-byte window; the kernel decodes at most max(block size, 8192) = ${max}`,
        },
      ];
    }
    case Compression.Lz4: {
      const problem = lz4SafeDecodeProblem(block, capacity);
      return problem === null ? [] : [{ rule: 'codec.lz4-end', at: 0, message: problem }];
    }
  }
  return [];
}

function xzProblems(limits: CodecLimits, block: Uint8Array): CodecProblem[] {
  const h = parseXzHeaders(block);
  // The block decoded, so its headers parse; a string here would be this parser's failure.
  if (typeof h === 'string') return [];
  const problems: CodecProblem[] = [];
  if (h.check !== 0 && h.check !== 1) {
    problems.push({
      rule: 'codec.xz-check',
      at: 7,
      message: `the xz stream's check is ${XZ_CHECKS[h.check] ?? `type ${h.check}`}; the kernel accepts only CRC32 or none`,
    });
  }
  const last = h.filters[h.filters.length - 1]!;
  if (last.id === XZ_FILTER_LZMA2 && last.props.length === 1) {
    const prop = last.props[0]!;
    const dict = lzma2DictSize(prop);
    if (dict === null || prop > 39 || dict > limits.xzDictionary) {
      problems.push({
        rule: 'codec.xz-dictionary',
        at: last.at + 2,
        message: `the LZMA2 dictionary is ${dict ?? `invalid (property ${prop})`} bytes; the kernel preallocates ${limits.xzDictionary} (the options block's dictionary, else max(block size, 8192))`,
      });
    }
  }
  return problems;
}
