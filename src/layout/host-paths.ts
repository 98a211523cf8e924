/**
 * Host paths as raw bytes. Linux file names are byte strings that need not be UTF-8, and a JS
 * string cannot carry every byte sequence, so the scanner keeps paths as Buffers from readdir on
 * and only turns them into text for messages.
 */
import path from 'node:path';

const SLASH = 0x2f;
const SLASH_BYTES = Buffer.from([SLASH]);

/** An absolute host path as bytes. Resolution is lexical (like path.resolve): no symlink is read. */
export function hostPath(p: string, base?: string): Buffer {
  return Buffer.from(base === undefined ? path.resolve(p) : path.resolve(base, p));
}

/** `dir/name` as bytes; `dir` may be `/`, which must not produce `//name`. */
export function childPath(dir: Buffer, name: Uint8Array): Buffer {
  return dir[dir.length - 1] === SLASH
    ? Buffer.concat([dir, name])
    : Buffer.concat([dir, SLASH_BYTES, name]);
}

/** The last component of an absolute, normalised path (empty for `/`). */
export function baseName(p: Buffer): Buffer {
  return p.subarray(p.lastIndexOf(SLASH) + 1);
}

/** Text for messages. Non-UTF-8 bytes show as U+FFFD: good enough to find the file. */
export function displayPath(p: Uint8Array): string {
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
}

/** A lossless string key for sets and maps (latin1 maps each byte to one code unit). */
export function pathKey(p: Uint8Array): string {
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1');
}
