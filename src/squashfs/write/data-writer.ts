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
 * Blocks are compressed by a BlockCompressor (a worker pool) and appended through an
 * OrderedOutput, so many blocks compress at once while positions and size words are taken in
 * queue order; a file's row in the FileTable is complete once `finish()` has resolved.
 *
 * Duplicate files are found before anything of them is compressed. Each file's bytes are hashed
 * with xxhash64 as they stream through, unless no other file of the tree has its size
 * (`repeatedSizes`). A file can only duplicate an earlier file of the same size; nothing of such
 * a candidate is compressed until its hash is known. When an earlier file has the same size and
 * hash, the match is confirmed byte for byte against that file, and the candidate's blocks are
 * never compressed. The earlier file is read again from its source when that is repeatable and
 * reads as it did (same hash): blocksReadAgain, tailReadAgain. Otherwise its stored blocks are
 * read back and decompressed, and its fragment part taken from its fragment block (in memory, or
 * read back).
 *
 * A candidate whose source is repeatable (host files) and whose blocks are compressed is read a
 * second time for that: to be compared, or to have its blocks queued; the second read must hash
 * as the first did. Any other candidate's blocks are held back as copies (up to HOLD_LIMIT
 * bytes); one larger than that is written as it streams, and if it does turn out to be a
 * duplicate, its stored bytes are compared with the earlier file's and the sink is rewound over
 * them. Such a source is read exactly once.
 */
import type { Compressor } from '../compress/compressor.js';
import type { BlockCompressor } from '../compress/pool.js';
import { SquashfsError } from '../errors.js';
import { DATA_SIZE_MASK, DATA_UNCOMPRESSED } from '../format/constants.js';
import type { FragmentEntry } from '../format/tables.js';
import { BlockBuffers } from '../io/shared-slabs.js';
import type { Sink } from '../io/sink.js';
import { isPendingBytes } from '../tree.js';
import type { FileSource } from '../tree.js';
import { ByteLru } from './byte-lru.js';
import { xxh64Factory, type Hash64Factory } from './file-hash.js';
import { f64Column, u32Column } from './column.js';
import { FileTable } from './file-table.js';
import { HashIndex } from './hash-index.js';
import { OrderedOutput, type Stored } from './ordered-output.js';
import type { RepeatedSizes } from './repeated-sizes.js';
import { isAllZero } from './zero-bytes.js';
import { copyBytes } from '../io/copy-bytes.js';

export type { FileData } from './file-table.js';

export interface DataWriterOptions {
  blockSize: number;
  /** null: data blocks stored raw. */
  dataCompressor: BlockCompressor | null;
  /** null: fragment blocks stored raw. */
  fragmentCompressor: BlockCompressor | null;
  /** Used to read stored blocks back when confirming duplicates. */
  decompressor: Compressor;
  fragments: 'never' | 'small' | 'always';
  duplicates: boolean;
  /**
   * The sizes more than one file of the tree has, when the caller knows every file up front. A
   * file of any other size is not hashed: it cannot match any file. Without it, every file is.
   */
  repeatedSizes?: RepeatedSizes;
  sparse: boolean;
  /** Blocks queued for compression and writing at most at once. */
  inFlight: number;
  signal?: AbortSignal;
}

/** An open fragment block: its index is reserved when it is opened. */
interface OpenFragment {
  index: number;
  bytes: Uint8Array;
  length: number;
}

/**
 * A block of a duplicate candidate, kept until the file's hash is known. Its buffer is ours (the
 * block itself when it was, else a copy), so it may be handed to a worker.
 */
interface HeldBlock {
  index: number;
  bytes: Uint8Array;
  /** The buffer is one of `heldBuffers`', to go back there once it is written or dropped. */
  pooled: boolean;
}

export interface DataStats {
  duplicateFiles: number;
  sparseBlocks: number;
  /** Data and fragment blocks handed to the compressor. */
  blocksCompressed: number;
  dataBytes: number;
  dataBytesOnDisk: number;
}

const READBACK_CHUNK = 1 << 20;
const EMPTY = new Uint8Array(0);
/** Bytes of a duplicate candidate held back before it is written anyway. */
export const HOLD_LIMIT = 32 << 20;
/**
 * Uncompressed fragment blocks (written last, or read back) kept for duplicate checks, and tails
 * confirmed as duplicated, kept after their block has left. How 48 MiB is split was measured on
 * small-20000 at xz 1M, in fragment blocks read back: 32 + 16 MiB, 116; 40 + 8, 67; 44 + 4, 43
 * (a cache of 32 MiB of tails and 16 MiB of blocks read back, before, took 74).
 */
export const FRAGMENT_CACHE_BYTES = 44 << 20;
export const CONFIRMED_TAIL_CACHE_BYTES = 4 << 20;
/** Fragment buffers kept for reuse: enough for the blocks written back to back. */
const SPARE_FRAGMENTS = 4;
/** Slab memory for copies of held blocks: as much as may be held at once. */
const HELD_SLAB_BYTES = HOLD_LIMIT;

