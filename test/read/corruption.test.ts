/**
 * Broken images: truncations, superblock fields, metadata headers and random byte mutations.
 * Every outcome must be a correct read or a SquashfsError: never a RangeError, a TypeError, a
 * hang (each test has a timeout) or an unbounded allocation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import { tree } from '../../src/squashfs/tree.js';
import { Prng, randomBytes, textBytes } from '../helpers/edge-trees.js';
import { expectSquashfsError, imageBytes, readEverything } from './helpers.js';

function sampleTree() {
  const big = tree.dir({});
  for (let i = 0; i < 300; i++)
    big.entries.push({
      name: Buffer.from(`entry-${String(i).padStart(4, '0')}-name`),
      node: tree.file(i % 7 === 0 ? textBytes(i, 300) : ''),
    });
  return tree.dir({
    'a.txt': tree.file('hello\n', {
      xattrs: [
        { name: 'user.k', value: Buffer.from('v') },
        { name: 'user.long', value: textBytes(9, 300) },
      ],
    }),
    blocks: tree.file(randomBytes(1, 3 * 4096 + 17)),
    text: tree.file(textBytes(2, 5 * 4096)),
    zeros: tree.file(new Uint8Array(2 * 4096 + 5)),
    link: tree.symlink('a.txt', { xattrs: [{ name: 'trusted.t', value: Buffer.from('x') }] }),
    dev: tree.device('chardev', 1, 3),
    fifo: tree.ipc('fifo'),
    big,
  });
}

/** Reads everything; a failure must be a SquashfsError. Returns the error code or 'ok'. */
async function outcome(bytes: Uint8Array): Promise<string> {
  try {
    await readEverything(bytes);
    return 'ok';
  } catch (err) {
    if (err instanceof SquashfsError) return err.code;
    throw err;
  }
}

const images: Record<string, Buffer> = {};
beforeAll(async () => {
  images.gzip = await imageBytes(sampleTree(), { blockSize: 4096 });
  images.xz = await imageBytes(sampleTree(), { blockSize: 4096, compression: { name: 'xz' } });
  images.raw = await imageBytes(sampleTree(), { blockSize: 4096, compression: { name: 'none' } });
});

describe('valid images', () => {
  it('read completely', async () => {
    for (const bytes of Object.values(images)) {
      const { entries, bytes: total } = await readEverything(bytes);
      expect(entries).toBe(309);
      expect(total).toBeGreaterThan(3 * 4096);
    }
  });
});

describe('truncation', () => {
  it('every truncation point inside bytes_used fails with a SquashfsError', async () => {
    const bytes = images.gzip!;
    const used = decodeSuperblock(bytes.subarray(0, 96)).bytesUsed;
    for (const length of [0, 1, 50, 95, 96, 97, 200, Math.floor(used / 2), used - 8, used - 1]) {
      await expectSquashfsError(readEverything(bytes.subarray(0, length)));
    }
    // The 4 KiB padding is not needed to read.
    expect(await outcome(bytes.subarray(0, used))).toBe('ok');
  });
});

describe('superblock', () => {
  const set = (bytes: Buffer, edit: (b: Buffer) => void) => {
    const copy = Buffer.from(bytes);
    edit(copy);
    return copy;
  };
  it('bad magic, version, compression, block size and log', async () => {
    const b = images.gzip!;
    await expectSquashfsError(
      readEverything(set(b, (c) => c.writeUInt32LE(0x12345678, 0))),
      'CORRUPT',
    );
    await expectSquashfsError(
      readEverything(set(b, (c) => c.writeUInt16LE(1, 0x1e))),
      'UNSUPPORTED',
    );
    const lzma = await expectSquashfsError(
      readEverything(set(b, (c) => c.writeUInt16LE(2, 0x14))),
      'UNSUPPORTED',
    );
    expect(lzma.message).toMatch(/^compression lzma \(id 2\) is not supported/);
    // gzip blocks read as lz4, lzo or zstd: each decoder refuses them.
    for (const id of [3, 5, 6]) {
      await expectSquashfsError(
        readEverything(set(b, (c) => c.writeUInt16LE(id, 0x14))),
        'CORRUPT',
      );
    }
    await expectSquashfsError(readEverything(set(b, (c) => c.writeUInt16LE(9, 0x14))), 'CORRUPT');
    await expectSquashfsError(
      readEverything(set(b, (c) => c.writeUInt32LE(3000, 0x0c))),
      'CORRUPT',
    );
    await expectSquashfsError(readEverything(set(b, (c) => c.writeUInt16LE(13, 0x16))), 'CORRUPT');
    await expectSquashfsError(
      readEverything(set(b, (c) => c.writeUInt32LE(0xffffffff, 0x2c))),
      'CORRUPT',
    );
    const oob = await expectSquashfsError(
      readEverything(set(b, (c) => c.writeUInt32LE(b.length + 1, 0x28))),
      'OUT_OF_BOUNDS',
    );
    expect(oob.offset).toBe(0x28);
  });

  it('every single-bit flip of the superblock gives a read or a SquashfsError', async () => {
    for (const name of ['gzip', 'raw']) {
      const b = images[name]!;
      for (let bit = 0; bit < 96 * 8; bit++) {
        const copy = Buffer.from(b);
        copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
        await outcome(copy);
      }
    }
  }, 90_000);
});

describe('metadata', () => {
  it('a zeroed or oversized metadata block header is CORRUPT', async () => {
    for (const name of ['gzip', 'raw']) {
      const b = images[name]!;
      const sb = decodeSuperblock(b.subarray(0, 96));
      for (const header of [0x0000, 0x8000, 0x7fff, 0xffff, 0x2001]) {
        const copy = Buffer.from(b);
        copy.writeUInt16LE(header, sb.inodeTableStart);
        await expectSquashfsError(readEverything(copy));
      }
    }
  });
});

describe('random mutations', () => {
  for (const name of ['gzip', 'xz', 'raw']) {
    it(`${name}: 1000 mutated images each read or fail with a SquashfsError`, async () => {
      const b = images[name]!;
      const used = decodeSuperblock(b.subarray(0, 96)).bytesUsed;
      const prng = new Prng(name.length * 7919);
      const codes = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        const copy = Buffer.from(b);
        const edits = prng.int(1, 4);
        for (let e = 0; e < edits; e++) {
          const at = prng.int(0, used - 1);
          const kind = prng.int(0, 2);
          if (kind === 0) copy[at] = copy[at]! ^ (1 << prng.int(0, 7));
          else if (kind === 1) copy[at] = prng.int(0, 255);
          else copy.fill(prng.int(0, 1) * 0xff, at, Math.min(at + prng.int(1, 16), used));
        }
        const result = await outcome(copy);
        codes.set(result, (codes.get(result) ?? 0) + 1);
      }
      expect(
        [...codes.keys()].every((c) =>
          ['ok', 'CORRUPT', 'OUT_OF_BOUNDS', 'UNSUPPORTED', 'INVALID_ARGUMENT'].includes(c),
        ),
      ).toBe(true);
    }, 90_000);
  }
});
