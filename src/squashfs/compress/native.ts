/**
 * The optional native engine: native/tsquashfs_native.c, built at install time by
 * scripts/build-native.js. It calls the system's zlib exactly as mksquashfs 4.5.1 does
 * (deflateInit2 + deflate(Z_FINISH)), so on a machine whose mksquashfs links that zlib it writes
 * mksquashfs's bytes by construction, at native speed.
 *
 * gzip.ts uses it only if it loads and passes a self-test: its output on a fixed sample must
 * equal pako's (a port of stock zlib, whose bytes match Debian 12's mksquashfs), recorded as
 * digests so that pako need not run at startup. A system with
 * another zlib (zlib-ng's compat library, say) whose output differs therefore keeps pako and the
 * same image bytes. `TSQUASHFS_NATIVE=0` turns it off.
 *
 * The addon also reaches the system's libdeflate (if installed) for the opt-in gzip engine
 * 'libdeflate', whose streams are smaller and faster to make than zlib's but not its bytes.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageInfo } from '../../package-root.js';

export interface NativeAddon {
  /** deflateInit2(level, Z_DEFLATED, windowBits, memLevel, strategy) + deflate(Z_FINISH). */
  deflate(
    input: Uint8Array,
    level: number,
    windowBits: number,
    memLevel: number,
    strategy: number,
  ): Buffer;
  /** libdeflate_zlib_compress at `level` (1–12): a valid zlib stream, not zlib's bytes. */
  libdeflateZlib(input: Uint8Array, level: number): Buffer;
  /** Whether the system's libdeflate.so.0 was found. */
  libdeflate: boolean;
  /** zlibVersion() of the system zlib, or null when it could not be opened. */
  zlibVersion: string | null;
}

const require = createRequire(import.meta.url);
/** Where `npm ci` builds the addon; null when this module is not inside the package. */
const root = packageInfo()?.root;
export const NATIVE_ADDON_PATH =
  root === undefined ? null : path.join(root, 'native/build/Release/tsquashfs_native.node');

let loaded: NativeAddon | null | undefined;
/** Why loadNative() returned null, for messages. */
export let nativeUnavailableReason = '';

/** The addon, or null if it is not built, not loadable or turned off (never throws). */
export function loadNative(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.TSQUASHFS_NATIVE === '0') {
    nativeUnavailableReason = 'TSQUASHFS_NATIVE=0';
  } else if (NATIVE_ADDON_PATH === null) {
    nativeUnavailableReason = `no package.json of tsquashfs above ${import.meta.url}`;
  } else if (!existsSync(NATIVE_ADDON_PATH)) {
    nativeUnavailableReason = `${NATIVE_ADDON_PATH} was not built`;
  } else {
    try {
      loaded = require(NATIVE_ADDON_PATH) as NativeAddon;
    } catch (err) {
      nativeUnavailableReason = `${NATIVE_ADDON_PATH} does not load: ${(err as Error).message}`;
    }
  }
  return loaded;
}

/**
 * A fixed 40 KiB sample for the self-test: text-like runs, bytes from a small-alphabet
 * generator, x86-like call instructions and incompressible noise, so that literals, matches of
 * every length and the lazy-matching paths all run.
 */
export function selfTestSample(): Uint8Array {
  const out = new Uint8Array(40 << 10);
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const words = ['squashfs ', 'inode ', 'block ', 'the ', 'kernel\n', 'fragment ', 'xattr '];
  let o = 0;
  while (o < out.length) {
    const kind = next() % 4;
    const n = Math.min(64 + (next() % 512), out.length - o);
    for (let i = 0; i < n; i++, o++) {
      if (kind === 0) out[o] = words[next() % words.length]!.charCodeAt(i % 6);
      else if (kind === 1) out[o] = 0x41 + (next() % 5);
      else if (kind === 2) out[o] = i % 5 === 0 ? 0xe8 : (next() & 0x03) * (i % 5);
      else out[o] = next() & 0xff;
    }
  }
  return out;
}

let crypto: typeof import('node:crypto') | undefined;
/**
 * The SHA-256 (hex) of an engine's stream of the sample, for self-tests. node:crypto is loaded
 * on the first check, not imported: importing it took about 7 ms of every start.
 */
export function sha256Hex(bytes: Uint8Array): string {
  crypto ??= require('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * Memoized self-test: `check()` compares the native engine with the portable one on the sample.
 * A throwing check counts as a failure.
 */
export function verified(check: () => boolean): () => boolean {
  let result: boolean | undefined;
  return () => {
    if (result === undefined) {
      try {
        result = check();
      } catch {
        result = false;
      }
    }
    return result;
  };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
