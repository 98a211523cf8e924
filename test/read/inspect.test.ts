/**
 * `inspect`'s byte map: for images made by our writer, mksquashfs and gensquashfs, the regions
 * are sorted, contiguous and add up exactly to the file size; nothing is unaccounted or claimed
 * twice; every file's data is named by its path. Hand-broken images show the damage as
 * unaccounted or overlapping bytes instead of failing, and `--json` round-trips.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInspect } from '../../src/cli/inspect.js';
import { reportError, runCli } from '../../src/cli/main.js';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import { mapImage, type ImageMap } from '../../src/squashfs/read/byte-map.js';
import { openImage, showName } from '../../src/squashfs/read/image.js';
import { describeRegions, regionAt } from '../../src/squashfs/read/regions.js';
import { tree, type DirNode } from '../../src/squashfs/tree.js';
import type { WriteOptions } from '../../src/squashfs/write/options.js';
import {
  buildEdgeTree,
  Prng,
  randomBytes,
  textBytes,
  type EdgeTree,
} from '../helpers/edge-trees.js';
import { makeTempDir, runChecked, type TempDir } from '../helpers/fs-util.js';
import { mksquashfs, requireOracle } from '../helpers/oracles.js';
import { imageBytes } from './helpers.js';

/** Asserts the partition invariants; returns the map for further checks. */
function expectPartition(map: ImageMap, size: number): ImageMap {
  expect(map.image.size).toBe(size);
  let at = 0;
  for (const r of map.regions) {
    expect(r.offset, `region ${r.kind} ${r.detail}`).toBe(at);
    expect(r.length, `region ${r.kind} ${r.detail}`).toBeGreaterThan(0);
    at += r.length;
  }
  expect(at).toBe(size);
  expect(map.summary.reduce((s, k) => s + k.bytes, 0)).toBe(size);
  expect(map.summary.reduce((s, k) => s + k.regions, 0)).toBe(map.regions.length);
  return map;
}

/** A valid image: a partition with nothing unaccounted, nothing overlapping, no problem. */
function expectClean(map: ImageMap, size: number): void {
  expectPartition(map, size);
  expect(map.regions.filter((r) => r.kind === 'unaccounted' || r.kind === 'overlap')).toEqual([]);
  expect(map.problems).toEqual([]);
}

/** Every file with stored data blocks is named by a data region; the tables are where they should be. */
async function expectFilesNamed(image: string | Uint8Array, map: ImageMap): Promise<void> {
  const named = new Set<string>();
  for (const r of map.regions)
    for (const o of r.owners ?? []) for (const p of o.paths) named.add(p);
  const img = await openImage(image);
  try {
    for await (const { path, inode } of img.walk()) {
      if (inode.kind !== 'file') continue;
      if (!Array.from(inode.blockSizes).some((w) => w !== 0)) continue;
      expect(named.has(`/${showName(path)}`), `/${showName(path)} has data`).toBe(true);
    }
    const sb = img.superblock;
    const inodeBlocks = map.regions.filter((r) => r.table === 'inode');
    expect(inodeBlocks[0]!.offset).toBe(sb.inodeTableStart);
    const last = inodeBlocks[inodeBlocks.length - 1]!;
    expect(last.offset + last.length).toBe(sb.directoryTableStart);
    const kinds = new Set(map.regions.map((r) => r.table).filter((t) => t !== undefined));
    expect(kinds.has('export')).toBe(sb.exportTableStart !== -1);
    expect(kinds.has('xattr-id')).toBe(sb.xattrIdTableStart !== -1);
    expect(kinds.has('fragment')).toBe(sb.fragmentCount > 0);
  } finally {
    await img.close();
  }
}

async function inspectCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx = {
    stdout: { write: (s: string | Uint8Array) => ((out += Buffer.from(s).toString()), true) },
    stderr: { write: (s: string) => ((err += s), true) },
    env: {},
    version: 'test',
  };
  let code: number;
  try {
    code = await runInspect(args, ctx);
  } catch (e) {
    code = reportError(e, ctx);
  }
  return { code, out, err };
}

