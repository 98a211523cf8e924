/**
 * lz4 (id 5), read only: squashfs stores each block in the raw LZ4 *block* format, with no frame
 * header (format page §4); the kernel decodes it with LZ4_decompress_safe.
 *
 * A block is a run of sequences. Each starts with a token: the high nibble is the literal count
 * and the low nibble the match length minus 4; a nibble of 15 continues in extra bytes, each
 * added, until one is not 255. Then come the literals, then (except in the last sequence, which
 * ends the input right after its literals) a 2-byte little-endian offset back into the output,
 * 1 or more, and the match is copied from there byte by byte, so it may overlap its own output.
 *
 * The decoder writes into a buffer of exactly `maxOut` bytes and refuses, before writing, any
 * literal run or match that would pass it, any offset before the start of the output, and any
 * read past the end of the input: a hostile block costs at most `maxOut` bytes and one pass.
 */
import { Compression } from '../format/constants.js';
import { SquashfsError } from '../errors.js';
import type { Decompressor } from './compressor.js';

function corrupt(message: string, at: number): SquashfsError {
  return new SquashfsError('CORRUPT', `lz4 block: ${message} (input byte ${at})`);
}

/** Decodes one raw LZ4 block of at most `maxOut` bytes. */
export function decodeLz4Block(input: Uint8Array, maxOut: number): Uint8Array {
  const end = input.length;
  if (end === 0) throw corrupt('empty input', 0);
  const out = new Uint8Array(maxOut);
  let ip = 0;
  let op = 0;
  /** Reads a length continued in 255-bytes after a nibble of 15. */
  const extend = (n: number): number => {
    for (;;) {
      if (ip >= end) throw corrupt('input ends inside a length', ip);
      const b = input[ip++]!;
      n += b;
      // Past maxOut the block is corrupt anyway; stopping here bounds the loop's arithmetic.
      if (n > maxOut) throw corrupt(`a length passes the ${maxOut}-byte output bound`, ip - 1);
      if (b !== 255) return n;
    }
  };
  for (;;) {
    const tokenAt = ip;
    const token = input[ip++]!;
    let literals = token >>> 4;
    if (literals === 15) literals = extend(15);
    if (literals > end - ip) throw corrupt(`${literals} literals run past the input`, tokenAt);
    if (literals > maxOut - op) {
      throw corrupt(`${literals} literals pass the ${maxOut}-byte output bound`, tokenAt);
    }
    out.set(input.subarray(ip, ip + literals), op);
    ip += literals;
    op += literals;
    if (ip === end) break; // the last sequence: literals only
    if (end - ip < 2) throw corrupt('input ends inside a match offset', ip);
    const offset = input[ip]! | (input[ip + 1]! << 8);
    if (offset === 0) throw corrupt('match offset 0', ip);
    if (offset > op) throw corrupt(`match offset ${offset} reaches before the output`, ip);
    ip += 2;
    let length = token & 15;
    if (length === 15) length = extend(15);
    length += 4;
    if (length > maxOut - op) {
      throw corrupt(`a ${length}-byte match passes the ${maxOut}-byte output bound`, tokenAt);
    }
    let from = op - offset;
    if (offset >= length) {
      out.copyWithin(op, from, from + length);
      op += length;
    } else {
      // Overlapping: each byte may be one this match just wrote.
      for (let i = 0; i < length; i++) out[op++] = out[from++]!;
    }
    if (ip >= end) throw corrupt('the block ends with a match, not with literals', ip);
  }
  // A short block (a file's tail) must not pin a maxOut-sized buffer in the caller's caches.
  return op === maxOut ? out : out.slice(0, op);
}

/** LZ4's end-of-block margins (lz4.c: MFLIMIT, LASTLITERALS). */
const MFLIMIT = 12;
const LASTLITERALS = 5;

/**
 * Why LZ4_decompress_safe, which the kernel runs with an output buffer of `capacity` bytes (the
 * block size for data, 8192 for metadata), refuses a block this decoder accepts, or null. It
 * needs the format's end-of-block rules relative to that buffer: a match must end at least 5
 * bytes before its end, and literals that reach the last 12 bytes of it (or the last 8 bytes of
 * the input) must be the block's last sequence. Call it on a block that decodes.
 */
export function lz4SafeDecodeProblem(input: Uint8Array, capacity: number): string | null {
  const end = input.length;
  let ip = 0;
  let op = 0;
  const extend = (n: number): number => {
    for (;;) {
      const b = input[ip++]!;
      n += b;
      if (b !== 255 || ip >= end) return n;
    }
  };
  while (ip < end) {
    const token = input[ip++]!;
    let literals = token >>> 4;
    if (literals === 15) literals = extend(15);
    if (op + literals > capacity - MFLIMIT || ip + literals > end - (2 + 1 + LASTLITERALS)) {
      if (ip + literals !== end || op + literals > capacity) {
        return `literals ending at output byte ${op + literals} come within ${MFLIMIT} bytes of the ${capacity}-byte buffer's end (or ${2 + 1 + LASTLITERALS} of the input's) without ending the block`;
      }
      return null;
    }
    ip += literals;
    op += literals;
    ip += 2;
    let length = token & 15;
    if (length === 15) length = extend(15);
    length += 4;
    if (op + length > capacity - LASTLITERALS) {
      return `a match ends at output byte ${op + length}, within the last ${LASTLITERALS} bytes of the ${capacity}-byte buffer (they must be literals)`;
    }
    op += length;
  }
  return null;
}

export class Lz4Decompressor implements Decompressor {
  readonly id = Compression.Lz4;
  readonly name = 'lz4';

  decompress(block: Uint8Array, maxOut: number): Uint8Array {
    return decodeLz4Block(block, maxOut);
  }
}
