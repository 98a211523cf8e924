/**
 * gzip (id 1): each block is a zlib stream (RFC 1950), never a gzip member and never raw deflate;
 * the kernel rejects both (format page §4).
 *
 * Engines (bench/engines.ts: level 9, 128 KiB blocks, CPU time per core relative to the system
 * zlib 1.2.13 called from C as mksquashfs calls it; binaries / text):
 * - libdeflate (the default where it applies: window 15, the default strategy only): libdeflate
 *   compiled to WebAssembly, bundled in the npm package `libdeflate` (pinned), so its bytes are
 *   the same on every machine: about 0.42 of zlib's CPU time on binaries and 1% smaller. Its
 *   streams are valid zlib streams (the kernel and every inflater read them) but not zlib's
 *   bytes, so images differ from mksquashfs's; engine 'zlib' gives those.
 * - zlib (the default otherwise): stock zlib's bytes, mksquashfs's, through 'native' where the
 *   addon is built and its self-test passes, else 'pako'. Both write the same bytes.
 * - native: the system zlib, called through native/tsquashfs_native.c the way mksquashfs calls
 *   it: 0.92 / 0.79 (on par). Used only if its output equals pako's on a self-test sample
 *   (native.ts), so the bytes never depend on which of the two runs.
 * - pako: 1.53 / 1.53, output identical to stock zlib 1.2.13, which is what mksquashfs links.
 * - node:zlib: 0.76 / 0.60 but 1.8% / 0.2% larger; Chromium's zlib fork, whose output differs
 *   from stock zlib and can change between Node versions (memLevel 9 is no smaller).
 * - system-libdeflate (opt-in): the system's libdeflate.so.0 through the addon: 0.32 / 0.50 and
 *   about 10% faster than the bundled build, but its bytes follow the installed version.
 * - fflate (the dependency first named for this): cannot set the window size or the deflate
 *   strategies that -Xwindow-size and -Xstrategy need, and is slower than node:zlib.
 * Decompression always uses node:zlib (any correct inflater gives the same bytes).
 */
import { createRequire } from 'node:module';
import type * as Libdeflate from 'libdeflate';
import type Pako from 'pako';
import type Zlib from 'node:zlib';
import { Compression } from '../format/constants.js';
import { SquashfsError } from '../errors.js';
import type {
  Compressor,
  GzipEngine,
  GzipOptions,
  GzipStrategy,
  ResolvedGzipEngine,
} from './compressor.js';
import {
  bytesEqual,
  loadNative,
  nativeUnavailableReason,
  selfTestSample,
  sha256Hex,
  verified,
} from './native.js';

const STRATEGY_BITS: Record<GzipStrategy, number> = {
  default: 0x01,
  filtered: 0x02,
  huffman_only: 0x04,
  run_length_encoded: 0x08,
  fixed: 0x10,
};
/**
 * zlib.h's Z_DEFAULT_STRATEGY ... Z_FIXED, which node:zlib's constants repeat (a test checks). Not
 * read from node:zlib: loading it took 1-2 ms of every run, and an image written with libdeflate
 * and read back by nobody never needs it.
 */
export const ZLIB_STRATEGY: Readonly<Record<GzipStrategy, number>> = {
  default: 0,
  filtered: 1,
  huffman_only: 2,
  run_length_encoded: 3,
  fixed: 4,
};

/**
 * SHA-256 of pako's (stock zlib 1.2.13's) stream of selfTestSample() at level 9, window 15,
 * memLevel 8, per strategy. The self-test compares the native engine's output with these instead
 * of running pako, which cost ~65 ms of main-thread CPU. gzip-engines.test.ts recomputes them
 * with pako.
 */
export const STOCK_ZLIB_SAMPLE_SHA256: Readonly<Record<'default' | 'filtered', string>> = {
  default: '25267bda9e90e6160b6a2c121e398675dc41341f13c068c36ef8eea937a274d6',
  filtered: '07e31c3e37468b6644407b432505e491c406d1a3d0a48e05ace3112a3c2c371d',
};

