/**
 * The .xz container around one raw filter-chain output, laid out byte for byte as liblzma's
 * single-call encoder `lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, ...)` lays it out
 * (mksquashfs's xz_wrapper.c compresses every block with that call). The .xz format leaves
 * encoders a few choices; these are liblzma's (xz file format 1.0.4 and liblzma 5.2/5.4's
 * stream_buffer_encoder.c, block_buffer_encoder.c, block_header_encoder.c, index_encoder.c):
 *
 * - Stream Header: magic FD 37 7A 58 5A 00, Stream Flags 00 01 (CRC32 check), CRC32 of the flags.
 * - One Block, none for empty input. Its header has both optional size fields present. The header
 *   size is computed BEFORE compressing, with the Compressed Size field assumed to be
 *   lzma2Bound(input) (the size of the data stored as LZMA2 uncompressed chunks); the real size
 *   written afterwards may take fewer VLI bytes, and the slack becomes Header Padding (zeros).
 * - If the filter chain's output would be larger than that bound, the Block instead holds the
 *   input as LZMA2 uncompressed chunks (64 KiB each, control 01 then 02, end marker 00) with a
 *   filter chain of LZMA2 alone at the minimum dictionary (4 KiB): any BCJ filter is dropped.
 * - Block Padding to a multiple of four, then the CRC32 of the uncompressed input.
 * - Index: indicator 00, record count, (Unpadded Size, Uncompressed Size) per record, padding,
 *   CRC32. Stream Footer: CRC32, Backward Size (index size / 4 - 1), Stream Flags, "YZ".
 *
 * Every integer is little-endian; sizes in headers are the format's variable-length integers.
 */
import { createRequire } from 'node:module';

/** Stream Flags check id for CRC32, the only check the kernel's xz decoder accepts besides none. */
const CHECK_CRC32 = 0x01;
const CHECK_SIZE = 4;
const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];
/** Filter id of LZMA2 in Filter Flags. */
export const XZ_FILTER_LZMA2 = 0x21;
/** Data bytes per LZMA2 uncompressed chunk, and that chunk's header size (control + u16 size-1). */
const LZMA2_CHUNK_MAX = 1 << 16;
const LZMA2_HEADER_UNCOMPRESSED = 3;
/** liblzma's LZMA_DICT_SIZE_MIN, used for the uncompressed-chunks fallback. */
const LZMA_DICT_SIZE_MIN = 4096;

/** One entry of a Block Header's List of Filter Flags. */
export interface XzFilterFlags {
  id: number;
  /** Filter properties: one byte for LZMA2, none for BCJ filters at start offset 0. */
  props: Uint8Array;
}

// ---- CRC32 (IEEE 802.3, as the .xz format and zlib define it) ----

let crcTable: Uint32Array | null = null;

