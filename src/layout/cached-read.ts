/**
 * Reads of host files that the page cache can serve, made on the calling thread by the native
 * addon (readCached in native/read-file.c: preadv2 with RWF_NOWAIT). A read sent to libuv's
 * threadpool costs a thread wake-up and a callback, and on a 2-core machine the woken thread
 * takes the main thread's core: on an uncompressed 200 MiB file, reading its 1 MiB chunks this
 * way instead took the run from 157 to 143 ms (hyperfine, 25 runs). A read that would wait for
 * the disk still goes to the threadpool, so a cold tree is read as before.
 * Null when the addon is not built, is turned off (TSQUASHFS_NATIVE=0) or predates readCached.
 */
import { loadNative } from '../squashfs/compress/native.js';

/**
 * Reads into `into` at the descriptor's offset until it is full, the file ends or the rest is not
 * cached: the byte count (0 at the end of the file), or -1 when nothing could be read without
 * waiting for the disk. Throws an fs-style error (with `code` and `syscall`) when the read fails.
 */
export type CachedRead = (fd: number, into: Uint8Array) => number;

let reader: CachedRead | null | undefined;

export function cachedRead(): CachedRead | null {
  if (reader === undefined) {
    const addon = loadNative() as { readCached?: CachedRead } | null;
    reader = typeof addon?.readCached === 'function' ? addon.readCached : null;
  }
  return reader;
}
