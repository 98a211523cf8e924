/**
 * The native addon's readFile (native/read-file.c): open, read and close of one host file in a
 * single libuv threadpool job, where Node's fs needs three. On small-20000 (20 000 files of a few
 * KiB) the three round trips per file were the largest part of the writer's main-thread time.
 * Null when the addon is not built, is turned off (TSQUASHFS_NATIVE=0) or predates readFile.
 */
import { loadNative } from '../squashfs/compress/native.js';

/**
 * Reads the file at `path` (opened O_NOFOLLOW) into `into` until it is full, the file ends, or a
 * short read completes `expected` bytes; `callback` gets the byte count or an fs-style error
 * (with `code` and `syscall`).
 */
export type WholeFileReader = (
  path: Uint8Array,
  into: Uint8Array,
  expected: number,
  callback: (err: NodeJS.ErrnoException | null, bytesRead?: number) => void,
) => void;

let reader: WholeFileReader | null | undefined;

export function wholeFileReader(): WholeFileReader | null {
  if (reader === undefined) {
    const addon = loadNative() as { readFile?: WholeFileReader } | null;
    reader = typeof addon?.readFile === 'function' ? addon.readFile : null;
  }
  return reader;
}