/**
 * Whether the native engine's zlib writes stock zlib's bytes: checked once per thread, and only
 * when the 'zlib' engine is chosen (the default libdeflate never needs it).
 */
const nativeZlibMatchesPako = verified(() => {
  const native = loadNative();
  if (!native?.zlibVersion) return false;
  const sample = selfTestSample();
  return (['default', 'filtered'] as const).every(
    (strategy) =>
      sha256Hex(native.deflate(sample, 9, 15, 8, ZLIB_STRATEGY[strategy])) ===
      STOCK_ZLIB_SAMPLE_SHA256[strategy],
  );
});

/** Whether engine 'native' can be used here (built, loadable, and writes stock zlib's bytes). */
export function nativeGzipAvailable(): boolean {
  return nativeZlibMatchesPako();
}

/** Whether libdeflate is there and its stream of the sample inflates back to the sample. */
const libdeflateWorks = verified(() => {
  const native = loadNative();
  if (!native?.libdeflate) return false;
  const sample = selfTestSample();
  return bytesEqual(zlib().inflateSync(native.libdeflateZlib(sample, 9)), sample);
});

/** Whether engine 'system-libdeflate' can be used here. */
export function systemLibdeflateGzipAvailable(): boolean {
  return libdeflateWorks();
}

const require = createRequire(import.meta.url);
let loadedZlib: typeof Zlib | undefined;
/** node:zlib, loaded on first use (see ZLIB_STRATEGY). */
function zlib(): typeof Zlib {
  return (loadedZlib ??= require('node:zlib') as typeof Zlib);
}
let loadedPako: typeof Pako | undefined;
/**
 * pako, loaded on first use: it only runs where the addon is missing, and loading it took about
 * 19 ms of every process's start (and of every compression worker's).
 */
function pako(): typeof Pako {
  return (loadedPako ??= require('pako') as typeof Pako);
}

let loadedLibdeflate: typeof Libdeflate | undefined;
/**
 * The bundled libdeflate, loaded on first use: loading its WebAssembly glue took about 12 ms of
 * every start, compressed or not. A package of ES modules: require() loads it from Node 20.19 on.
 */
function libdeflateZlibUnguarded(block: Uint8Array, level: number): Uint8Array {
  loadedLibdeflate ??= require('libdeflate') as typeof Libdeflate;
  return loadedLibdeflate.zlib(block, level);
}

const PROCESS_EVENTS: string[] = ['uncaughtException', 'unhandledRejection'];
let libdeflateStarted = false;

/**
 * The bundled libdeflate. Its Emscripten glue, when it starts (on the first call), adds
 * process-wide 'uncaughtException' and 'unhandledRejection' listeners that rethrow: in a library
 * that changes how the host program's own errors and rejections are handled (an
 * 'unhandledRejection' listener alone turns off Node's default). The listeners it added are
 * removed again as soon as it has started.
 */
function bundledLibdeflateZlib(block: Uint8Array, level: number): Uint8Array {
  if (libdeflateStarted) return libdeflateZlibUnguarded(block, level);
  const before = PROCESS_EVENTS.map((e) => new Set(process.listeners(e as 'warning')));
  try {
    return libdeflateZlibUnguarded(block, level);
  } finally {
    libdeflateStarted = true;
    PROCESS_EVENTS.forEach((e, i) => {
      for (const l of process.listeners(e as 'warning')) {
        if (!before[i]!.has(l)) process.removeListener(e, l);
      }
    });
  }
}

/** libdeflate has one window (32 KiB) and one strategy. */
function libdeflateCan(windowBits: number, strategies: readonly GzipStrategy[]): boolean {
  return windowBits === 15 && strategies.every((s) => s === 'default');
}

/**
 * The engine that runs. Unset: the bundled libdeflate where it can do what was asked, else
 * zlib. 'zlib' is stock zlib's bytes through whichever of native and pako is here; each depends
 * only on the options, never on the machine.
 */
function resolveEngine(
  asked: GzipEngine | undefined,
  windowBits: number,
  strategies: readonly GzipStrategy[],
): ResolvedGzipEngine {
  const engine = asked ?? (libdeflateCan(windowBits, strategies) ? 'libdeflate' : 'zlib');
  if (engine !== 'zlib') return engine;
  return nativeZlibMatchesPako() ? 'native' : 'pako';
}

