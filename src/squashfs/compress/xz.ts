/**
 * xz (id 4): each block is a complete .xz stream with LZMA2 (optionally after one BCJ filter)
 * and a CRC32 check; the kernel rejects CRC64/SHA-256 and any dictionary larger than the one it
 * preallocates, which is the options block's dictionary or else the block size (format page §4).
 *
 * Settings are those of mksquashfs: preset 6 spelled out field by field (lc 3, lp 0, pb 2, normal
 * mode, nice length 64, BT4 match finder), dictionary = block size (or -Xdict-size) for data and
 * 8192 for metadata. With BCJ filters each data block is compressed once plain and once per filter,
 * and the smallest stream wins.
 *
 * Byte identity with mksquashfs: it compresses each block with liblzma's single-call
 * lzma_stream_buffer_encode, whose Block Header records the compressed and uncompressed sizes; a
 * streaming encoder's does not. So lzma-native only runs the raw filter chain (lzma_raw_encoder),
 * and xz-container.ts wraps its output the way the single-call encoder does. BCJ chains are tried
 * in mksquashfs's table order (x86, powerpc, ia64, arm, armthumb, sparc) after plain LZMA2, and
 * the first of equally small streams wins, as in xz_wrapper.c.
 *
 * Where the addon is built and liblzma.so.5 opens, blocks go to the addon's xzEncode instead
 * (native/xz-encode.c): the system liblzma's own lzma_stream_buffer_encode, the call mksquashfs
 * makes, which reads the block in place and keeps the encoder's memory between blocks. It is
 * used only if its streams of a fixed sample are lzma-native's byte for byte, so the images do
 * not depend on the engine (xz-engines.test.ts compares the two on many inputs). 8 MiB of
 * binaries in 1 MiB blocks, 6 alternating rounds: 2.70 s against 2.72 s (medians; the addon was
 * faster in 5 of 6 rounds, by 1-4 %).
 *
 * lzma-native is driven synchronously through its native stream (no worker thread per call).
 * Pitfalls from shared/design/dependencies.md: the option key is `dictSize`, and a `preset` inside
 * the filter options would silently reset it, so no preset is passed. lzma-native names filters by
 * string; the .xz Filter Flags need the numeric ids, kept next to them below.
 */
import { createRequire } from 'node:module';
import type { LzmaFilter } from 'lzma-native';
import { Compression, METADATA_SIZE } from '../format/constants.js';
import { SquashfsError } from '../errors.js';
import type { BcjFilter, BlockKind, Compressor, XzOptions } from './compressor.js';
import { loadNative, selfTestSample, sha256Hex, verified } from './native.js';
import {
  bcjFilterFlags,
  encodeXzStream,
  lzma2FilterFlags,
  type XzFilterFlags,
} from './xz-container.js';

type LzmaNative = typeof import('lzma-native').default;
const require = createRequire(import.meta.url);
let loadedLzma: LzmaNative | undefined;
/**
 * lzma-native, loaded on first use: its native binding takes tens of milliseconds to load, which
 * every run paid at startup even when nothing was xz-compressed (xz.ts is reached through the
 * compressor and decoder tables).
 */
function lzma(): LzmaNative {
  return (loadedLzma ??= require('lzma-native') as LzmaNative);
}

/**
 * Bit of each BCJ filter in the options block, its lzma-native filter name and its .xz filter id.
 * The key order is mksquashfs's bcj[] table order, the order the chains are tried in.
 */
export const BCJ_FILTERS: Record<
  BcjFilter,
  { bit: number; id: `FILTER_${string}` & keyof LzmaNative; xzId: number }
> = {
  x86: { bit: 0x01, id: 'FILTER_X86', xzId: 0x04 },
  powerpc: { bit: 0x02, id: 'FILTER_POWERPC', xzId: 0x05 },
  ia64: { bit: 0x04, id: 'FILTER_IA64', xzId: 0x06 },
  arm: { bit: 0x08, id: 'FILTER_ARM', xzId: 0x07 },
  armthumb: { bit: 0x10, id: 'FILTER_ARMTHUMB', xzId: 0x08 },
  sparc: { bit: 0x20, id: 'FILTER_SPARC', xzId: 0x09 },
};