export class DataWriter {
  /** Entries by fragment index; a slot is reserved when its buffer opens and filled when written. */
  private readonly fragmentSlots: (FragmentEntry | null)[] = [];
  readonly stats: DataStats = {
    duplicateFiles: 0,
    sparseBlocks: 0,
    blocksCompressed: 0,
    dataBytes: 0,
    dataBytesOnDisk: 0,
  };
  private readonly open: { small: OpenFragment | null; tail: OpenFragment | null } = {
    small: null,
    tail: null,
  };
  /** Fragment blocks queued but not yet in the sink, by index. */
  private readonly queuedFragments = new Map<number, Uint8Array>();
  /** Where every file's data went, by row (the order of writeFile calls). */
  readonly files = new FileTable();
  /** Rows of the files whose data was stored (not duplicates), by the xxhash64 of their bytes. */
  private readonly seen = new HashIndex();
  /**
   * With -always-use-fragments: the rows whose fragment part was packed (not shared), by the
   * xxhash64 of that part (see packTail).
   */
  private readonly tailsSeen = new HashIndex(16);
  /** By row, for stored files: the length of the fragment part (0: none). */
  private readonly tailLengths = u32Column();
  /**
   * By row: the source of a stored file that may have duplicates and can be read again (see
   * blocksReadAgain, tailReadAgain), else undefined. Dense (8 bytes a row; the tree holds the
   * sources anyway) from the first such source on; a tree with none (an API tree of generated
   * sources, say) pays nothing.
   */
  private readonly rereadable: (FileSource | undefined)[] = [];
  /** By row, for stored files: the OrderedOutput ticket written after the file's last block. */
  private readonly doneTickets = f64Column();
  /** Sizes of the files written so far: only a file of one of these can be a duplicate. */
  private readonly sizes = new Set<number>();
  /**
   * Which lengths of fragment parts have been packed so far, by length (< block size; see
   * zeroSmallDuplicate). A byte map: a Set cost its hash lookup at every small file.
   */
  private readonly fragmentLengths: Uint8Array;
  /** The last all-zero small file stored at its own position, or -1 (see zeroSmallDuplicate). */
  private lastZeroSmall = -1;
  /**
   * The uncompressed fragment blocks written last, and those read back (and decompressed) for
   * duplicate checks, least recently used first. A small duplicate is usually of a file seen not
   * long before, so its tail is in one of these and nothing is read back; decompressing a 1 MiB
   * xz block costs tens of milliseconds. The blocks are the buffers the tails were packed into,
   * so keeping them costs no copy per file (copying every tail into a cache of its own was the
   * largest cost of the main thread on uncompressed images: fresh memory for each file).
   *
   * Stored raw, a fragment block is read back with one pread and nothing to decompress, so none
   * is kept: the buffers go straight back to be reused, and no fresh memory is touched at all.
   */
  private readonly recentFragments: ByteLru<number>;
  /** Indices of the cached blocks that are our own fragment buffers, free to reuse on eviction. */
  private readonly ownFragments = new Set<number>();
  /**
   * Tails that have had a duplicate, copied out of their block: a content with one duplicate
   * tends to have more (licence files, identical modules), and its block may have left the cache.
   */
  private readonly confirmedTails = new ByteLru<number>(CONFIRMED_TAIL_CACHE_BYTES);
  /** Where hashOf's one-call hash puts its two halves. */
  private readonly hashWords = new Uint32Array(2);
  /**
   * Fragment buffers: evicted from the cache, they are reused for the next ones to open (a fresh
   * 128 KiB or 1 MiB buffer per fragment block cost its page faults when the tails were copied
   * in). New ones are carved out of huge-page slabs (shared-slabs.ts), as much as the cache and
   * the buffers around it hold: until the 44 MiB cache was full, each was a fresh
   * SharedArrayBuffer, 4 KiB page faults.
   */
  private readonly fragmentBuffers: BlockBuffers;
  /**
   * Block-size buffers for copies of held blocks. A held block that is a view of a source's chunk
   * is copied, as the chunk goes back to the source; copied into fresh memory, each copy cost its
   * page faults (binaries-250M has 85 MB of duplicate files: about 150 ms of the main thread).
   */
  private readonly heldBuffers: BlockBuffers;
  /**
   * Buffers that stored bytes are read back into for comparison (two: sameStored compares two
   * stretches of the image). Fresh ones per read cost a page fault per 4 KiB, as above.
   */
  private readonly readback: [Uint8Array | null, Uint8Array | null] = [null, null];
  private decompressBuffer: Uint8Array | null = null;
  private readonly out: OrderedOutput;

  private constructor(
    private readonly sink: Sink,
    private readonly opts: DataWriterOptions,
    private readonly newHash: Hash64Factory,
  ) {
    this.out = new OrderedOutput(sink, opts.inFlight);
    this.fragmentLengths = new Uint8Array(opts.blockSize);
    const cacheBytes = opts.fragmentCompressor ? FRAGMENT_CACHE_BYTES : 0;
    this.recentFragments = new ByteLru<number>(cacheBytes, (index, bytes) =>
      this.recycleFragment(index, bytes),
    );
    // Slabs for the cache, the spares, the two open buffers and those queued for writing.
    this.fragmentBuffers = new BlockBuffers(
      opts.blockSize,
      cacheBytes + (SPARE_FRAGMENTS + 2 + opts.inFlight) * opts.blockSize,
      SPARE_FRAGMENTS,
    );
    this.heldBuffers = new BlockBuffers(opts.blockSize, HELD_SLAB_BYTES, 0);
  }

  /** The fragment table, once every buffer has been written (after `finish()`). */
  get fragmentTable(): FragmentEntry[] {
    return this.fragmentSlots.map((e, i) => {
      if (!e) throw new Error(`fragment ${i} was never written`);
      return e;
    });
  }

  static async create(sink: Sink, opts: DataWriterOptions): Promise<DataWriter> {
    return new DataWriter(sink, opts, await xxh64Factory());
  }

  /**
   * Streams one file into the image and returns its row in `files`, which says where its data
   * went; positions and size words are filled in as the blocks are written, at the latest by
   * `finish()`.
   */
  async writeFile(
    source: FileSource,
    onBytes: (n: number) => void,
    chunks: AsyncIterable<Uint8Array> | readonly Uint8Array[] = source.read(),
  ): Promise<number> {
    return this.write(source, onBytes, chunks);
  }

  /**
   * writeFile, where a small file whose bytes are at hand costs no promise: its row, or a promise
   * of it when the file has to wait (a full fragment block to queue) or takes the general path.
   */
  write(
    source: FileSource,
    onBytes: (n: number) => void,
    chunks: AsyncIterable<Uint8Array> | readonly Uint8Array[] = source.read(),
  ): number | Promise<number> {
    return this.writeSmall(source, onBytes, chunks) ?? this.writeChunks(source, onBytes, chunks);
  }