export class GzipCompressor implements Compressor {
  readonly id = Compression.Gzip;
  readonly name = 'gzip';
  readonly level: number;
  readonly windowBits: number;
  readonly strategies: GzipStrategy[];
  /** The engine that runs: 'zlib' is resolved to 'native' or 'pako'. */
  readonly engine: ResolvedGzipEngine;
  /** Bits of the strategies named by the user; 0 when none were (then only 'default' runs). */
  private readonly strategyMask: number;

  constructor(options: Omit<GzipOptions, 'name'> = {}) {
    this.level = options.level ?? 9;
    this.windowBits = options.windowBits ?? 15;
    this.strategies = options.strategies?.length ? [...new Set(options.strategies)] : ['default'];
    this.engine = resolveEngine(options.engine, this.windowBits, this.strategies);
    this.strategyMask = (options.strategies ?? []).reduce((m, s) => m | STRATEGY_BITS[s], 0);
    if (!Number.isInteger(this.level) || this.level < 1 || this.level > 9) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `gzip compression level must be 1 to 9, got ${this.level}`,
      );
    }
    if (!Number.isInteger(this.windowBits) || this.windowBits < 8 || this.windowBits > 15) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `gzip window size must be 8 to 15, got ${this.windowBits}`,
      );
    }
    if (this.engine === 'system-libdeflate' && !libdeflateWorks()) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `gzip engine 'system-libdeflate' is not available: ${loadNative() ? 'the system has no working libdeflate.so.0 (Debian package libdeflate0)' : nativeUnavailableReason}`,
      );
    }
    if (
      (this.engine === 'libdeflate' || this.engine === 'system-libdeflate') &&
      !libdeflateCan(this.windowBits, this.strategies)
    ) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `gzip engine '${this.engine}' has only a 32 KiB window (windowBits 15) and the default strategy; engine 'zlib' has window ${this.windowBits} and strategies ${this.strategies.join(',')}`,
      );
    }
    if (this.engine === 'native' && !nativeZlibMatchesPako()) {
      const native = loadNative();
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        native
          ? `gzip engine 'native': the system zlib ${native.zlibVersion ?? '(not found)'} does not write stock zlib's bytes`
          : `gzip engine 'native' is not available: ${nativeUnavailableReason}`,
      );
    }
  }

  compress(block: Uint8Array): Uint8Array | null {
    let best: Uint8Array | null = null;
    for (const strategy of this.strategies) {
      const settings = {
        level: this.level as Pako.DeflateFunctionOptions['level'],
        // zlib 1.2.9+ turns windowBits 8 into 9 for zlib streams; 9 is what it writes either way.
        windowBits: Math.max(this.windowBits, 9),
        memLevel: 8 as const,
        strategy: ZLIB_STRATEGY[strategy],
      };
      const out =
        this.engine === 'libdeflate'
          ? bundledLibdeflateZlib(block, this.level)
          : this.engine === 'system-libdeflate'
            ? loadNative()!.libdeflateZlib(block, this.level)
            : this.engine === 'native'
              ? loadNative()!.deflate(block, this.level, settings.windowBits, 8, settings.strategy)
              : this.engine === 'pako'
                ? pako().deflate(block, settings)
                : zlib().deflateSync(block, settings);
      if (best === null || out.length < best.length) best = out;
    }
    return best !== null && best.length < block.length ? best : null;
  }

  decompress(block: Uint8Array, maxOut: number): Uint8Array {
    try {
      return zlib().inflateSync(block, { maxOutputLength: Math.max(maxOut, 1) });
    } catch (err) {
      throw new SquashfsError(
        'CORRUPT',
        `gzip block does not decompress: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  optionsPayload(): Uint8Array | null {
    if (this.level === 9 && this.windowBits === 15 && this.strategyMask === 0) return null;
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    v.setUint32(0, this.level, true);
    v.setUint16(4, this.windowBits, true);
    v.setUint16(6, this.strategyMask, true);
    return out;
  }
}
