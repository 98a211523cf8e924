/**
 * Inputs and checks shared by the compressor identity tests (xz-identity, gzip-engines): sample
 * data of known character, a byte comparison that says where two streams part, and the data
 * blocks of a one-file mksquashfs image, decoded here independently of src/ (an oracle's bytes
 * must not be read through the code under test).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { expect } from 'vitest';

/** Deterministic pseudo-English text (compresses well, but not to nothing). */
export function text(n: number, seed = 1): Uint8Array {
  const words = ['squashfs', 'block', 'the', 'inode', 'of', 'xz', 'lzma', 'kernel', 'a', 'data'];
  let x = seed >>> 0 || 1;
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const w = `${words[x % words.length]}${x % 7 === 0 ? '.\n' : ' '}${x % 97 === 0 ? x : ''}`;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Incompressible bytes: SHA-256 in counter mode. */
/** Fast incompressible bytes (xorshift32): for sizes where noise()'s SHA-256 would be slow. */
export function distinct(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, c = 0; i < n; i += 32, c++) {
    const h = createHash('sha256').update(`${seed}:${c}`).digest();
    out.set(h.subarray(0, Math.min(32, n - i)), i);
  }
  return out;
}

const NODE_BINARY = existsSync('/usr/bin/node') ? '/usr/bin/node' : realpathSync(process.execPath);
let nodeBytes: Buffer | null = null;

/** Machine code (and its data) from the node binary, from 4 MiB in (inside .text). */
export function nodeSlice(n: number): Uint8Array {
  nodeBytes ??= readFileSync(NODE_BINARY);
  const start = Math.min(4 << 20, Math.max(0, nodeBytes.length - n));
  return nodeBytes.subarray(start, start + n);
}

export function expectSameBytes(
  actual: Uint8Array | null,
  expected: Uint8Array,
  what: string,
): void {
  expect(actual, `${what}: compress() returned null`).not.toBeNull();
  const a = Buffer.from(actual!);
  const e = Buffer.from(expected);
  if (a.equals(e)) return;
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  const around = (b: Buffer) => b.subarray(Math.max(0, i - 8), i + 8).toString('hex');
  expect.fail(
    `${what}: ours is ${a.length} bytes, expected ${e.length}; first difference at ${i}: ` +
      `ours …${around(a)}… expected …${around(e)}…`,
  );
}

export const SUPERBLOCK_SIZE = 96;
export const FLAG_COMPRESSOR_OPTIONS = 0x0400;
const BLOCK_UNCOMPRESSED = 1 << 24;

export interface Superblock {
  blockSize: number;
  compressor: number;
  flags: number;
  inodeTableStart: number;
  directoryTableStart: number;
}

export function superblock(img: Buffer): Superblock {
  expect(img.readUInt32LE(0), 'squashfs magic').toBe(0x73717368);
  return {
    blockSize: img.readUInt32LE(12),
    compressor: img.readUInt16LE(20),
    flags: img.readUInt16LE(24),
    inodeTableStart: Number(img.readBigUInt64LE(0x40)),
    directoryTableStart: Number(img.readBigUInt64LE(0x48)),
  };
}

export interface StoredBlock {
  offset: number;
  size: number;
  raw: boolean;
}

/**
 * The data blocks of the first inode, which for a one-file image is the file (mksquashfs writes
 * a directory's inode after its children's). Needs -noI: the inode table stays uncompressed.
 */
export function firstFileBlocks(img: Buffer): {
  sb: Superblock;
  blocksStart: number;
  blocks: StoredBlock[];
} {
  const sb = superblock(img);
  const header = img.readUInt16LE(sb.inodeTableStart);
  expect(header & 0x8000, 'inode table block is stored uncompressed (-noI)').toBe(0x8000);
  const inode = img.subarray(sb.inodeTableStart + 2);
  const type = inode.readUInt16LE(0);
  let blocksStart: number, fileSize: number, fragment: number, list: number;
  if (type === 2) {
    blocksStart = inode.readUInt32LE(16);
    fragment = inode.readUInt32LE(20);
    fileSize = inode.readUInt32LE(28);
    list = 32;
  } else if (type === 9) {
    blocksStart = Number(inode.readBigUInt64LE(16));
    fileSize = Number(inode.readBigUInt64LE(24));
    fragment = inode.readUInt32LE(44);
    list = 56;
  } else {
    throw new Error(`first inode has type ${type}, not a regular file`);
  }
  const count =
    fragment === 0xffffffff
      ? Math.ceil(fileSize / sb.blockSize)
      : Math.floor(fileSize / sb.blockSize);
  const blocks: StoredBlock[] = [];
  let offset = blocksStart;
  for (let i = 0; i < count; i++) {
    const word = inode.readUInt32LE(list + 4 * i);
    const size = word & (BLOCK_UNCOMPRESSED - 1);
    blocks.push({ offset, size, raw: (word & BLOCK_UNCOMPRESSED) !== 0 || size === 0 });
    offset += size;
  }
  return { sb, blocksStart, blocks };
}
