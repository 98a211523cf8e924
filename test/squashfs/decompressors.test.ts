/**
 * The read-only decoders (lz4, lzo, zstd) on streams made by foreign tools, on hand-made streams
 * that break one rule each, and on thousands of mutations of real blocks: every outcome is the
 * right bytes, or at most maxOut bytes, or a SquashfsError('CORRUPT'); never a RangeError, a
 * TypeError or a hang. The streams come from fixtures/images/make-images.sh: the lz4 and zstd
 * command-line tools (fixtures/codecs) and mksquashfs/gensquashfs images (fixtures/images).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDecompressor, type Decompressor } from '../../src/squashfs/compress/index.js';
import { decodeLz4Block } from '../../src/squashfs/compress/lz4.js';
import { decodeLzo1x } from '../../src/squashfs/compress/lzo.js';
import { parseZstdFrame } from '../../src/squashfs/compress/zstd-frame.js';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import { mapImage } from '../../src/squashfs/read/byte-map.js';
import { Prng } from '../helpers/edge-trees.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures');
const codec = (name: string) => readFileSync(join(FIXTURES, 'codecs', name));
const TEXT = codec('text.bin');

/** The CORRUPT error `fn` throws (fails the test on anything else, or on no error). */
function corrupt(fn: () => unknown): SquashfsError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a SquashfsError').toBeInstanceOf(SquashfsError);
  expect((caught as SquashfsError).code).toBe('CORRUPT');
  return caught as SquashfsError;
}

/** The raw blocks of an lz4 frame (lz4 CLI output): magic, FLG, BD, HC, then u32-sized blocks. */
function lz4FrameBlocks(frame: Buffer): { data: Buffer; raw: boolean }[] {
  expect(frame.readUInt32LE(0)).toBe(0x184d2204);
  const flg = frame[4]!;
  let at = 4 + 2 + ((flg & 0x08) !== 0 ? 8 : 0) + 1;
  const blocks: { data: Buffer; raw: boolean }[] = [];
  for (;;) {
    const word = frame.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    blocks.push({ data: frame.subarray(at, at + size), raw: (word & 0x80000000) !== 0 });
    at += size + ((flg & 0x10) !== 0 ? 4 : 0);
  }
  return blocks;
}

/** Compressed metadata and fragment blocks of a fixture image, as the decoder sees them. */
async function imageBlocks(name: string): Promise<{ id: number; blocks: Uint8Array[] }> {
  const bytes = readFileSync(join(FIXTURES, 'images', name));
  const map = await mapImage(new Uint8Array(bytes));
  const blocks: Uint8Array[] = [];
  for (const r of map.regions) {
    if (r.compressed !== true) continue;
    if (r.kind === 'metadata-block') blocks.push(bytes.subarray(r.offset + 2, r.offset + r.length));
    if (r.kind === 'fragment-block') blocks.push(bytes.subarray(r.offset, r.offset + r.length));
  }
  return { id: decodeSuperblock(bytes).compression, blocks };
}

