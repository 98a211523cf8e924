/**
 * Writer behaviour on in-memory trees: things a host directory cannot hold (256-byte names,
 * 4096-byte symlink targets, 70 000 owners), determinism, and refusals with clear errors.
 * Images are checked with unsquashfs (squashfs-tools) and the kernel, never only by ourselves.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { bytesSource, tree, type DirNode, type FileSource } from '../../src/squashfs/tree.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import type { WriteOptions } from '../../src/squashfs/write/options.js';
import { makeTempDir, run, type TempDir } from '../helpers/fs-util.js';
import { requireOracle, unsquashfsList, withKernelMount } from '../helpers/oracles.js';

async function imageBytes(root: DirNode, options: WriteOptions = {}): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeImage(root, sink, options);
  return sink.result!;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function sampleTree(order: 'forward' | 'reverse'): DirNode {
  const names = ['zeta', 'alpha', 'mid', 'Upper', 'émoji-✓', 'a.b'];
  const list = order === 'forward' ? names : [...names].reverse();
  const files = list.map((n) => {
    const i = names.indexOf(n);
    return {
      name: Buffer.from(n),
      node: tree.file(`content of ${n}\n`.repeat(i + 1), { mtime: 1000 + i }),
    };
  });
  return tree.dir([
    ...files,
    {
      name: Buffer.from('sub'),
      node: tree.dir({ deep: tree.file(new Uint8Array(300_000).fill(7)) }),
    },
  ]);
}

describe('determinism', () => {
  it('gives the same bytes for the same tree, whatever order the entries were added in', async () => {
    const a = await imageBytes(sampleTree('forward'));
    const b = await imageBytes(sampleTree('forward'));
    const c = await imageBytes(sampleTree('reverse'));
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).toBe(sha(c));
  });

  it('gives the same bytes with xz and BCJ', async () => {
    const opts: WriteOptions = { compression: { name: 'xz', bcj: ['x86'] } };
    expect(sha(await imageBytes(sampleTree('forward'), opts))).toBe(
      sha(await imageBytes(sampleTree('reverse'), opts)),
    );
  });
});

describe('the report', () => {
  it('counts duplicates, and data bytes on disk equal the data area (regression: fragments flushed by a tail were counted twice)', async () => {
    const small = (i: number) => tree.file(`small file ${i}\n`.repeat(300));
    const entries: Record<string, ReturnType<typeof tree.file>> = {};
    for (let i = 0; i < 40; i++) entries[`s${i}`] = small(i); // ~5 KiB each: several 8 KiB fragment blocks
    entries['dup-a'] = tree.file(new Uint8Array(200_000).fill(3));
    entries['dup-b'] = tree.file(new Uint8Array(200_000).fill(3));
    const sink = new MemorySink();
    const report = await writeImage(tree.dir(entries), sink, { blockSize: 8192 });
    const image = sink.result!;
    const inodeTableStart = Number(new DataView(image.buffer).getBigUint64(0x40, true));
    expect(report.duplicateFiles).toBe(1);
    expect(report.fragments).toBeGreaterThan(1);
    expect(report.dataBytesOnDisk).toBe(inodeTableStart - 96);
  });
});

describe('refusals', () => {
  it('rejects a name longer than 256 bytes, naming it', async () => {
    const long = 'n'.repeat(257);
    await expect(imageBytes(tree.dir({ d: tree.dir({ [long]: tree.file('x') }) }))).rejects.toThrow(
      new RegExp(`file name longer than 256 bytes \\(257\\): /d/${long}`),
    );
  });

  it('rejects duplicate names, ".." and names with a slash', async () => {
    const dup = tree.dir([
      { name: Buffer.from('x'), node: tree.file('1') },
      { name: Buffer.from('x'), node: tree.file('2') },
    ]);
    await expect(imageBytes(dup)).rejects.toThrow(/duplicate name in directory: \/x/);
    await expect(imageBytes(tree.dir({ '..': tree.file('') }))).rejects.toThrow(
      /'\.' and '\.\.' cannot be stored/,
    );
    await expect(imageBytes(tree.dir({ 'a/b': tree.file('') }))).rejects.toThrow(/contains '\/'/);
  });

  it('rejects more than 65535 distinct uids and gids, naming the file that overflows', async () => {
    const entries: Record<string, ReturnType<typeof tree.file>> = {};
    for (let i = 0; i < 33_000; i++)
      entries[`f${i}`] = tree.file('', { uid: 100_000 + i, gid: 200_000 + i });
    const err = await imageBytes(tree.dir(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SquashfsError);
    expect((err as SquashfsError).code).toBe('LIMIT');
    expect((err as SquashfsError).message).toMatch(
      /more than 65535 distinct uids and gids; squashfs cannot store the owner of \/f\d+/,
    );
  });

  it('names the node at fault wherever it is: the root, a nested file, a nested directory', async () => {
    // The planner makes these paths only when it throws (regression guard for that laziness).
    await expect(imageBytes(tree.dir({}, { uid: -1 }))).rejects.toThrow(
      /uid -1 of \/ is not an integer/,
    );
    const nested = (node: ReturnType<typeof tree.file>) =>
      tree.dir({ a: tree.dir({ 'b c': tree.dir({ f: node }) }) });
    await expect(imageBytes(nested(tree.file('x', { mode: 0o10000 })))).rejects.toThrow(
      /mode 4096 of \/a\/b c\/f must hold permission bits only/,
    );
    await expect(imageBytes(nested(tree.file('x', { mtime: 2 ** 32 })))).rejects.toThrow(
      /mtime 4294967296 of \/a\/b c\/f is not an integer/,
    );
    await expect(
      imageBytes(tree.dir({ a: tree.dir({ d: tree.dir({}, { gid: 1.5 }) }) })),
    ).rejects.toThrow(/gid 1.5 of \/a\/d is not an integer/);
  });

  it('rejects a symlink target over 4096 bytes and a device number squashfs cannot hold', async () => {
    await expect(imageBytes(tree.dir({ l: tree.symlink('t'.repeat(4097)) }))).rejects.toThrow(
      /symlink target of \/l must be 1 to 4096 bytes/,
    );
    await expect(imageBytes(tree.dir({ d: tree.device('chardev', 4096, 0) }))).rejects.toThrow(
      /device number 4096:0 of \/d/,
    );
  });

  it('reports a source that yields fewer bytes than announced, and leaves no image behind', async () => {
    const liar: FileSource = {
      size: 10,
      description: '/host/shrunk.bin',
      async *read() {
        yield new Uint8Array(7);
      },
    };
    const dir = await makeTempDir('writer-refusal');
    try {
      const out = join(dir.path, 'out.sqfs');
      await expect(writeImage(tree.dir({ f: tree.file(liar) }), out)).rejects.toThrow(
        '/host/shrunk.bin changed size while being read (expected 10 bytes, got 7)',
      );
      expect(await readdir(dir.path)).toEqual([]);
    } finally {
      await dir.cleanup();
    }
  });

  it('does not touch an existing file at the output path when the write fails', async () => {
    const dir = await makeTempDir('writer-refusal');
    try {
      const out = join(dir.path, 'out.sqfs');
      await writeFile(out, 'previous image');
      await expect(
        writeImage(tree.dir({ [`${'x'.repeat(300)}`]: tree.file('') }), out),
      ).rejects.toThrow(SquashfsError);
      expect(await readFile(out, 'utf8')).toBe('previous image');
      expect(await readdir(dir.path)).toEqual(['out.sqfs']);
    } finally {
      await dir.cleanup();
    }
  });
});

requireOracle('unsquashfs', 'mount')('limits that only an in-memory tree can reach', () => {
  let dir: TempDir;
  let image: string;
  const name256 = 'L'.repeat(256);
  const target4096 = '/' + 't'.repeat(4095);
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1: not UTF-8
  beforeAll(async () => {
    dir = await makeTempDir('writer-limits');
    image = join(dir.path, 'limits.sqfs');
    const root = tree.dir([
      { name: Buffer.from(name256), node: tree.file('256') },
      { name: Buffer.from('long-link'), node: tree.symlink(target4096) },
      { name: latin1, node: tree.file('latin-1 name') },
      {
        name: Buffer.from('big'),
        node: tree.file(bytesSource(new Uint8Array(5 * 131072 + 17).fill(1))),
      },
    ]);
    await writeImage(root, image);
  });
  afterAll(async () => dir?.cleanup());

  it('unsquashfs lists a 256-byte name, a 4096-byte symlink target and a non-UTF-8 name', async () => {
    const listing = await unsquashfsList(image);
    const names = listing.map((e) => e.pathBytes);
    expect(names.some((n) => n.equals(Buffer.from(name256)))).toBe(true);
    expect(names.some((n) => n.equals(latin1))).toBe(true);
    const link = listing.find((e) => e.path === 'long-link');
    expect(link?.target?.toString()).toBe(target4096);
  });

  it('the kernel reads the 4096-byte symlink and the non-UTF-8 name', async () => {
    await withKernelMount(image, async (mnt) => {
      // Linux keeps symlink bodies NUL-terminated within one page, so readlink(2) returns at
      // most 4095 bytes of a 4096-byte target (and ext4 cannot even create one).
      const r = await run('python3', [
        '-c',
        'import os,sys; sys.stdout.write(os.readlink(sys.argv[1]))',
        join(mnt, 'long-link'),
      ]);
      expect(r.stdout.toString()).toBe(target4096.slice(0, 4095));
      const names = await readdir(mnt, { encoding: 'buffer' });
      expect(names.some((n) => n.equals(latin1))).toBe(true);
      // Linux's NAME_MAX is 255, so a 256-byte name is listed but cannot be looked up.
      expect(names.some((n) => n.length === 256)).toBe(true);
      expect((await readFile(join(mnt, 'big'))).equals(Buffer.alloc(5 * 131072 + 17, 1))).toBe(
        true,
      );
    });
  });

  it('leaves no temp file beside the image', async () => {
    expect(existsSync(image)).toBe(true);
    expect((await readdir(dir.path)).filter((n) => n !== 'limits.sqfs')).toEqual([]);
    expect((await run('unsquashfs', ['-s', image])).code).toBe(0);
  });
});

requireOracle('unsquashfs', 'mount')('a directory with 100 000 entries', () => {
  let dir: TempDir;
  let image: string;
  const name = (i: number) => `entry-${String(i).padStart(6, '0')}-${'x'.repeat(i % 40)}`;
  beforeAll(async () => {
    dir = await makeTempDir('writer-100k');
    image = join(dir.path, 'big.sqfs');
    const entries = Array.from({ length: 100_000 }, (_, i) => ({
      name: Buffer.from(name(i)),
      node: i % 1000 === 0 ? tree.file(`file ${i}\n`) : tree.ipc('fifo'),
    }));
    await writeImage(tree.dir({ big: tree.dir(entries) }), image);
  });
  afterAll(async () => dir?.cleanup());

  it('unsquashfs lists all 100 000', async () => {
    const listing = await unsquashfsList(image);
    expect(listing.filter((e) => e.path.startsWith('big/')).length).toBe(100_000);
  });

  it('the kernel lists them all and looks up names all through the directory index', async () => {
    await withKernelMount(image, async (mnt) => {
      expect((await readdir(join(mnt, 'big'))).length).toBe(100_000);
      for (const i of [0, 1, 999, 1000, 31_337, 50_000, 77_777, 99_000, 99_999]) {
        const path = join(mnt, 'big', name(i));
        if (i % 1000 === 0) expect(await readFile(path, 'utf8')).toBe(`file ${i}\n`);
        else expect((await run('stat', ['-c', '%F', path])).stdout.toString().trim()).toBe('fifo');
      }
    });
  });
});
