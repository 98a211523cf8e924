/**
 * The verifier's view of metadata (format page §6): a table's blocks decoded one by one, each
 * header and length judged, and their contents joined into one stream the way the kernel reads
 * records across blocks. Unlike MetadataReader, problems are collected, not thrown: a block whose
 * header is unusable ends the walk (its successor cannot be found), a block that does not decode
 * becomes a hole that reads through it refuse, and everything else carries on.
 *
 * Stream positions map back to absolute image offsets: exactly for blocks stored raw, and to the
 * block header for compressed blocks (a byte inside a compressed payload has no image offset).
 */
import type { Decompressor } from '../compress/index.js';
import { codecProblems, type CodecLimits } from './verify-codec.js';
import { METADATA_SIZE } from '../format/constants.js';
import { decodeMetadataHeader, refBlock, refOffset } from '../format/metadata.js';
import type { Superblock } from '../format/superblock.js';
import type { ImageSource } from './source.js';
import type { ProblemList } from './verify-report.js';

/** What every verifier pass needs. */
export interface VerifyContext {
  source: ImageSource;
  sb: Superblock;
  /** Bytes that may be read: min(bytes_used, file size). */
  limit: number;
  blockSize: number;
  compressor: Decompressor;
  /** The kernel's codec limits for this image (verify-codec.ts). */
  codec: CodecLimits;
  p: ProblemList;
}

export interface MetaBlock {
  /** Absolute position of the u16 header. */
  pos: number;
  /** Position relative to the table base (what references use). */
  rel: number;
  onDisk: number;
  raw: boolean;
  /** Stream position of the first decoded byte. */
  streamStart: number;
  /** Decoded length; 0 if the block did not decode. */
  size: number;
  ok: boolean;
}

export class MetaStream {
  bytes: Uint8Array = new Uint8Array(0);
  readonly blocks: MetaBlock[] = [];
  private readonly byRel = new Map<number, MetaBlock>();
  /** Stream positions no record may straddle (where an unreadable block was). */
  private readonly breaks: number[] = [];
  private readonly chunks: Uint8Array[] = [];
  private total = 0;

  constructor(
    readonly what: string,
    /** Absolute position references are relative to. */
    readonly base: number,
  ) {}

  add(pos: number, onDisk: number, raw: boolean, data: Uint8Array | null): MetaBlock {
    const block: MetaBlock = {
      pos,
      rel: pos - this.base,
      onDisk,
      raw,
      streamStart: this.total,
      size: data?.length ?? 0,
      ok: data !== null,
    };
    if (data === null) this.breaks.push(this.total);
    else {
      this.chunks.push(data);
      this.total += data.length;
    }
    this.blocks.push(block);
    this.byRel.set(block.rel, block);
    return block;
  }

  finish(): this {
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.bytes = out;
    this.chunks.length = 0;
    return this;
  }

  get length(): number {
    return this.bytes.length;
  }

  /** The stream position of a reference, or why it has none. */
  resolve(ref: number): number | string {
    return this.resolveAt(refBlock(ref), refOffset(ref));
  }

  resolveAt(rel: number, offset: number): number | string {
    const b = this.byRel.get(rel);
    if (b === undefined) {
      return `no ${this.what} metadata block starts at table offset ${rel} (byte ${this.base + rel})`;
    }
    if (!b.ok) return `the ${this.what} metadata block at byte ${b.pos} is unreadable`;
    if (offset >= b.size) {
      return `offset ${offset} is past the ${b.size} bytes of the ${this.what} metadata block at byte ${b.pos}`;
    }
    return b.streamStart + offset;
  }

  /** Null if `n` bytes at stream position `s` can be read as one record, else why not. */
  readable(s: number, n: number): string | null {
    if (s + n > this.total) {
      return `${n} bytes at ${this.what} stream position ${s} run past the end of the table (${this.total} bytes)`;
    }
    for (const b of this.breaks) {
      if (b > s && b < s + n) return `a record runs into an unreadable ${this.what} metadata block`;
    }
    return null;
  }

