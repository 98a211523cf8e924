/**
 * lzo (id 3), read only: each block is raw LZO1X data (format page §4), which the kernel decodes
 * with lzo1x_decompress_safe. This decoder has that function's semantics: it fails on input
 * overrun, output overrun, a match reaching before the output, and input left after the
 * end-of-stream marker.
 *
 * LZO1X is a run of instructions, each an opcode byte. What an opcode below 16 means depends on
 * `state`, the number of literals the previous instruction copied (4 standing for "4 or more"):
 *
 *   first byte 18..255   t = byte - 17 literals; state = min(t, 4)
 *   0..15, state 0       3 + (L or 15 + zero bytes * 255 + last byte) literals; state = 4
 *   0..15, state 1..3    2-byte match, distance 1 + (op >> 2) + (next << 2)
 *   0..15, state 4       3-byte match, distance 2049 + (op >> 2) + (next << 2)
 *   16..31 (0001HLLL)    2 + (L or 7 + ext) bytes, distance 16384 + (H << 14) + (LE16 >> 2);
 *                        (H << 14) + (LE16 >> 2) = 0 is the end of the stream
 *   32..63 (001LLLLL)    2 + (L or 31 + ext) bytes, distance 1 + (LE16 >> 2)
 *   64..255              (op >> 5) + 1 bytes, distance 1 + ((op >> 2) & 7) + (next << 3)
 *
 * After every match, S literals follow (0..3): the low 2 bits of the opcode for the one-byte
 * forms, of the LE16 for the two-byte ones; state = S. Matches copy byte by byte, so they may
 * overlap their own output.
 */
import { Compression } from '../format/constants.js';
import { SquashfsError } from '../errors.js';
import type { Decompressor } from './compressor.js';

function corrupt(message: string, at: number): SquashfsError {
  return new SquashfsError('CORRUPT', `lzo block: ${message} (input byte ${at})`);
}

/** Decodes one LZO1X block of at most `maxOut` bytes. */
export function decodeLzo1x(input: Uint8Array, maxOut: number): Uint8Array {
  const end = input.length;
  // lzo1x_decompress_safe refuses fewer than 3 bytes: the end marker alone is 3.
  if (end < 3) throw corrupt(`${end} bytes is too short for an lzo1x stream`, 0);
  const out = new Uint8Array(maxOut);
  let ip = 0;
  let op = 0;

  const need = (n: number, what: string) => {
    if (end - ip < n) throw corrupt(`input ends inside ${what}`, ip);
  };
  /** A length continued in bytes: each 0 adds 255, the first non-zero byte ends it. */
  const extend = (base: number): number => {
    let n = base;
    for (;;) {
      need(1, 'a length');
      const b = input[ip++]!;
      if (b !== 0) return n + b;
      n += 255;
      // Past maxOut the stream is corrupt anyway; stopping here bounds a run of zeros.
      if (n > maxOut) throw corrupt(`a length passes the ${maxOut}-byte output bound`, ip - 1);
    }
  };
  const literals = (n: number, at: number) => {
    if (n > end - ip) throw corrupt(`${n} literals run past the input`, at);
    if (n > maxOut - op) throw corrupt(`${n} literals pass the ${maxOut}-byte output bound`, at);
    out.set(input.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  const match = (distance: number, length: number, at: number) => {
    if (distance > op) throw corrupt(`match distance ${distance} reaches before the output`, at);
    if (length > maxOut - op) {
      throw corrupt(`a ${length}-byte match passes the ${maxOut}-byte output bound`, at);
    }
    let from = op - distance;
    if (distance >= length) {
      out.copyWithin(op, from, from + length);
      op += length;
    } else {
      for (let i = 0; i < length; i++) out[op++] = out[from++]!;
    }
  };

  let state = 0;
  if (input[0]! > 17) {
    const t = input[ip++]! - 17;
    literals(t, 0);
    state = Math.min(t, 4);
  }
  for (;;) {
    need(1, 'an instruction');
    const at = ip;
    const t = input[ip++]!;
    let distance: number;
    let length: number;
    let next: number; // S, the literals after the match
    if (t < 16) {
      if (state === 0) {
        literals(3 + (t === 0 ? extend(15) : t), at);
        state = 4;
        continue;
      }
      need(1, 'a match distance');
      const h = input[ip++]!;
      distance = (t >>> 2) + (h << 2) + (state === 4 ? 2049 : 1);
      length = state === 4 ? 3 : 2;
      next = t & 3;
    } else if (t >= 64) {
      need(1, 'a match distance');
      distance = 1 + ((t >>> 2) & 7) + (input[ip++]! << 3);
      length = (t >>> 5) + 1;
      next = t & 3;
    } else {
      const long = t < 32; // 16..31: the far form, which also carries the end marker
      length = long ? t & 7 : t & 31;
      if (length === 0) length = extend(long ? 7 : 31);
      length += 2;
      need(2, 'a match distance');
      const v = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
      next = v & 3;
      if (long) {
        distance = ((t & 8) << 11) + (v >>> 2);
        if (distance === 0) break; // end of stream
        distance += 16384;
      } else {
        distance = 1 + (v >>> 2);
      }
    }
    match(distance, length, at);
    literals(next, at);
    state = next;
  }
  if (ip !== end) throw corrupt(`${end - ip} bytes follow the end-of-stream marker`, ip);
  // A short block (a file's tail) must not pin a maxOut-sized buffer in the caller's caches.
  return op === maxOut ? out : out.slice(0, op);
}

export class LzoDecompressor implements Decompressor {
  readonly id = Compression.Lzo;
  readonly name = 'lzo';

  decompress(block: Uint8Array, maxOut: number): Uint8Array {
    return decodeLzo1x(block, maxOut);
  }
}