function sampleTree(): DirNode {
  const big = tree.dir({});
  for (let i = 0; i < 1200; i++) {
    big.entries.push({
      name: Buffer.from(`entry-${String(i).padStart(5, '0')}-with-a-longer-name`),
      node: tree.file(i % 5 === 0 ? textBytes(i, 100 + i) : '', { uid: i % 3, gid: 7 }),
    });
  }
  const shared = randomBytes(3, 2 * 4096 + 100);
  const linked = tree.file(randomBytes(4, 3 * 4096));
  return tree.dir({
    'a.txt': tree.file('hello\n', {
      xattrs: [
        { name: 'user.k', value: Buffer.from('v') },
        { name: 'user.long', value: textBytes(9, 300) },
      ],
    }),
    blocks: tree.file(randomBytes(1, 3 * 4096 + 17)),
    copy1: tree.file(shared),
    copy2: tree.file(shared),
    text: tree.file(textBytes(2, 5 * 4096)),
    zeros: tree.file(new Uint8Array(2 * 4096 + 5)),
    holey: tree.file(
      Buffer.concat([randomBytes(5, 4096), new Uint8Array(3 * 4096), Buffer.from('end')]),
    ),
    link1: linked,
    link2: linked,
    sym: tree.symlink('a.txt', { xattrs: [{ name: 'trusted.t', value: Buffer.from('x') }] }),
    dev: tree.device('chardev', 1, 3),
    fifo: tree.ipc('fifo'),
    big,
  });
}

describe('byte map of images written by tsquashfs', () => {
  const variants: [string, WriteOptions][] = [
    ['gzip 4K', { blockSize: 4096 }],
    ['xz 4K', { blockSize: 4096, compression: { name: 'xz' } }],
    ['none 4K', { blockSize: 4096, compression: { name: 'none' } }],
    [
      'gzip 128K, -noI -noD -noF -noX -no-exports',
      {
        uncompressedInodes: true,
        uncompressedData: true,
        uncompressedFragments: true,
        uncompressedXattrs: true,
        exports: false,
      },
    ],
    [
      'gzip 4K, -no-fragments -no-duplicates',
      { blockSize: 4096, fragments: 'never', duplicates: false },
    ],
    [
      'gzip 4K, -always-use-fragments -no-xattrs',
      { blockSize: 4096, fragments: 'always', xattrs: false },
    ],
  ];
  for (const [label, options] of variants) {
    it(`${label}: covers every byte once, names every file`, async () => {
      const bytes = await imageBytes(sampleTree(), options);
      const map = await mapImage(bytes);
      expectClean(map, bytes.length);
      await expectFilesNamed(bytes, map);
      // With 4 KiB blocks these files have data blocks (with 128 KiB they are fragment-only).
      if (options.blockSize === 4096) {
        const copies = map.regions.find((r) => r.owners?.some((o) => o.paths.includes('/copy2')));
        if (options.duplicates !== false) {
          expect(copies?.owners?.flatMap((o) => o.paths).sort()).toEqual(['/copy1', '/copy2']);
        } else expect(copies?.owners?.flatMap((o) => o.paths)).toEqual(['/copy2']);
        const links = map.regions.find((r) => r.owners?.some((o) => o.paths.includes('/link1')));
        expect(links?.owners).toHaveLength(1);
        expect(links?.owners?.[0]?.paths).toEqual(['/link1', '/link2']);
      }
      // The big directory needs several blocks of the inode and directory tables.
      expect(map.regions.filter((r) => r.table === 'inode').length).toBeGreaterThan(1);
      expect(map.regions.filter((r) => r.table === 'directory').length).toBeGreaterThan(1);
    });
  }

  it('--json round-trips and equals mapImage; the human report has every section', async () => {
    const work = await makeTempDir('inspect-json');
    try {
      const path = join(work.path, 'image.sqfs');
      await writeFile(path, await imageBytes(sampleTree(), { blockSize: 4096 }));
      const json = await inspectCli([path, '--json']);
      expect(json.code).toBe(0);
      const parsed = JSON.parse(json.out) as ImageMap;
      expect(parsed).toStrictEqual(JSON.parse(JSON.stringify(await mapImage(path))));
      expect(parsed.schema).toBe('tsquashfs-inspect/1');
      expectClean(parsed, (await readFile(path)).length);
      const human = await inspectCli([path]);
      expect(human.code).toBe(0);
      for (const heading of [
        'Superblock',
        'Compressor options (gzip)',
        'Regions (',
        'Bytes per kind',
        'Problems: none',
      ])
        expect(human.out).toContain(heading);
      expect(human.out).toMatch(/flags\s+0x18\s+0x[0-9a-f]{4}\s+.*exportable/);
      expect(human.out).toContain('1970-01-01T00:00:00Z');
      const usage = await inspectCli([]);
      expect(usage.code).toBe(1);
      expect(usage.err).toContain('usage: tsquashfs inspect IMAGE [--json]');
    } finally {
      await work.cleanup();
    }
  });

  it('is a tsquashfs command', async () => {
    let out = '';
    const code = await runCli(['inspect', '--help'], {
      stdout: { write: (s: string) => ((out += s), true) },
      stderr: { write: () => true },
      env: {},
      version: 'test',
    });
    expect(code).toBe(0);
    expect(out).toContain('usage: tsquashfs inspect IMAGE [--json]');
  });

  it('keeps bench/fidelity.ts regions working', async () => {
    const bytes = await imageBytes(sampleTree(), { blockSize: 4096 });
    const sb = decodeSuperblock(bytes.subarray(0, 96));
    expect(regionAt(describeRegions(bytes), sb.inodeTableStart)?.name).toBe('inode table');
  });
});

