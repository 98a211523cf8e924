/**
 * The two xz engines must write the same bytes: lzma-native (xz 5.2's liblzma, bundled, with the
 * .xz container built in xz-container.ts) and the addon's xzEncode (the system liblzma's own
 * lzma_stream_buffer_encode, native/xz-encode.c). Images then never depend on which one ran;
 * xz-identity.test.ts checks the one in use against mksquashfs and against liblzma through
 * python3's ctypes.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BcjFilter } from '../../src/squashfs/compress/compressor.js';
import { loadNative, selfTestSample } from '../../src/squashfs/compress/native.js';
import {
  LZMA_NATIVE_SAMPLE_SHA256,
  XzCompressor,
  xzDecompress,
  xzEngine,
  xzStreamBufferEncode,
} from '../../src/squashfs/compress/xz.js';
import { expectSameBytes, nodeSlice, noise, text } from '../helpers/compress-samples.js';
import { requireFeature } from '../helpers/oracles.js';

describe('the xz self-test sample', () => {
  it("has the recorded digests with lzma-native, the reference the addon's encoder must meet", () => {
    const sample = selfTestSample();
    for (const f of ['lzma2', 'x86'] as const) {
      const stream = xzStreamBufferEncode(
        sample,
        64 << 10,
        f === 'x86' ? 'x86' : undefined,
        'lzma-native',
      );
      expect(createHash('sha256').update(stream).digest('hex')).toBe(LZMA_NATIVE_SAMPLE_SHA256[f]);
    }
  });
});

const hasNativeXz = typeof (loadNative() as { xzEncode?: unknown } | null)?.xzEncode === 'function';
const describeNative = requireFeature(
  "the addon's xzEncode (native/xz-encode.c with liblzma.so.5)",
  hasNativeXz,
  loadNative() ? 'liblzma.so.5 did not open' : 'the addon is not built',
);

describeNative('the addon’s xz engine', () => {
  it('is the one in use, having passed its self-test', () => {
    expect(xzEngine()).toBe('liblzma');
  });

  const bash = readFileSync('/bin/sh');
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['1 byte', Uint8Array.of(7)],
    ['5000 bytes of text', text(5000)],
    ['1 MiB of text', text(1 << 20)],
    ['128 KiB of noise (uncompressed chunks)', noise(131072, 4)],
    ['1 MiB of node code', nodeSlice(1 << 20)],
    ['a shell binary', bash],
  ];
  for (const [name, input] of inputs) {
    for (const bcj of [undefined, 'x86', 'arm', 'sparc'] as (BcjFilter | undefined)[]) {
      for (const dict of [8192, 128 << 10, 1 << 20]) {
        it(`${name}, ${bcj ?? 'no BCJ'}, dictionary ${dict}: the same bytes`, () => {
          expectSameBytes(
            xzStreamBufferEncode(input, dict, bcj, 'liblzma'),
            xzStreamBufferEncode(input, dict, bcj, 'lzma-native'),
            `${name} ${bcj ?? ''} ${dict}`,
          );
        });
      }
    }
  }

  it('reads blocks in shared memory in place, and its blocks decompress back', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(300_000));
    shared.set(nodeSlice(300_000));
    const xz = new XzCompressor(1 << 20, { bcj: ['x86'] });
    const out = xz.compress(shared, 'data')!;
    expect(out).not.toBeNull();
    expect(Buffer.compare(xz.decompress(out, 1 << 20), shared)).toBe(0);
    expectSameBytes(out, xz.compress(new Uint8Array(shared), 'data')!, 'shared vs plain');
  });

  it('lets compression workers end cleanly (regression: a thread-exit destructor ran after Node unloaded the addon)', () => {
    // In a fresh process: workers that used the encoder end (close()), then the process exits.
    // A pthread key destructor in the addon crashed it with SIGSEGV at that point.
    const pool = new URL('../../src/squashfs/compress/pool.ts', import.meta.url).href;
    const script = `
      const { createBlockCompressor } = await import(${JSON.stringify(pool)});
      const p = createBlockCompressor({ name: 'xz' }, 1 << 20, 2);
      const block = new Uint8Array(new SharedArrayBuffer(1 << 20));
      for (let i = 0; i < block.length; i++) block[i] = (i * 7) % 251 < 40 ? i & 0xff : 0x41;
      const out = await Promise.all([1, 2, 3, 4].map(() => p.compress(block, 'data')));
      await p.close();
      console.log(out.every((o) => o.compressed) ? 'ok' : 'not compressed');`;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('ok');
  });
});

describeNative('the addon’s xz decoder', () => {
  const outcome = (f: () => Uint8Array) => {
    try {
      return { bytes: Buffer.from(f()).toString('hex') };
    } catch (err) {
      return { code: (err as { code?: string }).code };
    }
  };

  it('decodes what lzma-native decodes, and refuses what it refuses, with the same error code', () => {
    const stream = xzStreamBufferEncode(nodeSlice(200_000), 1 << 20, 'x86', 'lzma-native');
    const truncated = stream.subarray(0, stream.length - 30);
    const flipped = stream.slice();
    flipped[stream.length >> 1]! ^= 0x40;
    const trailing = Buffer.concat([stream, Buffer.alloc(16)]);
    const cases: [string, Uint8Array, number, string][] = [
      ['valid', stream, 1 << 20, 'bytes'],
      ['valid, bytes after the stream', trailing, 1 << 20, 'bytes'],
      ['truncated', truncated, 1 << 20, 'CORRUPT'],
      ['a flipped byte', flipped, 1 << 20, 'CORRUPT'],
      ['more than maxOut', stream, 100_000, 'CORRUPT'],
      ['not xz at all', text(500), 1 << 20, 'CORRUPT'],
    ];
    for (const [name, input, maxOut, expected] of cases) {
      const a = outcome(() => xzDecompress(input, maxOut, 64 << 20, 'liblzma'));
      const b = outcome(() => xzDecompress(input, maxOut, 64 << 20, 'lzma-native'));
      expect(a, name).toEqual(b);
      expect('bytes' in a ? 'bytes' : a.code, name).toBe(expected);
    }
  });

  it('is the one XzCompressor uses, and decompresses into a buffer it is given', () => {
    const xz = new XzCompressor(1 << 20);
    const block = text(300_000);
    const into = new Uint8Array(1 << 20);
    const out = xz.decompress(xz.compress(block, 'data')!, 1 << 20, into);
    expect(out.buffer).toBe(into.buffer);
    expect(Buffer.compare(out, block)).toBe(0);
  });
});
