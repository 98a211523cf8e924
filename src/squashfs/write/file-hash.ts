/**
 * The hash that finds duplicate-file candidates: XXH64 with seed 0, streamed over a file's bytes.
 * It only picks candidates (every match is then confirmed byte for byte) and is never stored in
 * an image, but both engines give the same values, so the choice cannot change a decision.
 *
 * - native (when the addon is built): native/xxh64.c. It reads the caller's bytes in place,
 *   where xxhash-wasm first copies every chunk into wasm memory; on the binaries bench corpus
 *   that copy made hashing the largest single cost of an uncompressed image's main thread.
 * - xxhash-wasm otherwise (or with TSQUASHFS_NATIVE=0).
 */
import { loadNative } from '../compress/native.js';

export interface Hash64 {
  update(bytes: Uint8Array): void;
  digest(): bigint;
}

/**
 * A fresh streaming hash per call; `words(bytes, out)` hashes `bytes` in one call instead, its
 * high 32 bits into out[0] and its low ones into out[1] (what the writer's index keys on).
 */
export interface Hash64Factory {
  (): Hash64;
  words(bytes: Uint8Array, out: Uint32Array): void;
}

export type HashEngine = 'native' | 'wasm';

interface NativeXxh64 {
  xxh64Update(state: Uint8Array, bytes: Uint8Array): void;
  xxh64Digest(state: Uint8Array): bigint;
  xxh64StateBytes: number;
  /** Absent from an addon built before it. */
  xxh64Words?(bytes: Uint8Array, out: Uint32Array): void;
}

/** Published XXH64 (seed 0) values, checked once before the native engine is trusted. */
const KNOWN: [string, bigint][] = [
  ['', 0xef46db3751d8e999n],
  ['a', 0xd24ec4f1a98c6e5bn],
  ['abc', 0x44bc2cf5ad770999n],
];

function nativeXxh64(): NativeXxh64 | null {
  const addon = loadNative() as Partial<NativeXxh64> | null;
  // An addon built from an older source has no hash functions.
  if (typeof addon?.xxh64Update !== 'function' || typeof addon.xxh64Digest !== 'function') {
    return null;
  }
  const native = addon as NativeXxh64;
  try {
    for (const [text, want] of KNOWN) {
      const state = new Uint8Array(native.xxh64StateBytes);
      native.xxh64Update(state, Buffer.from(text));
      if (native.xxh64Digest(state) !== want) return null;
    }
  } catch {
    return null;
  }
  return native;
}

/** A factory of streaming XXH64 hashers: the native engine when it is there and correct. */
export async function xxh64Factory(engine?: HashEngine): Promise<Hash64Factory> {
  const native = engine === 'wasm' ? null : nativeXxh64();
  if (engine === 'native' && !native) throw new Error('the native XXH64 engine is not available');
  if (native) {
    const stateBytes = native.xxh64StateBytes;
    const states = new StateSlab(stateBytes);
    const make = () => {
      const state = states.take();
      return {
        update: (bytes: Uint8Array) => native.xxh64Update(state, bytes),
        digest: () => native.xxh64Digest(state),
      };
    };
    // One call, no state and no BigInt: on small-20000 uncompressed, hashing each small file
    // through a state object and a BigInt digest was about 5% of the main thread.
    const words = native.xxh64Words?.bind(native) ?? wordsOf(make);
    return Object.assign(make, { words });
  }
  // Imported only here: the native engine is the rule, and loading the wasm costs startup time.
  const { default: xxhash } = await import('xxhash-wasm');
  const wasm = await xxhash();
  const make = () => wasm.create64();
  return Object.assign(make, { words: wordsOf(make) });
}

/** Hash64Factory.words through a streaming hash. */
function wordsOf(make: () => Hash64): Hash64Factory['words'] {
  return (bytes, out) => {
    const h = make();
    h.update(bytes);
    const digest = h.digest();
    out[0] = Number(digest >> 32n);
    out[1] = Number(digest & 0xffffffffn);
  };
}

/** States per slab: one allocation for this many hashes. */
const STATES_PER_SLAB = 1024;

/**
 * Zeroed states (a zeroed state is a fresh one, native/xxh64.c), each a view into a shared slab.
 * A state of its own was an ArrayBuffer of its own (80 bytes: V8 keeps typed arrays of up to 64
 * bytes on its heap, larger ones get their memory from malloc and are freed by the collector),
 * and on small-100000, where nearly every file is hashed, those allocations and frees were a
 * few percent of the main thread. A slab is freed by the collector once no state of it is used.
 */
class StateSlab {
  private slab = new Uint8Array(0);
  private used = 0;

  constructor(private readonly stateBytes: number) {}

  take(): Uint8Array {
    if (this.used === this.slab.length) {
      this.slab = new Uint8Array(this.stateBytes * STATES_PER_SLAB);
      this.used = 0;
    }
    const state = this.slab.subarray(this.used, this.used + this.stateBytes);
    this.used += this.stateBytes;
    return state;
  }
}