describe('byte map of broken images', () => {
  let good: Buffer;
  beforeAll(async () => {
    good = await imageBytes(sampleTree(), { blockSize: 4096 });
  });

  it('junk between the tables and bytes_used is unaccounted', async () => {
    const sb = decodeSuperblock(good.subarray(0, 96));
    const junk = Buffer.alloc(100, 0xa5);
    const end = sb.bytesUsed + junk.length;
    const bytes = Buffer.concat([
      good.subarray(0, sb.bytesUsed),
      junk,
      Buffer.alloc(4096 - (end % 4096)),
    ]);
    bytes.writeUInt32LE(end, 0x28);
    const map = expectPartition(await mapImage(bytes), bytes.length);
    const gaps = map.regions.filter((r) => r.kind === 'unaccounted');
    expect(gaps).toEqual([
      expect.objectContaining({ offset: sb.bytesUsed, length: 100, zero: false }),
    ]);
    expect(map.problems.some((p) => p.offset === sb.bytesUsed && p.severity === 'warning')).toBe(
      true,
    );
  });

  it('a location list pointing at another table gives an overlap and an unaccounted block', async () => {
    const sb = decodeSuperblock(good.subarray(0, 96));
    const bytes = Buffer.from(good);
    const idBlock = Number(bytes.readBigUInt64LE(sb.idTableStart));
    bytes.writeBigUInt64LE(BigInt(sb.inodeTableStart), sb.idTableStart);
    const map = expectPartition(await mapImage(bytes), bytes.length);
    const overlap = map.regions.find((r) => r.kind === 'overlap');
    expect(overlap?.offset).toBe(sb.inodeTableStart);
    expect(overlap?.claimants?.join('\n')).toMatch(
      /inode table block 0[\s\S]*id table block 0|id table block 0[\s\S]*inode table block 0/,
    );
    expect(map.regions.find((r) => r.kind === 'unaccounted')?.offset).toBe(idBlock);
    expect(map.problems.some((p) => p.severity === 'error')).toBe(true);

    const work = await makeTempDir('inspect-broken');
    try {
      const path = join(work.path, 'broken.sqfs');
      await writeFile(path, bytes);
      const cli = await inspectCli([path]);
      expect(cli.code).toBe(1);
      expect(cli.out).toContain('overlap');
      expect(cli.out).toContain('unaccounted');
    } finally {
      await work.cleanup();
    }
  });

  it('a truncated image is still mapped to its last byte', async () => {
    const bytes = good.subarray(0, Math.floor(good.length / 2));
    const map = expectPartition(await mapImage(bytes), bytes.length);
    expect(map.problems.some((p) => p.severity === 'error' && /bytes_used/.test(p.message))).toBe(
      true,
    );
  });

  it('not squashfs at all is a SquashfsError', async () => {
    await expect(mapImage(new Uint8Array(4096))).rejects.toBeInstanceOf(SquashfsError);
    await expect(mapImage(new Uint8Array(10))).rejects.toBeInstanceOf(SquashfsError);
  });

  it('random damage: always a partition of the file or a SquashfsError', async () => {
    const small = await imageBytes(
      tree.dir({
        a: tree.file(textBytes(1, 9000)),
        b: tree.file(randomBytes(2, 5000), {
          xattrs: [{ name: 'user.x', value: Buffer.from('1') }],
        }),
        c: tree.symlink('a'),
      }),
      { blockSize: 4096 },
    );
    const rng = new Prng(42);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(small);
      const flips = 1 + (rng.next() % 4);
      for (let f = 0; f < flips; f++) bytes[rng.next() % bytes.length] = rng.next() & 0xff;
      try {
        expectPartition(await mapImage(bytes), bytes.length);
      } catch (err) {
        if (!(err instanceof SquashfsError)) throw err;
      }
    }
  });
});

