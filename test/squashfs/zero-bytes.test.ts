/**
 * The sparse-block test: the addon's isZero (native/zero-bytes.c) and the JavaScript fallback
 * must agree on every length, alignment and position of a lone non-zero byte, since a wrong
 * "zero" stores a block of data as a hole.
 */
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/squashfs/compress/native.js';
import { isAllZero, jsIsAllZero } from '../../src/squashfs/write/zero-bytes.js';
import { requireFeature } from '../helpers/oracles.js';

describe('isAllZero', () => {
  it('finds a lone non-zero byte wherever it is, at every alignment and length', () => {
    const memory = new Uint8Array(1200);
    for (const offset of [0, 1, 3, 4, 7, 8]) {
      for (const length of [0, 1, 7, 63, 64, 65, 255, 256, 257, 511, 600, 1100]) {
        const view = memory.subarray(offset, offset + length);
        expect(isAllZero(view), `zeros, offset ${offset}, length ${length}`).toBe(true);
        expect(jsIsAllZero(view)).toBe(true);
        for (let at = 0; at < length; at++) {
          view[at] = 0x80;
          expect(isAllZero(view), `offset ${offset}, length ${length}, byte ${at}`).toBe(false);
          expect(jsIsAllZero(view)).toBe(false);
          view[at] = 0;
        }
      }
    }
  });
});

const isZero = (loadNative() as { isZero?: (b: Uint8Array) => boolean } | null)?.isZero;
const describeNative = requireFeature(
  "the native addon's isZero",
  typeof isZero === 'function',
  'the addon is not built',
);

describeNative("the addon's isZero", () => {
  it('reads a block to its last byte, in plain and in shared memory', () => {
    const block = new Uint8Array(128 << 10);
    expect(isZero!(block)).toBe(true);
    block[(128 << 10) - 1] = 1;
    expect(isZero!(block)).toBe(false);
    // Shared memory, as the read buffers are.
    const shared = new Uint8Array(new SharedArrayBuffer(4096), 5, 4000);
    expect(isZero!(shared)).toBe(true);
    shared[3999] = 2;
    expect(isZero!(shared)).toBe(false);
    expect(() => isZero!('not bytes' as unknown as Uint8Array)).toThrow(TypeError);
  });
});