describe('lz4', () => {
  it('decodes the lz4 tool’s block (level 9) to the input', () => {
    const blocks = lz4FrameBlocks(codec('text.lz4'));
    expect(blocks.length).toBe(1);
    expect(blocks[0]!.raw).toBe(false);
    expect(Buffer.from(decodeLz4Block(blocks[0]!.data, 65536))).toEqual(TEXT);
  });

  it('overlapping matches, literal-only blocks and long lengths', () => {
    // 1 literal 'a', a 5-byte match at offset 1 (overlapping), then literal 'b'.
    expect(
      Buffer.from(decodeLz4Block(Uint8Array.from([0x11, 0x61, 1, 0, 0x10, 0x62]), 64)),
    ).toEqual(Buffer.from('aaaaaab'));
    expect(Buffer.from(decodeLz4Block(Uint8Array.from([0x30, 0x61, 0x62, 0x63]), 3))).toEqual(
      Buffer.from('abc'),
    );
    // Match length 15 + 255 + 10 + 4 = 284 via extension bytes.
    const long = Uint8Array.from([0x1f, 0x7a, 1, 0, 255, 10, 0x10, 0x7a]);
    expect(decodeLz4Block(long, 1000)).toEqual(new Uint8Array(286).fill(0x7a));
  });

  it('refuses each broken rule with CORRUPT', () => {
    expect(corrupt(() => decodeLz4Block(new Uint8Array(0), 10)).message).toContain('empty');
    expect(
      corrupt(() => decodeLz4Block(Uint8Array.from([0x11, 0x61, 0, 0, 0x00]), 64)).message,
    ).toContain('offset 0');
    expect(
      corrupt(() => decodeLz4Block(Uint8Array.from([0x11, 0x61, 2, 0, 0x00]), 64)).message,
    ).toContain('reaches before the output');
    expect(corrupt(() => decodeLz4Block(Uint8Array.from([0x50, 0x61]), 64)).message).toContain(
      'run past the input',
    );
    expect(
      corrupt(() => decodeLz4Block(Uint8Array.from([0x30, 0x61, 0x62, 0x63]), 2)).message,
    ).toContain('output bound');
    expect(
      corrupt(() => decodeLz4Block(Uint8Array.from([0x11, 0x61, 1, 0]), 64)).message,
    ).toContain('ends with a match');
    expect(
      corrupt(() => decodeLz4Block(Uint8Array.from([0x11, 0x61, 1, 0, 0x10, 0x62]), 6)).message,
    ).toContain('output bound');
    // A megabyte of 255s is a length that passes any bound: refused at once, no hang.
    const ff = new Uint8Array(1 << 20).fill(255);
    ff[0] = 0xf0;
    expect(corrupt(() => decodeLz4Block(ff, 1 << 20)).message).toContain('output bound');
  });
});

describe('lzo', () => {
  it('the end marker alone, and a first-byte literal run', () => {
    expect(decodeLzo1x(Uint8Array.from([0x11, 0, 0]), 16).length).toBe(0);
    const hello = Uint8Array.from([17 + 5, ...Buffer.from('hello'), 0x11, 0, 0]);
    expect(Buffer.from(decodeLzo1x(hello, 16))).toEqual(Buffer.from('hello'));
    // Literals 'ab', then a 3..4-byte match (64 + L=1: 4 bytes) at distance 2, then the end.
    const m2 = Uint8Array.from([17 + 2, 0x61, 0x62, 0x60 | (1 << 2), 0, 0x11, 0, 0]);
    expect(Buffer.from(decodeLzo1x(m2, 16))).toEqual(Buffer.from('ababab'));
  });

  it('refuses each broken rule with CORRUPT', () => {
    expect(corrupt(() => decodeLzo1x(Uint8Array.from([0x11, 0]), 16)).message).toContain(
      'too short',
    );
    // A match at distance 3 with only 2 bytes written.
    const far = Uint8Array.from([17 + 2, 0x61, 0x62, 0x60 | (2 << 2), 0, 0x11, 0, 0]);
    expect(corrupt(() => decodeLzo1x(far, 16)).message).toContain('reaches before the output');
    expect(corrupt(() => decodeLzo1x(Uint8Array.from([0x11, 0, 0, 0]), 16)).message).toContain(
      'follow the end-of-stream marker',
    );
    expect(
      corrupt(() => decodeLzo1x(Uint8Array.from([17 + 5, 0x61, 0x62, 0x63]), 16)).message,
    ).toContain('run past the input');
    expect(
      corrupt(() => decodeLzo1x(Uint8Array.from([17 + 3, 0x61, 0x62, 0x63, 0x11, 0, 0]), 2))
        .message,
    ).toContain('output bound');
    expect(
      corrupt(() => decodeLzo1x(Uint8Array.from([17 + 3, 0x61, 0x62, 0x63, 0x20]), 16)).message,
    ).toContain('input ends');
    // A long run of zero length bytes is refused once it passes the bound, not looped over.
    const zeros = new Uint8Array(1 << 20);
    zeros[0] = 0x10; // a far match with a zero length: extension bytes follow
    expect(corrupt(() => decodeLzo1x(zeros, 8192)).message).toMatch(/output bound|reaches before/);
  });
});