  /**
   * The common case of a tree of small files, outside writeChunks: a file smaller than a block,
   * read in one chunk, not all zeros and not a possible duplicate, which goes whole into a
   * fragment block. What writeChunks would do for it, without its async function, the closures it
   * sets up for blocks, and the promises of the for-await over the chunks and of packing the tail
   * (writing 50 000 distinct small files held in memory, uncompressed: about 11 us a file before,
   * 7 after). 78% of small-20000's files take it. Null, having done nothing, for any other file.
   */
  private writeSmall(
    source: FileSource,
    onBytes: (n: number) => void,
    chunks: AsyncIterable<Uint8Array> | readonly Uint8Array[],
  ): number | Promise<number> | null {
    if (!Array.isArray(chunks) || chunks.length !== 1) return null;
    const bytes = (chunks as readonly Uint8Array[])[0]!;
    const size = source.size;
    const opts = this.opts;
    if (bytes.length !== size || size === 0 || size >= opts.blockSize) return null;
    // -always-use-fragments compares fragment parts as well (packTail), and a file of zeros is a
    // sparse block: both are left to writeChunks.
    if (opts.fragments !== 'small' || (opts.sparse && isAllZero(bytes))) return null;
    const key = this.mayRepeat(size) ? this.hashOf(bytes) : null;
    if (key !== null && this.sizes.has(size) && this.candidates(key, size).length > 0) return null;

    const row = this.files.add(size);
    this.tailLengths.push(size);
    this.doneTickets.push(0);
    onBytes(size);
    this.stats.dataBytes += size;
    this.fragmentLengths[size] = 1;
    const packed = this.addToFragment(bytes, row, false);
    return packed
      ? packed.then(() => this.smallWritten(row, key, size, source, bytes))
      : this.smallWritten(row, key, size, source, bytes);
  }

  /** The end of writeSmall, once the file is in a fragment block. */
  private smallWritten(
    row: number,
    key: HashKey | null,
    size: number,
    source: FileSource,
    bytes: Uint8Array,
  ): number {
    if (key !== null) this.remember(row, key, size, source, 0);
    if (this.sink.appendCopies && source.recycle) {
      this.recycleWhenWritten((chunk) => source.recycle!(chunk), bytes);
    }
    return row;
  }

  /** Whether a file of `size` bytes may have a duplicate in the tree: only then is it hashed. */
  private mayRepeat(size: number): boolean {
    const repeated = this.opts.repeatedSizes;
    return this.opts.duplicates && size > 0 && (repeated === undefined || repeated.has(size));
  }

  /**
   * Files a stored file (row) under its hash, so that a later file of the same size and hash is
   * compared with it. `done`: the output ticket of its last block (0: it has none).
   */
  private remember(
    row: number,
    key: HashKey,
    size: number,
    source: FileSource,
    done: number,
  ): void {
    if (source.repeatable === true) {
      while (this.rereadable.length < row) this.rereadable.push(undefined);
      this.rereadable[row] = source;
    }
    this.sizes.add(size);
    this.doneTickets.set(row, done);
    this.seen.add(key.hi, key.lo, row);
  }

