/**
 * Copies bytes where shared memory is involved. The writer's read buffers, fragment buffers and
 * held copies are SharedArrayBuffers (a compression worker reads a block where it is), and V8
 * copies into or out of shared memory with relaxed atomic loads and stores, not memcpy:
 * TypedArray.prototype.set of a 5 KiB file into a fragment buffer ran at about 1.7 GB/s here,
 * against 31 GB/s between plain buffers. From NATIVE_MIN bytes on, such a copy goes to the
 * addon's copyBytes (native/copy-bytes.c, memmove: 18 GB/s at 5 KiB, 25 GB/s at 16 KiB); below
 * that, the call into the addon costs more than it saves (100 bytes: 0.74 against 0.93 GB/s).
 *
 * A plain memmove is safe here because no other thread writes the memory being copied while the
 * writer copies it: a buffer goes to a worker only once it is complete, and comes back to be
 * reused only once the worker is done with it.
 */
import { loadNative } from '../compress/native.js';

/** Smallest copy handed to the addon. */
export const NATIVE_MIN = 512;

type CopyBytes = (target: Uint8Array, offset: number, source: Uint8Array) => void;
let nativeCopy: CopyBytes | null | undefined;

/** `target.set(source, offset)`, faster where either side is shared memory. */
export function copyBytes(target: Uint8Array, offset: number, source: Uint8Array): void {
  if (
    source.length >= NATIVE_MIN &&
    (target.buffer instanceof SharedArrayBuffer || source.buffer instanceof SharedArrayBuffer)
  ) {
    if (nativeCopy === undefined) {
      const copy = (loadNative() as { copyBytes?: CopyBytes } | null)?.copyBytes;
      nativeCopy = typeof copy === 'function' ? copy : null;
    }
    if (nativeCopy !== null) return nativeCopy(target, offset, source);
  }
  target.set(source, offset);
}