describe('zstd', () => {
  const zstd = createDecompressor(6, 131072);

  it('decodes the zstd tool’s frames: one-shot, with a checksum, and from a pipe', () => {
    for (const name of ['text.zst', 'text-check.zst', 'text-pipe.zst']) {
      expect(Buffer.from(zstd.decompress(codec(name), 65536)), name).toEqual(TEXT);
    }
    const oneShot = parseZstdFrame(codec('text.zst'));
    expect(oneShot.contentSize).toBe(TEXT.length);
    expect(parseZstdFrame(codec('text-check.zst')).checksum).toBe(true);
    const piped = parseZstdFrame(codec('text-pipe.zst'));
    expect(piped.contentSize).toBeNull();
    // `zstd -19` from a pipe declares an 8 MiB window: more than the kernel accepts (§4).
    expect(piped.windowSize).toBe(8 << 20);
  });

  it('refuses output past maxOut, garbage, trailing data and truncation with CORRUPT', () => {
    expect(corrupt(() => zstd.decompress(codec('text.zst'), 39999)).message).toContain(
      'declares 40000 bytes',
    );
    expect(corrupt(() => zstd.decompress(codec('text-pipe.zst'), 39999)).message).toContain(
      'more than 39999',
    );
    expect(corrupt(() => zstd.decompress(Buffer.from('not a zstd frame'), 100)).message).toContain(
      'magic',
    );
    const two = Buffer.concat([codec('text.zst'), codec('text.zst')]);
    expect(corrupt(() => zstd.decompress(two, 1 << 20)).message).toContain('follow the frame');
    const whole = codec('text.zst');
    for (const cut of [5, 6, 20, whole.length - 1]) {
      corrupt(() => zstd.decompress(whole.subarray(0, cut), 65536));
    }
  });
});

describe('every decoder on mutated real blocks', () => {
  const IMAGES = [
    'mks-lz4.sqfs',
    'mks-lz4-hc.sqfs',
    'gens-lz4.sqfs',
    'mks-lzo.sqfs',
    'mks-lzo1x-1.sqfs',
    'gens-lzo.sqfs',
    'mks-zstd.sqfs',
    'mks-zstd-22.sqfs',
    'gens-zstd.sqfs',
  ];
  for (const name of IMAGES) {
    it(`${name}: blocks decode; 1500 mutations each decode to at most maxOut or throw CORRUPT`, async () => {
      const { id, blocks } = await imageBlocks(name);
      expect(blocks.length).toBeGreaterThan(10);
      const d: Decompressor = createDecompressor(id, 16384);
      for (const b of blocks) expect(d.decompress(b, 16384).length).toBeGreaterThan(0);
      const prng = new Prng(id * 7919 + name.length);
      let failures = 0;
      for (let i = 0; i < 1500; i++) {
        const block = Buffer.from(blocks[prng.int(0, blocks.length - 1)]!);
        const edits = prng.int(1, 4);
        for (let e = 0; e < edits; e++) {
          const at = prng.int(0, block.length - 1);
          block[at] = prng.int(0, 9) < 3 ? block[at]! ^ (1 << prng.int(0, 7)) : prng.int(0, 255);
        }
        const cut = prng.int(0, 9) === 0 ? prng.int(0, block.length) : block.length;
        const maxOut = prng.int(0, 3) === 0 ? prng.int(1, 16384) : 16384;
        try {
          expect(d.decompress(block.subarray(0, cut), maxOut).length).toBeLessThanOrEqual(maxOut);
        } catch (err) {
          if (!(err instanceof SquashfsError) || err.code !== 'CORRUPT') throw err;
          failures++;
        }
      }
      // Most mutations break something; a decoder that accepted everything would be wrong.
      expect(failures).toBeGreaterThan(300);
    });
  }
});
