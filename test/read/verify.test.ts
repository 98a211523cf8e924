/**
 * The verifier: images made by mksquashfs, gensquashfs and our writer have no errors (and
 * mksquashfs's and ours no warnings: they follow the same conventions); a corpus of broken images,
 * made here by patching bytes of uncompressed images, each produce the expected rule at the
 * expected byte offset; several independent corruptions are all reported.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, runCli } from '../../src/cli/main.js';
import { runVerify } from '../../src/cli/verify.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import { refBlock, refOffset } from '../../src/squashfs/format/metadata.js';
import { openImage } from '../../src/squashfs/read/image.js';
import { verifyImage, type Problem, type VerifyResult } from '../../src/squashfs/read/verify.js';
import { tree } from '../../src/squashfs/tree.js';
import { buildEdgeTree, randomBytes, textBytes, type TreeName } from '../helpers/edge-trees.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { hasOracle, mksquashfs, requireOracle } from '../helpers/oracles.js';
import { imageBytes } from './helpers.js';

const show = (problems: Problem[]) =>
  problems
    .map((p) => `${p.severity} ${p.offset ?? '-'} ${p.rule} ${p.structure}: ${p.message}`)
    .join('\n');

function errorsOf(r: VerifyResult): Problem[] {
  return r.problems.filter((p) => p.severity === 'error');
}

function expectClean(r: VerifyResult, label: string, allowedWarnings: string[] = []): void {
  expect(show(errorsOf(r)), `${label}: errors`).toBe('');
  const warnings = r.problems.filter((p) => p.severity === 'warning');
  if (warnings.length > 0) console.log(`[verify] ${label} warnings:\n${show(warnings)}`);
  const unexpected = warnings.filter((w) => !allowedWarnings.includes(w.rule));
  expect(show(unexpected), `${label}: unexpected warnings`).toBe('');
  expect(r.stats.complete).toBe(true);
}

/** Asserts that `rule` is reported (as an error unless said otherwise) at `offset`. */
function expectRule(
  r: VerifyResult,
  rule: string,
  offset: number | null,
  severity: 'error' | 'warning' = 'error',
): void {
  const hit = r.problems.find(
    (p) => p.rule === rule && p.severity === severity && (offset === null || p.offset === offset),
  );
  expect(hit, `expected ${severity} ${rule} at ${offset}; got:\n${show(r.problems)}`).toBeDefined();
}

// ---------------------------------------------------------------------------------------------
// gensquashfs is not one of the shared oracles: detect it the same way (skip outside CI, fail in).
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Valid images
// ---------------------------------------------------------------------------------------------

const TREES: TreeName[] = ['basic', 'links', 'names', 'deep', 'big-dir'];
const TREE_OPTIONS = { entries: 3000, blockSize: 4096 };

const MK_OPTIONS: string[][] = [
  [],
  ['-noI', '-noD', '-noF', '-noX'],
  ['-comp', 'xz'],
  ['-b', '4K'],
  ['-no-fragments'],
  ['-always-use-fragments', '-no-duplicates'],
  ['-no-exports', '-no-sparse'],
];

describe('verify: images from our writer (in-memory trees)', () => {
  const sample = () => {
    const big = tree.dir({});
    for (let i = 0; i < 700; i++) {
      big.entries.push({
        name: Buffer.from(`entry-${String(i).padStart(4, '0')}-${'n'.repeat(i % 23)}`),
        node: tree.file(i % 11 === 0 ? textBytes(i, 200 + i) : ''),
      });
    }
    const shared = tree.file(textBytes(5, 7000));
    return tree.dir({
      'a.txt': tree.file('hello\n', {
        xattrs: [
          { name: 'user.k', value: Buffer.from('v') },
          { name: 'user.long', value: textBytes(9, 300) },
        ],
      }),
      blocks: tree.file(randomBytes(1, 3 * 4096 + 17)),
      aligned: tree.file(randomBytes(2, 2 * 4096)),
      zeros: tree.file(new Uint8Array(2 * 4096 + 5)),
      link: tree.symlink('a.txt', { xattrs: [{ name: 'trusted.t', value: Buffer.from('x') }] }),
      dev: tree.device('chardev', 1, 3),
      fifo: tree.ipc('fifo'),
      hard1: shared,
      hard2: shared,
      sub: tree.dir({ 'x.txt': tree.file('x'), deeper: tree.dir({}) }),
      big,
    });
  };

  for (const [label, options] of [
    ['gzip', { blockSize: 4096 }],
    ['xz', { blockSize: 4096, compression: { name: 'xz' as const } }],
    ['none', { blockSize: 4096, compression: { name: 'none' as const } }],
    ['128K gzip no fragments', { fragments: 'never' as const }],
    ['always fragments', { blockSize: 8192, fragments: 'always' as const }],
  ] as const) {
    it(`${label}: no problems`, async () => {
      const bytes = await imageBytes(sample(), options);
      const r = await verifyImage(bytes);
      expectClean(r, `writer ${label}`);
      expect(r.stats.entries).toBe(700 + 13);
    });
  }
});

