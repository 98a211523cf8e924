/**
 * A FileSource over a regular file on the host. The file is opened only when the writer reads
 * it, not when the tree is scanned: a tree may hold 100 000 files and we must not hold 100 000
 * descriptors. The size is the one seen at scan time; a file that then yields another number of
 * bytes has changed under us, and the image would not match the tree, so reading fails.
 */
import { close, constants, open, read } from 'node:fs';
import { SquashfsError, ioError } from '../squashfs/errors.js';
import { isPendingBytes } from '../squashfs/tree.js';
import type { FileSource, PendingBytes } from '../squashfs/tree.js';
import { displayPath } from './host-paths.js';
import type { HostStats } from './host-stat.js';
import type { ReadAheadBudget } from './read-ahead.js';
import type { ReadBufferPool } from './read-buffers.js';
import { QUEUED_READ_MAX, queuedReads, wholeFileReader } from './whole-file-reader.js';
import type { QueuedReads } from './whole-file-reader.js';

/** Largest chunk handed to the writer at once. */
export const HOST_READ_CHUNK = 1 << 20;

/** Chunks of one file read at once at most: what its reads ahead may take of the budget. */
const MAX_CHUNKS_AHEAD = 4;

interface PendingRead {
  chunk: Buffer;
  /** Taken from the read-ahead budget (every read but the one the writer waits for). */
  counted: boolean;
  bytesRead: Promise<number>;
}

