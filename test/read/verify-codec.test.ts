/**
 * verify's codec rules (format page §3, §4): the kernel's limits on each compressed block and the
 * per-compressor option values. Each broken image is a valid one patched at one place, and the
 * rule must be reported at that exact byte. Streams come from our writer, the fixture images
 * (mksquashfs/gensquashfs) and fixtures/codecs (the zstd tool).
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../../src/squashfs/compress/xz-container.js';
import { refBlock, refOffset } from '../../src/squashfs/format/metadata.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import { mapImage } from '../../src/squashfs/read/byte-map.js';
import { openImage } from '../../src/squashfs/read/image.js';
import { verifyImage, type Problem, type VerifyResult } from '../../src/squashfs/read/verify.js';
import { tree } from '../../src/squashfs/tree.js';
import { randomBytes, textBytes } from '../helpers/edge-trees.js';
import { makeTempDir, run } from '../helpers/fs-util.js';
import { mksquashfs, requireOracle, withKernelMount } from '../helpers/oracles.js';
import { imageBytes } from './helpers.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures');
const BS = 131072;

const show = (problems: Problem[]) =>
  problems.map((p) => `${p.severity} ${p.offset ?? '-'} ${p.rule}: ${p.message}`).join('\n');

function expectRule(
  r: VerifyResult,
  rule: string,
  offset: number,
  severity: 'error' | 'warning' = 'error',
): void {
  const hit = r.problems.find(
    (p) => p.rule === rule && p.severity === severity && p.offset === offset,
  );
  expect(hit, `expected ${severity} ${rule} at ${offset}; got:\n${show(r.problems)}`).toBeDefined();
}

function expectNoRule(r: VerifyResult, prefix: string): void {
  expect(show(r.problems.filter((p) => p.rule.startsWith(prefix)))).toBe('');
}

describe('xz blocks', () => {
  let pristine: Buffer;
  let block: number; // the first data block of /text: an .xz stream
  beforeAll(async () => {
    pristine = await imageBytes(tree.dir({ text: tree.file(textBytes(5, BS)) }), {
      blockSize: BS,
      compression: { name: 'xz' },
    });
    const map = await mapImage(new Uint8Array(pristine));
    block = map.regions.find(
      (r) => r.kind === 'data' && r.owners?.[0]?.paths[0]?.endsWith('text') === true,
    )!.offset;
    expect(pristine.subarray(block, block + 6)).toEqual(Buffer.from('fd377a585a00', 'hex'));
  });

  it('the pristine image has no codec problem', async () => {
    expectNoRule(await verifyImage(pristine), 'codec.');
  });

  /** The block's LZMA2 dictionary set to 1 MiB (header CRC fixed); returns the prop byte's place. */
  const bigDictionary = (copy: Buffer): number => {
    // Block header at 12: size byte, flags, two sizes, then filter 0x21, props length 1, prop.
    const headerSize = (copy[block + 12]! + 1) * 4;
    const header = copy.subarray(block + 12, block + 12 + headerSize);
    const lzma2 = header.indexOf(Buffer.from([0x21, 0x01]), 2);
    expect(lzma2).toBeGreaterThan(0);
    const propAt = block + 12 + lzma2 + 2;
    expect(copy[propAt]).toBe(10); // 128 KiB = 2 << (10 / 2 + 11)
    copy[propAt] = 16; // 1 MiB: liblzma still decodes it, the kernel (128 KiB) does not
    header.writeUInt32LE(crc32(header.subarray(0, headerSize - 4)), headerSize - 4);
    return propAt;
  };

  /** The stream's check type set to 2, a reserved 4-byte check (header and footer CRCs fixed). */
  const reservedCheck = (copy: Buffer): void => {
    copy[block + 7] = 0x02;
    copy.writeUInt32LE(crc32(copy.subarray(block + 6, block + 8)), block + 8);
    // The stream footer repeats the flags: it ends with them and 'YZ', after its CRC32.
    const footer = copy.indexOf(Buffer.from('0001595a', 'hex'), block) - 8;
    expect(footer).toBeGreaterThan(block);
    copy[footer + 9] = 0x02;
    copy.writeUInt32LE(crc32(copy.subarray(footer + 4, footer + 10)), footer);
  };

  it('codec.xz-dictionary: an LZMA2 dictionary larger than the kernel preallocates', async () => {
    const copy = Buffer.from(pristine);
    const propAt = bigDictionary(copy);
    const r = await verifyImage(copy);
    expectRule(r, 'codec.xz-dictionary', propAt);
    expect(show(r.problems.filter((p) => p.rule === 'data.decompress'))).toBe('');
  });

  it('codec.xz-check: a check type other than CRC32 or none', async () => {
    const copy = Buffer.from(pristine);
    // liblzma decodes past a check it does not know; the kernel refuses it.
    reservedCheck(copy);
    const r = await verifyImage(copy);
    expectRule(r, 'codec.xz-check', block + 7);
    expect(show(r.problems.filter((p) => p.rule === 'data.decompress'))).toBe('');
  });

  requireOracle('mount')('against the kernel', () => {
    it('the kernel reads the pristine file and gives EIO for both patched blocks', async () => {
      const tmp = await makeTempDir('xz-limits');
      try {
        const results: Record<string, number | string> = {};
        for (const [label, edit] of [
          ['pristine', () => {}],
          ['dictionary', bigDictionary],
          ['check', reservedCheck],
        ] as const) {
          const copy = Buffer.from(pristine);
          edit(copy);
          const image = join(tmp.path, `${label}.sqfs`);
          await writeFile(image, copy);
          results[label] = await withKernelMount(image, async (mnt) => {
            try {
              return (await readFile(join(mnt, 'text'))).length;
            } catch (err) {
              return (err as NodeJS.ErrnoException).code!;
            }
          });
        }
        expect(results).toEqual({ pristine: BS, dictionary: 'EIO', check: 'EIO' });
      } finally {
        await tmp.cleanup();
      }
    });
  });
});

