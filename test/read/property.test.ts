/**
 * Property: any tree our writer accepts, written with any options, reads back identically with
 * our reader, and `verify` finds no problem. Trees are random (fast-check): names of random
 * bytes (not UTF-8 as a rule), file sizes around block boundaries with random, compressible and
 * all-zero (sparse) contents and duplicates, symlinks, devices, fifos, sockets, hard links,
 * xattrs, any mode, owner and mtime; options are random compression (gzip, xz, none), block
 * size, fragment mode, duplicates, sparse and export settings. A sample of the images is also
 * extracted by unsquashfs (a foreign oracle) and compared with what our reader sees.
 *
 * Reproduce a failure with the seed and path fast-check prints: FC_SEED=… FC_PATH=… npx vitest
 * run test/read/property.test.ts. FC_RUNS raises the number of runs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRdev, type DeviceInode } from '../../src/squashfs/format/inode.js';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { openImage } from '../../src/squashfs/read/image.js';
import { verifyImage } from '../../src/squashfs/read/verify.js';
import {
  tree,
  type DirNode,
  type NodeMeta,
  type TreeNode,
  type Xattr,
} from '../../src/squashfs/tree.js';
import type { WriteOptions } from '../../src/squashfs/write/options.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import { randomBytes, textBytes } from '../helpers/edge-trees.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { requireOracle, unsquashfsExtract } from '../helpers/oracles.js';
import { compareReaderWith, KIND_OF_TYPE } from './compare-reader.js';

const SEED = Number(process.env.FC_SEED ?? 20261201);
const RUNS = Number(process.env.FC_RUNS ?? 100);
const PATH = process.env.FC_PATH;

// ---- arbitraries: plain data first, nodes built from it once the block size is known ----------

interface MetaSpec {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs: { ns: 'user.' | 'trusted.'; key: string; value: Uint8Array }[];
}
type Spec =
  | {
      t: 'file';
      blocks: number;
      delta: number;
      content: 'random' | 'text' | 'zero';
      seed: number;
      meta: MetaSpec;
    }
  | { t: 'symlink'; target: Uint8Array; meta: MetaSpec }
  | { t: 'dev'; kind: 'blockdev' | 'chardev'; major: number; minor: number; meta: MetaSpec }
  | { t: 'ipc'; kind: 'fifo' | 'socket'; meta: MetaSpec }
  | { t: 'dir'; entries: [Uint8Array, Spec][]; meta: MetaSpec };

const isDots = (b: Uint8Array) =>
  b[0] === 0x2e && (b.length === 1 || (b.length === 2 && b[1] === 0x2e));
const nameArb = fc
  .uint8Array({ min: 1, max: 255, minLength: 1, maxLength: 12 })
  .filter((b) => !b.includes(0x2f) && !isDots(b));

const metaArb: fc.Arbitrary<MetaSpec> = fc.record({
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 70000 })),
  gid: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 70000 })),
  mtime: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  xattrs: fc.uniqueArray(
    fc.record({
      ns: fc.constantFrom('user.' as const, 'trusted.' as const),
      key: fc.stringMatching(/^[a-z0-9._-]{1,20}$/),
      value: fc.uint8Array({ maxLength: 300 }),
    }),
    { maxLength: 3, selector: (x) => x.ns + x.key },
  ),
});

const leafArb: fc.Arbitrary<Spec> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('file' as const),
      blocks: fc.integer({ min: 0, max: 3 }),
      delta: fc.oneof(fc.constantFrom(-1, 0, 1), fc.integer({ min: -300, max: 300 })),
      content: fc.constantFrom('random' as const, 'text' as const, 'zero' as const),
      // Few seeds: equal (content, seed, size) triples make duplicate files.
      seed: fc.integer({ min: 0, max: 2 }),
      meta: metaArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('symlink' as const),
      target: fc.uint8Array({ min: 1, max: 255, minLength: 1, maxLength: 120 }),
      meta: metaArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('dev' as const),
      kind: fc.constantFrom('blockdev' as const, 'chardev' as const),
      major: fc.integer({ min: 0, max: 4095 }),
      minor: fc.integer({ min: 0, max: 2 ** 20 - 1 }),
      meta: metaArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('ipc' as const),
      kind: fc.constantFrom('fifo' as const, 'socket' as const),
      meta: metaArb,
    }),
  },
);

const entriesArb = (child: fc.Arbitrary<Spec>) =>
  fc.uniqueArray(fc.tuple(nameArb, child), {
    maxLength: 6,
    selector: ([name]) => Buffer.from(name).toString('hex'),
  });

const specArb: fc.Arbitrary<Spec> = fc.letrec<{ node: Spec; dir: Spec }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leafArb, tie('dir')),
  dir: fc.record({
    t: fc.constant('dir' as const),
    entries: entriesArb(tie('node')),
    meta: metaArb,
  }),
})).dir;

const optionsArb = fc.record({
  compression: fc.constantFrom('gzip' as const, 'xz' as const, 'none' as const),
  blockLog: fc.integer({ min: 12, max: 16 }),
  fragments: fc.constantFrom('never' as const, 'small' as const, 'always' as const),
  duplicates: fc.boolean(),
  sparse: fc.boolean(),
  exports: fc.boolean(),
});
type OptionsSpec = typeof optionsArb extends fc.Arbitrary<infer T> ? T : never;

/** Extra names for existing non-directory nodes, resolved after the tree is built. */
const linksArb = fc.array(fc.tuple(fc.nat(), fc.nat(), nameArb), { maxLength: 3 });

