/**
 * gzip engines against foreign oracles. The native engine (the system zlib through
 * native/tsquashfs_native.c) and pako must both write exactly what mksquashfs 4.5.1 writes, for
 * data blocks at every -X setting it has; and what stock zlib writes (python3's zlib module, which
 * links the system zlib) for inputs mksquashfs would not keep compressed.
 *
 * Oracle 1: mksquashfs images with -noI (the inode table stays readable) and one file, whose
 * data blocks are compared with compress() of the same input.
 * Oracle 2: python3 `zlib.compressobj(level, DEFLATED, wbits, 8, strategy)`.
 *
 * The libdeflate engines (the bundled WebAssembly build, the default, and the opt-in system
 * library) write other bytes: their streams must inflate back to the input, be no larger in total
 * than stock zlib's, and make images that unsquashfs and the kernel read.
 *
 * When the native engine is not built (no compiler at install time) its cases are skipped with
 * a printed reason; pako's always run.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GzipEngine, GzipOptions } from '../../src/squashfs/compress/compressor.js';
import {
  GzipCompressor,
  nativeGzipAvailable,
  STOCK_ZLIB_SAMPLE_SHA256,
  systemLibdeflateGzipAvailable,
  ZLIB_STRATEGY,
} from '../../src/squashfs/compress/gzip.js';
import { bytesSource, tree } from '../../src/squashfs/tree.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import {
  loadNative,
  NATIVE_ADDON_PATH,
  nativeUnavailableReason,
  selfTestSample,
} from '../../src/squashfs/compress/native.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import {
  expectSameBytes,
  firstFileBlocks,
  nodeSlice,
  noise,
  text,
} from '../helpers/compress-samples.js';
import {
  mksquashfs,
  requireFeature,
  requireOracle,
  unsquashfsExtract,
  withKernelMount,
} from '../helpers/oracles.js';
import zlib from 'node:zlib';
import pako from 'pako';

/** sha256 of the bundled libdeflate's stream of selfTestSample() at level 9 (libdeflate 0.1.0). */
const PINNED_LIBDEFLATE_SHA256 = '4a16c14b97ca0a8aaa681d87755fa0b815f4954b29a172aef0ace69dd4b853c8';

const ENGINES: GzipEngine[] = ['pako'];
if (nativeGzipAvailable()) ENGINES.push('native');
else {
  console.log(
    `gzip-engines: engine 'native' not tested: ${loadNative() ? 'its self-test failed' : nativeUnavailableReason}`,
  );
}

interface Case {
  name: string;
  content: () => Uint8Array;
  args: string[];
  blockSize: number;
  options: Omit<GzipOptions, 'name' | 'engine'>;
}

const CASES: Case[] = [
  {
    name: 'text and node code, 128 KiB blocks, defaults',
    content: () => Buffer.concat([text(128 << 10), nodeSlice(3 * (128 << 10)), text(5000, 2)]),
    args: ['-no-fragments'],
    blockSize: 128 << 10,
    options: {},
  },
  {
    name: 'node code, -b 1M',
    content: () => nodeSlice(1 << 20),
    args: ['-b', '1M'],
    blockSize: 1 << 20,
    options: {},
  },
  {
    name: '-Xcompression-level 1 -Xwindow-size 8',
    content: () => Buffer.concat([text(64 << 10, 3), nodeSlice(64 << 10)]),
    args: ['-b', '64K', '-Xcompression-level', '1', '-Xwindow-size', '8'],
    blockSize: 64 << 10,
    options: { level: 1, windowBits: 8 },
  },
  {
    name: '-Xcompression-level 6 -Xwindow-size 12 -Xstrategy filtered,run_length_encoded,fixed',
    content: () => Buffer.concat([nodeSlice(2 * (128 << 10)), text(128 << 10, 4)]),
    args: [
      '-Xcompression-level',
      '6',
      '-Xwindow-size',
      '12',
      '-Xstrategy',
      'filtered,run_length_encoded,fixed',
    ],
    blockSize: 128 << 10,
    options: {
      level: 6,
      windowBits: 12,
      strategies: ['filtered', 'run_length_encoded', 'fixed'],
    },
  },
  {
    name: 'incompressible block stored raw',
    content: () => Buffer.concat([noise(128 << 10), text(128 << 10)]),
    args: [],
    blockSize: 128 << 10,
    options: {},
  },
];