requireOracle('mksquashfs')('verify: images from mksquashfs and tsquashfs mk', () => {
  const trees = new Map<TreeName, { dir: string; cleanup(): Promise<void> }>();
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('verify-mk');
    for (const name of TREES) trees.set(name, await buildEdgeTree(name, TREE_OPTIONS));
  });
  afterAll(async () => {
    for (const t of trees.values()) await t.cleanup();
    await tmp?.cleanup();
  });

  for (const name of TREES) {
    it(`${name}: mksquashfs images in ${MK_OPTIONS.length} option sets have no problems`, async () => {
      for (const [i, args] of MK_OPTIONS.entries()) {
        const image = join(tmp.path, `${name}-${i}.sqfs`);
        await mksquashfs([trees.get(name)!.dir], image, [...args, '-quiet']);
        expectClean(await verifyImage(image), `mksquashfs ${name} ${args.join(' ')}`);
      }
    });

    it(`${name}: tsquashfs mk images have no problems`, async () => {
      for (const [i, args] of [
        [],
        ['-noI', '-noD', '-noF', '-noX'],
        ['-comp', 'xz', '-b', '4K'],
      ].entries()) {
        const image = join(tmp.path, `${name}-ours-${i}.sqfs`);
        expect(
          await main(['mk', trees.get(name)!.dir, image, '-noappend', '-quiet', ...args]),
        ).toBe(0);
        expectClean(await verifyImage(image), `tsquashfs mk ${name} ${args.join(' ')}`);
      }
    });
  }
});

requireOracle('mksquashfs', 'xattrs')('verify: mksquashfs images with xattrs', () => {
  it('has no problems, compressed or not', async () => {
    const t = await buildEdgeTree('xattrs');
    const tmp = await makeTempDir('verify-xattrs');
    try {
      for (const [i, args] of [[], ['-noI', '-noD', '-noF', '-noX'], ['-comp', 'xz']].entries()) {
        const image = join(tmp.path, `x${i}.sqfs`);
        await mksquashfs([t.dir], image, [...args, '-quiet', '-xattrs']);
        const r = await verifyImage(image);
        expectClean(r, `mksquashfs xattrs ${args.join(' ')}`);
        expect(r.stats.xattrLists).toBeGreaterThan(0);
      }
    } finally {
      await t.cleanup();
      await tmp.cleanup();
    }
  });
});

/** gensquashfs's conventions differ from mksquashfs's; those must be warnings, never errors. */
const GENSQUASHFS_WARNINGS = [
  'dir.root-parent',
  'nlink.dir',
  'nlink.file',
  'inode.numbering',
  'xattr.size',
];

