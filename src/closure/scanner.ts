/**
 * Reference scanning as Nix does it: a store path refers to another when the other's 32-character
 * hash part occurs anywhere in its serialization. Nix scans the NAR of the path, which holds
 * every regular file's bytes, every symlink target and every directory entry name, each as a
 * length-prefixed, zero-padded string; the framing between them can never be part of a run of
 * 32 base32 characters, so scanning each of those strings on its own finds exactly what Nix
 * finds.
 *
 * The search: a window of 32 bytes is a candidate only if all of them are base32 characters.
 * Testing the window from its last byte backwards, a non-base32 byte at offset j lets the window
 * jump past it (j + 1 bytes), so on binary data most windows cost one byte test and a 32-byte
 * jump. Inside a run of base32 characters the window slides one byte at a time, testing only the
 * new byte. A full window is looked up in a table keyed by its first six characters and compared
 * byte by byte, without building a string.
 *
 * Files are read in 1 MiB chunks; the last 31 bytes of a chunk are kept in front of the next, so
 * a hash split across chunks is found, and every byte is read from disk once.
 */
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { ClosureError, closureIoError } from './errors.js';
import { HASH_LENGTH, NIX_BASE32_CHARS, hashProblem } from './store-path.js';

export const SCAN_CHUNK_SIZE = 1 << 20;
const TAIL = HASH_LENGTH - 1;

/** Byte → 1 + its base32 digit value, or 0 for a byte outside the alphabet. */
const DIGIT = new Uint8Array(256);
for (let i = 0; i < NIX_BASE32_CHARS.length; i++) DIGIT[NIX_BASE32_CHARS.charCodeAt(i)] = i + 1;

/**
 * The candidate hash parts, indexed for the search: an open-addressing table keyed by the 30
 * bits of a hash's first six characters, holding indexes into the candidates' packed bytes, so
 * that a window is checked without building a string. Build once, share between scans.
 */
export class HashSet {
  readonly hashes: readonly string[];
  private readonly packed: Uint8Array;
  /** Slot → candidate index + 1 (0: empty). */
  private readonly slots: Int32Array;
  private readonly slotKeys: Int32Array;
  private readonly shift: number;

  constructor(hashes: Iterable<string>) {
    const unique = [...new Set(hashes)];
    for (const hash of unique) {
      const problem = hashProblem(hash);
      if (problem !== undefined) {
        throw new ClosureError('BAD_HASH', `bad hash in the candidate list: ${problem}`);
      }
    }
    this.hashes = unique;
    this.packed = Buffer.from(unique.join(''), 'latin1');
    // At most one quarter full, so that a miss usually costs one probe.
    let bits = 4;
    while (1 << bits < unique.length * 4) bits++;
    this.shift = 32 - bits;
    this.slots = new Int32Array(1 << bits);
    this.slotKeys = new Int32Array(1 << bits);
    const mask = (1 << bits) - 1;
    for (let n = 0; n < unique.length; n++) {
      const key = keyAt(this.packed, n * HASH_LENGTH);
      let slot = Math.imul(key, 0x9e3779b1) >>> this.shift;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = n + 1;
      this.slotKeys[slot] = key;
    }
  }

  get size(): number {
    return this.hashes.length;
  }

  /** The candidate spelled by the 32 base32 bytes at `at`, if any. */
  find(bytes: Uint8Array, at: number): string | undefined {
    const key = keyAt(bytes, at);
    const mask = this.slots.length - 1;
    for (let slot = Math.imul(key, 0x9e3779b1) >>> this.shift; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return undefined;
      if (this.slotKeys[slot] === key && this.matches(entry - 1, bytes, at)) {
        return this.hashes[entry - 1];
      }
    }
  }

  private matches(n: number, bytes: Uint8Array, at: number): boolean {
    const base = n * HASH_LENGTH;
    for (let k = 6; k < HASH_LENGTH; k++) {
      if (this.packed[base + k] !== bytes[at + k]) return false;
    }
    return true;
  }
}

/** The digits of the first six characters at `at` (all base32), as a 30-bit number. */
function keyAt(bytes: Uint8Array, at: number): number {
  let key = 0;
  for (let k = 0; k < 6; k++) key = (key << 5) | (DIGIT[bytes[at + k]!]! - 1);
  return key;
}

/**
 * Adds to `found` every candidate whose hash occurs in bytes[start, end). Windows must lie
 * wholly inside the range; the caller carries the last 31 bytes over to the next call.
 */
export function searchHashes(
  bytes: Uint8Array,
  start: number,
  end: number,
  candidates: HashSet,
  found: Set<string>,
): void {
  let i = start;
  while (i + HASH_LENGTH <= end) {
    let j = HASH_LENGTH - 1;
    while (j >= 0 && DIGIT[bytes[i + j]!] !== 0) j--;
    if (j >= 0) {
      i += j + 1;
      continue;
    }
    // bytes[i, runEnd) are all base32: slide one byte at a time, testing only the new byte.
    let runEnd = i + HASH_LENGTH;
    for (;;) {
      const hash = candidates.find(bytes, i);
      if (hash !== undefined) found.add(hash);
      if (runEnd >= end || DIGIT[bytes[runEnd]!] === 0) {
        i = runEnd + 1;
        break;
      }
      runEnd++;
      i++;
    }
  }
}