  /** The block holding stream position `s` (the last block for the end position). */
  blockOf(s: number): MetaBlock | undefined {
    let lo = 0;
    let hi = this.blocks.length - 1;
    let found: MetaBlock | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = this.blocks[mid]!;
      if (b.streamStart <= s) {
        if (b.ok && b.size > 0) found = b;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Skip back over unreadable blocks sharing the same stream start.
    if (found !== undefined && s >= found.streamStart + found.size && s < this.total) {
      return this.blocks.find((b) => b.ok && s >= b.streamStart && s < b.streamStart + b.size);
    }
    return found;
  }

  /** Absolute image offset of stream position `s`: exact in raw blocks, the header otherwise. */
  abs(s: number): number {
    const b = this.blockOf(s);
    if (b === undefined) return this.base;
    return b.raw ? b.pos + 2 + (s - b.streamStart) : b.pos;
  }
}

/**
 * Reads one metadata block's header and payload, judging them. Returns null when the header is
 * unusable (no successor can be found); `data` null when the payload does not decode.
 */
export async function readMetaBlock(
  ctx: VerifyContext,
  pos: number,
  end: number,
  what: string,
): Promise<{ onDisk: number; raw: boolean; data: Uint8Array | null } | null> {
  const structure = `${what} block at ${pos}`;
  if (pos < 0 || pos + 2 > Math.min(end, ctx.limit)) {
    ctx.p.error(
      'metadata.bounds',
      pos,
      structure,
      `the block header lies outside the ${what} (which ends at ${Math.min(end, ctx.limit)})`,
    );
    return null;
  }
  const header = await ctx.source.read(pos, 2, `${what} metadata block header`);
  const { length, raw } = decodeMetadataHeader(header[0]! | (header[1]! << 8));
  if (length === 0 || length > METADATA_SIZE) {
    ctx.p.error(
      'metadata.header',
      pos,
      structure,
      `header 0x${(header[0]! | (header[1]! << 8)).toString(16).padStart(4, '0')} gives an on-disk length of ${length} (must be 1..8192)`,
    );
    return null;
  }
  if (pos + 2 + length > Math.min(end, ctx.limit)) {
    ctx.p.error(
      'metadata.bounds',
      pos,
      structure,
      `the ${length}-byte payload runs past the end of the ${what} at ${Math.min(end, ctx.limit)}${
        end > ctx.limit ? ' (bytes_used)' : ''
      }`,
    );
    return null;
  }
  const payload = await ctx.source.read(pos + 2, length, `${what} metadata block`);
  if (raw) return { onDisk: length, raw, data: payload };
  try {
    const data = ctx.compressor.decompress(payload, METADATA_SIZE);
    if (data.length === 0) {
      ctx.p.error('metadata.block-size', pos, structure, 'the block decompresses to 0 bytes');
    }
    for (const c of codecProblems(ctx.codec, payload, METADATA_SIZE))
      ctx.p.error(c.rule, pos + 2 + c.at, structure, c.message);
    if (length > data.length) {
      // unsquashfs's read_block refuses a lookup-table block stored in more bytes than it holds
      // (c_byte > expected); the kernel reads it. mksquashfs stores such a block raw.
      ctx.p.warn(
        'metadata.expanded',
        pos,
        structure,
        `the block is stored compressed in ${length} bytes but holds ${data.length}: unsquashfs 4.5.1 refuses such a block in a lookup table; store it raw`,
      );
    }
    return { onDisk: length, raw, data };
  } catch (err) {
    ctx.p.error(
      'metadata.decompress',
      pos,
      structure,
      `the block does not decompress to at most 8192 bytes: ${(err as Error).message}`,
    );
    return { onDisk: length, raw, data: null };
  }
}

/** Every block except the last must hold exactly 8192 bytes (§6). */
export function checkBlockSizes(ctx: VerifyContext, stream: MetaStream): void {
  for (let i = 0; i + 1 < stream.blocks.length; i++) {
    const b = stream.blocks[i]!;
    if (b.ok && b.size !== METADATA_SIZE) {
      ctx.p.error(
        'metadata.block-size',
        b.pos,
        `${stream.what} block at ${b.pos}`,
        `a block that is not the table's last holds ${b.size} bytes, not 8192`,
      );
    }
  }
}

/**
 * Walks the contiguous blocks of a table region [start, end) (inode, directory, xattr key/value
 * table): each block starts where the previous one ends, and the last must end exactly at `end`.
 */
export async function readMetaRegion(
  ctx: VerifyContext,
  what: string,
  start: number,
  end: number,
): Promise<MetaStream> {
  const stream = new MetaStream(what, start);
  let pos = start;
  // Each pass advances by at least 3 bytes or stops.
  while (pos < end) {
    const block = await readMetaBlock(ctx, pos, end, what);
    if (block === null) break;
    stream.add(pos, block.onDisk, block.raw, block.data);
    pos += 2 + block.onDisk;
  }
  stream.finish();
  checkBlockSizes(ctx, stream);
  return stream;
}
