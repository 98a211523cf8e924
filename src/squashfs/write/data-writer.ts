/**
 * Writes file data (format page §7): full blocks (compressed, raw when compression does not
 * shrink them, or sparse when all zero), then the tail either as a short last block or packed into
 * the open fragment block. Fragment blocks are written as soon as the next tail does not fit, so
 * they interleave with file data as in mksquashfs.
 *
 * Like mksquashfs 4.5.1, whole small files and the tails of larger files (-always-use-fragments)
 * fill two separate fragment buffers. A buffer takes the next fragment index when it is opened,
 * so indices follow first use while disk order follows writing; at the end the small-file buffer
 * is written before the tail buffer (observed on mksquashfs's images).
 *
 * Duplicate files: each file's bytes are hashed with xxhash64 as they stream through. When a
 * file of the same size and hash was written before, the match is confirmed byte for byte (the
 * stored blocks, read back from the image, and the tail bytes) and the new file's blocks, which
 * are the last bytes written, are dropped again by rewinding the sink; the inode then points at
 * the earlier file's blocks and fragment. A source is therefore read exactly once.
 */
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
import type { Compressor } from '../compress/compressor.js';
import { SquashfsError } from '../errors.js';
import { DATA_SIZE_MASK, DATA_UNCOMPRESSED, NO_INDEX } from '../format/constants.js';
import type { FragmentEntry } from '../format/tables.js';
import type { Sink } from '../io/sink.js';
import type { FileSource } from '../tree.js';

export interface FileData {
  blocksStart: number;
  /** Size words: on-disk size | DATA_UNCOMPRESSED, or 0 for a sparse block. */
  blockSizes: number[];
  fragment: number;
  fragmentOffset: number;
  fileSize: number;
  /** Bytes held in sparse blocks, when the source was sparse on disk (else 0, as mksquashfs). */
  sparse: number;
}

export interface DataWriterOptions {
  blockSize: number;
  /** null: data blocks stored raw. */
  dataCompressor: Compressor | null;
  /** null: fragment blocks stored raw. */
  fragmentCompressor: Compressor | null;
  /** Used to read fragment blocks back when confirming duplicates. */
  decompressor: Compressor;
  fragments: 'never' | 'small' | 'always';
  duplicates: boolean;
  sparse: boolean;
  signal?: AbortSignal;
}

/** An open fragment block: its index is reserved when it is opened. */
interface OpenFragment {
  index: number;
  bytes: Uint8Array;
  length: number;
}

interface StoredFile {
  data: FileData;
  tailLength: number;
}

export interface DataStats {
  duplicateFiles: number;
  sparseBlocks: number;
  dataBytes: number;
  dataBytesOnDisk: number;
}

const READBACK_CHUNK = 1 << 20;

export class DataWriter {
  /** Entries by fragment index; a slot is reserved when its buffer opens and filled when written. */
  private readonly fragmentSlots: (FragmentEntry | null)[] = [];
  readonly stats: DataStats = {
    duplicateFiles: 0,
    sparseBlocks: 0,
    dataBytes: 0,
    dataBytesOnDisk: 0,
  };
  private readonly open: { small: OpenFragment | null; tail: OpenFragment | null } = {
    small: null,
    tail: null,
  };
  private readonly seen = new Map<string, StoredFile[]>();
  private decodedFragment: { index: number; bytes: Uint8Array } | null = null;

  private constructor(
    private readonly sink: Sink,
    private readonly opts: DataWriterOptions,
    private readonly hasher: XXHashAPI,
  ) {}

  /** The fragment table, once every buffer has been written (after `finish()`). */
  get fragmentTable(): FragmentEntry[] {
    return this.fragmentSlots.map((e, i) => {
      if (!e) throw new Error(`fragment ${i} was never written`);
      return e;
    });
  }

  static async create(sink: Sink, opts: DataWriterOptions): Promise<DataWriter> {
    return new DataWriter(sink, opts, await xxhash());
  }

