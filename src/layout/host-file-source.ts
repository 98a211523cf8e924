/**
 * A FileSource over a regular file on the host. The file is opened only when the writer reads
 * it, not when the tree is scanned: a tree may hold 100 000 files and we must not hold 100 000
 * descriptors. The size is the one seen at scan time; a file that then yields another number of
 * bytes has changed under us, and the image would not match the tree, so reading fails.
 */
import { close, constants, open, read } from 'node:fs';
import { SquashfsError, ioError } from '../squashfs/errors.js';
import type { FileSource } from '../squashfs/tree.js';
import { cachedRead } from './cached-read.js';
import { displayPath } from './host-paths.js';
import type { HostStats } from './host-stat.js';
import type { ReadBufferPool } from './read-buffers.js';
import { wholeFileReader } from './whole-file-reader.js';

/** Largest chunk handed to the writer at once. */
export const HOST_READ_CHUNK = 1 << 20;

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

  /** `buffers`: where read buffers come from and go back to (recycle()); default: fresh ones. */
  constructor(
    private readonly path: Buffer,
    stats: HostStats,
    private readonly buffers?: ReadBufferPool,
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
      const chunk = await whole;
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
   * The one chunk of a file smaller than HOST_READ_CHUNK, read by the addon: at once when the
   * page cache holds it (the reader then calls back before it returns: no promise, no threadpool
   * job; on small-100000 uncompressed, the promises around each cached read were about 5% of the
   * run), else a promise. Null for a larger file, or where the addon is not built.
   */
  readWhole(): Uint8Array | Promise<Uint8Array> | null {
    if (this.size >= HOST_READ_CHUNK) return null;
    const readWhole = wholeFileReader();
    if (!readWhole) return null;
    // One byte past the expected size, as in chunks(): a file that grew is noticed.
    const length = this.size + 1;
    const chunk = this.buffers ? this.buffers.take(length) : Buffer.allocUnsafe(length);
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
  private wholeChunk(chunk: Buffer, bytesRead: number): Uint8Array {
    if (bytesRead > this.size) throw this.changed(`at least ${bytesRead}`);
    if (bytesRead < this.size) throw this.changed(String(bytesRead));
    return chunk.subarray(0, bytesRead);
  }

  private async *chunks(fd: number): AsyncIterable<Uint8Array> {
    let total = 0;
    for (;;) {
      // A buffer of its own per read (fresh, or one given back through recycle()): the writer may
      // keep a yielded chunk after it has asked for the next. One byte past the expected size, so
      // that a file that grew is noticed without reading it all, and so that small files do not
      // cost a 1 MiB buffer each.
      const length = Math.min(HOST_READ_CHUNK, this.size - total + 1);
      const chunk = this.buffers ? this.buffers.take(length) : Buffer.allocUnsafe(length);
      const bytesRead = await this.readInto(fd, chunk);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > this.size) throw this.changed(`at least ${total}`);
      yield chunk.subarray(0, bytesRead);
      // A short read that completes the expected size is the end of the file: no read of 0
      // bytes is needed to see it (a short read anywhere else just reads on).
      if (bytesRead < chunk.length && total === this.size) return;
    }
    if (total !== this.size) throw this.changed(String(total));
  }

  /** The caller is done with a chunk read() yielded: its buffer may be read into again. */
  recycle(chunk: Uint8Array): void {
    this.buffers?.give(chunk);
  }

  private readInto(fd: number, chunk: Buffer): Promise<number> {
    // What the page cache holds is read here, without a threadpool round trip (cached-read.ts).
    const readCached = cachedRead();
    if (readCached) {
      let bytesRead: number;
      try {
        bytesRead = readCached(fd, chunk);
      } catch (err) {
        return Promise.reject(ioError(err, this.description, 'read'));
      }
      // Full; short by the byte past the expected end (the last chunk); or the end of the file.
      if (bytesRead >= chunk.length - 1 || bytesRead === 0) return Promise.resolve(bytesRead);
      // Cut short where the cache ends: the rest of the chunk is read from the disk, so that
      // blocks do not straddle chunks. (Blocks put together from two chunks are fresh memory,
      // and at xz 1M, moved to workers whose collector freed them late: binaries-250M peaked
      // at 353 MiB instead of 290.)
      if (bytesRead > 0) {
        return this.readAsync(fd, chunk.subarray(bytesRead)).then((n) => bytesRead + n);
      }
    }
    return this.readAsync(fd, chunk);
  }

  private readAsync(fd: number, chunk: Buffer): Promise<number> {
    // Position null: read on from the current offset, so the file is read strictly in order.
    return new Promise((resolve, reject) =>
      read(fd, chunk, 0, chunk.length, null, (err, bytesRead) =>
        err ? reject(ioError(err, this.description, 'read')) : resolve(bytesRead),
      ),
    );
  }

  private changed(got: string): SquashfsError {
    return new SquashfsError(
      'CHANGED_DURING_READ',
      `${this.description} changed size while being read (expected ${this.size} bytes, got ${got})`,
      { path: this.description },
    );
  }
}