const mkSuite = requireOracle('mksquashfs');
mkSuite('byte map of images written by mksquashfs', () => {
  let trees: EdgeTree[] = [];
  let work: TempDir;
  beforeAll(async () => {
    trees = [
      await buildEdgeTree('basic'),
      await buildEdgeTree('links'),
      await buildEdgeTree('big-dir', { entries: 3000 }),
    ];
    work = await makeTempDir('inspect-mk');
  });
  afterAll(async () => {
    for (const t of trees) await t.cleanup();
    await work?.cleanup();
  });
  const variants: [string, string[]][] = [
    ['gzip', []],
    ['xz with BCJ and a dictionary option', ['-comp', 'xz', '-Xbcj', 'x86', '-Xdict-size', '50%']],
    ['gzip level 6 (options block)', ['-Xcompression-level', '6']],
    ['-noI -noD -noF -noX', ['-noI', '-noD', '-noF', '-noX']],
    ['-no-exports', ['-no-exports']],
    ['-no-fragments 4K', ['-no-fragments', '-b', '4K']],
    ['-always-use-fragments 4K', ['-always-use-fragments', '-b', '4K']],
    ['-no-duplicates -nopad', ['-no-duplicates', '-nopad']],
  ];
  for (const [label, args] of variants) {
    it(`${label}: covers every byte once, names every file`, async () => {
      const image = join(work.path, `${label.replace(/[^a-z0-9]+/gi, '-')}.sqfs`);
      await mksquashfs(
        trees.map((t) => t.dir),
        image,
        ['-quiet', ...args],
      );
      const map = await mapImage(image);
      expectClean(map, (await readFile(image)).length);
      await expectFilesNamed(image, map);
      expect(map.compressorOptions.present).toBe(label.includes('option'));
      if (!args.includes('-no-duplicates')) {
        expect(map.regions.some((r) => (r.owners?.length ?? 0) > 1)).toBe(true);
      }
    });
  }
});

const xattrSuite = requireOracle('mksquashfs', 'xattrs');
xattrSuite('byte map of a mksquashfs image with xattrs', () => {
  it('maps the xattr key/value stream, the xattr id table and its header', async () => {
    const t = await buildEdgeTree('xattrs');
    const work = await makeTempDir('inspect-xattrs');
    try {
      for (const args of [[], ['-noX']]) {
        const image = join(work.path, `x${args.length}.sqfs`);
        await mksquashfs([t.dir], image, ['-quiet', ...args]);
        const map = await mapImage(image);
        expectClean(map, (await readFile(image)).length);
        await expectFilesNamed(image, map);
        expect(map.regions.filter((r) => r.table === 'xattr-kv').length).toBeGreaterThan(0);
        expect(map.regions.filter((r) => r.kind === 'xattr-id-header')).toHaveLength(1);
      }
    } finally {
      await t.cleanup();
      await work.cleanup();
    }
  });
});

/** gensquashfs is squashfs-tools-ng's, like sqfsdiff; check for it too (fail in CI, else skip). */

requireOracle('sqfsdiff', 'gensquashfs')('byte map of images written by gensquashfs', () => {
  let trees: EdgeTree[] = [];
  let work: TempDir;
  beforeAll(async () => {
    trees = [await buildEdgeTree('basic'), await buildEdgeTree('links')];
    work = await makeTempDir('inspect-ng');
  });
  afterAll(async () => {
    for (const t of trees) await t.cleanup();
    await work?.cleanup();
  });
  const variants: [string, string[]][] = [
    ['default (xz)', []],
    ['gzip 4K', ['-c', 'gzip', '-b', '4096']],
    ['exportable', ['-e']],
    ['no tail packing, gzip level 3', ['-T', '-c', 'gzip', '-X', 'level=3']],
  ];
  for (const [label, args] of variants) {
    for (const index of [0, 1]) {
      it(`${label}, ${['basic', 'links'][index]} tree: covers every byte once, names every file`, async () => {
        const image = join(work.path, `${label.replace(/[^a-z0-9]+/gi, '-')}-${index}.sqfs`);
        await runChecked('gensquashfs', ['-q', '-f', '-D', trees[index]!.dir, ...args, image]);
        const map = await mapImage(image);
        expectClean(map, (await readFile(image)).length);
        await expectFilesNamed(image, map);
      });
    }
  }
});