  /** writeFile for any file: blocks, sparse blocks, held duplicate candidates, the tail. */
  private async writeChunks(
    source: FileSource,
    onBytes: (n: number) => void,
    chunks: AsyncIterable<Uint8Array> | readonly Uint8Array[],
  ): Promise<number> {
    const bs = this.opts.blockSize;
    const size = source.size;
    const files = this.files;
    const row = files.add(size);
    this.tailLengths.push(0);
    this.doneTickets.push(0);
    const hash = this.mayRepeat(size) ? this.newHash() : null;
    const candidate = this.opts.duplicates && this.sizes.has(size);
    // A possible duplicate's blocks wait until its hash is known: as indices only when the source
    // can be read again and blocks are compressed, else as copies. Stored raw, a second read
    // costs more than the copies (binaries-250M uncompressed: 465 ms against 450).
    const deferred: number[] | null =
      candidate && source.repeatable === true && this.opts.dataCompressor !== null ? [] : null;
    let held: HeldBlock[] | null = candidate && !deferred ? [] : null;
    let heldBytes = 0;
    const rawData = this.opts.dataCompressor === null;
    // Chunks go back to the source once written: everything queued before the marker is in the
    // sink, which copied it (appendCopies) or, if lent, has written it (recycleWhenWritten), and
    // held blocks are copies or views of chunks kept back (heldChunks).
    const recycle = this.sink.appendCopies && source.recycle ? source.recycle.bind(source) : null;
    /**
     * Stored raw, a held block inside a chunk is held as a view, not copied, and the chunk goes
     * back to its source only once the held blocks are queued or dropped (on binaries-250M
     * uncompressed, the copies were 82 ms of a main thread busy for about 450). Compressed, the
     * copy stays: the compressor may take over a block it owns.
     */
    const heldChunks: Uint8Array[] = [];
    let viewHeld = false;
    const recycleHeldChunks = () => {
      if (!recycle || heldChunks.length === 0) return;
      for (const c of heldChunks.splice(0)) this.recycleWhenWritten(recycle, c);
    };
    let start: { position: number } | null = null;
    let sparseBytes = 0;

    const startWriting = () => {
      const at = { position: 0 };
      this.out.marker((p) => (at.position = p));
      start = at;
    };
    const release = async (blocks: HeldBlock[]) => {
      if (blocks.length === 0) return; // all sparse, or no blocks: see blocksStart below
      startWriting();
      for (const b of blocks) {
        await this.queueBlock(b.bytes, true, row, b.index, b.pooled);
      }
      recycleHeldChunks();
    };
    const addSparseBlock = (length: number) => {
      files.addBlock(row);
      this.stats.sparseBlocks++;
      sparseBytes += length;
    };
    const addBlock = async (bytes: Uint8Array, owned: boolean) => {
      this.opts.signal?.throwIfAborted();
      if (this.opts.sparse && isAllZero(bytes)) return addSparseBlock(bytes.length);
      const index = files.addBlock(row);
      if (deferred) {
        deferred.push(index);
        return;
      }
      if (held) {
        // A held view of a chunk is copied unless stored raw: the chunk may go back to its
        // source (recycle below).
        const copy = !owned && !rawData;
        if (!owned && rawData) viewHeld = true;
        held.push({ index, bytes: copy ? this.heldCopy(bytes) : bytes, pooled: copy });
        heldBytes += bytes.length;
        if (heldBytes <= HOLD_LIMIT) return;
        const blocks = held;
        held = null;
        await release(blocks);
        return;
      }
      if (!start) startWriting();
      await this.queueBlock(bytes, owned, row, index);
    };

    /** A block being put together from parts of chunks (allocated when one is needed). */
    let block: Uint8Array | null = null;
    let filled = 0;
    let total = 0;
    /**
     * The tail when it is the end of the last chunk, used where it is instead of copied (a small
     * file is all tail), and that chunk, handed back only once the tail has been used.
     */
    let tailInChunk: Uint8Array | null = null;
    let tailChunk: Uint8Array | null = null;
    const sparse = this.opts.sparse;
    for await (const chunk of chunks) {
      if (total + chunk.length > size) throw changed(source, size, total + chunk.length, 'more');
      total += chunk.length;
      hash?.update(chunk);
      onBytes(chunk.length);
      let at = 0;
      while (at < chunk.length) {
        if (filled === 0 && chunk.length - at >= bs && !held && !deferred && rawData) {
          // Whole blocks stored raw: those up to the next block of zeros are queued as one run
          // (see queueRawRun), and that block, tested once, is a sparse block.
          this.opts.signal?.throwIfAborted();
          let end = at;
          while (
            end + bs <= chunk.length &&
            !(sparse && isAllZero(chunk.subarray(end, end + bs)))
          ) {
            end += bs;
          }
          if (end > at) {
            const first = files.addBlock(row);
            for (let b = at + bs; b < end; b += bs) files.addBlock(row);
            if (!start) startWriting();
            await this.queueRawRun(chunk.subarray(at, end), row, first);
          }
          if (end + bs <= chunk.length) {
            addSparseBlock(bs);
            end += bs;
          }
          at = end;
          continue;
        }
        if (filled === 0 && chunk.length - at >= bs) {
          // A whole block inside the chunk: used in place, not copied.
          await addBlock(chunk.subarray(at, at + bs), false);
          at += bs;
          continue;
        }
        if (filled === 0 && total === size) {
          tailInChunk = chunk.subarray(at);
          break;
        }
        block ??= new Uint8Array(Math.min(bs, size - total + (chunk.length - at)));
        const n = Math.min(chunk.length - at, bs - filled);
        copyBytes(block, filled, chunk.subarray(at, at + n));
        filled += n;
        at += n;
        if (filled === bs) {
          await addBlock(block, true);
          block = null;
          filled = 0;
        }
      }
      if (tailInChunk) tailChunk = chunk;
      else if (viewHeld && held) heldChunks.push(chunk);
      else if (recycle) this.recycleWhenWritten(recycle, chunk);
      viewHeld = false;
    }
    if (total !== size) throw changed(source, size, total, 'fewer');
    this.stats.dataBytes += size;
    const tail = tailInChunk ?? block?.subarray(0, filled) ?? EMPTY;
    const tailOwned = tailInChunk === null;
    try {
      const tailIsZero = this.opts.sparse && isAllZero(tail);
      const tailFitsFragment =
        tail.length > 0 &&
        this.opts.fragments !== 'never' &&
        (size < bs || this.opts.fragments === 'always');
      const useFragment = tailFitsFragment && !tailIsZero;
      if (tail.length > 0 && !useFragment) await addBlock(tail, tailOwned);
      files.sparse.set(row, source.sparseOnDisk ? sparseBytes : 0);

      // A tail fit for a fragment but all zero is stored as a sparse block instead. mksquashfs
      // 4.5.1 matches such files by rules of their own: see zeroSmallDuplicate for small files;
      // a larger one (-always-use-fragments) we never take for a duplicate, as mksquashfs does
      // unless an earlier file happens to share its first block or has a fragment of its tail's
      // length (that case still differs from mksquashfs: README, limits).
      const zeroTail = tailFitsFragment && tailIsZero && this.opts.duplicates;
      const zeroSmall = zeroTail && size < bs;
      if (zeroSmall) {
        const original = this.zeroSmallDuplicate(size);
        if (original !== -1) {
          this.share(row, original);
          return row;
        }
      }
      const digest = hash?.digest() ?? 0n;
      const key = hash && !zeroTail ? splitHash(digest) : null;
      const candidates = key === null ? [] : this.candidates(key, size);
      const ownTail = useFragment ? tail : null;
      // The candidate's own blocks, for comparison: its held copies, or the file read again.
      const again = (onChunk: (chunk: Uint8Array) => void) =>
        deferred && deferred.length > 0
          ? this.blocksAgain(source, deferred, useFragment, digest, onChunk)
          : heldBlocks(held ?? []);
      if (deferred || held) {
        for (const c of candidates) {
          const blocks = () => again(recycle ?? (() => undefined));
          if (await this.storedMatches(c, row, blocks, ownTail, key)) {
            if (held) for (const b of held) if (b.pooled) this.heldBuffers.give(b.bytes);
            recycleHeldChunks();
            this.share(row, c);
            return row;
          }
        }
      }
      if (deferred && deferred.length > 0) {
        startWriting();
        const written = (chunk: Uint8Array) => {
          if (recycle) this.recycleWhenWritten(recycle, chunk);
        };
        for await (const b of again(written)) {
          await this.queueBlock(b.bytes, b.owned, row, b.index);
        }
      } else if (held) {
        const blocks = held;
        held = null;
        await release(blocks);
      } else if (!deferred && candidates.length > 0) {
        // Released past HOLD_LIMIT: written as it streamed.
        const duplicate = await this.writtenDuplicate(candidates, row, start, ownTail);
        if (duplicate !== null) {
          this.share(row, duplicate);
          return row;
        }
      }
      // blocksStart stays 0 for a file with no blocks (empty, or fragment only), and such a file
      // queues no marker: on a tree of small files, a file's markers waited in the output queue
      // behind a few fragment blocks, long enough to be promoted to V8's old generation (about
      // 180 bytes a file of old garbage in the 1 000 000-file scale run). A file whose blocks
      // are all sparse keeps the position, as mksquashfs does.
      let done = 0;
      if (files.blockCount.get(row) > 0) {
        if (!start) startWriting();
        const begin = start!;
        done = this.out.marker(() => files.blocksStart.set(row, begin.position));
      }
      if (useFragment) {
        this.tailLengths.set(row, tail.length);
        await this.packTail(tail, row, size >= bs, size < bs ? key : null);
      }
      if (zeroSmall) this.lastZeroSmall = row;
      if (key !== null) this.remember(row, key, size, source, done);
      return row;
    } finally {
      // Chunks still held (the file failed) are not reused: the collector takes them.
      // Queued last, so the chunk goes back only after everything that used its tail.
      if (tailChunk && recycle) {
        this.recycleWhenWritten(recycle, tailChunk);
      }
    }
  }