requireOracle('mksquashfs')('gzip data blocks are byte-identical to mksquashfs 4.5.1', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await makeTempDir('gzip-engines');
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  CASES.forEach((c, n) => {
    it(c.name, async () => {
      const src = join(work.path, `src${n}`);
      const image = join(work.path, `img${n}.sqfs`);
      const content = c.content();
      await mkdir(src);
      await writeFile(join(src, 'file'), content);
      await mksquashfs([src], image, [
        '-noI',
        '-noF',
        '-noX',
        '-all-root',
        '-mkfs-time',
        '0',
        '-quiet',
        ...c.args,
      ]);
      const img = await readFile(image);
      expect(img.readUInt16LE(20), 'gzip image').toBe(1);
      const { blocks } = firstFileBlocks(img);
      expect(blocks.length).toBe(Math.ceil(content.length / c.blockSize));
      for (const engine of ENGINES) {
        const comp = new GzipCompressor({ ...c.options, engine });
        blocks.forEach((b, i) => {
          const input = content.subarray(i * c.blockSize, (i + 1) * c.blockSize);
          const ours = comp.compress(input);
          if (b.raw) {
            expect(ours, `${engine} block ${i}: mksquashfs stored it raw`).toBeNull();
            return;
          }
          expectSameBytes(ours, img.subarray(b.offset, b.offset + b.size), `${engine} block ${i}`);
        });
      }
    });
  });
});

/** argv: level wbits strategy; stdin: input; stdout: zlib stream from python3's zlib. */
const PY_ORACLE = String.raw`
import sys, zlib
if sys.argv[1] == 'version':
    print(zlib.ZLIB_RUNTIME_VERSION); sys.exit(0)
level, wbits, strategy = map(int, sys.argv[1:4])
c = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, strategy)
sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read()) + c.flush())
`;
const py = spawnSync('python3', ['-c', PY_ORACLE, 'version'], { encoding: 'utf8' });
const zlibVersion = py.status === 0 ? py.stdout.trim() : null;
const withPythonZlib = requireFeature(
  'python3 zlib',
  zlibVersion !== null,
  `python3 -c 'import zlib' failed: ${py.stderr || py.error?.message}`,
);

withPythonZlib(`gzip streams equal python3 zlib ${zlibVersion}`, () => {
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['1 byte', Uint8Array.of(7)],
    ['5000 bytes of noise', noise(5000)],
    ['128 KiB of text', text(128 << 10, 9)],
    ['256 KiB of node code', nodeSlice(256 << 10)],
  ];
  const STRATEGY = { default: 0, filtered: 1, huffman_only: 2, run_length_encoded: 3, fixed: 4 };
  const settings = [
    { level: 9, windowBits: 15, strategy: 'default' },
    { level: 4, windowBits: 10, strategy: 'huffman_only' },
    { level: 7, windowBits: 15, strategy: 'filtered' },
  ] as const;
  for (const [name, input] of inputs) {
    for (const s of settings) {
      it(`${name}, level ${s.level}, window ${s.windowBits}, ${s.strategy}`, () => {
        const expected = spawnSync(
          'python3',
          ['-c', PY_ORACLE, String(s.level), String(s.windowBits), String(STRATEGY[s.strategy])],
          { input, maxBuffer: 64 << 20 },
        );
        expect(expected.status, expected.stderr?.toString()).toBe(0);
        for (const engine of ENGINES) {
          const comp = new GzipCompressor({
            level: s.level,
            windowBits: s.windowBits,
            strategies: [s.strategy],
            engine,
          });
          const ours = comp.compress(input);
          if (ours === null) {
            // Not smaller than the input: stored raw. The stock stream must not be smaller either.
            expect(expected.stdout.length).toBeGreaterThanOrEqual(input.length);
          } else {
            expectSameBytes(ours, expected.stdout, `${engine} ${name}`);
          }
        }
      });
    }
  }
});

