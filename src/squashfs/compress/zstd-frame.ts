/**
 * The zstd frame header and block headers (RFC 8878 §3.1), walked without decoding anything. The
 * reader uses it to bound a block's output before handing it to the decoder, and the verifier to
 * judge the window the kernel must accept (format page §4: the window must fit max(bs, 8192)).
 */
import { SquashfsError } from '../errors.js';

export const ZSTD_MAGIC = 0xfd2fb528;
/** RFC 8878 §3.1.1.2.4: no block regenerates more than 128 KiB. */
const BLOCK_SIZE_MAX = 128 * 1024;

export interface ZstdFrameInfo {
  /** Frame_Header_Descriptor (byte 4). */
  descriptor: number;
  singleSegment: boolean;
  checksum: boolean;
  dictionaryId: number;
  /** Frame_Content_Size, or null when the frame does not state it. */
  contentSize: number | null;
  /** The window the decoder must keep: the content size for a single-segment frame. */
  windowSize: number;
  /** Number of zstd blocks in the frame. */
  blocks: number;
  /** Upper bound of the frame's output, from the block headers. */
  outputBound: number;
  /** Byte after the frame (after its checksum, if any). */
  end: number;
}

function corrupt(message: string, at: number): SquashfsError {
  return new SquashfsError('CORRUPT', `zstd block: ${message} (input byte ${at})`);
}

function le(input: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + input[at + i]!;
  return v;
}

/** Parses the frame at the start of `input`; throws CORRUPT if its headers do not fit. */
export function parseZstdFrame(input: Uint8Array): ZstdFrameInfo {
  if (input.length < 6) throw corrupt(`${input.length} bytes is too short for a zstd frame`, 0);
  const magic = le(input, 0, 4);
  if (magic !== ZSTD_MAGIC) {
    throw corrupt(`magic 0x${magic.toString(16).padStart(8, '0')} is not a zstd frame's`, 0);
  }
  const descriptor = input[4]!;
  if ((descriptor & 0x08) !== 0) throw corrupt('reserved bit 3 of the frame header is set', 4);
  const singleSegment = (descriptor & 0x20) !== 0;
  const checksum = (descriptor & 0x04) !== 0;
  const fcsFlag = descriptor >>> 6;
  const dictBytes = [0, 1, 2, 4][descriptor & 3]!;
  const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
  let at = 5;
  let windowSize = 0;
  if (!singleSegment) {
    const wd = input[at++]!;
    const base = 2 ** (10 + (wd >>> 3));
    windowSize = base + (base / 8) * (wd & 7);
  }
  if (at + dictBytes + fcsBytes > input.length) throw corrupt('the frame header is cut off', at);
  const dictionaryId = le(input, at, dictBytes);
  at += dictBytes;
  let contentSize: number | null = null;
  if (fcsBytes > 0) {
    contentSize = le(input, at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
    at += fcsBytes;
  }
  if (singleSegment) windowSize = contentSize!;
  const blockMax = Math.min(windowSize, BLOCK_SIZE_MAX);
  let blocks = 0;
  let outputBound = 0;
  for (;;) {
    if (at + 3 > input.length) throw corrupt('input ends inside a block header', at);
    const header = le(input, at, 3);
    const last = (header & 1) !== 0;
    const type = (header >>> 1) & 3;
    const size = header >>> 3;
    if (type === 3) throw corrupt('reserved block type 3', at);
    if (size > blockMax) {
      throw corrupt(`a ${size}-byte block exceeds the frame's ${blockMax}-byte block maximum`, at);
    }
    const stored = type === 1 ? 1 : size;
    at += 3;
    if (at + stored > input.length) throw corrupt('input ends inside a block', at);
    at += stored;
    outputBound += type === 2 ? blockMax : size;
    blocks++;
    if (last) break;
  }
  if (checksum) {
    if (at + 4 > input.length) throw corrupt('input ends inside the content checksum', at);
    at += 4;
  }
  return {
    descriptor,
    singleSegment,
    checksum,
    dictionaryId,
    contentSize,
    windowSize,
    blocks,
    outputBound,
    end: at,
  };
}