requireOracle('gensquashfs')('verify: images from gensquashfs', () => {
  const trees = new Map<TreeName, { dir: string; cleanup(): Promise<void> }>();
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('verify-gen');
    for (const name of TREES) trees.set(name, await buildEdgeTree(name, TREE_OPTIONS));
  });
  afterAll(async () => {
    for (const t of trees.values()) await t.cleanup();
    await tmp?.cleanup();
  });

  for (const name of TREES) {
    it(`${name}: no errors; its conventions are warnings`, async () => {
      for (const [i, args] of [[], ['-c', 'xz', '-b', '4096']].entries()) {
        const image = join(tmp.path, `${name}-${i}.sqfs`);
        const r = spawnSync(
          'gensquashfs',
          ['-D', trees.get(name)!.dir, '-k', '-q', '-f', ...args, image],
          {
            encoding: 'utf8',
          },
        );
        expect(r.status, r.stderr).toBe(0);
        const result = await verifyImage(image);
        expectClean(result, `gensquashfs ${name} ${args.join(' ')}`, GENSQUASHFS_WARNINGS);
        // Root parent 0 and nlink = 2 + entries are gensquashfs's, reported as warnings.
        expectRule(result, 'dir.root-parent', null, 'warning');
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Broken images
// ---------------------------------------------------------------------------------------------

/** Byte positions of the structures the corruptions patch, found with the reader. */
interface Layout {
  bytes: Buffer;
  sb: ReturnType<typeof decodeSuperblock>;
  /** Absolute position of an inode (uncompressed inode table). */
  inodeAt(path: string): Promise<number>;
  /** Absolute position of a directory entry's name, found in the directory table. */
  nameAt(name: string): number;
}

async function layoutOf(bytes: Buffer): Promise<Layout> {
  const sb = decodeSuperblock(bytes.subarray(0, 96));
  const dirEnd = sb.fragmentTableStart > 0 ? sb.fragmentTableStart : sb.idTableStart;
  return {
    bytes,
    sb,
    async inodeAt(path) {
      const img = await openImage(bytes);
      try {
        const inode = path === '/' ? img.root : await img.lookup(path);
        if (inode === undefined) throw new Error(`${path} not in the image`);
        return sb.inodeTableStart + refBlock(inode.ref) + 2 + refOffset(inode.ref);
      } finally {
        await img.close();
      }
    },
    nameAt(name) {
      const at = bytes.indexOf(Buffer.from(name), sb.directoryTableStart);
      if (at < 0 || at >= dirEnd) throw new Error(`${name} not in the directory table`);
      return at;
    },
  };
}

requireOracle('mksquashfs')('verify: broken images (mksquashfs -noI -noD -noF -noX)', () => {
  let tmp: TempDir;
  let pristine: Buffer;
  let L: Layout;
  beforeAll(async () => {
    tmp = await makeTempDir('verify-broken');
    const src = join(tmp.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'aa.txt'), 'hello\n');
    writeFileSync(join(src, 'bb.txt'), 'world\n');
    writeFileSync(join(src, 'cc.txt'), 'cc\n');
    writeFileSync(join(src, 'dd.txt'), 'dd\n');
    writeFileSync(join(src, 'aligned.bin'), randomBytes(3, 131072));
    writeFileSync(join(src, 'big.bin'), randomBytes(4, 200000));
    symlinkSync('aa.txt', join(src, 'link'));
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'sub', 'x.txt'), 'x\n');
    mkdirSync(join(src, 'many'));
    for (let i = 0; i < 600; i++) {
      writeFileSync(join(src, 'many', `file-number-${String(i).padStart(4, '0')}`), '');
    }
    for (const p of ['aa.txt', 'bb.txt', 'cc.txt', 'sub', 'many']) chmodSync(join(src, p), 0o755);
    utimesSync(src, 1700000000, 1700000000);
    const image = join(tmp.path, 'raw.sqfs');
    await mksquashfs([src], image, [
      '-noI',
      '-noD',
      '-noF',
      '-noX',
      '-all-root',
      '-mkfs-time',
      '1700000000',
      '-quiet',
    ]);
    pristine = readFileSync(image);
    L = await layoutOf(pristine);
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });

  const patched = (edit: (b: Buffer) => void): Buffer => {
    const copy = Buffer.from(pristine);
    edit(copy);
    return copy;
  };

  it('the pristine image has no problems', async () => {
    expectClean(await verifyImage(pristine), 'pristine');
  });

  it('superblock.magic', async () => {
    const r = await verifyImage(patched((b) => b.writeUInt32LE(0x12345678, 0)));
    expect(r.problems.map((p) => [p.rule, p.offset])).toEqual([['superblock.magic', 0]]);
    expect(r.stats.complete).toBe(false);
  });

  it('superblock.version and block-log', async () => {
    expectRule(
      await verifyImage(patched((b) => b.writeUInt16LE(1, 0x1e))),
      'superblock.version',
      0x1c,
    );
    expectRule(
      await verifyImage(patched((b) => b.writeUInt16LE(16, 0x16))),
      'superblock.block-log',
      0x16,
    );
  });

  it('table.id.placement: bytes_used moved by 8 (the kernel refuses to mount)', async () => {
    const r = await verifyImage(patched((b) => b.writeUInt32LE(L.sb.bytesUsed + 8, 0x28)));
    expectRule(r, 'table.id.placement', L.sb.idTableStart);
  });

  it('table.export.placement: export_table_start moved by 8', async () => {
    const r = await verifyImage(patched((b) => b.writeUInt32LE(L.sb.exportTableStart - 8, 0x58)));
    expectRule(r, 'table.export.placement', L.sb.exportTableStart - 8);
  });

  it('metadata.header: an id table block header of 0', async () => {
    const idBlock = Number(pristine.readBigUInt64LE(L.sb.idTableStart));
    const r = await verifyImage(patched((b) => b.writeUInt16LE(0, idBlock)));
    expectRule(r, 'metadata.header', idBlock);
  });

  it('dir.sorted: two names swapped', async () => {
    const aa = L.nameAt('aa.txt');
    const cc = L.nameAt('cc.txt');
    const r = await verifyImage(
      patched((b) => {
        b.write('cc.txt', aa, 'latin1');
        b.write('aa.txt', cc, 'latin1');
      }),
    );
    // "aligned.bin" now follows "cc.txt"; "aa.txt" (where cc.txt was) follows "big.bin".
    expectRule(r, 'dir.sorted', L.nameAt('aligned.bin') - 8);
    expectRule(r, 'dir.sorted', cc - 8);
  });

  it('dir.unique: a name repeated', async () => {
    const dd = L.nameAt('dd.txt');
    const r = await verifyImage(patched((b) => b.write('cc.txt', dd, 'latin1')));
    expectRule(r, 'dir.unique', dd - 8);
  });

  it('dir.name: a name with a slash', async () => {
    const bb = L.nameAt('bb.txt');
    const r = await verifyImage(patched((b) => b.write('b/', bb, 'latin1')));
    expectRule(r, 'dir.name', bb);
  });

  it('dir.file-size: the root listing size one byte too large', async () => {
    const root = await L.inodeAt('/');
    expect(pristine.readUInt16LE(root)).toBe(1); // a basic directory
    const r = await verifyImage(
      patched((b) => b.writeUInt16LE(b.readUInt16LE(root + 24) + 1, root + 24)),
    );
    expectRule(r, 'dir.file-size', root + 24);
  });

  it('dir.run-count: a run header claiming 300 entries', async () => {
    const sub = await L.inodeAt('sub');
    const header =
      L.sb.directoryTableStart +
      2 +
      pristine.readUInt16LE(sub + 26) +
      pristine.readUInt32LE(sub + 16);
    expect(pristine.readUInt32LE(header)).toBe(0); // one entry
    const r = await verifyImage(patched((b) => b.writeUInt32LE(299, header)));
    expectRule(r, 'dir.run-count', header);
  });

  it('dir.entry-type: an entry whose type is not its inode type', async () => {
    const entry = L.nameAt('bb.txt') - 8;
    const r = await verifyImage(patched((b) => b.writeUInt16LE(3, entry + 4)));
    expectRule(r, 'dir.entry-type', entry + 4);
  });

  it('dir.index-start: a directory index entry pointing at the wrong block', async () => {
    const many = await L.inodeAt('many');
    expect(pristine.readUInt16LE(many)).toBe(8); // extended directory
    expect(pristine.readUInt16LE(many + 32)).toBeGreaterThan(0); // with an index
    const r = await verifyImage(
      patched((b) => b.writeUInt32LE(b.readUInt32LE(many + 44) + 8194, many + 44)),
    );
    expectRule(r, 'dir.index-start', many + 44);
  });

  it('dir.index-header: an index entry not at a run header', async () => {
    const many = await L.inodeAt('many');
    const r = await verifyImage(
      patched((b) => b.writeUInt32LE(b.readUInt32LE(many + 40) + 4, many + 40)),
    );
    expectRule(r, 'dir.index-header', many + 40);
  });

  it('inode.number-range: inode number 0', async () => {
    const bb = await L.inodeAt('bb.txt');
    const r = await verifyImage(patched((b) => b.writeUInt32LE(0, bb + 12)));
    expectRule(r, 'inode.number-range', bb + 12);
    expectRule(r, 'dir.entry-number', L.nameAt('bb.txt') - 8 + 2);
  });

  it('inode.number-unique: two inodes with one number', async () => {
    const aa = await L.inodeAt('aa.txt');
    const bb = await L.inodeAt('bb.txt');
    const r = await verifyImage(patched((b) => b.writeUInt32LE(b.readUInt32LE(aa + 12), bb + 12)));
    expectRule(r, 'inode.number-unique', bb + 12);
  });

  it('inode.id-index: a gid index past id_count', async () => {
    const bb = await L.inodeAt('bb.txt');
    const r = await verifyImage(patched((b) => b.writeUInt16LE(5, bb + 6)));
    expectRule(r, 'inode.id-index', bb + 6);
  });

  it('inode.type: type 15', async () => {
    const bb = await L.inodeAt('bb.txt');
    const r = await verifyImage(patched((b) => b.writeUInt16LE(15, bb)));
    expectRule(r, 'inode.type', bb);
  });

  it('file.fragment-on-aligned-size: a fragment on a 131072-byte file', async () => {
    const f = await L.inodeAt('aligned.bin');
    expect(pristine.readUInt32LE(f + 20)).toBe(0xffffffff);
    const r = await verifyImage(patched((b) => b.writeUInt32LE(0, f + 20)));
    expectRule(r, 'file.fragment-on-aligned-size', f + 20);
  });

  it('file.fragment-index and file.fragment-tail', async () => {
    const aa = await L.inodeAt('aa.txt');
    expectRule(
      await verifyImage(patched((b) => b.writeUInt32LE(7, aa + 20))),
      'file.fragment-index',
      aa + 20,
    );
    expectRule(
      await verifyImage(patched((b) => b.writeUInt32LE(100000, aa + 24))),
      'file.fragment-tail',
      aa + 24,
    );
  });

  it('data.size-word: bit 25 set', async () => {
    const f = await L.inodeAt('big.bin');
    const r = await verifyImage(
      patched((b) => b.writeUInt32LE(b.readUInt32LE(f + 32) | 0x02000000, f + 32)),
    );
    expectRule(r, 'data.size-word', f + 32);
  });

  it('data.block-length: the last block 100 bytes short', async () => {
    const f = await L.inodeAt('big.bin');
    const start = pristine.readUInt32LE(f + 16);
    const first = pristine.readUInt32LE(f + 32) & 0xffffff;
    const r = await verifyImage(
      patched((b) => b.writeUInt32LE(b.readUInt32LE(f + 36) - 100, f + 36)),
    );
    expectRule(r, 'data.block-length', start + first);
  });

  it('data.block-size: an on-disk size over the block size', async () => {
    const f = await L.inodeAt('big.bin');
    const r = await verifyImage(patched((b) => b.writeUInt32LE(0x01000000 | 131073, f + 32)));
    expectRule(r, 'data.block-size', f + 32);
  });

  it('export.mapping: an export entry pointing at another inode', async () => {
    const exportBlock = Number(pristine.readBigUInt64LE(L.sb.exportTableStart));
    const r = await verifyImage(
      patched((b) => b.writeBigUInt64LE(b.readBigUInt64LE(exportBlock + 2 + 8), exportBlock + 2)),
    );
    expectRule(r, 'export.mapping', exportBlock + 2);
  });

  it('multiple independent corruptions are all reported', async () => {
    const aa = L.nameAt('aa.txt');
    const cc = L.nameAt('cc.txt');
    const aligned = await L.inodeAt('aligned.bin');
    const big = await L.inodeAt('big.bin');
    const bb = await L.inodeAt('bb.txt');
    const x = await L.inodeAt('sub/x.txt');
    const r = await verifyImage(
      patched((b) => {
        b.write('cc.txt', aa, 'latin1');
        b.write('aa.txt', cc, 'latin1');
        b.writeUInt32LE(0, aligned + 20);
        b.writeUInt32LE((b.readUInt32LE(big + 32) | 0x80000000) >>> 0, big + 32);
        b.writeUInt16LE(9, bb + 4);
        b.writeUInt32LE(0, x + 12);
      }),
    );
    expectRule(r, 'dir.sorted', cc - 8);
    expectRule(r, 'file.fragment-on-aligned-size', aligned + 20);
    expectRule(r, 'data.size-word', big + 32);
    expectRule(r, 'inode.id-index', bb + 4);
    expectRule(r, 'inode.number-range', x + 12);
  });

  it('a broken directory does not stop the rest of the walk', async () => {
    const sub = await L.inodeAt('sub');
    const x = await L.inodeAt('sub/x.txt');
    const bb = await L.inodeAt('bb.txt');
    const r = await verifyImage(
      patched((b) => {
        b.writeUInt32LE(0xffffff, sub + 16); // listing start in no block
        b.writeUInt16LE(5, bb + 6);
      }),
    );
    expectRule(r, 'dir.start', sub + 16);
    expectRule(r, 'inode.id-index', bb + 6);
    // x.txt is only reachable through sub/, so it is not judged (and the bytes are reported).
    expect(r.problems.some((p) => p.offset === x + 12)).toBe(false);
    expectRule(r, 'inode.unreferenced', null, 'warning');
  });

  it('the CLI prints each problem and exits 1 on errors, 0 on a clean image', async () => {
    const image = join(tmp.path, 'cli.sqfs');
    writeFileSync(
      image,
      patched((b) => b.writeUInt32LE(b.readUInt32LE(0x28) + 8, 0x28)),
    );
    const out: string[] = [];
    const ctx = {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: () => true },
      env: {},
      version: 'test',
    };
    expect(await runVerify([image], ctx)).toBe(1);
    const text = out.join('');
    expect(text).toContain(
      `${L.sb.idTableStart}  table.id.placement  id table location list at ${L.sb.idTableStart}: `,
    );
    expect(text).toMatch(/: 1 error, 0 warnings/);
    const clean = join(tmp.path, 'clean.sqfs');
    writeFileSync(clean, pristine);
    out.length = 0;
    expect(await runVerify([clean, '--json'], ctx)).toBe(0);
    const json = JSON.parse(out.join('')) as { errors: number; problems: unknown[] };
    expect(json.errors).toBe(0);
    expect(json.problems).toEqual([]);
    // Registered as a subcommand.
    out.length = 0;
    expect(await runCli(['verify', clean], ctx)).toBe(0);
    expect(out.join('')).toMatch(/: 0 errors, 0 warnings \(/);
  });
});

describe('verify: broken xattrs (our writer, uncompressed)', () => {
  let pristine: Buffer;
  let kvStart: number;
  beforeAll(async () => {
    pristine = await imageBytes(
      tree.dir({
        'a.txt': tree.file('hello\n', {
          xattrs: [
            { name: 'user.k', value: Buffer.from('v') },
            { name: 'user.long', value: textBytes(9, 300) },
          ],
        }),
      }),
      { blockSize: 4096, compression: { name: 'none' } },
    );
    const sb = decodeSuperblock(pristine.subarray(0, 96));
    kvStart = Number(pristine.readBigUInt64LE(sb.xattrIdTableStart));
  });

  const keyOf = (name: string) => {
    const at = pristine.indexOf(Buffer.from(name), kvStart);
    expect(at).toBeGreaterThan(kvStart);
    return at - 4;
  };

  it('the pristine image has no problems', async () => {
    expectClean(await verifyImage(pristine), 'xattr pristine');
  });

  it('xattr.prefix: prefix id 7', async () => {
    const key = keyOf('long');
    const copy = Buffer.from(pristine);
    copy.writeUInt16LE((copy.readUInt16LE(key) & 0x100) | 7, key);
    expectRule(await verifyImage(copy), 'xattr.prefix', key);
  });

  it('xattr.ool-ref: an out-of-line value pointing at a key record', async () => {
    const key = keyOf('long');
    expect(pristine.readUInt16LE(key) & 0x100).toBe(0x100); // stored out of line
    const valueAt = key + 4 + 4;
    expect(pristine.readUInt32LE(valueAt)).toBe(8);
    const copy = Buffer.from(pristine);
    // Stream offset of the key record itself (a single raw block: stream = kvStart + 2 + offset).
    copy.writeBigUInt64LE(BigInt(key - (kvStart + 2)), valueAt + 4);
    expectRule(await verifyImage(copy), 'xattr.ool-ref', valueAt + 4);
  });

  it('inode.xattr-index: an index past the xattr id count', async () => {
    const img = await openImage(pristine);
    const file = await img.lookup('a.txt');
    await img.close();
    const sb = decodeSuperblock(pristine.subarray(0, 96));
    const at = sb.inodeTableStart + refBlock(file!.ref) + 2 + refOffset(file!.ref);
    expect(pristine.readUInt16LE(at)).toBe(9);
    const copy = Buffer.from(pristine);
    copy.writeUInt32LE(40, at + 52);
    expectRule(await verifyImage(copy), 'inode.xattr-index', at + 52);
  });
});

if (!hasOracle('mksquashfs')) console.warn('[verify] mksquashfs-based tests are skipped');