// ---- building the tree and the model of what must be read back -----------------------------

interface Expected {
  kind: string;
  meta: NodeMeta;
  content?: Uint8Array;
  target?: Uint8Array;
  rdev?: { major: number; minor: number };
}

function meta(m: MetaSpec, uidgid = true): NodeMeta {
  const xattrs: Xattr[] = m.xattrs
    .filter((x) => uidgid || x.ns === 'trusted.')
    .map((x) => ({ name: x.ns + x.key, value: x.value }));
  return { mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, xattrs };
}

function build(spec: Spec, blockSize: number): TreeNode {
  switch (spec.t) {
    case 'dir':
      return tree.dir(
        spec.entries.map(([name, child]) => ({ name, node: build(child, blockSize) })),
        meta(spec.meta),
      );
    case 'file': {
      const size = Math.max(0, spec.blocks * blockSize + spec.delta);
      const bytes =
        spec.content === 'random'
          ? randomBytes(spec.seed, size)
          : spec.content === 'text'
            ? textBytes(spec.seed, size)
            : new Uint8Array(size);
      return tree.file(bytes, meta(spec.meta));
    }
    case 'symlink':
      // user.* xattrs are not allowed on symlinks on Linux (unsquashfs could not restore them).
      return tree.symlink(spec.target, meta(spec.meta, false));
    case 'dev':
      return tree.device(spec.kind, spec.major, spec.minor, meta(spec.meta, false));
    case 'ipc':
      return tree.ipc(spec.kind, meta(spec.meta, false));
  }
}

function addLinks(root: DirNode, links: [number, number, Uint8Array][]): void {
  const dirs: DirNode[] = [];
  const others: TreeNode[] = [];
  const visit = (d: DirNode) => {
    dirs.push(d);
    for (const e of d.entries) {
      if (e.node.kind === 'dir') visit(e.node);
      else others.push(e.node);
    }
  };
  visit(root);
  if (others.length === 0) return;
  for (const [from, to, name] of links) {
    const dir = dirs[to % dirs.length]!;
    const taken = new Set(dir.entries.map((e) => Buffer.from(e.name).toString('hex')));
    let n = Buffer.concat([Buffer.from(name), Buffer.from('~l')]);
    while (taken.has(n.toString('hex'))) n = Buffer.concat([n, Buffer.from('~')]);
    if (n.length > 255) continue;
    dir.entries.push({ name: n, node: others[from % others.length]! });
  }
}

async function contentOf(node: TreeNode): Promise<Uint8Array> {
  if (node.kind !== 'file') return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  for await (const c of node.source.read()) parts.push(c);
  return Buffer.concat(parts);
}

/** path (latin1 key) → what must be read there; node → its paths (hard-link groups). */
async function model(root: DirNode) {
  const expected = new Map<string, Expected>();
  const paths = new Map<TreeNode, string[]>();
  const visit = async (node: TreeNode, path: Buffer) => {
    const key = path.toString('latin1');
    paths.set(node, [...(paths.get(node) ?? []), key]);
    const e: Expected = { kind: node.kind, meta: node };
    if (node.kind === 'file') e.content = await contentOf(node);
    if (node.kind === 'symlink') e.target = node.target;
    if (node.kind === 'blockdev' || node.kind === 'chardev')
      e.rdev = { major: node.major, minor: node.minor };
    expected.set(key, e);
    if (node.kind === 'dir') {
      for (const c of node.entries) {
        const child =
          path.length === 0 ? Buffer.from(c.name) : Buffer.concat([path, Buffer.from('/'), c.name]);
        await visit(c.node, child);
      }
    }
  };
  await visit(root, Buffer.alloc(0));
  return { expected, paths };
}

