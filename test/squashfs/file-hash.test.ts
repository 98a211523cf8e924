/**
 * The duplicate-detection hash: both engines must give xxhash-wasm's XXH64 (seed 0) values, for
 * every length around the 32-byte stripe and 8/4-byte tail boundaries and however the input is
 * split into update() calls, since a chunked file must hash as its whole bytes do.
 */
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/squashfs/compress/native.js';
import { xxh64Factory, type HashEngine } from '../../src/squashfs/write/file-hash.js';

function sample(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const nativeBuilt = typeof (loadNative() as { xxh64Update?: unknown } | null)?.xxh64Update;
const engines: HashEngine[] = nativeBuilt === 'function' ? ['native', 'wasm'] : ['wasm'];
if (engines.length === 1) console.log('file-hash: native engine not built; only wasm tested');

describe.each(engines)('xxh64 engine %s', (engine) => {
  it('matches xxhash-wasm on every length 0..300, whole and split', async () => {
    const wasm = await xxhash();
    const make = await xxh64Factory(engine);
    const bytes = sample(300);
    for (let len = 0; len <= 300; len++) {
      const input = bytes.subarray(0, len);
      const want = wasm.h64Raw(input);
      const whole = make();
      whole.update(input);
      expect(whole.digest(), `length ${len}`).toBe(want);
      for (const step of [1, 7, 31, 32, 33]) {
        const split = make();
        for (let at = 0; at < len; at += step) split.update(input.subarray(at, at + step));
        expect(split.digest(), `length ${len} in steps of ${step}`).toBe(want);
      }
    }
  });

  it('hashes in one call (words) as the stream does, high half first, at any offset', async () => {
    const wasm = await xxhash();
    const make = await xxh64Factory(engine);
    const bytes = sample(70_000);
    const out = new Uint32Array(2);
    for (const [from, to] of [
      [0, 0],
      [0, 1],
      [3, 40],
      [7, 300],
      [1, 4096],
      [5, 70_000],
    ]) {
      const want = wasm.h64Raw(bytes.subarray(from, to));
      make.words(bytes.subarray(from, to), out);
      expect((BigInt(out[0]!) << 32n) | BigInt(out[1]!), `${from}..${to}`).toBe(want);
    }
  });

  it('matches published values and hashes views at any offset', async () => {
    const make = await xxh64Factory(engine);
    const digest = (b: Uint8Array) => {
      const h = make();
      h.update(b);
      return h.digest();
    };
    expect(digest(new Uint8Array(0))).toBe(0xef46db3751d8e999n);
    expect(digest(Buffer.from('abc'))).toBe(0x44bc2cf5ad770999n);
    const big = sample(3 << 20);
    const wasm = await xxhash();
    expect(digest(big.subarray(5, (2 << 20) + 3))).toBe(
      wasm.h64Raw(big.subarray(5, (2 << 20) + 3)),
    );
  });

  it('keeps separate hashers apart and digest() does not end the stream', async () => {
    const make = await xxh64Factory(engine);
    const wasm = await xxhash();
    const a = make();
    const b = make();
    const bytes = sample(100);
    a.update(bytes.subarray(0, 40));
    b.update(bytes.subarray(40));
    expect(a.digest()).toBe(wasm.h64Raw(bytes.subarray(0, 40)));
    a.update(bytes.subarray(40));
    expect(a.digest()).toBe(wasm.h64Raw(bytes));
    expect(b.digest()).toBe(wasm.h64Raw(bytes.subarray(40)));
  });

  it('keeps thousands of live hashers apart (the native states share slabs)', async () => {
    const wasm = await xxhash();
    const make = await xxh64Factory(engine);
    const bytes = sample(3000);
    // More than a slab's 1024 states, all fed in turns so that any overlap would show.
    const hashers = Array.from({ length: 2500 }, () => make());
    for (let step = 0; step < 3; step++) {
      hashers.forEach((h, i) => h.update(bytes.subarray(i % 7, (i % 7) + 10 * (step + 1))));
    }
    hashers.forEach((h, i) => {
      const o = i % 7;
      const whole = Buffer.concat([
        bytes.subarray(o, o + 10),
        bytes.subarray(o, o + 20),
        bytes.subarray(o, o + 30),
      ]);
      expect(h.digest(), `hasher ${i}`).toBe(wasm.h64Raw(whole));
    });
  });
});

describe('xxh64Factory', () => {
  it('gives the wasm engine when asked, whatever the addon', async () => {
    const make = await xxh64Factory('wasm');
    const h = make();
    h.update(Buffer.from('a'));
    expect(h.digest()).toBe(0xd24ec4f1a98c6e5bn);
  });
});
