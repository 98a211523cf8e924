/**
 * zstd (id 6), read only: each block is one zstd frame (format page §4).
 *
 * Decoding is fzstd's (pure JS, no dependencies). Measured on 64 real 128 KiB blocks of
 * /usr/bin/node compressed with `zstd -15` (ratio .31), on a loaded 2-core machine: fzstd 125
 * MB/s once warm, node:zlib inflate on the same blocks at level 9 128 MB/s, libzstd (`zstd -b15`)
 * 816 MB/s. A decoder of our own (FSE and Huffman tables, sequences, repeat offsets) would be
 * about 1500 lines for at best the same speed, so we use fzstd.
 *
 * fzstd itself trusts its input too much for a reader of hostile images: its one-shot call sizes
 * its output from the header and silently drops (or zero-fills) what does not match, and it
 * allocates whatever window a header declares. So we walk the frame's headers first
 * (zstd-frame.ts), refuse what no squashfs writer produces and what would pass `maxOut`, and run
 * fzstd's streaming decoder, counting its output and stopping it at `maxOut`.
 */
import { createRequire } from 'node:module';
import type { Decompress as FzstdDecompress } from 'fzstd';
import { Compression } from '../format/constants.js';
import { SquashfsError } from '../errors.js';
import type { Decompressor } from './compressor.js';
import { parseZstdFrame } from './zstd-frame.js';

/**
 * The largest window accepted from a frame that does not state its size. The kernel accepts
 * only max(bs, 8192) (1 MiB at most); unsquashfs (libzstd) accepts up to 128 MiB. 8 MiB is what
 * `zstd -19` declares for a pipe, and bounds what fzstd allocates.
 */
const MAX_WINDOW = 8 << 20;

const require = createRequire(import.meta.url);
let loadedFzstd: { Decompress: typeof FzstdDecompress } | undefined;
/** fzstd, loaded on first use: only reading a zstd image needs it (12 ms of every start). */
function fzstd(): { Decompress: typeof FzstdDecompress } {
  return (loadedFzstd ??= require('fzstd') as { Decompress: typeof FzstdDecompress });
}

class OutputLimit extends Error {}

function corrupt(message: string, cause?: unknown): SquashfsError {
  return new SquashfsError('CORRUPT', `zstd block: ${message}`, { cause });
}

export class ZstdDecompressor implements Decompressor {
  readonly id = Compression.Zstd;
  readonly name = 'zstd';

  decompress(block: Uint8Array, maxOut: number): Uint8Array {
    const frame = parseZstdFrame(block);
    // Every squashfs writer puts exactly one frame, without a dictionary, in each block.
    if (frame.end !== block.length) {
      throw corrupt(`${block.length - frame.end} bytes follow the frame`);
    }
    if (frame.dictionaryId !== 0) throw corrupt(`the frame needs dictionary ${frame.dictionaryId}`);
    if (frame.contentSize !== null && frame.contentSize > maxOut) {
      throw corrupt(`the frame declares ${frame.contentSize} bytes, more than ${maxOut}`);
    }
    if (frame.windowSize > Math.max(MAX_WINDOW, maxOut)) {
      throw corrupt(`a ${frame.windowSize}-byte window is larger than any squashfs block needs`);
    }
    const parts: Uint8Array[] = [];
    let length = 0;
    try {
      new (fzstd().Decompress)((chunk) => {
        length += chunk.length;
        if (length > maxOut) throw new OutputLimit();
        // fzstd reuses no chunk after handing it over, so keeping the views is safe.
        parts.push(chunk);
      }).push(block, true);
    } catch (err) {
      if (err instanceof OutputLimit)
        throw corrupt(`the frame decodes to more than ${maxOut} bytes`);
      throw corrupt(`the frame does not decode: ${(err as Error).message}`, err);
    }
    if (frame.contentSize !== null && length !== frame.contentSize) {
      throw corrupt(`the frame decodes to ${length} bytes, its header says ${frame.contentSize}`);
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