describe('zstd and lz4 blocks in a raw image', () => {
  let pristine: Buffer;
  let wordAt: number; // the size word of /aligned's one block
  let start: number; // where that block is stored
  beforeAll(async () => {
    pristine = await imageBytes(tree.dir({ aligned: tree.file(randomBytes(7, BS)) }), {
      blockSize: BS,
      compression: { name: 'none' },
      fragments: 'never',
    });
    const sb = decodeSuperblock(pristine.subarray(0, 96));
    const img = await openImage(new Uint8Array(pristine));
    const inode = (await img.lookup('aligned'))!;
    await img.close();
    expect(inode.type).toBe(2);
    const at = sb.inodeTableStart + refBlock(inode.ref) + 2 + refOffset(inode.ref);
    wordAt = at + 32;
    start = pristine.readUInt32LE(at + 16);
    expect(pristine.readUInt32LE(wordAt)).toBe(0x01000000 | BS);
  });

  /** The image with compression `id` and `stream` as the file's one (compressed) block. */
  const withBlock = (id: number, stream: Uint8Array): Buffer => {
    const copy = Buffer.from(pristine);
    copy.writeUInt16LE(id, 0x14);
    copy.set(stream, start);
    copy.writeUInt32LE(stream.length, wordAt);
    return copy;
  };

  it('codec.zstd-window: a frame window larger than max(block size, 8192)', async () => {
    // `zstd -19` from a pipe: no content size, an 8 MiB window in the frame header.
    const r = await verifyImage(withBlock(6, readFileSync(join(FIXTURES, 'codecs/text-pipe.zst'))));
    expectRule(r, 'codec.zstd-window', start + 5);
    // The one-shot frame of the same text declares its size, so its window is that size.
    const ok = await verifyImage(withBlock(6, readFileSync(join(FIXTURES, 'codecs/text.zst'))));
    expectNoRule(ok, 'codec.');
  });

  it('codec.lz4-end: a match reaching the last 5 bytes of the block buffer', async () => {
    // 'a', then a 131070-byte match at offset 1 (15 + 513 * 255 + 236 + 4), then a final 'a':
    // exactly one block, which our decoder reads but LZ4_decompress_safe refuses.
    const ext = [...new Array<number>(513).fill(255), 236];
    const bad = Uint8Array.from([0x1f, 0x61, 1, 0, ...ext, 0x10, 0x61]);
    const r = await verifyImage(withBlock(5, bad));
    expectRule(r, 'codec.lz4-end', start);
    expect(show(r.problems.filter((p) => p.rule.startsWith('data.')))).toBe('');
    // The same output ending in 5 literals is fine.
    const ext2 = [...new Array<number>(513).fill(255), 232];
    const good = Uint8Array.from([0x1f, 0x61, 1, 0, ...ext2, 0x50, 0x61, 0x61, 0x61, 0x61, 0x61]);
    expectNoRule(await verifyImage(withBlock(5, good)), 'codec.');
  });
});

