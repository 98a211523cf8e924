/**
 * The compressor interface. A compressor turns one block (data, fragment or metadata) into one
 * self-contained stream the kernel can decode (format page §4). It returns null when the result
 * would not be smaller than the input: the caller then stores the block raw, as mksquashfs does.
 *
 * `compress` is synchronous on purpose: it runs inside worker threads in the parallel pipeline,
 * and a synchronous call per block is the simplest contract for both sides.
 */
export interface Compressor extends Decompressor {
  /**
   * Compresses one block. `kind` lets a compressor use block-type specific settings (xz only
   * tries BCJ filters on data, never on metadata, as mksquashfs).
   */
  compress(block: Uint8Array, kind: BlockKind): Uint8Array | null;
  /** Payload of the compressor-options block, or null when the options are the defaults. */
  optionsPayload(): Uint8Array | null;
}

/**
 * The half of a codec the reader needs. lz4, lzo and zstd are read-only here: they implement
 * only this, so the writer's Compressor contract (and the writer) does not change for them.
 */
export interface Decompressor {
  /** Superblock compression id (1 gzip, 4 xz, ...). */
  readonly id: number;
  readonly name: string;
  /**
   * Decompresses one block. Never returns more than `maxOut` bytes; bad input or output past
   * `maxOut` throws SquashfsError('CORRUPT'), never a RangeError or TypeError.
   */
  /**
   * `into`, if given, is a buffer of at least `maxOut` bytes that an engine may decompress into,
   * returning a view of it (valid until the caller uses `into` again); engines that cannot,
   * ignore it.
   */
  decompress(block: Uint8Array, maxOut: number, into?: Uint8Array): Uint8Array;
}

export type BlockKind = 'data' | 'metadata';

/** Options for every compressor, by name; the CLI maps mksquashfs's -X flags onto these. */
export interface GzipOptions {
  name: 'gzip';
  /** 1–9, default 9. */
  level?: number;
  /** 8–15, default 15. */
  windowBits?: number;
  /** Strategies to try per block; the smallest result wins. Default: just 'default'. */
  strategies?: GzipStrategy[];
  /**
   * Which deflate implementation compresses. Unset: 'libdeflate' when windowBits is 15 and the
   * strategies are just 'default' (what libdeflate can do), else 'zlib'.
   * - 'libdeflate': libdeflate compiled to WebAssembly and bundled (npm package libdeflate,
   *   pinned), so the bytes are the same on every machine; about 0.4x zlib's CPU time and 1%
   *   smaller on binaries, but not zlib's bytes, so images differ from mksquashfs's.
   * - 'zlib': stock zlib's bytes, mksquashfs's byte for byte: 'native' where available, else
   *   'pako' (the same bytes either way).
   * - 'native': the system zlib through tsquashfs's install-time addon, used only where its
   *   output equals pako's; mksquashfs's speed per core.
   * - 'pako': a port of stock zlib, on every machine and Node version, at about 1.5x the CPU time.
   * - 'node': Node's bundled zlib; its bytes differ from stock zlib's (about 1.8% larger on
   *   binaries) and may change with the Node version.
   * - 'system-libdeflate': the system's libdeflate (Debian package libdeflate0) through the addon,
   *   about 10% faster than the bundled build; its bytes follow the installed version.
   * Both libdeflate engines need windowBits 15 and the default strategy only.
   */
  engine?: GzipEngine;
}
export type ResolvedGzipEngine = 'libdeflate' | 'native' | 'pako' | 'node' | 'system-libdeflate';
export type GzipEngine = ResolvedGzipEngine | 'zlib';
export type GzipStrategy = 'default' | 'filtered' | 'huffman_only' | 'run_length_encoded' | 'fixed';

export interface XzOptions {
  name: 'xz';
  /** LZMA2 dictionary for data blocks; default = block size. 2^n or 3·2^n, 8 KiB … block size. */
  dictSize?: number;
  /** BCJ filters to try per data block, as well as plain LZMA2; the smallest wins. */
  bcj?: BcjFilter[];
}
export type BcjFilter = 'x86' | 'powerpc' | 'ia64' | 'arm' | 'armthumb' | 'sparc';

export interface NoneOptions {
  name: 'none';
}

export type CompressionOptions = GzipOptions | XzOptions | NoneOptions;