  /**
   * Puts a file's fragment part (its tail, or all of a small file) into a fragment block. With
   * -always-use-fragments, mksquashfs 4.5.1 first looks for an earlier fragment part of the same
   * bytes, tail or small file, and points this file at it: the blocks differ, the tail is shared.
   * (With small-file fragments only, equal fragment parts are equal small files, which the
   * whole-file duplicate check has already shared.) `wholeFileKey`: the hash of a small file's
   * bytes, when it was computed, which is the hash of its fragment part too.
   */
  private async packTail(
    tail: Uint8Array,
    row: number,
    isTailEnd: boolean,
    wholeFileKey: HashKey | null,
  ): Promise<void> {
    this.fragmentLengths[tail.length] = 1;
    if (this.opts.fragments !== 'always' || !this.opts.duplicates) {
      await this.addToFragment(tail, row, isTailEnd);
      return;
    }
    const key = wholeFileKey ?? this.hashOf(tail);
    for (let c = this.tailsSeen.firstRow(key.hi, key.lo); c !== -1; c = this.tailsSeen.nextRow(c)) {
      if (this.tailLengths.get(c) === tail.length && (await this.sameTail(c, tail, key))) {
        this.files.fragment.set(row, this.files.fragment.get(c));
        this.files.fragmentOffset.set(row, this.files.fragmentOffset.get(c));
        return;
      }
    }
    await this.addToFragment(tail, row, isTailEnd);
    this.tailsSeen.add(key.hi, key.lo, row);
  }

  /**
   * The earlier file that an all-zero small file (stored as one sparse block, not a fragment)
   * shares its block list with, or -1. mksquashfs 4.5.1 files every such file under one key,
   * whatever its size (one sparse block, no stored bytes), and looks there only when a fragment
   * of exactly this file's size has been stored before (its test for a possible duplicate
   * expects a small file to be a fragment). It then takes the last one stored at its own
   * position. Found on a tree of 100 000 small files, whose uncompressed image differed from
   * mksquashfs's in 4 069 inodes.
   */
  private zeroSmallDuplicate(size: number): number {
    const last = this.lastZeroSmall;
    return last !== -1 && this.fragmentLengths[size] === 1 ? last : -1;
  }

  private hashOf(bytes: Uint8Array): HashKey {
    const words = this.hashWords;
    this.newHash.words(bytes, words);
    return { hi: words[0]!, lo: words[1]! };
  }

  /** Rows of the stored files with this hash and size, in the order they were written. */
  private candidates(key: HashKey, size: number): number[] {
    const rows: number[] = [];
    for (let r = this.seen.firstRow(key.hi, key.lo); r !== -1; r = this.seen.nextRow(r)) {
      if (this.files.fileSize.get(r) === size) rows.push(r);
    }
    return rows;
  }

  /**
   * Queues one data block for compression and writing; its size word is set when written. A
   * `pooled` buffer (a held copy) goes back to `heldBuffers` then, if nothing refers to it any
   * more: the sink copied it, or was given compressed bytes instead.
   */
  private async queueBlock(
    bytes: Uint8Array,
    owned: boolean,
    row: number,
    index: number,
    pooled = false,
  ): Promise<void> {
    const length = bytes.length;
    // Stored raw, the block may be lent to the sink: a chunk or fragment buffer is reused only
    // once the sink has written it (recycleWhenWritten), and a block of its own never is. A held
    // copy goes back to heldBuffers when the block is appended, so it is copied.
    const work = this.compressed(bytes, owned, this.opts.dataCompressor, !pooled);
    await this.out.block(work, (_p, stored) => {
      this.files.setSizeWord(row, index, sizeWord(stored!, length));
      this.stats.dataBytesOnDisk += stored!.bytes.length;
      if (pooled && (stored!.compressed || this.sink.appendCopies)) this.heldBuffers.give(bytes);
    });
  }

  /**
   * Queues `run`, whole blocks of a chunk stored raw (none of them zeros), as one entry: the sink
   * gets them in one appendLent, and each block's size word is set when it is written. The same
   * bytes and size words as queueBlock per block, without an entry, a promise chain and an
   * append per block (an uncompressed 200 MiB file has 1 600 blocks of 128 KiB).
   */
  private async queueRawRun(run: Uint8Array, row: number, first: number): Promise<void> {
    const bs = this.opts.blockSize;
    const stored: Stored = { bytes: run, compressed: false, lendable: true };
    await this.out.block(Promise.resolve(stored), () => {
      for (let i = 0; i * bs < run.length; i++) {
        this.files.setSizeWord(row, first + i, bs | DATA_UNCOMPRESSED);
      }
      this.stats.dataBytesOnDisk += run.length;
    });
  }

  /** A copy of a block to hold, in one of `heldBuffers`. */
  private heldCopy(bytes: Uint8Array): Uint8Array {
    // Shared memory, like the read buffers: a worker compresses it where it is.
    const memory = this.heldBuffers.take();
    copyBytes(memory, 0, bytes);
    return memory.subarray(0, bytes.length);
  }

  /**
   * Makes `row` (the file being written) a duplicate of the stored file `original`. The
   * original's blocksStart is set when the output reaches it, which may not have happened yet
   * (it was confirmed without waiting for that: waiting drained the compression queue): a marker
   * queued now fires after the original's and copies it. A file with no blocks has none to wait
   * for (blocksStart 0).
   */
  private share(row: number, original: number): void {
    const files = this.files;
    this.stats.duplicateFiles++;
    files.shareWith(row, original);
    if (files.blockCount.get(original) > 0) {
      this.out.marker(() => files.blocksStart.set(row, files.blocksStart.get(original)));
    }
  }

  /**
   * A block-size buffer that stored blocks are decompressed into for comparison, reused: the
   * bench's binaries end with four copies of a 25 MiB library, and a fresh buffer per block read
   * back made 75 MiB of garbage at once.
   */
  private decompressed(): Uint8Array {
    this.decompressBuffer ??= new Uint8Array(this.opts.blockSize);
    return this.decompressBuffer;
  }