/**
 * O_NOFOLLOW because the scan saw a regular file at this path: if it has since been replaced by
 * a symlink, following it would store some other file's bytes under this name.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

export class HostFileSource implements FileSource {
  readonly size: number;
  readonly sparseOnDisk: boolean;
  /** Each read() opens the file again. */
  readonly repeatable = true;

  /**
   * `buffers`: where read buffers come from and go back to (recycle()); default: fresh ones.
   * `readAhead`: the bytes the chunks of a large file may be read ahead of the writer, shared
   * with other files; default: none.
   */
  constructor(
    private readonly path: Buffer,
    stats: HostStats,
    private readonly buffers?: ReadBufferPool,
    private readonly readAhead?: ReadAheadBudget,
  ) {
    this.size = stats.size;
    this.sparseOnDisk = stats.blocks * 512 < stats.size;
  }

  /** Computed on demand: a tree of 100 000 files need not hold every path twice. */
  get description(): string {
    return displayPath(this.path);
  }

  // Plain descriptors and callbacks, not fs.promises FileHandles: a tree of small files costs
  // an open, a read and a close each, and on 20 000 files the FileHandle machinery was a large
  // share of the writer's main thread. A file that fits in one chunk is read by the native
  // addon in one threadpool job instead of three, where it is built (wholeFileReader).
  async *read(): AsyncIterable<Uint8Array> {
    const whole = this.readWhole();
    if (whole) {
      const chunk = isPendingBytes(whole) ? whole.wait() : await whole;
      if (chunk.length > 0) yield chunk;
      return;
    }
    const fd = await new Promise<number>((resolve, reject) =>
      open(this.path, OPEN_FLAGS, (err, fd) =>
        err ? reject(ioError(err, this.description, 'read')) : resolve(fd),
      ),
    );
    try {
      yield* this.chunks(fd);
    } finally {
      await new Promise<void>((resolve) => close(fd, () => resolve()));
    }
  }

  /**
   * The one chunk of a file smaller than HOST_READ_CHUNK, read by the addon. One of at most
   * QUEUED_READ_MAX bytes goes to its reader thread, and wait() collects it: the writer's
   * read-ahead calls this for files it reaches later, so the reads leave the main thread. Else,
   * or with the reader thread's slots all taken: at once when the page cache holds it (the reader
   * then calls back before it returns: no promise, no threadpool job; on small-100000
   * uncompressed, the promises around each cached read were about 5% of the run), else a
   * promise. Null for a larger file, or where the addon is not built.
   */
  readWhole(): Uint8Array | Promise<Uint8Array> | PendingBytes | null {
    if (this.size >= HOST_READ_CHUNK) return null;
    const readWhole = wholeFileReader();
    if (!readWhole) return null;
    // One byte past the expected size, as in chunks(): a file that grew is noticed.
    const length = this.size + 1;
    const chunk = this.buffers ? this.buffers.take(length) : Buffer.allocUnsafe(length);
    const queue = this.size <= QUEUED_READ_MAX ? queuedReads() : null;
    const ticket = queue ? queue.submit(this.path, chunk, this.size) : -1;
    if (ticket >= 0) return new QueuedRead(this, queue!, ticket, chunk);
    let result: Uint8Array | Promise<Uint8Array> | undefined;
    let settle: ((r: Uint8Array | Promise<Uint8Array>) => void) | undefined;
    readWhole(this.path, chunk, this.size, (err, bytesRead) => {
      const r = this.wholeResult(chunk, err, bytesRead);
      if (settle) settle(r);
      else result = r;
    });
    return result ?? new Promise((resolve) => (settle = resolve));
  }

  /** The bytes of a whole-file read, or a rejection: the read failed, or the size changed. */
  private wholeResult(
    chunk: Buffer,
    err: NodeJS.ErrnoException | null,
    bytesRead: number | undefined,
  ): Uint8Array | Promise<Uint8Array> {
    if (err) return Promise.reject(ioError(err, this.description, 'read'));
    try {
      return this.wholeChunk(chunk, bytesRead!);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The bytes of a whole-file read, or the error of a file that changed size. */
  wholeChunk(chunk: Buffer, bytesRead: number): Uint8Array {
    if (bytesRead > this.size) throw this.changed(`at least ${bytesRead}`);
    if (bytesRead < this.size) throw this.changed(String(bytesRead));
    return chunk.subarray(0, bytesRead);
  }

  /**
   * The file's chunks in order, each read at its position, so that the next ones can be read in
   * the threadpool while the writer works on this one. Read one after another on the main thread
   * (from the page cache, with the addon's preadv2), the copies were most of that thread's work
   * on an uncompressed tree: binaries-250M took 438 ms against 368 with up to 3 chunks read
   * ahead, and an uncompressed 200 MiB file 217 against 185 (medians of 21 alternating runs).
   * How many are read ahead is bounded by `readAhead`, shared by all files; without it, one at a
   * time. The last chunk is one byte past the expected size, so that a file that grew is noticed
   * without reading it all.
   */
  private async *chunks(fd: number): AsyncIterable<Uint8Array> {
    const ahead: PendingRead[] = [];
    /** Where the next read starts. */
    let next = 0;
    let total = 0;
    const start = (counted: boolean) => {
      const length = Math.min(HOST_READ_CHUNK, this.size - next + 1);
      if (counted && !this.readAhead!.take(length)) return false;
      // A buffer of its own per read (fresh, or one given back through recycle()): the writer may
      // keep a yielded chunk after it has asked for the next.
      const chunk = this.buffers ? this.buffers.take(length) : Buffer.allocUnsafe(length);
      const bytesRead = this.readFully(fd, chunk, next);
      // A read ahead may fail before it is awaited: handled here, so that the failure is not
      // reported as unhandled (which ends the process), and still thrown where it is awaited.
      bytesRead.catch(() => undefined);
      ahead.push({ chunk, counted, bytesRead });
      next += length;
      return true;
    };
    const startReads = () => {
      if (ahead.length === 0 && next <= this.size) start(false);
      while (this.readAhead && ahead.length < MAX_CHUNKS_AHEAD && next <= this.size) {
        if (!start(true)) break;
      }
    };
    try {
      for (;;) {
        startReads();
        const read = ahead[0];
        if (!read) break;
        const bytesRead = await read.bytesRead;
        ahead.shift();
        if (read.counted) this.readAhead!.give(read.chunk.length);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > this.size) throw this.changed(`at least ${total}`);
        startReads();
        yield read.chunk.subarray(0, bytesRead);
        // Short only at the end of the file (readFully reads on after any other short read).
        if (bytesRead < read.chunk.length) break;
      }
      if (total !== this.size) throw this.changed(String(total));
    } finally {
      // Reads still running use the descriptor and their buffers: they end before it is closed
      // and the buffers reused.
      for (const read of ahead) if (read.counted) this.readAhead!.give(read.chunk.length);
      await Promise.allSettled(ahead.map((read) => read.bytesRead));
      for (const read of ahead) this.buffers?.give(read.chunk);
    }
  }

  /** Reads `chunk` from `position` on until it is full or the file ends: the bytes read. */
  private async readFully(fd: number, chunk: Buffer, position: number): Promise<number> {
    let done = 0;
    while (done < chunk.length) {
      const n = await new Promise<number>((resolve, reject) =>
        read(fd, chunk, done, chunk.length - done, position + done, (err, bytesRead) =>
          err ? reject(ioError(err, this.description, 'read')) : resolve(bytesRead),
        ),
      );
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** The caller is done with a chunk read() yielded: its buffer may be read into again. */
  recycle(chunk: Uint8Array): void {
    this.buffers?.give(chunk);
  }

  private changed(got: string): SquashfsError {
    return new SquashfsError(
      'CHANGED_DURING_READ',
      `${this.description} changed size while being read (expected ${this.size} bytes, got ${got})`,
      { path: this.description },
    );
  }
}

/** A whole-file read on the addon's reader thread, checked like any other when collected. */
class QueuedRead implements PendingBytes {
  constructor(
    private readonly file: HostFileSource,
    private readonly queue: QueuedReads,
    private readonly ticket: number,
    private readonly chunk: Buffer,
  ) {}

  wait(): Uint8Array {
    let bytesRead: number;
    try {
      bytesRead = this.queue.collect(this.ticket);
    } catch (err) {
      throw ioError(err as NodeJS.ErrnoException, this.file.description, 'read');
    }
    return this.file.wholeChunk(this.chunk, bytesRead);
  }
}
