/**
 * copyBytes (src/squashfs/io/copy-bytes.ts) copies a file into a fragment buffer, a block into a
 * held copy and staged output: a byte out of place is a corrupt image. It must do exactly what
 * TypedArray.prototype.set does, through the addon (native/copy-bytes.c) or not, for plain and
 * shared memory, every size around NATIVE_MIN and unaligned offsets, and refuse what set refuses.
 */
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/squashfs/compress/native.js';
import { copyBytes, NATIVE_MIN } from '../../src/squashfs/io/copy-bytes.js';
import { requireFeature } from '../helpers/oracles.js';

function memory(shared: boolean, length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

describe('copyBytes', () => {
  it('does what set does, for plain and shared memory on either side', () => {
    for (const targetShared of [false, true]) {
      for (const sourceShared of [false, true]) {
        for (const length of [0, 1, NATIVE_MIN - 1, NATIVE_MIN, NATIVE_MIN + 1, 5000, 70_000]) {
          for (const offset of [0, 3]) {
            const source = memory(sourceShared, length + 5, 7).subarray(5);
            const target = memory(targetShared, length + 16, 1).subarray(2, length + 12);
            const expected = new Uint8Array(target);
            expected.set(source, offset);
            copyBytes(target, offset, source);
            const what = `target ${targetShared}, source ${sourceShared}, ${length} at ${offset}`;
            expect(Buffer.compare(target, expected), what).toBe(0);
            // The bytes around the view are untouched.
            const whole = new Uint8Array(target.buffer);
            expect([whole[0], whole[1]], what).toEqual([1, 32]);
          }
        }
      }
    }
  });

  it('refuses a source that does not fit, as set does, and writes nothing', () => {
    for (const shared of [false, true]) {
      const target = memory(shared, 4096, 0);
      const before = new Uint8Array(target);
      const source = memory(true, 2048, 9);
      expect(() => copyBytes(target, 2049, source)).toThrow(RangeError);
      expect(() => copyBytes(target, -1, source)).toThrow(RangeError);
      expect(Buffer.compare(target, before)).toBe(0);
    }
  });
});

type CopyBytes = (target: Uint8Array, offset: number, source: Uint8Array) => void;
const nativeCopy = (loadNative() as { copyBytes?: CopyBytes } | null)?.copyBytes;
const describeNative = requireFeature(
  "the native addon's copyBytes",
  typeof nativeCopy === 'function',
  'the addon is not built',
);

describeNative("the addon's copyBytes", () => {
  it('copies overlapping views of the same memory as memmove does', () => {
    const bytes = memory(true, 10_000, 3);
    const expected = new Uint8Array(bytes);
    expected.copyWithin(100, 0, 9000);
    nativeCopy!(bytes, 100, bytes.subarray(0, 9000));
    expect(Buffer.compare(bytes, expected)).toBe(0);
  });

  it('rejects what is not bytes, and a copy past the end', () => {
    const target = new Uint8Array(1024);
    expect(() => nativeCopy!('x' as unknown as Uint8Array, 0, target)).toThrow(TypeError);
    expect(() => nativeCopy!(target, 0, new Uint16Array(4) as unknown as Uint8Array)).toThrow(
      TypeError,
    );
    expect(() => nativeCopy!(target, 1000, new Uint8Array(25))).toThrow(RangeError);
    expect(() => nativeCopy!(target, 2 ** 40, new Uint8Array(0))).toThrow(RangeError);
  });
});