describe('gzip engine selection', () => {
  it('numbers the strategies as zlib does (they are not read from node:zlib)', () => {
    expect(ZLIB_STRATEGY).toEqual({
      default: zlib.constants.Z_DEFAULT_STRATEGY,
      filtered: zlib.constants.Z_FILTERED,
      huffman_only: zlib.constants.Z_HUFFMAN_ONLY,
      run_length_encoded: zlib.constants.Z_RLE,
      fixed: zlib.constants.Z_FIXED,
    });
  });

  it("records pako's own streams of the self-test sample", () => {
    // The native self-test compares with these digests instead of running pako each time.
    const sample = selfTestSample();
    for (const [strategy, id] of [
      ['default', zlib.constants.Z_DEFAULT_STRATEGY],
      ['filtered', zlib.constants.Z_FILTERED],
    ] as const) {
      const stream = pako.deflate(sample, { level: 9, windowBits: 15, memLevel: 8, strategy: id });
      expect(createHash('sha256').update(stream).digest('hex'), strategy).toBe(
        STOCK_ZLIB_SAMPLE_SHA256[strategy],
      );
    }
  });

  const zlibEngine = nativeGzipAvailable() ? 'native' : 'pako';
  it('defaults to the bundled libdeflate where it can do what was asked', () => {
    expect(new GzipCompressor().engine).toBe('libdeflate');
    expect(new GzipCompressor({ level: 3, strategies: ['default'] }).engine).toBe('libdeflate');
  });
  it('defaults to zlib for another window or strategy', () => {
    expect(new GzipCompressor({ windowBits: 12 }).engine).toBe(zlibEngine);
    expect(new GzipCompressor({ strategies: ['default', 'filtered'] }).engine).toBe(zlibEngine);
  });
  it("resolves 'zlib' to native where it is built and verified, else pako", () => {
    expect(new GzipCompressor({ engine: 'zlib' }).engine).toBe(zlibEngine);
    expect(new GzipCompressor({ engine: 'node' }).engine).toBe('node');
  });
  it('the bundled libdeflate leaves no process-wide listeners behind (its Emscripten glue adds two)', () => {
    // In a fresh process: this one's libdeflate may have started already.
    const script = `
      const events = ['uncaughtException', 'unhandledRejection'];
      const count = () => events.map((e) => process.listenerCount(e)).join(',');
      const before = count();
      const { GzipCompressor } = await import(${JSON.stringify(new URL('../../src/squashfs/compress/gzip.ts', import.meta.url).href)});
      new GzipCompressor({ engine: 'libdeflate' }).compress(new Uint8Array(5000).fill(65));
      console.log(before + ' ' + count());`;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const [before, after] = r.stdout.trim().split(' ');
    expect(after).toBe(before);
  });

  it('the bundled libdeflate writes the bytes it wrote when pinned', () => {
    // A new build of the npm package may encode differently; that would change every default
    // gzip image, so it must be a deliberate upgrade (update this hash with the dependency).
    const out = new GzipCompressor({ engine: 'libdeflate' }).compress(selfTestSample());
    expect(createHash('sha256').update(out!).digest('hex')).toBe(PINNED_LIBDEFLATE_SHA256);
  });
});

const withNative = requireFeature(
  'the native gzip engine',
  nativeGzipAvailable(),
  'the addon was not built at install time, or its self-test failed (see the npm ci output)',
);