describe('option values and stored sizes in the fixture images', () => {
  const fixture = (name: string) => readFileSync(join(FIXTURES, 'images', name));
  const patched = (name: string, edit: (b: Buffer) => void) => {
    const copy = Buffer.from(fixture(name));
    edit(copy);
    return copy;
  };

  it('the fixtures carry the option blocks the tests patch', () => {
    expect(fixture('mks-zstd-22.sqfs').subarray(96, 102).toString('hex')).toBe('048016000000');
    expect(fixture('mks-lzo1x-1.sqfs').subarray(96, 106).toString('hex')).toBe(
      '08800000000000000000',
    );
    expect(fixture('mks-lz4-hc.sqfs').subarray(96, 106).toString('hex')).toBe(
      '08800100000001000000',
    );
  });

  it('options.value: zstd level 0, lzo level 5 for lzo1x_1, lz4 unknown flags (warnings)', async () => {
    const zstd = await verifyImage(patched('mks-zstd-22.sqfs', (b) => b.writeUInt32LE(0, 98)));
    expectRule(zstd, 'options.value', 98, 'warning');
    const lzo = await verifyImage(patched('mks-lzo1x-1.sqfs', (b) => b.writeUInt32LE(5, 102)));
    expectRule(lzo, 'options.value', 102, 'warning');
    const lzoAlg = await verifyImage(patched('mks-lzo1x-1.sqfs', (b) => b.writeUInt32LE(7, 98)));
    expectRule(lzoAlg, 'options.value', 98, 'warning');
    const lz4 = await verifyImage(patched('mks-lz4-hc.sqfs', (b) => b.writeUInt32LE(3, 102)));
    expectRule(lz4, 'options.value', 102, 'warning');
  });

  it('options.value: lz4 version 2 is an error (the kernel refuses to mount)', async () => {
    const r = await verifyImage(patched('mks-lz4-hc.sqfs', (b) => b.writeUInt32LE(2, 98)));
    expectRule(r, 'options.value', 98);
  });

  it('metadata.expanded: gensquashfs’s 34-byte lz4 id block holding 32 bytes', async () => {
    const bytes = fixture('gens-lz4.sqfs');
    const sb = decodeSuperblock(bytes.subarray(0, 96));
    const idBlock = Number(bytes.readBigUInt64LE(sb.idTableStart));
    expect(bytes.readUInt16LE(idBlock)).toBe(34); // compressed (bit 15 clear), 34 bytes
    const r = await verifyImage(bytes);
    expectRule(r, 'metadata.expanded', idBlock, 'warning');
    expect(r.errors).toBe(0);
    // mksquashfs stores such a block raw: its lz4 image of the same tree has none.
    expectNoRule(await verifyImage(fixture('mks-lz4.sqfs')), 'metadata.expanded');
  });
});