/** The kernel's xz decoder only accepts dictionaries of the form 2^n or 3·2^n. */
export function isValidXzDictSize(n: number): boolean {
  if (!Number.isInteger(n) || n < 8192) return false;
  let m = n;
  while (m % 2 === 0) m /= 2;
  return m === 1 || m === 3;
}

/** Input slice fed to the decoder between output checks (see runStream's maxOut). */
const DECODE_SLICE = 4096;

/**
 * Drives a native lzma-native stream synchronously. With `maxOut`, the input is fed in 4 KiB
 * slices and decoding stops as soon as the output passes the bound: a synchronous `code()` call
 * decodes everything it is given before returning, so a hostile block fed whole could expand
 * to gigabytes first. (LZMA2 expands a 4 KiB slice by at most a few tens of MiB.)
 */
function runStream(
  configure: (s: InstanceType<LzmaNative['Stream']>) => void,
  input: Uint8Array,
  maxOut = Infinity,
): Uint8Array {
  const stream = new (lzma().Stream)();
  const chunks: Uint8Array[] = [];
  let produced = 0;
  let failure: Error | null = null;
  stream.bufferHandler = (buf, _processed, err) => {
    if (err) failure = err;
    if (buf) {
      chunks.push(buf);
      produced += buf.length;
    }
  };
  configure(stream);
  const step = Number.isFinite(maxOut) ? DECODE_SLICE : Math.max(input.length, 1);
  for (let at = 0; at < input.length && produced <= maxOut && !failure; at += step) {
    stream.code(input.subarray(at, at + step), false);
  }
  if (produced <= maxOut && !failure) stream.code(null, false);
  if (produced > maxOut) {
    stream.resetUnderlying();
    throw new XzOutputLimit(produced);
  }
  if (failure) throw failure;
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

class XzOutputLimit extends Error {
  constructor(readonly produced: number) {
    super(`output passed the limit (${produced} bytes so far)`);
  }
}

function lzma2(dictSize: number): LzmaFilter {
  return {
    id: lzma().FILTER_LZMA2,
    options: {
      dictSize,
      lc: 3,
      lp: 0,
      pb: 2,
      mode: lzma().MODE_NORMAL,
      niceLen: 64,
      mf: lzma().MF_BT4,
      depth: 0,
    },
  };
}

/**
 * One filter chain: what lzma-native runs and how the Block Header lists it, or what the addon
 * is asked for (the dictionary, and the BCJ filter's .xz id or 0).
 */
interface Chain {
  filters: () => LzmaFilter[];
  flags: XzFilterFlags[];
  dictSize: number;
  bcjId: number;
}

function chain(dictSize: number, bcj?: BcjFilter): Chain {
  // lzma-native's filter objects are built only when it runs: they name its constants, and
  // reading those loads it (tens of milliseconds) even where the addon does the work.
  if (bcj === undefined) {
    return {
      filters: () => [lzma2(dictSize)],
      flags: [lzma2FilterFlags(dictSize)],
      dictSize,
      bcjId: 0,
    };
  }
  const f = BCJ_FILTERS[bcj];
  return {
    filters: () => [{ id: lzma()[f.id] as string }, lzma2(dictSize)],
    flags: [bcjFilterFlags(f.xzId), lzma2FilterFlags(dictSize)],
    dictSize,
    bcjId: f.xzId,
  };
}

/**
 * The addon's xzEncode (native/xz-encode.c): the system liblzma's lzma_stream_buffer_encode,
 * called as mksquashfs calls it, reading the block where it is and keeping the encoder's memory
 * (in huge pages) from one block to the next.
 */
type NativeXzEncode = (input: Uint8Array, dictSize: number, bcjId: number) => Uint8Array;

/**
 * SHA-256 of lzma-native's streams (via xz-container.ts) of selfTestSample() with a 64 KiB
 * dictionary, plain and after the x86 filter: the bytes tsquashfs's images have always had,
 * which are mksquashfs's. xz-engines.test.ts recomputes them with lzma-native.
 */
export const LZMA_NATIVE_SAMPLE_SHA256: Readonly<Record<'lzma2' | 'x86', string>> = {
  lzma2: '76ee8dd41c2720bf138fa65ef3988effc6a72886689d85fa36d7a4760e51fb55',
  x86: '2698352c0c808954a2efdd0af04a4210d6cc45ffe9a5874569ff392c539185af',
};

/**
 * A function of the addon's xz code (native/xz-encode.c), looked up once per thread (the
 * encoder is asked for at every block); null where the addon or liblzma.so.5 is missing, or
 * with `TSQUASHFS_XZ_ENGINE=lzma-native`.
 */
function addonXz<F>(name: 'xzEncode' | 'xzDecode'): () => F | null {
  let loaded: F | null | undefined;
  return () => {
    if (loaded === undefined) {
      const f = (loadNative() as Record<string, unknown> | null)?.[name];
      loaded =
        process.env.TSQUASHFS_XZ_ENGINE !== 'lzma-native' && typeof f === 'function'
          ? (f as F)
          : null;
    }
    return loaded;
  };
}

const nativeXzEncoder = addonXz<NativeXzEncode>('xzEncode');

/** The addon's xzDecode: bytes written into `output`, or -1 if they pass it. */
type NativeXzDecode = (input: Uint8Array, output: Uint8Array, memlimit: number) => number;

/**
 * The addon's decoder: one call, into a buffer of the block size, with no decoder object left
 * for the garbage collector (lzma-native's were, about 2 MiB of native memory each, and the
 * writer's duplicate checks made dozens at once). Any liblzma decodes a valid stream to the same
 * bytes, so no self-test is needed.
 */
const nativeXzDecoder = addonXz<NativeXzDecode>('xzDecode');

/**
 * The addon's encoder, where it is built, liblzma.so.5 is there, and its streams of the sample
 * are lzma-native's byte for byte (checked once per thread); otherwise null, and lzma-native
 * runs. `TSQUASHFS_XZ_ENGINE=lzma-native` turns it off.
 */
const nativeXzMatches = verified(() => {
  const encode = nativeXzEncoder();
  if (!encode) return false;
  const sample = selfTestSample();
  return (['lzma2', 'x86'] as const).every(
    (f) =>
      sha256Hex(encode(sample, 64 << 10, f === 'x86' ? BCJ_FILTERS.x86.xzId : 0)) ===
      LZMA_NATIVE_SAMPLE_SHA256[f],
  );
});

/**
 * One .xz stream decoded, at most `maxOut` bytes, with at most `memlimit` bytes of decoder
 * memory: by the addon's decoder where there is one (into `into` if given), else by
 * lzma-native. `engine` picks one (tests compare the two). Bad input or output past `maxOut`
 * throws SquashfsError('CORRUPT').
 */
export function xzDecompress(
  block: Uint8Array,
  maxOut: number,
  memlimit: number,
  engine: XzEngine = nativeXzDecoder() ? 'liblzma' : 'lzma-native',
  into?: Uint8Array,
): Uint8Array {
  const decode = engine === 'liblzma' ? nativeXzDecoder() : null;
  if (engine === 'liblzma' && !decode) throw new Error('the addon has no xzDecode here');
  let out: Uint8Array;
  try {
    if (decode) {
      const to =
        into && into.length >= maxOut ? into.subarray(0, maxOut) : Buffer.allocUnsafe(maxOut);
      const n = decode(block, to, memlimit);
      if (n < 0) throw new XzOutputLimit(maxOut);
      out = to.subarray(0, n);
    } else {
      out = runStream((s) => s.streamDecoder_(memlimit, 0), block, maxOut);
    }
  } catch (err) {
    if (err instanceof XzOutputLimit) {
      throw new SquashfsError(
        'CORRUPT',
        `xz block decompresses to more than ${maxOut} bytes (${err.produced} before stopping)`,
      );
    }
    throw new SquashfsError('CORRUPT', `xz block does not decompress: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (out.length > maxOut) {
    throw new SquashfsError(
      'CORRUPT',
      `xz block decompresses to ${out.length} bytes, more than ${maxOut}`,
    );
  }
  return out;
}

export type XzEngine = 'liblzma' | 'lzma-native';

/** Which engine xz blocks are compressed with here: 'liblzma' (the addon) or 'lzma-native'. */
export function xzEngine(): XzEngine {
  return nativeXzMatches() ? 'liblzma' : 'lzma-native';
}

function encodeStream(c: Chain, block: Uint8Array, engine = xzEngine()): Uint8Array {
  if (engine === 'liblzma') {
    const encode = nativeXzEncoder();
    if (!encode) throw new Error('the addon has no xzEncode here');
    return encode(block, c.dictSize, c.bcjId);
  }
  return encodeXzStream(block, c.flags, (input) =>
    runStream((s) => s.rawEncoder_(c.filters()), input),
  );
}

/**
 * The bytes mksquashfs's liblzma call `lzma_stream_buffer_encode(chain, LZMA_CHECK_CRC32, ...)`
 * writes for `block` (given room), with the chain mksquashfs builds: LZMA2 at preset 6 with
 * `dictSize`, after the `bcj` filter if one is given. Unlike compress(), never returns null.
 * `engine` picks the encoder (tests compare the two); by default the one compress() uses.
 */
export function xzStreamBufferEncode(
  block: Uint8Array,
  dictSize: number,
  bcj?: BcjFilter,
  engine?: XzEngine,
): Uint8Array {
  return encodeStream(chain(dictSize, bcj), block, engine);
}

export class XzCompressor implements Compressor {
  readonly id = Compression.Xz;
  readonly name = 'xz';
  readonly dictSize: number;
  readonly bcj: BcjFilter[];
  private readonly dataChains: Chain[];
  private readonly metadataChain: Chain;

  constructor(
    private readonly blockSize: number,
    options: Omit<XzOptions, 'name'> = {},
  ) {
    // The default dictionary is the block size, which mksquashfs uses even below 8 KiB (-b 4K):
    // the 8 KiB minimum applies to a -Xdict-size other than the block size (xz_options_post).
    this.dictSize = options.dictSize ?? blockSize;
    const wanted = new Set(options.bcj ?? []);
    this.bcj = (Object.keys(BCJ_FILTERS) as BcjFilter[]).filter((f) => wanted.has(f));
    if (
      this.dictSize !== blockSize &&
      (!isValidXzDictSize(this.dictSize) || this.dictSize > blockSize)
    ) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `xz dictionary size ${this.dictSize} must be 2^n or 3*2^n, at least 8192 and at most the block size ${blockSize}`,
      );
    }
    this.dataChains = [chain(this.dictSize), ...this.bcj.map((f) => chain(this.dictSize, f))];
    this.metadataChain = chain(METADATA_SIZE);
  }

  compress(block: Uint8Array, kind: BlockKind): Uint8Array | null {
    const chains = kind === 'metadata' ? [this.metadataChain] : this.dataChains;
    let best: Uint8Array | null = null;
    for (const c of chains) {
      const out = encodeStream(c, block);
      if (best === null || out.length < best.length) best = out;
    }
    return best !== null && best.length < block.length ? best : null;
  }

  decompress(block: Uint8Array, maxOut: number, into?: Uint8Array): Uint8Array {
    return xzDecompress(block, maxOut, Math.max(64 << 20, this.blockSize * 4), undefined, into);
  }

  optionsPayload(): Uint8Array | null {
    if (this.dictSize === this.blockSize && this.bcj.length === 0) return null;
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    // The kernel preallocates the dictionary this block declares, and metadata blocks need
    // 8 KiB. With -b 4K and BCJ, mksquashfs 4.5.1 declares 4 KiB and its image fails to mount
    // ("xz decompression failed"); declaring at least 8 KiB makes the same blocks readable.
    v.setUint32(0, Math.max(this.dictSize, METADATA_SIZE), true);
    v.setUint32(
      4,
      this.bcj.reduce((m, f) => m | BCJ_FILTERS[f].bit, 0),
      true,
    );
    return out;
  }
}