  /** Reads stored bytes back into reused buffer `which` (valid until its next use). */
  private readBack(position: number, length: number, which: 0 | 1): Promise<Uint8Array> {
    let into = this.readback[which];
    if (!into || into.length < length) {
      into = new Uint8Array(Math.max(length, this.opts.blockSize, READBACK_CHUNK));
      this.readback[which] = into;
    }
    return this.sink.readAt(position, length, into);
  }

  /** `lendable`: if stored raw, the sink may keep `bytes` until written (Stored.lendable). */
  private compressed(
    bytes: Uint8Array,
    owned: boolean,
    compressor: BlockCompressor | null,
    lendable = false,
  ): Promise<Stored> {
    if (!compressor) return Promise.resolve({ bytes, compressed: false, lendable });
    this.stats.blocksCompressed++;
    return compressor.compress(bytes, 'data', owned);
  }

  /**
   * Hands `chunk` back to its source once the sink has written everything queued so far: the
   * marker fires when the chunk's blocks have been appended, and a sink they were lent to may
   * still be writing them.
   */
  private recycleWhenWritten(recycle: (chunk: Uint8Array) => void, chunk: Uint8Array): void {
    this.out.marker(() => this.whenWritten(() => recycle(chunk)));
  }

  /** Runs `fn` once the sink refers to nothing appended so far. */
  private whenWritten(fn: () => void): void {
    if (this.sink.whenWritten) this.sink.whenWritten(fn);
    else fn();
  }

  /**
   * Copies `tail` into the open fragment block of its kind; when it does not fit, that block is
   * queued first, and the promise settles once the output has room for it.
   */
  private addToFragment(tail: Uint8Array, row: number, isTailEnd: boolean): Promise<void> | void {
    const which = isTailEnd ? 'tail' : 'small';
    const frag = this.open[which];
    if (frag && frag.length + tail.length > this.opts.blockSize) {
      // writeFragment closes the block at once: the next tail opens a new one.
      return this.writeFragment(frag).then(() => this.packFragment(tail, row, which));
    }
    this.packFragment(tail, row, which);
  }

  private packFragment(tail: Uint8Array, row: number, which: 'small' | 'tail'): void {
    let frag = this.open[which];
    if (!frag) {
      frag = {
        index: this.fragmentSlots.length,
        // Shared memory: a worker compresses the block where it is (see writeFragment).
        bytes: this.fragmentBuffers.take(),
        length: 0,
      };
      this.fragmentSlots.push(null);
    }
    this.open[which] = frag;
    this.files.fragment.set(row, frag.index);
    this.files.fragmentOffset.set(row, frag.length);
    copyBytes(frag.bytes, frag.length, tail);
    frag.length += tail.length;
  }

  private async writeFragment(frag: OpenFragment): Promise<void> {
    if (this.open.small === frag) this.open.small = null;
    if (this.open.tail === frag) this.open.tail = null;
    const bytes = frag.bytes.subarray(0, frag.length);
    this.queuedFragments.set(frag.index, bytes);
    // The buffer is in shared memory, so a worker reads it in place and nothing is copied (a copy
    // per block was most of the main thread's cost of small files at gzip); stored raw, the block
    // goes to the sink as it is. Either way it is not written to again until it is recycled,
    // which happens only after it has been written and has left the cache.
    const compressor = this.opts.fragmentCompressor;
    const work = this.compressed(bytes, false, compressor, true);
    await this.out.block(work, (start, stored) => {
      this.fragmentSlots[frag.index] = { start, sizeWord: sizeWord(stored!, bytes.length) };
      this.stats.dataBytesOnDisk += stored!.bytes.length;
      this.queuedFragments.delete(frag.index);
      // Nothing else refers to the buffer now if the sink copied it or was given compressed bytes
      // instead; otherwise the sink may still hold it, and it is only read, never reused.
      if (stored!.compressed || this.sink.appendCopies) this.ownFragments.add(frag.index);
      this.recentFragments.set(frag.index, bytes);
    });
  }

  private recycleFragment(index: number, bytes: Uint8Array): void {
    if (this.ownFragments.delete(index)) this.whenWritten(() => this.fragmentBuffers.give(bytes));
  }

  /** Writes the open fragment buffers (small files first, then tails) and every queued block. */
  async finish(): Promise<void> {
    if (this.open.small) await this.writeFragment(this.open.small);
    if (this.open.tail) await this.writeFragment(this.open.tail);
    await this.out.drain();
  }

  /**
   * Whether the candidate (row `mine`), whose non-sparse blocks each call of `blocks` yields in
   * order, equals the earlier file `c`, byte for byte: the same sparse blocks, the same bytes in
   * every other block, and the same tail. `key`: the hash `c` was found under, its whole-file
   * hash (and, for a small file, the hash of its fragment part).
   */
  private async storedMatches(
    c: number,
    mine: number,
    blocks: () => AsyncGenerator<SourceBlock>,
    tail: Uint8Array | null,
    key: HashKey | null,
  ): Promise<boolean> {
    const files = this.files;
    const count = files.blockCount.get(c);
    if (count !== files.blockCount.get(mine) || this.tailLengths.get(c) > 0 !== (tail !== null)) {
      return false;
    }
    // A file that is all fragment (every small file) is compared with its tail alone.
    if (count > 0) {
      const again = await this.blocksReadAgain(c, blocks(), key);
      if (again === false) return false;
      if (again === null && !(await this.blocksReadBack(c, blocks()))) return false;
    }
    return tail === null || (await this.sameTail(c, tail, key));
  }

