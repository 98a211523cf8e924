/**
 * Where an image's bytes come from: a file (read through a FileHandle, never loaded whole) or a
 * byte array. Every read is checked against a limit the caller gives (the file size, or
 * `bytes_used` once the superblock is known) before any byte is read or any buffer allocated,
 * and errors name the offset, so a corrupt size or position in the image can only produce a
 * SquashfsError, never a huge allocation or a short read taken for data.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ioError, SquashfsError } from '../errors.js';

export interface ImageSource {
  /** Size of the whole file in bytes. */
  readonly size: number;
  /** A name for messages (the path, or "in-memory image"). */
  readonly name: string;
  /**
   * Reads exactly `length` bytes at `offset`; fails with OUT_OF_BOUNDS, naming `what`, if the range
   * is not inside [0, limit) (limit defaults to the file size, and never exceeds it).
   */
  read(offset: number, length: number, what: string, limit?: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function checkRange(
  source: ImageSource,
  offset: number,
  length: number,
  what: string,
  limit: number | undefined,
): void {
  const end = Math.min(limit ?? source.size, source.size);
  const valid =
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= end;
  if (!valid) {
    throw new SquashfsError(
      'OUT_OF_BOUNDS',
      `${what}: ${length} bytes at offset ${offset} lie outside the ${end} bytes of ${
        end === source.size ? 'the image' : 'the image in use (bytes_used)'
      }`,
      { offset: Number.isFinite(offset) ? offset : undefined },
    );
  }
}

export class BytesSource implements ImageSource {
  readonly size: number;
  readonly name = 'in-memory image';
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number, what: string, limit?: number): Promise<Uint8Array> {
    checkRange(this, offset, length, what, limit);
    return this.bytes.subarray(offset, offset + length);
  }
  async close(): Promise<void> {}
}

export class FileSource implements ImageSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw ioError(err, path, 'open the image');
    }
    try {
      const info = await handle.stat();
      if (!info.isFile() && !info.isBlockDevice()) {
        throw new SquashfsError('INVALID_ARGUMENT', `${path} is not a regular file`, { path });
      }
      return new FileSource(handle, info.size, path);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(offset: number, length: number, what: string, limit?: number): Promise<Uint8Array> {
    checkRange(this, offset, length, what, limit);
    const out = new Uint8Array(length);
    let done = 0;
    // Each pass reads at least one byte or stops: bounded by `length`.
    while (done < length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.handle.read(out, done, length - done, offset + done));
      } catch (err) {
        throw ioError(err, this.name, 'read');
      }
      if (n === 0) {
        throw new SquashfsError(
          'IO',
          `${this.name} ended at byte ${offset + done} while reading ${what} (was it truncated while open?)`,
          { offset: offset + done },
        );
      }
      done += n;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export async function openSource(pathOrBytes: string | Uint8Array): Promise<ImageSource> {
  return typeof pathOrBytes === 'string'
    ? FileSource.open(pathOrBytes)
    : new BytesSource(pathOrBytes);
}
