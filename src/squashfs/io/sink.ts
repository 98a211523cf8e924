/**
 * Where an image is written. The writer appends sequentially, may rewind to drop the blocks of a
 * file that turned out to be a duplicate, reads back what it wrote (to confirm duplicates byte for
 * byte), and patches the superblock at offset 0 at the end.
 *
 * FileSink writes to a temporary name beside the target and renames it into place on commit, so a
 * failed or interrupted write never leaves a partial image at the output path. With `durable`, it
 * also makes sure the image and its name are on the disk before commit returns (see
 * FileSinkOptions).
 */
import { createReadStream, promises as fs, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { ioError, type SquashfsError } from '../errors.js';
import { copyBytes } from './copy-bytes.js';

export interface Sink {
  /** Bytes written so far (the position of the next append). */
  readonly position: number;
  /**
   * True when append() keeps no reference to its argument once its promise has resolved (it
   * copies what it keeps). The writer then hands file chunks back to their source for reuse.
   */
  readonly appendCopies?: boolean;
  append(bytes: Uint8Array): Promise<void>;
  /**
   * Appends without copying, where a sink can: `bytes` must then stay as they are until a
   * whenWritten() callback registered after this call has run. A sink without whenWritten copies.
   */
  appendLent?(bytes: Uint8Array): Promise<void>;
  /**
   * Runs `fn` once the sink refers to none of the arrays lent to it so far: once they are in the
   * file (at once if they already are, or nothing was lent).
   */
  whenWritten?(fn: () => void): void;
  /**
   * Reads back `length` bytes written earlier at `position`. With `into` (at least `length`
   * bytes), a sink may read into it and return a view of it, so that a caller reading back
   * block after block reuses one buffer instead of touching fresh memory each time; the caller
   * uses the returned bytes either way.
   */
  readAt(position: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Drops everything from `position` on; later appends continue there. */
  rewind(position: number): Promise<void>;
  /** Overwrites bytes already written (the superblock). */
  patch(position: number, bytes: Uint8Array): Promise<void>;
  /** Makes the image visible at its destination. */
  commit(): Promise<void>;
  /** Discards everything; safe to call after a failure at any point, and more than once. */
  abort(): Promise<void>;
}

const BUFFER_SIZE = 1 << 20;
/**
 * Staging buffers: one fills while the others are being written. With one write in flight the
 * writer waited for it on every buffer (binaries-120M uncompressed: 65-200 ms of a 0.6 s run),
 * as a 1 MiB write into the page cache takes longer than filling the buffer from memory. Two in
 * flight were measured best (median of 14 and 12 alternating runs, uncompressed: binaries-120M
 * 0.565 s with one, 0.540 s with two; small-20000 1.72 s, 1.635 s). Three took threadpool
 * threads from the reads of small files (small-20000 1.595 s against 1.535 s with one).
 */
const BUFFERS = 3;

/**
 * Smallest append that appendLent() writes from where it is rather than copying: a block of
 * data. Smaller pieces are cheaper to copy than to write on their own.
 */
const LEND_MIN = 16 << 10;

/**
 * Lent bytes gathered into one write. Each write wakes a threadpool thread, which on a 2-core
 * machine takes the main thread's core for a moment: on an uncompressed 200 MiB file, 2 MiB
 * writes instead of 1 MiB took the run from 154 to 148 ms (medians of 40 alternating runs; 3 MiB
 * was no faster), and binaries-250M from 292 to 285 ms. The sink then holds up to 6 MiB of the
 * caller's buffers (two writes in flight and one gathering) instead of 3 MiB.
 */
const LENT_WRITE = 2 << 20;

/** A write handed to the file and not yet retired. */
interface Write {
  /** Where the write ends in the file. */
  end: number;
  /** The staging buffer written from, free again once the write is done; null: lent arrays. */
  buffer: Buffer | null;
  done: boolean;
  /** Resolves when it has finished; rejects if it failed. */
  promise: Promise<void>;
}
/**
 * Written bytes after which a durable sink starts a background fdatasync. Syncing as the image
 * grows lets the disk write it back while the writer goes on, instead of all of it in the final
 * fsync (about 100 ms for 113 MiB here).
 */
const WRITEBACK_STEP = 16 << 20;

export interface FileSinkOptions {
  /** Where the temporary file goes; default beside the target. */
  tempDir?: string;
  /**
   * Wait, before commit returns, until the disk has the image and the directory has its name
   * (fdatasync as it grows, fsync of the file, rename, fsync of the directory): the image then
   * survives a power cut or a kernel crash. Default false, as in mksquashfs, gensquashfs, gzip
   * and cp: the rename alone already keeps a failed or killed write from leaving a partial
   * image, and the page cache reaches the disk a few seconds later anyway. Waiting for the disk
   * cost about 0.15 s of a 0.45 s uncompressed 200 MiB run here, and 0.26 s of kernel CPU time
   * (the writeback then runs in this process instead of the kernel's flusher threads).
   */
  durable?: boolean;
}

export class FileSink implements Sink {
  readonly appendCopies = true;
  /**
   * Appended bytes not yet handed to the file, copied into one of BUFFERS reused buffers.
   * Copying costs far less than what it saves: the writer can reuse its read buffers at once
   * instead of allocating (and page-faulting) new ones. Blocks of data are not copied but lent
   * (appendLent), and written from where they are.
   */
  private staging: Buffer = Buffer.allocUnsafeSlow(BUFFER_SIZE);
  private staged = 0;
  /**
   * Lent arrays not yet handed to the file, in order, adjacent views of one buffer merged (a
   * chunk's blocks are one write). Either this or `staging` is empty.
   */
  private lent: Uint8Array[] = [];
  private lentBytes = 0;
  /**
   * Where the last lent array ends: whenWritten() waits for the writes up to here only. Copied
   * bytes refer to nothing of the caller's, and waiting for them too held every read buffer of a
   * compressed image until its staging buffer filled and was written (binaries-250M at xz 1M:
   * 282 -> 353 MiB peak RSS).
   */
  private lentEnd = 0;
  /** whenWritten() callbacks, in order, each with the position it waits for `written` to reach. */
  private readonly waiters: { at: number; fn: () => void }[] = [];
  /** Buffers free to become the next staging buffer. */
  private readonly spares: Buffer[] = [];
  /** Bytes already handed to the file. */
  private flushed = 0;
  /**
   * Bytes whose writes have all finished: writes may finish out of order, and this is the end
   * of the first one still in flight (the bytes from here to `flushed` are being written).
   */
  private written = 0;
  /** The writes in flight, in file order; each is retired once it and all before it are done. */
  private readonly writes: Write[] = [];
  /** The first failed write: the image is broken, and every later call says so. */
  private failure: SquashfsError | null = null;
  private closed = false;
  /** The background fdatasync in progress, if any, and how far the last one started reached. */
  private writeback: Promise<void> | null = null;
  private writebackFrom = 0;
  private writebackError: unknown = null;

  private constructor(
    private readonly handle: fs.FileHandle,
    private readonly tempPath: string,
    private readonly finalPath: string,
    private readonly durable: boolean,
  ) {
    for (let i = 1; i < BUFFERS; i++) this.spares.push(Buffer.allocUnsafeSlow(BUFFER_SIZE));
  }

  /**
   * A string second argument is `tempDir` (the form before FileSinkOptions existed, kept for
   * callers of 0.1).
   */
  static async create(
    finalPath: string,
    options: FileSinkOptions | string = {},
  ): Promise<FileSink> {
    const { tempDir, durable = false } =
      typeof options === 'string' ? { tempDir: options } : options;
    const dir = tempDir ?? path.dirname(path.resolve(finalPath));
    for (;;) {
      const tempPath = path.join(dir, `.${path.basename(finalPath)}.tsquashfs-${tempSuffix()}.tmp`);
      try {
        const handle = await fs.open(tempPath, 'wx+', 0o644);
        return new FileSink(handle, tempPath, finalPath, durable);
      } catch (err) {
        // Left by an earlier process that had this pid and was killed: take the next name.
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw ioError(err, finalPath, 'create image');
      }
    }
  }

  get position(): number {
    return this.flushed + this.staged + this.lentBytes;
  }

  async append(bytes: Uint8Array): Promise<void> {
    if (this.lentBytes > 0) await this.startLentWrite();
    for (let at = 0; at < bytes.length;) {
      const n = Math.min(bytes.length - at, BUFFER_SIZE - this.staged);
      copyBytes(this.staging, this.staged, bytes.subarray(at, at + n));
      this.staged += n;
      at += n;
      // Write behind: writes run while the writer goes on; wait only when no buffer is free.
      if (this.staged === BUFFER_SIZE) await this.startWrite();
    }
  }

  /**
   * Saves the copy that append() makes: on an uncompressed 200 MiB file, copying every block into
   * the staging buffers was 24 ms of a 180 ms run, on the main thread.
   */
  async appendLent(bytes: Uint8Array): Promise<void> {
    if (bytes.length < LEND_MIN) return this.append(bytes);
    if (this.staged > 0) await this.startWrite();
    const last = this.lent[this.lent.length - 1];
    if (
      last !== undefined &&
      last.buffer === bytes.buffer &&
      last.byteOffset + last.length === bytes.byteOffset
    ) {
      this.lent[this.lent.length - 1] = new Uint8Array(
        last.buffer,
        last.byteOffset,
        last.length + bytes.length,
      );
    } else {
      this.lent.push(bytes);
    }
    this.lentBytes += bytes.length;
    this.lentEnd = this.position;
    if (this.lentBytes >= LENT_WRITE) await this.startLentWrite();
  }

  whenWritten(fn: () => void): void {
    const at = this.lentEnd;
    if (this.written >= at) fn();
    else this.waiters.push({ at, fn });
  }

  /** Hands the staged bytes to the file, once a buffer is free to stage the next ones in. */
  private async startWrite(): Promise<void> {
    while (this.spares.length === 0) await this.oldestWrite();
    if (this.failure) throw this.failure;
    const bytes = this.staging;
    const length = this.staged;
    const at = this.flushed;
    this.staging = this.spares.pop()!;
    this.flushed += length;
    this.staged = 0;
    this.track(at, length, bytes, writeFully(this.handle, [bytes.subarray(0, length)], at));
  }

  /** Hands the lent arrays to the file: as many writes in flight as with staging buffers. */
  private async startLentWrite(): Promise<void> {
    while (this.writes.length >= BUFFERS - 1) await this.oldestWrite();
    if (this.failure) throw this.failure;
    const arrays = this.lent;
    const length = this.lentBytes;
    const at = this.flushed;
    this.lent = [];
    this.lentBytes = 0;
    this.flushed += length;
    this.track(at, length, null, writeFully(this.handle, arrays, at));
  }

  /** Keeps a write in flight in `writes` until it is retired. */
  private track(at: number, length: number, buffer: Buffer | null, writing: Promise<void>): void {
    const write: Write = { end: at + length, buffer, done: false, promise: null! };
    write.promise = writing.then(
      () => {
        write.done = true;
        this.retire();
      },
      (err: unknown) => {
        this.failure ??= ioError(err, this.finalPath, 'write image');
        throw this.failure;
      },
    );
    // A failure is reported by the next call that waits, not as an unhandled rejection now.
    write.promise.catch(() => undefined);
    this.writes.push(write);
    if (
      this.durable &&
      this.writeback === null &&
      this.flushed - this.writebackFrom >= WRITEBACK_STEP
    ) {
      this.startWriteback();
    }
  }

  /**
   * Starts an fdatasync of what has been written so far, without waiting for it. Its failure is
   * kept for close(): Linux reports a writeback error to a file descriptor once, so the final
   * fsync could succeed after this one failed.
   */
  private startWriteback(): void {
    this.writebackFrom = this.flushed;
    this.writeback = this.handle.datasync().then(
      () => {
        this.writeback = null;
      },
      (err: unknown) => {
        this.writeback = null;
        this.writebackError ??= err;
      },
    );
  }

  /**
   * Moves `written` past the finished writes at the front, frees their buffers, and runs the
   * whenWritten() callbacks that were waiting for them.
   */
  private retire(): void {
    while (this.writes.length > 0 && this.writes[0]!.done) {
      const w = this.writes.shift()!;
      this.written = w.end;
      if (w.buffer) this.spares.push(w.buffer);
    }
    let ready = 0;
    while (ready < this.waiters.length && this.waiters[ready]!.at <= this.written) ready++;
    for (const { fn } of this.waiters.splice(0, ready)) fn();
  }

  /** Waits for the first write in flight (and so for `written` to move), or reports a failure. */
  private async oldestWrite(): Promise<void> {
    await this.writes[0]?.promise.catch(() => undefined);
    if (this.failure) throw this.failure;
  }

  /**
   * Waits for every write in flight, and reports a failure, then and at every later call: once
   * a write has failed, the image is broken.
   */
  private async settle(): Promise<void> {
    if (this.writes.length > 0) await Promise.allSettled(this.writes.map((w) => w.promise));
    if (this.failure) throw this.failure;
  }

  /** Everything appended so far is in the file. */
  private async flush(): Promise<void> {
    if (this.staged > 0) await this.startWrite();
    if (this.lentBytes > 0) await this.startLentWrite();
    await this.settle();
  }

  /**
   * Bytes still staged are copied from memory, and bytes of writes in flight are read once they
   * have finished: reading back a recent fragment block (a duplicate check) used to flush the
   * staging buffer and wait for the write, a stall of the whole pipeline each time.
   *
   * Written bytes are read with a synchronous pread. They were written moments ago and are in
   * the page cache, so the call takes microseconds, where a threadpool job waited its turn behind
   * the reads of the files ahead (on small-20000 uncompressed, 745 read-backs spent 250-400 ms).
   */
  async readAt(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (position < 0 || position + length > this.position) {
      throw ioError(
        new Error(`read of ${length} bytes at ${position} is past the end (${this.position})`),
        this.finalPath,
        'read back image',
      );
    }
    const out =
      into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const at = position + done;
      if (at >= this.flushed) {
        // Staged or lent: `flushed` changes with `staging` and `lent`, and nothing awaits in
        // between.
        copyOut(this.staged > 0 ? [this.staging] : this.lent, at - this.flushed, out, done);
        done = length;
      } else if (at < this.written) {
        const n = Math.min(length - done, this.written - at);
        try {
          const bytesRead = readSync(this.handle.fd, out, done, n, at);
          if (bytesRead !== n) throw new Error(`short read at ${at}`);
        } catch (err) {
          throw ioError(err, this.finalPath, 'read back image');
        }
        done += n;
      } else {
        await this.oldestWrite();
      }
    }
    return out;
  }

  async rewind(position: number): Promise<void> {
    await this.flush();
    try {
      await this.handle.truncate(position);
    } catch (err) {
      throw ioError(err, this.finalPath, 'truncate image');
    }
    this.flushed = position;
    this.written = position;
    this.lentEnd = Math.min(this.lentEnd, position);
  }

  async patch(position: number, bytes: Uint8Array): Promise<void> {
    await this.flush();
    try {
      await this.handle.write(bytes, 0, bytes.length, position);
    } catch (err) {
      throw ioError(err, this.finalPath, 'write image');
    }
  }

  async commit(): Promise<void> {
    await this.close();
    try {
      await fs.rename(this.tempPath, this.finalPath);
    } catch (err) {
      await this.abort();
      throw ioError(err, this.finalPath, 'write image');
    }
    if (this.durable)
      await syncDirectory(path.dirname(path.resolve(this.finalPath)), this.finalPath);
  }

  /** Flushes and closes the temp file without moving it into place (for StreamSink). */
  async close(): Promise<string> {
    await this.flush();
    try {
      await this.writeback;
      if (this.writebackError !== null) throw this.writebackError;
      if (this.durable) await this.handle.sync();
      await this.handle.close();
      this.closed = true;
    } catch (err) {
      await this.abort();
      throw ioError(err, this.finalPath, 'write image');
    }
    return this.tempPath;
  }

  async abort(): Promise<void> {
    await Promise.allSettled(this.writes.map((w) => w.promise));
    await this.writeback;
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await fs.rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}

let tempCount = 0;
/**
 * Unique among live processes (the pid) and within this one (a count); the time tells apart the
 * leftovers of killed processes that had the same pid. Not node:crypto's randomBytes: loading
 * node:crypto took about 7 ms of every start, and 'wx' refuses a name taken anyway.
 */
function tempSuffix(): string {
  return `${process.pid.toString(16)}-${(tempCount++).toString(16)}-${Date.now().toString(16)}`;
}

/**
 * Makes a rename in `dir` durable: until the directory itself is synced, a power cut can undo
 * the rename even though the file's data is on the disk.
 */
async function syncDirectory(dir: string, finalPath: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw ioError(err, finalPath, 'sync the directory of');
  }
}

/**
 * Writes `arrays`, one after the other, at `at`, in one writev each time. A write into a regular
 * file is short only when the disk fills up, and the next one then says why (ENOSPC): the rest is
 * written on from where it stopped, not dropped.
 */
async function writeFully(handle: fs.FileHandle, arrays: Uint8Array[], at: number): Promise<void> {
  let rest = arrays;
  let position = at;
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest, position);
    if (bytesWritten === 0) throw new Error(`no bytes written at offset ${position}`);
    position += bytesWritten;
    let skip = bytesWritten;
    const next: Uint8Array[] = [];
    for (const a of rest) {
      if (skip >= a.length) skip -= a.length;
      else {
        next.push(skip > 0 ? a.subarray(skip) : a);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** Copies `out.length - done` bytes from `arrays` (as if one), starting `from` bytes in. */
function copyOut(arrays: Uint8Array[], from: number, out: Uint8Array, done: number): void {
  for (const a of arrays) {
    if (done >= out.length) return;
    if (from >= a.length) {
      from -= a.length;
      continue;
    }
    const n = Math.min(a.length - from, out.length - done);
    out.set(a.subarray(from, from + n), done);
    done += n;
    from = 0;
  }
}

/**
 * Writes the image to a Node stream (a pipe, a socket, an HTTP response). The superblock is only
 * known at the end, so the image is spooled to a temporary file first and copied into the stream
 * on commit; the stream sees nothing if the write fails.
 */
export class StreamSink implements Sink {
  readonly appendCopies = true;
  private constructor(
    private readonly spool: FileSink,
    private readonly stream: Writable,
  ) {}

  static async create(stream: Writable, tempDir: string = tmpdir()): Promise<StreamSink> {
    // Not durable: the spool is deleted once it has been copied into the stream.
    return new StreamSink(await FileSink.create('image-stream', { tempDir }), stream);
  }

  get position(): number {
    return this.spool.position;
  }
  append(bytes: Uint8Array): Promise<void> {
    return this.spool.append(bytes);
  }
  readAt(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.spool.readAt(position, length, into);
  }
  rewind(position: number): Promise<void> {
    return this.spool.rewind(position);
  }
  patch(position: number, bytes: Uint8Array): Promise<void> {
    return this.spool.patch(position, bytes);
  }
  async commit(): Promise<void> {
    const temp = await this.spool.close();
    try {
      // Loaded here, not at the top: node:stream/promises brings all of Node's streams, 1-1.5 ms
      // of the start of every run, and only a StreamSink needs it.
      const { pipeline } = await import('node:stream/promises');
      await pipeline(createReadStream(temp), this.stream);
    } catch (err) {
      throw ioError(err, 'the output stream', 'write image to');
    } finally {
      await fs.rm(temp, { force: true });
    }
  }
  abort(): Promise<void> {
    return this.spool.abort();
  }
}

/** Keeps the whole image in memory; for tests and small in-process images. */
export class MemorySink implements Sink {
  readonly appendCopies = true;
  private buf = new Uint8Array(1 << 16);
  private length = 0;
  result: Uint8Array | null = null;

  get position(): number {
    return this.length;
  }

  private ensure(size: number): void {
    if (size <= this.buf.length) return;
    let n = this.buf.length * 2;
    while (n < size) n *= 2;
    const next = new Uint8Array(n);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  async append(bytes: Uint8Array): Promise<void> {
    this.ensure(this.length + bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  async readAt(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const bytes = this.buf.subarray(position, position + length);
    if (!into || into.length < length) return bytes.slice();
    into.set(bytes);
    return into.subarray(0, length);
  }
  async rewind(position: number): Promise<void> {
    this.length = position;
  }
  async patch(position: number, bytes: Uint8Array): Promise<void> {
    this.buf.set(bytes, position);
  }
  async commit(): Promise<void> {
    this.result = this.buf.slice(0, this.length);
  }
  async abort(): Promise<void> {
    this.length = 0;
  }
}