function crc32Table(buf: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const require = createRequire(import.meta.url);
type Crc32 = (data: Uint8Array) => number;
/**
 * node:zlib's crc32, looked up on first use (loading node:zlib costs 1-2 ms, and a run that writes
 * no xz block never needs it); it exists from Node 20.15 on, and older Node 20 releases use the
 * table.
 */
let nativeCrc32: Crc32 | null | undefined;

export function crc32(buf: Uint8Array): number {
  nativeCrc32 ??= (require('node:zlib') as { crc32?: Crc32 }).crc32 ?? null;
  return nativeCrc32 !== null ? nativeCrc32(buf) >>> 0 : crc32Table(buf);
}

// ---- variable-length integers ----

/** Bytes taken by `n` as an .xz variable-length integer (7 bits per byte). */
export function vliSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function pushVli(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function pushU32(out: number[], n: number): void {
  out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}

function padTo4(out: number[]): void {
  while (out.length % 4 !== 0) out.push(0);
}

// ---- filter properties ----

/**
 * LZMA2's one property byte: the smallest p with dictSize <= (2 | (p & 1)) << (p / 2 + 11),
 * p = 40 meaning 4 GiB - 1 (liblzma rounds the dictionary up and never below 4 KiB).
 */
export function lzma2DictProp(dictSize: number): number {
  const d = Math.max(dictSize, LZMA_DICT_SIZE_MIN);
  for (let p = 0; p < 40; p++) {
    if (d <= (2 + (p & 1)) * 2 ** ((p >> 1) + 11)) return p;
  }
  return 40;
}

export function lzma2FilterFlags(dictSize: number): XzFilterFlags {
  return { id: XZ_FILTER_LZMA2, props: Uint8Array.of(lzma2DictProp(dictSize)) };
}

/** BCJ filters carry no properties when their start offset is 0, as it always is here. */
export function bcjFilterFlags(id: number): XzFilterFlags {
  return { id, props: new Uint8Array(0) };
}

// ---- the pieces ----

/** Size of `n` bytes stored as LZMA2 uncompressed chunks, end marker included. */
export function lzma2Bound(n: number): number {
  return n + Math.ceil(n / LZMA2_CHUNK_MAX) * LZMA2_HEADER_UNCOMPRESSED + 1;
}

/** The input as LZMA2 uncompressed chunks: control 01 (dictionary reset) then 02, size-1 (u16 BE). */
export function lzma2UncompressedChunks(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(lzma2Bound(input.length));
  let o = 0;
  for (let i = 0; i < input.length; i += LZMA2_CHUNK_MAX) {
    const n = Math.min(input.length - i, LZMA2_CHUNK_MAX);
    out[o++] = i === 0 ? 0x01 : 0x02;
    out[o++] = (n - 1) >> 8;
    out[o++] = (n - 1) & 0xff;
    out.set(input.subarray(i, i + n), o);
    o += n;
  }
  out[o++] = 0x00;
  return out;
}

function streamFlags(): number[] {
  return [0x00, CHECK_CRC32];
}

export function streamHeader(): Uint8Array {
  const out = [...HEADER_MAGIC, ...streamFlags()];
  pushU32(out, crc32(Uint8Array.from(streamFlags())));
  return Uint8Array.from(out);
}

/** Stream Footer for an Index of `indexSize` bytes (always a multiple of four). */
export function streamFooter(indexSize: number): Uint8Array {
  const body: number[] = [];
  pushU32(body, indexSize / 4 - 1);
  body.push(...streamFlags());
  const out: number[] = [];
  pushU32(out, crc32(Uint8Array.from(body)));
  out.push(...body, ...FOOTER_MAGIC);
  return Uint8Array.from(out);
}

/** Block Header size for the given field values: fields, then CRC32, rounded up to four bytes. */
export function blockHeaderSize(
  filters: XzFilterFlags[],
  compressedSize: number,
  uncompressedSize: number,
): number {
  let size = 1 + 1 + vliSize(compressedSize) + vliSize(uncompressedSize) + CHECK_SIZE;
  for (const f of filters) size += vliSize(f.id) + vliSize(f.props.length) + f.props.length;
  return (size + 3) & ~3;
}

/** A Block Header of exactly `headerSize` bytes (slack is Header Padding) with both sizes present. */
export function blockHeader(
  headerSize: number,
  filters: XzFilterFlags[],
  compressedSize: number,
  uncompressedSize: number,
): Uint8Array {
  if (filters.length < 1 || filters.length > 4)
    throw new RangeError(`xz: ${filters.length} filters in a Block`);
  const out: number[] = [headerSize / 4 - 1, 0x40 | 0x80 | (filters.length - 1)];
  pushVli(out, compressedSize);
  pushVli(out, uncompressedSize);
  for (const f of filters) {
    pushVli(out, f.id);
    pushVli(out, f.props.length);
    out.push(...f.props);
  }
  if (out.length > headerSize - CHECK_SIZE)
    throw new RangeError('xz: Block Header fields exceed its size');
  while (out.length < headerSize - CHECK_SIZE) out.push(0);
  pushU32(out, crc32(Uint8Array.from(out)));
  return Uint8Array.from(out);
}

/** Index of the given records (Unpadded Size = header + compressed data + check, no padding). */
export function xzIndex(records: { unpaddedSize: number; uncompressedSize: number }[]): Uint8Array {
  const out: number[] = [0x00];
  pushVli(out, records.length);
  for (const r of records) {
    pushVli(out, r.unpaddedSize);
    pushVli(out, r.uncompressedSize);
  }
  padTo4(out);
  pushU32(out, crc32(Uint8Array.from(out)));
  return Uint8Array.from(out);
}

/**
 * A complete single-Block .xz stream with a CRC32 check, as lzma_stream_buffer_encode writes it
 * when given enough output space. `rawEncode` runs the filter chain `filters` describes and
 * returns its raw output (for LZMA2 last: LZMA2 chunks ending with the 00 end marker).
 */
export function encodeXzStream(
  input: Uint8Array,
  filters: XzFilterFlags[],
  rawEncode: (input: Uint8Array) => Uint8Array,
): Uint8Array {
  const parts: Uint8Array[] = [streamHeader()];
  const records: { unpaddedSize: number; uncompressedSize: number }[] = [];
  if (input.length > 0) {
    const bound = lzma2Bound(input.length);
    let chain = filters;
    let payload = rawEncode(input);
    if (payload.length > bound) {
      chain = [lzma2FilterFlags(LZMA_DICT_SIZE_MIN)];
      payload = lzma2UncompressedChunks(input);
    }
    // Sized for the bound, not for the real compressed size: liblzma reserves the header first.
    const headerSize = blockHeaderSize(chain, bound, input.length);
    parts.push(blockHeader(headerSize, chain, payload.length, input.length), payload);
    const padding = (4 - (payload.length % 4)) % 4;
    if (padding > 0) parts.push(new Uint8Array(padding));
    const check = new Uint8Array(CHECK_SIZE);
    new DataView(check.buffer).setUint32(0, crc32(input), true);
    parts.push(check);
    records.push({
      unpaddedSize: headerSize + payload.length + CHECK_SIZE,
      uncompressedSize: input.length,
    });
  }
  const index = xzIndex(records);
  parts.push(index, streamFooter(index.length));
  // A fresh, unpooled buffer of exactly the stream's size.
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- reading the headers back (the verifier's codec limits, format page §4) ----

/** What the stream header and the first block header of an .xz stream declare. */
export interface XzHeaders {
  /** Stream Flags check id: 0 none, 1 CRC32, 4 CRC64, 10 SHA-256. */
  check: number;
  /** The first block's filter chain, in order, each with the position of its id byte. */
  filters: { id: number; props: Uint8Array; at: number }[];
}

/** The dictionary an LZMA2 property byte declares, or null for values past 40. */
export function lzma2DictSize(prop: number): number | null {
  if (prop > 40) return null;
  return prop === 40 ? 0xffffffff : (2 + (prop & 1)) * 2 ** ((prop >> 1) + 11);
}

/**
 * Parses the stream header and the first block header. Returns a string saying what is wrong
 * when they are not there or do not parse; the CRCs are the decoder's business.
 */
export function parseXzHeaders(s: Uint8Array): XzHeaders | string {
  if (s.length < 12 + 2 || HEADER_MAGIC.some((b, i) => s[i] !== b)) {
    return 'no .xz stream header';
  }
  const check = s[7]! & 0x0f;
  const size = s[12]!;
  if (size === 0) return 'the stream has no block';
  const end = 12 + (size + 1) * 4;
  if (end > s.length) return 'the block header is cut off';
  let at = 13;
  const flags = s[at++]!;
  const vli = (): number | null => {
    let n = 0;
    for (let i = 0; i < 9 && at < end; i++) {
      const b = s[at++]!;
      n += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return n;
    }
    return null;
  };
  if ((flags & 0x40) !== 0 && vli() === null) return 'bad compressed size in the block header';
  if ((flags & 0x80) !== 0 && vli() === null) return 'bad uncompressed size in the block header';
  const filters: XzHeaders['filters'] = [];
  for (let i = 0; i <= (flags & 3); i++) {
    const idAt = at;
    const id = vli();
    const n = vli();
    if (id === null || n === null || at + n > end - CHECK_SIZE) {
      return 'bad filter flags in the block header';
    }
    filters.push({ id, props: s.subarray(at, at + n), at: idAt });
    at += n;
  }
  return { check, filters };
}