/**
 * A streaming scanner for one byte string (a file's contents): feed it the bytes in pieces of
 * any size; an occurrence split between pieces is found.
 */
export class StreamScanner {
  private readonly tail = new Uint8Array(TAIL);
  private tailLength = 0;
  private readonly joint = new Uint8Array(2 * TAIL);

  constructor(
    private readonly candidates: HashSet,
    readonly found: Set<string> = new Set(),
  ) {}

  update(piece: Uint8Array): void {
    if (piece.length === 0) return;
    // Windows that start in the tail and end in this piece.
    if (this.tailLength > 0) {
      const head = Math.min(piece.length, TAIL);
      this.joint.set(this.tail.subarray(0, this.tailLength), 0);
      this.joint.set(piece.subarray(0, head), this.tailLength);
      searchHashes(this.joint, 0, this.tailLength + head, this.candidates, this.found);
    }
    searchHashes(piece, 0, piece.length, this.candidates, this.found);
    this.keepTail(piece);
  }

  /** Starts a new, unrelated byte string: nothing is carried over. */
  reset(): void {
    this.tailLength = 0;
  }

  private keepTail(piece: Uint8Array): void {
    if (piece.length >= TAIL) {
      this.tail.set(piece.subarray(piece.length - TAIL));
      this.tailLength = TAIL;
      return;
    }
    const keep = Math.min(this.tailLength, TAIL - piece.length);
    this.tail.copyWithin(0, this.tailLength - keep, this.tailLength);
    this.tail.set(piece, keep);
    this.tailLength = keep + piece.length;
  }
}

export interface ScanOptions {
  /** Bytes per read; default 1 MiB. */
  chunkSize?: number;
  /** Called after each chunk read, with its size (for progress displays and benchmarks). */
  onBytes?: (bytes: number) => void;
}

/**
 * The hash parts among `candidates` that occur in the file system object at `path` (a store
 * path as it is on disk): in regular files' bytes, symlink targets and directory entry names,
 * recursively. Symlinks are never followed. Paths are handled as bytes, so names that are not
 * UTF-8 are read and scanned as they are.
 */
export async function scanPath(
  path: string | Buffer,
  candidates: HashSet,
  options: ScanOptions = {},
): Promise<Set<string>> {
  const found = new Set<string>();
  const chunkSize = options.chunkSize ?? SCAN_CHUNK_SIZE;
  // One buffer for the whole walk: TAIL bytes carried over, then the chunk read.
  const buffer = Buffer.allocUnsafe(TAIL + chunkSize);
  const visit = async (p: Buffer): Promise<void> => {
    const info = await lstat(p).catch((err: unknown) => {
      throw closureIoError(err, p.toString(), 'read');
    });
    if (info.isFile()) {
      await scanFile(p, buffer, chunkSize, candidates, found, options.onBytes);
    } else if (info.isSymbolicLink()) {
      const target = await readlink(p, { encoding: 'buffer' }).catch((err: unknown) => {
        throw closureIoError(err, p.toString(), 'read the symlink');
      });
      searchHashes(target, 0, target.length, candidates, found);
    } else if (info.isDirectory()) {
      for (const name of await readNames(p)) {
        searchHashes(name, 0, name.length, candidates, found);
        await visit(Buffer.concat([p, SLASH, name]));
      }
    } else {
      throw new ClosureError(
        'UNSUPPORTED_FILE',
        `${p.toString()} is a device, fifo or socket: a store path holds only files, directories and symlinks`,
        { path: p.toString() },
      );
    }
  };
  await visit(typeof path === 'string' ? Buffer.from(path) : path);
  return found;
}

const SLASH = Buffer.from('/');

async function readNames(dir: Buffer): Promise<Buffer[]> {
  try {
    return await readdir(dir, { encoding: 'buffer' });
  } catch (err) {
    throw closureIoError(err, dir.toString(), 'read the directory');
  }
}

async function scanFile(
  path: Buffer,
  buffer: Buffer,
  chunkSize: number,
  candidates: HashSet,
  found: Set<string>,
  onBytes: ((bytes: number) => void) | undefined,
): Promise<void> {
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw closureIoError(err, path.toString(), 'open');
  });
  try {
    let carried = 0;
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, TAIL, chunkSize, null));
      } catch (err) {
        throw closureIoError(err, path.toString(), 'read');
      }
      if (bytesRead === 0) break;
      onBytes?.(bytesRead);
      const end = TAIL + bytesRead;
      searchHashes(buffer, TAIL - carried, end, candidates, found);
      carried = Math.min(TAIL, carried + bytesRead);
      buffer.copyWithin(TAIL - carried, end - carried, end);
    }
  } finally {
    await handle.close();
  }
}
