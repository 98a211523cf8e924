/**
 * The sparse-block test: whether a block is all zeros. A block of data nearly always shows a
 * non-zero byte among its first few, so those are looked at here, where a call into the addon
 * would cost more than the look. The rest of the block goes to the addon's isZero
 * (native/zero-bytes.c, vectorised): a block of zeros is read to its end, and JavaScript reads 4
 * bytes per loop turn (the 186 zero blocks of the large-200M bench file took about 5 ms of the
 * main thread). Without the addon, JavaScript reads it all.
 */
import { loadNative } from '../compress/native.js';

/** Bytes looked at before the addon is called. */
const HEAD_BYTES = 64;

type IsZero = (bytes: Uint8Array) => boolean;
let nativeIsZero: IsZero | null | undefined;

export function isAllZero(bytes: Uint8Array): boolean {
  const n = bytes.length;
  const head = Math.min(n, HEAD_BYTES);
  for (let i = 0; i < head; i++) if (bytes[i] !== 0) return false;
  if (head === n) return true;
  if (nativeIsZero === undefined) {
    const isZero = (loadNative() as { isZero?: IsZero } | null)?.isZero;
    nativeIsZero = typeof isZero === 'function' ? isZero : null;
  }
  return nativeIsZero !== null ? nativeIsZero(bytes) : jsIsAllZero(bytes);
}

/** The same test in JavaScript alone (exported for tests). */
export function jsIsAllZero(bytes: Uint8Array): boolean {
  // 4 bytes at a time where alignment allows; the rest byte by byte.
  const n = bytes.length;
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0) return false;
    i = words.length * 4;
  }
  for (; i < n; i++) if (bytes[i] !== 0) return false;
  return true;
}