  /**
   * Compares the candidate's blocks with those of the earlier file `c` read again from its
   * source, if it has a repeatable one and blocks are compressed: reading a file from the page
   * cache costs far less than decompressing its stored blocks (binaries-250M at xz 1M: 1.5 s of
   * xz decoding on the main thread), and nothing waits for `c`'s turn in the output (its size
   * words are not needed: a block of `c` that is all zero was stored sparse, as the candidate's
   * is). `c` must read as it was stored: its bytes must hash to `key`, as a candidate read twice
   * must (blocksAgain). Null when `c` cannot be read that way, or reads otherwise (it changed):
   * its stored blocks decide then.
   */
  private async blocksReadAgain(
    c: number,
    mine: AsyncGenerator<SourceBlock>,
    key: HashKey | null,
  ): Promise<boolean | null> {
    const source = this.rereadable[c];
    if (!source || key === null || this.opts.dataCompressor === null) {
      await mine.return(undefined);
      return null;
    }
    const all = Array.from({ length: this.files.blockCount.get(c) }, (_, i) => i);
    const digest = joinHash(key);
    const recycle = (chunk: Uint8Array) => source.recycle?.(chunk);
    const theirs = this.blocksAgain(source, all, this.tailLengths.get(c) > 0, digest, recycle);
    /** The next block of `c`; null when `c` cannot be read or did not read as stored. */
    const nextOfTheirs = async () => {
      try {
        return await theirs.next();
      } catch {
        return null;
      }
    };
    try {
      let same = true;
      let m = await mine.next();
      for (;;) {
        const t = await nextOfTheirs();
        if (t === null) return null;
        if (t.done) break;
        // After a difference, `c` is still read to its end, where its hash tells whether it is
        // the file that was stored.
        if (!same || (this.opts.sparse && isAllZero(t.value.bytes))) continue;
        if (m.done || m.value.index !== t.value.index) same = false;
        else if (Buffer.compare(m.value.bytes, t.value.bytes) !== 0) same = false;
        else m = await mine.next();
      }
      // The candidate is read to its end too: a source read again checks there that it has not
      // changed.
      while (!m.done) {
        same = false;
        m = await mine.next();
      }
      return same;
    } finally {
      await theirs.return(undefined);
      await mine.return(undefined);
    }
  }

  /**
   * Compares the candidate's blocks with the earlier file `c`'s stored blocks, read back from the
   * sink once the output has reached them, and decompressed.
   */
  private async blocksReadBack(c: number, blocks: AsyncGenerator<SourceBlock>): Promise<boolean> {
    try {
      const files = this.files;
      const count = files.blockCount.get(c);
      await this.out.settle(this.doneTickets.get(c));
      let next = await blocks.next();
      let position = files.blocksStart.get(c);
      for (let i = 0; i < count; i++) {
        const word = files.sizeWord(c, i);
        const bytesOfMine = !next.done && next.value.index === i ? next.value.bytes : null;
        if ((word === 0) !== (bytesOfMine === null)) return false;
        if (bytesOfMine === null) continue;
        const length = word & DATA_SIZE_MASK;
        const stored = await this.readBack(position, length, 0);
        position += length;
        const bytes =
          word & DATA_UNCOMPRESSED
            ? stored
            : this.opts.decompressor.decompress(stored, this.opts.blockSize, this.decompressed());
        if (Buffer.compare(bytes, bytesOfMine) !== 0) return false;
        next = await blocks.next();
      }
      // Read to the end: a source read again checks there that it has not changed.
      while (!next.done) next = await blocks.next();
      return true;
    } finally {
      await blocks.return(undefined);
    }
  }

  /**
   * The blocks at `indices` (the ones not sparse, in order) of a source read again, each once the
   * previous one has been used; `onChunk` gets every chunk once its blocks have been used. The
   * part that went to a fragment (`tailInFragment`) is not yielded. At the end, the bytes must
   * hash to `digest`, the hash of the first read: otherwise the file changed in between.
   */
  private async *blocksAgain(
    source: FileSource,
    indices: readonly number[],
    tailInFragment: boolean,
    digest: bigint,
    onChunk: (chunk: Uint8Array) => void,
  ): AsyncGenerator<SourceBlock> {
    const bs = this.opts.blockSize;
    const size = source.size;
    const lastBlock = tailInFragment ? Math.floor(size / bs) : Math.ceil(size / bs);
    const hash = this.newHash();
    let next = 0;
    let index = 0;
    let block: Uint8Array | null = null;
    let filled = 0;
    let total = 0;
    for await (const chunk of source.read()) {
      if (total + chunk.length > size) throw changed(source, size, total + chunk.length, 'more');
      total += chunk.length;
      hash.update(chunk);
      let at = 0;
      while (at < chunk.length && index < lastBlock) {
        const wanted = indices[next] === index;
        const length = Math.min(bs, size - index * bs);
        if (filled === 0 && chunk.length - at >= length) {
          // A whole block inside the chunk: used where it is.
          if (wanted) {
            next++;
            yield { index, bytes: chunk.subarray(at, at + length), owned: false };
          }
          at += length;
          index++;
          continue;
        }
        const n = Math.min(chunk.length - at, length - filled);
        if (wanted) {
          block ??= new Uint8Array(length);
          copyBytes(block, filled, chunk.subarray(at, at + n));
        }
        filled += n;
        at += n;
        if (filled === length) {
          if (wanted) {
            next++;
            yield { index, bytes: block!, owned: true };
          }
          block = null;
          filled = 0;
          index++;
        }
      }
      onChunk(chunk);
    }
    if (total !== size) throw changed(source, size, total, 'fewer');
    if (hash.digest() !== digest) {
      throw new SquashfsError(
        'CHANGED_DURING_READ',
        `${source.description} changed while being read (its bytes differ between two reads)`,
        { path: source.description },
      );
    }
  }

  /**
   * For a candidate written as it streamed (larger than HOLD_LIMIT, row `mine`): the earlier file
   * whose stored bytes equal the ones just written, after which the sink is rewound over them.
   */
  private async writtenDuplicate(
    candidates: number[],
    mine: number,
    start: { position: number } | null,
    tail: Uint8Array | null,
  ): Promise<number | null> {
    const begin = start ?? { position: 0 };
    const written = this.out.marker(() => undefined);
    await this.out.settle(written);
    for (const c of candidates) {
      await this.out.settle(this.doneTickets.get(c));
      if (await this.sameStored(c, mine, begin.position, tail)) {
        this.stats.dataBytesOnDisk -= this.sink.position - begin.position;
        await this.sink.rewind(begin.position);
        return c;
      }
    }
    return null;
  }