  /** Streams one file into the image and says where its data went. */
  async writeFile(source: FileSource, onBytes: (n: number) => void): Promise<FileData> {
    const bs = this.opts.blockSize;
    const size = source.size;
    const start = this.sink.position;
    const words: number[] = [];
    const hash = this.hasher.create64();
    const block = new Uint8Array(Math.min(bs, Math.max(size, 1)));
    let filled = 0;
    let total = 0;
    let sparseBytes = 0;

    const flushBlock = async (bytes: Uint8Array) => {
      const word = await this.writeBlock(bytes);
      if (word === 0) sparseBytes += bytes.length;
      words.push(word);
    };

    for await (const chunk of source.read()) {
      if (total + chunk.length > size) throw changed(source, size, total + chunk.length, 'more');
      total += chunk.length;
      hash.update(chunk);
      onBytes(chunk.length);
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(chunk.length - at, block.length - filled);
        block.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === bs) {
          await flushBlock(block);
          filled = 0;
        }
      }
    }
    if (total !== size) throw changed(source, size, total, 'fewer');
    this.stats.dataBytes += size;

    const tail = block.subarray(0, filled);
    const tailIsZero = this.opts.sparse && isAllZero(tail);
    const useFragment =
      tail.length > 0 &&
      !tailIsZero &&
      this.opts.fragments !== 'never' &&
      (size < bs || this.opts.fragments === 'always');
    if (tail.length > 0 && !useFragment) await flushBlock(tail);

    const data: FileData = {
      // mksquashfs stores 0 for a file with no blocks (empty, or fragment only); a file whose
      // blocks are all sparse keeps the current position.
      blocksStart: words.length === 0 ? 0 : start,
      blockSizes: words,
      fragment: NO_INDEX,
      fragmentOffset: 0,
      fileSize: size,
      sparse: source.sparseOnDisk ? sparseBytes : 0,
    };

    const key = this.opts.duplicates && size > 0 ? `${size}:${hash.digest().toString(16)}` : null;
    if (key !== null) {
      for (const c of this.seen.get(key) ?? []) {
        if (await this.sameContent(c, data, useFragment ? tail : null)) {
          await this.sink.rewind(start);
          this.stats.duplicateFiles++;
          return { ...c.data, sparse: data.sparse };
        }
      }
    }
    // Counted before the tail goes in: a fragment block flushed by it counts on its own.
    this.stats.dataBytesOnDisk += this.sink.position - start;
    if (useFragment) await this.addToFragment(tail, data, size >= bs);
    if (key !== null) {
      const stored = { data, tailLength: useFragment ? tail.length : 0 };
      const list = this.seen.get(key);
      if (list) list.push(stored);
      else this.seen.set(key, [stored]);
    }
    return data;
  }

  /** Writes one full block or a short last block; returns its size word. */
  private async writeBlock(bytes: Uint8Array): Promise<number> {
    this.opts.signal?.throwIfAborted();
    if (this.opts.sparse && isAllZero(bytes)) {
      this.stats.sparseBlocks++;
      return 0;
    }
    const compressed = this.opts.dataCompressor?.compress(bytes, 'data') ?? null;
    if (compressed) {
      await this.sink.append(compressed);
      return compressed.length;
    }
    await this.sink.append(bytes.slice());
    return bytes.length | DATA_UNCOMPRESSED;
  }

  private async addToFragment(tail: Uint8Array, data: FileData, isTailEnd: boolean): Promise<void> {
    const which = isTailEnd ? 'tail' : 'small';
    let frag = this.open[which];
    if (frag && frag.length + tail.length > this.opts.blockSize) {
      await this.writeFragment(frag);
      frag = null;
    }
    if (!frag) {
      frag = {
        index: this.fragmentSlots.length,
        bytes: new Uint8Array(this.opts.blockSize),
        length: 0,
      };
      this.fragmentSlots.push(null);
    }
    this.open[which] = frag;
    data.fragment = frag.index;
    data.fragmentOffset = frag.length;
    frag.bytes.set(tail, frag.length);
    frag.length += tail.length;
  }

  private async writeFragment(frag: OpenFragment): Promise<void> {
    const bytes = frag.bytes.subarray(0, frag.length);
    const start = this.sink.position;
    const compressed = this.opts.fragmentCompressor?.compress(bytes, 'data') ?? null;
    if (compressed) await this.sink.append(compressed);
    else await this.sink.append(bytes.slice());
    const sizeWord = compressed ? compressed.length : bytes.length | DATA_UNCOMPRESSED;
    this.fragmentSlots[frag.index] = { start, sizeWord };
    this.stats.dataBytesOnDisk += this.sink.position - start;
    if (this.open.small === frag) this.open.small = null;
    if (this.open.tail === frag) this.open.tail = null;
  }

  /** Writes the open fragment buffers: small files first, then tails. */
  async finish(): Promise<void> {
    if (this.open.small) await this.writeFragment(this.open.small);
    if (this.open.tail) await this.writeFragment(this.open.tail);
  }

  /** Byte-for-byte confirmation that a candidate holds the same data as the file just written. */
  private async sameContent(
    c: StoredFile,
    data: FileData,
    tail: Uint8Array | null,
  ): Promise<boolean> {
    const a = c.data.blockSizes;
    const b = data.blockSizes;
    if (a.length !== b.length || a.some((w, i) => w !== b[i])) return false;
    if (c.tailLength > 0 !== (tail !== null)) return false;
    // Identical size words and identical stored bytes mean identical data: decompression is a
    // function of the stored bytes.
    let length = 0;
    for (const w of a) length += w & DATA_SIZE_MASK;
    for (let at = 0; at < length; at += READBACK_CHUNK) {
      const n = Math.min(READBACK_CHUNK, length - at);
      const x = await this.sink.readAt(c.data.blocksStart + at, n);
      const y = await this.sink.readAt(data.blocksStart + at, n);
      if (Buffer.compare(x, y) !== 0) return false;
    }
    if (tail) {
      const stored = await this.fragmentBytes(c.data.fragment);
      const earlier = stored.subarray(c.data.fragmentOffset, c.data.fragmentOffset + c.tailLength);
      if (Buffer.compare(earlier, tail) !== 0) return false;
    }
    return true;
  }

  /** The uncompressed bytes of fragment block `index` (the open one, or read back from the image). */
  private async fragmentBytes(index: number): Promise<Uint8Array> {
    for (const frag of [this.open.small, this.open.tail]) {
      if (frag?.index === index) return frag.bytes.subarray(0, frag.length);
    }
    if (this.decodedFragment?.index === index) return this.decodedFragment.bytes;
    const entry = this.fragmentSlots[index]!;
    const stored = await this.sink.readAt(entry.start, entry.sizeWord & DATA_SIZE_MASK);
    const bytes =
      entry.sizeWord & DATA_UNCOMPRESSED
        ? stored
        : this.opts.decompressor.decompress(stored, this.opts.blockSize);
    this.decodedFragment = { index, bytes };
    return bytes;
  }
}

function changed(
  source: FileSource,
  expected: number,
  got: number,
  how: 'more' | 'fewer',
): SquashfsError {
  return new SquashfsError(
    'CHANGED_DURING_READ',
    `${source.description} changed size while being read (expected ${expected} bytes, got ${how === 'more' ? 'at least ' : ''}${got})`,
    { path: source.description },
  );
}

export function isAllZero(bytes: Uint8Array): boolean {
  // Compare 4 bytes at a time where alignment allows; the rest byte by byte.
  const n = bytes.length;
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0) return false;
    i = words.length * 4;
  }
  for (; i < n; i++) if (bytes[i] !== 0) return false;
  return true;
}
