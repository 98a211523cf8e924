/**
 * The committed fixture images (fixtures/images, made by make-images.sh with mksquashfs 4.5.1 and
 * gensquashfs 1.2.0, with gzip, xz, lz4, lzo and zstd): for each, what our reader sees equals
 * what unsquashfs extracts (contents, modes, owners, mtimes, link targets, devices, xattrs, hard
 * links), our `extract` equals unsquashfs's extraction and its `-lln` listing, `verify` finds no
 * problem, and `inspect --json`'s byte map covers the file exactly once. The one image unsquashfs
 * cannot read is compared with the kernel's mount of it instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runInspect } from '../../src/cli/inspect.js';
import { runCli } from '../../src/cli/main.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import type { ImageMap } from '../../src/squashfs/read/byte-map.js';
import { verifyImage } from '../../src/squashfs/read/verify.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import {
  requireOracle,
  unsquashfsExtract,
  unsquashfsList,
  withKernelMount,
} from '../helpers/oracles.js';
import { compareListing, compareTrees } from '../helpers/tree-compare.js';
import { compareReaderWith } from './compare-reader.js';
import { expectSquashfsError, readEverything } from './helpers.js';

const DIR = resolve(import.meta.dirname, '../../fixtures/images');
const IMAGES = readdirSync(DIR)
  .filter((f) => f.endsWith('.sqfs') && f !== 'mks-lzma.sqfs')
  .sort();
/** Where make-images.sh writes data into the sparse file, for compareTrees' samples. */
const SPARSE_DATA = { 'sparse-huge': [{ offset: 2 ** 32 - 100, length: 16384 }] };

const silent = { write: () => true };

it('the fixtures are the ones make-images.sh lists, with every compressor of both tools', () => {
  const sums = readFileSync(join(DIR, 'SHA256SUMS'), 'utf8');
  for (const f of IMAGES) expect(sums).toContain(`images/${f}`);
  const ids = IMAGES.map((f) => decodeSuperblock(readFileSync(join(DIR, f))).compression);
  // gzip 1, lzo 3, xz 4, lz4 5, zstd 6, from mksquashfs (mks-) and gensquashfs (gens-).
  expect([...new Set(ids)].sort()).toEqual([1, 3, 4, 5, 6]);
  expect(IMAGES.filter((f) => f.startsWith('gens-')).length).toBe(5);
});

it('an lzma image (id 2) is refused as UNSUPPORTED, naming the compression', async () => {
  const err = await expectSquashfsError(readEverything(join(DIR, 'mks-lzma.sqfs')), 'UNSUPPORTED');
  expect(err.message).toContain('lzma (id 2) is not supported');
  expect(err.offset).toBe(0x14);
});

/**
 * Images unsquashfs 4.5.1 cannot read, with the reason; the kernel is their oracle instead.
 * gensquashfs 1.2.0 stores a 32-byte id table (8 ids) lz4-compressed in 34 bytes; unsquashfs's
 * read_block refuses any lookup-table block whose stored size exceeds its expected size, while
 * the kernel mounts and reads the image.
 */
const KERNEL_ONLY: Record<string, string> = {
  'gens-lz4.sqfs': 'read_id_table: failed to read id table block',
};

/** Reads `image` with our reader and `extract`, and compares both with `reference` (a tree). */
async function checkAgainst(image: string, reference: string, ours: string): Promise<void> {
  expect(await compareReaderWith(image, reference)).toEqual([]);
  const errors: string[] = [];
  const code = await runCli(['extract', image, ours], {
    stdout: silent,
    stderr: { write: (s: string) => (errors.push(s), true) },
    env: {},
    version: 'test',
  });
  expect(code, errors.join('')).toBe(0);
  expect(errors).toEqual([]);
  expect(
    await compareTrees(reference, ours, { hugeFileRegions: SPARSE_DATA, ignoreRootMeta: true }),
  ).toEqual([]);
}

/** verify finds no problem (bar the allowed ones); inspect's map covers the file exactly once. */
async function checkVerifyAndInspect(name: string, image: string): Promise<void> {
  const result = await verifyImage(image);
  expect(result.stats.complete).toBe(true);
  expect(result.problems.filter((p) => !allowed(name, p))).toEqual([]);
  expect(result.stats.files).toBeGreaterThan(3000);

  let json = '';
  const inspected = await runInspect([image, '--json'], {
    stdout: { write: (s: string | Uint8Array) => ((json += Buffer.from(s).toString()), true) },
    stderr: silent,
    env: {},
    version: 'test',
  });
  expect(inspected).toBe(0);
  const map = JSON.parse(json) as ImageMap;
  const size = readFileSync(image).length;
  let at = 0;
  for (const r of map.regions) {
    expect(r.offset, `${r.kind} ${r.detail}`).toBe(at);
    at += r.length;
  }
  expect(at).toBe(size);
  expect(map.summary.reduce((s, k) => s + k.bytes, 0)).toBe(size);
  expect(map.regions.filter((r) => r.kind === 'unaccounted' || r.kind === 'overlap')).toEqual([]);
  expect(map.problems).toEqual([]);
}

const suite = requireOracle('unsquashfs', 'getfattr', 'root');
suite('fixture images against unsquashfs', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await makeTempDir('fixtures');
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  for (const name of IMAGES.filter((n) => KERNEL_ONLY[n] === undefined)) {
    it(`${name}: reader and extract equal unsquashfs; verify and inspect are clean`, async () => {
      const image = join(DIR, name);
      const theirs = join(work.path, `${name}-unsquashfs`);
      const ours = join(work.path, `${name}-ours`);
      await unsquashfsExtract(image, theirs);
      await checkAgainst(image, theirs, ours);
      expect(compareListing(await unsquashfsList(image), ours)).toEqual([]);
      await checkVerifyAndInspect(name, image);
    });
  }
});

const kernelSuite = requireOracle('unsquashfs', 'mount', 'getfattr', 'root');
kernelSuite('fixture images unsquashfs 4.5.1 refuses, against the kernel', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await makeTempDir('fixtures-kernel');
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  for (const [name, refusal] of Object.entries(KERNEL_ONLY)) {
    it(`${name}: unsquashfs refuses it; reader and extract equal the kernel's mount`, async () => {
      const image = join(DIR, name);
      await expect(unsquashfsExtract(image, join(work.path, `${name}-unsquashfs`))).rejects.toThrow(
        refusal,
      );
      await withKernelMount(image, (mnt) => checkAgainst(image, mnt, join(work.path, name)));
      await checkVerifyAndInspect(name, image);
    });
  }
});

/**
 * The only problems a clean image may have: gensquashfs's own conventions, which verify reports
 * as warnings because they are not mksquashfs's (legal, format page §12, §19.9). gensquashfs 1.2.0
 * numbers inodes in its own order, gives the root parent_inode 0, and sets a directory's nlink to
 * 2 + all its entries (mksquashfs: 2 + sub-directories).
 */
const GENSQUASHFS_CONVENTIONS = new Set([
  'inode.numbering',
  'dir.root-parent',
  'nlink.dir',
  // The id table block above: compressed, yet larger than its contents.
  'metadata.expanded',
]);
function allowed(image: string, p: { rule: string; severity: string }): boolean {
  return (
    image.startsWith('gens-') && p.severity === 'warning' && GENSQUASHFS_CONVENTIONS.has(p.rule)
  );
}