const sortedXattrs = (xs: readonly Xattr[]) =>
  [...xs]
    .map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`)
    .sort()
    .join(',');

/** Everything our reader sees that differs from the model. */
async function readBackDiffs(image: Uint8Array, root: DirNode): Promise<string[]> {
  const { expected, paths } = await model(root);
  const diffs: string[] = [];
  const byNumber = new Map<number, string[]>();
  const img = await openImage(image);
  try {
    for await (const { path, inode } of img.walk()) {
      const key = Buffer.from(path).toString('latin1');
      const say = (what: string) => diffs.push(`${JSON.stringify(key)}: ${what}`);
      const e = expected.get(key);
      if (e === undefined) {
        say('read, not in the tree');
        continue;
      }
      expected.delete(key);
      const kind = KIND_OF_TYPE[inode.type > 7 ? inode.type - 7 : inode.type];
      if (kind !== e.kind) say(`kind ${kind}, expected ${e.kind}`);
      if (inode.mode !== e.meta.mode) say(`mode ${inode.mode.toString(8)}`);
      if (inode.mtime !== e.meta.mtime) say(`mtime ${inode.mtime}, expected ${e.meta.mtime}`);
      const owner = await img.owner(inode);
      if (owner.uid !== e.meta.uid || owner.gid !== e.meta.gid)
        say(`owner ${owner.uid}:${owner.gid}, expected ${e.meta.uid}:${e.meta.gid}`);
      const xattrs = sortedXattrs(await img.xattrs(inode));
      if (xattrs !== sortedXattrs(e.meta.xattrs ?? [])) say(`xattrs ${xattrs}`);
      if (e.content !== undefined) {
        const parts: Uint8Array[] = [];
        for await (const c of img.readFile(inode)) parts.push(c);
        const got = Buffer.concat(parts);
        if (Buffer.compare(got, e.content) !== 0)
          say(`content of ${got.length} bytes differs from the ${e.content.length} written`);
      }
      if (e.target !== undefined && Buffer.compare(img.readlink(inode), e.target) !== 0)
        say('symlink target differs');
      if (e.rdev !== undefined) {
        const d = decodeRdev((inode as DeviceInode).rdev);
        if (d.major !== e.rdev.major || d.minor !== e.rdev.minor)
          say(`device ${d.major}:${d.minor}`);
      }
      if (kind !== 'dir')
        byNumber.set(inode.inodeNumber, [...(byNumber.get(inode.inodeNumber) ?? []), key]);
    }
  } finally {
    await img.close();
  }
  for (const key of expected.keys()) diffs.push(`${JSON.stringify(key)}: in the tree, not read`);
  const groups = (lists: Iterable<string[]>) =>
    [...lists]
      .filter((g) => g.length > 1)
      .map((g) => JSON.stringify(g.sort()))
      .sort()
      .join(';');
  const want = groups([...paths.entries()].filter(([n]) => n.kind !== 'dir').map(([, p]) => p));
  if (groups(byNumber.values()) !== want)
    diffs.push(`hard links ${groups(byNumber.values())}, expected ${want}`);
  return diffs;
}

function writeOptions(o: OptionsSpec): WriteOptions {
  return {
    compression: { name: o.compression },
    blockSize: 2 ** o.blockLog,
    fragments: o.fragments,
    duplicates: o.duplicates,
    sparse: o.sparse,
    exports: o.exports,
    // The properties here are about the format; compressing on this thread keeps hundreds of
    // images from each starting worker threads (the pool has its own tests, which show that the
    // bytes do not depend on the worker count).
    workers: 0,
  };
}

async function writeToMemory(root: DirNode, options: WriteOptions): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeImage(root, sink, options);
  return sink.result!;
}

interface Case {
  spec: Spec;
  options: OptionsSpec;
  links: [number, number, Uint8Array][];
}
const caseArb: fc.Arbitrary<Case> = fc.record({
  spec: specArb,
  options: optionsArb,
  links: linksArb,
});

function treeOf(c: Case): DirNode {
  const root = build(c.spec, 2 ** c.options.blockLog) as DirNode;
  addLinks(root, c.links);
  return root;
}

/** A symlink on a Linux host is always 0777: unsquashfs cannot restore any other mode. */
function hostSymlinkModes(dir: DirNode): void {
  for (const e of dir.entries) {
    if (e.node.kind === 'symlink') e.node.mode = 0o777;
    if (e.node.kind === 'dir') hostSymlinkModes(e.node);
  }
}

describe('property: write, read back, verify', () => {
  it(`${RUNS} random trees and option sets read back identically; verify finds no problem`, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const root = treeOf(c);
        const options = writeOptions(c.options);
        const image = await writeToMemory(root, options);
        expect(await readBackDiffs(image, root)).toEqual([]);
        const result = await verifyImage(image);
        expect(
          result.problems.map((p) => `${p.severity} ${p.rule} ${p.structure}: ${p.message}`),
        ).toEqual([]);
        expect(result.stats.complete).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED, path: PATH, endOnFailure: true },
    );
  }, 120_000);
});

const suite = requireOracle('unsquashfs', 'getfattr', 'root', 'mknod');
suite('property: a sample against unsquashfs', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await makeTempDir('property');
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  it('6 random images: what unsquashfs extracts equals what our reader sees', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const root = treeOf(c);
        hostSymlinkModes(root);
        const image = join(work.path, `sample-${n}.sqfs`);
        await writeFile(image, await writeToMemory(root, writeOptions(c.options)));
        const extracted = join(work.path, `sample-${n++}`);
        await unsquashfsExtract(image, extracted);
        expect(await compareReaderWith(image, extracted)).toEqual([]);
      }),
      { numRuns: 6, seed: SEED + 1, endOnFailure: true },
    );
  }, 120_000);
});
