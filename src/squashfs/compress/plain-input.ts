/**
 * Blocks in shared memory (read buffers are SharedArrayBuffers, so a worker reads them in place)
 * are copied into one reused plain buffer before a compressor sees them: lzma-native throws on
 * shared memory, and a block whose bytes another thread could change must not be compressed in
 * place by code that reads it more than once. The copy is one memcpy (copy-bytes.ts) into memory
 * already touched, on the thread that compresses.
 *
 * The view returned is valid until the next call; compressors never keep their input.
 */
import { copyBytes } from '../io/copy-bytes.js';

export class PlainInput {
  private scratch = new Uint8Array(0);

  of(block: Uint8Array): Uint8Array {
    if (!(block.buffer instanceof SharedArrayBuffer)) return block;
    if (this.scratch.length < block.length) this.scratch = new Uint8Array(block.length);
    const view = this.scratch.subarray(0, block.length);
    copyBytes(view, 0, block);
    return view;
  }
}

/** Whether `block` lives in shared memory (it is sent to a worker as it is, not copied). */
export function isShared(block: Uint8Array): boolean {
  return block.buffer instanceof SharedArrayBuffer;
}