/**
 * mks-lz4.sqfs with the one 16 KiB block of /data/block-exact replaced by a block of the same
 * stored size that decodes to 16384 bytes: K literals, a match at offset 1, then `tail`
 * literals. With tail 1 the match ends in the last 5 bytes of the buffer.
 */
async function lz4TailImage(tail: number): Promise<{ bytes: Buffer; block: number }> {
  const bytes = Buffer.from(readFileSync(join(FIXTURES, 'images/mks-lz4.sqfs')));
  const map = await mapImage(new Uint8Array(bytes));
  const r = map.regions.find(
    (x) => x.kind === 'data' && x.owners?.[0]?.paths[0]?.endsWith('block-exact') === true,
  )!;
  const ext = (n: number) => [...new Array<number>(Math.floor(n / 255)).fill(255), n % 255];
  for (let k = 15; k < r.length; k++) {
    const m = 16384 - tail - k;
    const block = [0xff, ...ext(k - 15), ...new Array<number>(k).fill(0x61), 1, 0];
    block.push(...ext(m - 4 - 15), tail << 4, ...new Array<number>(tail).fill(0x62));
    if (block.length === r.length) {
      bytes.set(block, r.offset);
      return { bytes, block: r.offset };
    }
  }
  throw new Error('no block of the stored size');
}

requireOracle('unsquashfs', 'mount')('codec.lz4-end against the kernel and unsquashfs', () => {
  it('the kernel and unsquashfs refuse the block verify flags, and read its 5-literal twin', async () => {
    const tmp = await makeTempDir('lz4-end');
    try {
      for (const tail of [1, 5]) {
        const { bytes, block } = await lz4TailImage(tail);
        const image = join(tmp.path, `tail-${tail}.sqfs`);
        await writeFile(image, bytes);
        const r = await verifyImage(bytes);
        if (tail === 1) expectRule(r, 'codec.lz4-end', block);
        else expect(show(r.problems)).toBe('');
        const theirs = await run('unsquashfs', ['-cat', image, 'data/block-exact']);
        expect(theirs.code === 0 && theirs.stdout.length === 16384).toBe(tail === 5);
        const kernel = await withKernelMount(image, async (mnt) => {
          try {
            return (await readFile(join(mnt, 'data/block-exact'))).length;
          } catch (err) {
            return (err as NodeJS.ErrnoException).code;
          }
        });
        expect(kernel).toBe(tail === 5 ? 16384 : 'EIO');
      }
    } finally {
      await tmp.cleanup();
    }
  });
});

requireOracle('mksquashfs', 'mount')('codec.xz-dictionary on a real mksquashfs image', () => {
  it('-b 4K -Xbcj x86: the 8 KiB metadata dictionary passes the declared 4 KiB; no mount', async () => {
    const tmp = await makeTempDir('xz-bcj-4k');
    try {
      const image = join(tmp.path, 'bcj.sqfs');
      await mksquashfs([join(FIXTURES, 'demo')], image, [
        '-quiet',
        '-b',
        '4K',
        '-comp',
        'xz',
        '-Xbcj',
        'x86',
        '-mkfs-time',
        '0',
      ]);
      const bytes = await readFile(image);
      const sb = decodeSuperblock(bytes.subarray(0, 96));
      const r = await verifyImage(bytes);
      const hits = r.problems.filter((p) => p.rule === 'codec.xz-dictionary');
      // The inode table's first block: its props byte, past the block's 2-byte header.
      expect(hits.map((p) => p.structure)).toContain(`inode table block at ${sb.inodeTableStart}`);
      const inInodeTable = hits.find((p) => p.structure.startsWith('inode table'))!;
      expect(inInodeTable.offset).toBeGreaterThan(sb.inodeTableStart + 2);
      expect(inInodeTable.offset).toBeLessThan(sb.inodeTableStart + 40);
      expect(inInodeTable.message).toContain('preallocates 4096');
      // The kernel accepts the options block but cannot read the root inode.
      await expect(withKernelMount(image, () => 'mounted')).rejects.toThrow();
    } finally {
      await tmp.cleanup();
    }
  });
});