withNative('gzip engine native', () => {
  it('reports the system zlib, not Node’s bundled one', () => {
    // Node links Chromium's zlib and exports its symbols; the addon must not bind to them.
    expect(loadNative()!.zlibVersion).not.toBe(process.versions.zlib);
    expect(loadNative()!.zlibVersion).toBe(zlibVersion ?? loadNative()!.zlibVersion);
  });

  it('loads and compresses inside worker threads', async () => {
    const input = text(64 << 10, 5);
    const expected = new GzipCompressor({ engine: 'pako' }).compress(input);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const native = require(workerData.addon);
      parentPort.postMessage(native.deflate(workerData.input, 9, 15, 8, 0));`;
    const results = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<Uint8Array>((resolve, reject) => {
            const w = new Worker(code, {
              eval: true,
              workerData: { addon: NATIVE_ADDON_PATH, input },
            });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    for (const r of results) expectSameBytes(r, expected!, 'worker output');
  });
});

const LIBDEFLATE_ENGINES: [GzipEngine, boolean, string][] = [
  ['libdeflate', true, ''],
  [
    'system-libdeflate',
    systemLibdeflateGzipAvailable(),
    'libdeflate.so.0 cannot be loaded (apt-get install libdeflate0)',
  ],
];

for (const [engine, available, reason] of LIBDEFLATE_ENGINES) {
  requireFeature(
    engine,
    available,
    reason,
  )(`gzip engine ${engine}`, () => {
    const content = Buffer.concat([
      nodeSlice(6 * (128 << 10)),
      text(3 * (128 << 10), 11),
      noise(128 << 10, 5),
      text(7000, 12),
    ]);
    const blocks: Uint8Array[] = [];
    for (let i = 0; i < content.length; i += 128 << 10)
      blocks.push(content.subarray(i, i + (128 << 10)));

    it('writes streams that inflate to the input, no larger in total than stock zlib', () => {
      const ld = new GzipCompressor({ engine });
      const stock = new GzipCompressor({ engine: 'pako' });
      let ours = 0;
      let theirs = 0;
      for (const b of blocks) {
        const a = ld.compress(b);
        const z = stock.compress(b);
        ours += a?.length ?? b.length;
        theirs += z?.length ?? b.length;
        if (a) expect(Buffer.from(zlib.inflateSync(a)).equals(Buffer.from(b))).toBe(true);
      }
      expect(ours).toBeLessThanOrEqual(theirs);
    });

    it('refuses settings it cannot honour, naming the way out', () => {
      expect(() => new GzipCompressor({ engine, windowBits: 12 })).toThrow(/window.*'zlib'/);
      expect(() => new GzipCompressor({ engine, strategies: ['filtered'] })).toThrow(/strategy/);
    });

    requireOracle('unsquashfs')('images', () => {
      let work: TempDir;
      let image: string;
      beforeAll(async () => {
        work = await makeTempDir(`gzip-${engine}`);
        image = join(work.path, 'ld.sqfs');
        const root = tree.dir({
          big: tree.file(bytesSource(content)),
          small: tree.file(bytesSource(text(3000, 13))),
        });
        await writeImage(root, image, { compression: { name: 'gzip', engine } });
      });
      afterAll(async () => {
        await work?.cleanup();
      });

      it('unsquashfs extracts the files', async () => {
        const out = join(work.path, 'out');
        await unsquashfsExtract(image, out);
        expect((await readFile(join(out, 'big'))).equals(content)).toBe(true);
        expect((await readFile(join(out, 'small'))).equals(Buffer.from(text(3000, 13)))).toBe(true);
      });

      requireOracle('mount')('kernel', () => {
        it('mounts the image and reads the files', async () => {
          await withKernelMount(image, async (mnt) => {
            expect((await readFile(join(mnt, 'big'))).equals(content)).toBe(true);
            expect((await readFile(join(mnt, 'small'))).equals(Buffer.from(text(3000, 13)))).toBe(
              true,
            );
          });
        });
      });
    });
  });
}