  /**
   * Byte-for-byte confirmation that a candidate's stored blocks equal the ones just written (row
   * `mine`, from `mineStart` on).
   */
  private async sameStored(
    c: number,
    mine: number,
    mineStart: number,
    tail: Uint8Array | null,
  ): Promise<boolean> {
    const files = this.files;
    const count = files.blockCount.get(c);
    if (count !== files.blockCount.get(mine)) return false;
    let length = 0;
    for (let i = 0; i < count; i++) {
      const w = files.sizeWord(c, i);
      if (w !== files.sizeWord(mine, i)) return false;
      length += w & DATA_SIZE_MASK;
    }
    if (this.tailLengths.get(c) > 0 !== (tail !== null)) return false;
    // Identical size words and identical stored bytes mean identical data: decompression is a
    // function of the stored bytes.
    const theirStart = files.blocksStart.get(c);
    for (let at = 0; at < length; at += READBACK_CHUNK) {
      const n = Math.min(READBACK_CHUNK, length - at);
      const x = await this.readBack(theirStart + at, n, 0);
      const y = await this.readBack(mineStart + at, n, 1);
      if (Buffer.compare(x, y) !== 0) return false;
    }
    return tail === null || (await this.sameTail(c, tail, null));
  }

  /**
   * Whether row `c`'s stored fragment part equals `tail`. `key`: the hash the caller found `c`
   * under (its whole-file hash, or with -always-use-fragments the hash of its fragment part),
   * or null; for a small file either is the hash of the bytes it stored.
   */
  private async sameTail(c: number, tail: Uint8Array, key: HashKey | null): Promise<boolean> {
    const known = this.confirmedTails.get(c);
    if (known) return Buffer.compare(known, tail) === 0;
    const inMemory = this.tailInMemory(c);
    const again = inMemory ? null : await this.tailReadAgain(c, key);
    const same = Buffer.compare(inMemory ?? again?.bytes ?? (await this.storedTail(c)), tail) === 0;
    again?.done();
    if (same) this.confirmedTails.set(c, copyOf(tail));
    return same;
  }

  /** Row `c`'s fragment part, if its fragment block is in memory (open, queued or cached). */
  private tailInMemory(c: number): Uint8Array | null {
    const index = this.files.fragment.get(c);
    const offset = this.files.fragmentOffset.get(c);
    const end = offset + this.tailLengths.get(c);
    for (const frag of [this.open.small, this.open.tail]) {
      if (frag?.index === index) return frag.bytes.subarray(offset, end);
    }
    const inMemory = this.queuedFragments.get(index) ?? this.recentFragments.get(index);
    return inMemory ? inMemory.subarray(offset, end) : null;
  }

  /**
   * The bytes of small file `c`, read again from its source, when they hash to `key`, the hash of
   * the bytes stored for it: that is the test a candidate read twice passes (blocksAgain), and
   * reading a small file from the page cache costs microseconds where decompressing its 1 MiB xz
   * fragment block cost about 10 ms (small-20000 at xz: 1.4 s of the main thread). Null when the
   * block is stored raw (reading back just the tail costs no more), when `c` has no repeatable
   * source, or when it reads otherwise (changed, unreadable): its stored copy is then used.
   * `done()` hands the bytes back to the source.
   */
  private async tailReadAgain(
    c: number,
    key: HashKey | null,
  ): Promise<{ bytes: Uint8Array; done: () => void } | null> {
    const source = this.rereadable[c];
    const entry = this.fragmentSlots[this.files.fragment.get(c)];
    const allFragment = this.files.blockCount.get(c) === 0;
    if (!source || !allFragment || key === null || !entry || entry.sizeWord & DATA_UNCOMPRESSED) {
      return null;
    }
    const chunks: Uint8Array[] = [];
    const done = () => {
      for (const chunk of chunks) source.recycle?.(chunk);
    };
    try {
      const whole = source.readWhole?.();
      if (whole) chunks.push(isPendingBytes(whole) ? whole.wait() : await whole);
      else for await (const chunk of source.read()) chunks.push(chunk);
    } catch {
      done();
      return null;
    }
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const got = this.hashOf(bytes);
    if (bytes.length !== this.tailLengths.get(c) || got.hi !== key.hi || got.lo !== key.lo) {
      done();
      return null;
    }
    return { bytes, done };
  }

  /**
   * The stored tail of row `c`: from its fragment block if that is in memory (open, queued or
   * cached); read back from the image otherwise, only the tail itself from a block stored raw,
   * the whole block, decompressed and then cached, from a compressed one.
   */
  private async storedTail(c: number): Promise<Uint8Array> {
    const inMemory = this.tailInMemory(c);
    if (inMemory) return inMemory;
    const index = this.files.fragment.get(c);
    const offset = this.files.fragmentOffset.get(c);
    const end = offset + this.tailLengths.get(c);
    const entry = this.fragmentSlots[index]!;
    // Read into a reused buffer: sameTail only compares it.
    if (entry.sizeWord & DATA_UNCOMPRESSED)
      return this.readBack(entry.start + offset, end - offset, 0);
    const stored = await this.sink.readAt(entry.start, entry.sizeWord & DATA_SIZE_MASK);
    const bytes = this.opts.decompressor.decompress(stored, this.opts.blockSize);
    this.recentFragments.set(index, bytes);
    return bytes.subarray(offset, end);
  }
}

/**
 * A copy of `bytes` in memory of its own. Not bytes.slice(): on a Node Buffer (a host file's
 * chunk) that is a view of the same memory, which goes back to the source's buffer pool.
 */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** A block of a file: its index in the file, its bytes, and whether the buffer is its own. */
interface SourceBlock {
  index: number;
  bytes: Uint8Array;
  owned: boolean;
}

/** Held copies of a candidate's blocks, as storedMatches takes them. */
async function* heldBlocks(held: readonly HeldBlock[]): AsyncGenerator<SourceBlock> {
  for (const b of held) yield { index: b.index, bytes: b.bytes, owned: true };
}

/** A 64-bit hash as two 32-bit halves (the HashIndex's keys). */
interface HashKey {
  hi: number;
  lo: number;
}

function splitHash(h: bigint): HashKey {
  return { hi: Number(h >> 32n), lo: Number(h & 0xffffffffn) };
}

function joinHash(key: HashKey): bigint {
  return (BigInt(key.hi >>> 0) << 32n) | BigInt(key.lo >>> 0);
}

/** The size word of a stored block of `length` uncompressed bytes. */
function sizeWord(stored: Stored, length: number): number {
  return stored.compressed ? stored.bytes.length : length | DATA_UNCOMPRESSED;
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
