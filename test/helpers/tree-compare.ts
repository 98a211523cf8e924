/**
 * compareTrees: does a tree on disk (an unsquashfs extraction, a kernel mount) equal the source
 * tree it was made from? Walks both with lstat and raw-byte names and reports every difference in
 * words: names, types, permission bits, owners, mtimes (seconds, as squashfs stores them),
 * contents, symlink targets, device numbers, hard-link groups and xattrs.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { displayPath, run } from './fs-util.js';
import type { ListEntry } from './oracles.js';

export interface Region {
  offset: number;
  length: number;
}

export interface CompareOptions {
  /** Skip mode, owner, mtime and xattrs of the two roots (e.g. a mountpoint vs a source dir). */
  ignoreRootMeta?: boolean;
  ignoreMtimes?: boolean;
  ignoreOwners?: boolean;
  ignoreHardLinks?: boolean;
  /** Compare xattrs (needs getfattr). Default true. */
  xattrs?: boolean;
  /** Which xattr name prefixes count. Default user. and trusted.; security.* depends on the host's LSM. */
  xattrNamespaces?: string[];
  /**
   * Files larger than this are compared by sampling, not read whole: size, first and last
   * 16 MiB, 1 MiB around every GiB boundary, and hugeFileRegions. Default 256 MiB.
   */
  hugeFileThreshold?: number;
  /** Extra regions to compare in a huge file, by relative path (e.g. where the data was written). */
  hugeFileRegions?: Record<string, Region[]>;
  /** Stop collecting after this many differences. Default 200. */
  maxDifferences?: number;
}

export type EntryKind = 'dir' | 'file' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface TreeEntry {
  /** Path relative to the root, raw bytes; empty for the root itself. */
  rel: Buffer;
  abs: Buffer;
  kind: EntryKind;
  st: BigIntStats;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CHUNK = MiB;

/** Every entry under root (root included), keyed by the latin1 form of its relative path. */
export function walkTree(root: string): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>();
  const visit = (rel: Buffer, abs: Buffer) => {
    const st = lstatSync(abs, { bigint: true });
    const entry: TreeEntry = { rel, abs, kind: kindOf(st), st };
    entries.set(rel.toString('latin1'), entry);
    if (entry.kind !== 'dir') return;
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const childRel = rel.length === 0 ? name : Buffer.concat([rel, SLASH, name]);
      visit(childRel, Buffer.concat([abs, SLASH, name]));
    }
  };
  visit(Buffer.alloc(0), Buffer.from(root));
  return entries;
}

const SLASH = Buffer.from('/');

function kindOf(st: BigIntStats): EntryKind {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  throw new Error(`unknown file type, mode ${st.mode.toString(8)}`);
}

/** glibc's gnu_dev_major/minor on a 64-bit dev_t. */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn & 0xffffffffn);
  return { major: Number(major), minor: Number(minor) };
}

/** Whole seconds, rounding towards minus infinity as squashfs (seconds only) would see them. */
function mtimeSeconds(st: BigIntStats): bigint {
  const ns = st.mtimeNs;
  const s = ns / 1_000_000_000n;
  return ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s;
}

class Differences {
  readonly list: string[] = [];
  private dropped = 0;
  constructor(private readonly max: number) {}
  add(path: Buffer, what: string): void {
    if (this.list.length < this.max) this.list.push(`${displayPath(path) || '/'}: ${what}`);
    else this.dropped++;
  }
  result(): string[] {
    return this.dropped > 0
      ? [...this.list, `... and ${this.dropped} more differences`]
      : this.list;
  }
}

/**
 * Compares the tree at actualDir against expectedDir. Returns human-readable differences; an
 * empty list means the trees are equal in everything compared.
 */
export async function compareTrees(
  expectedDir: string,
  actualDir: string,
  opts: CompareOptions = {},
): Promise<string[]> {
  const diffs = new Differences(opts.maxDifferences ?? 200);
  const expected = walkTree(expectedDir);
  const actual = walkTree(actualDir);

  for (const key of sortedKeys(new Set([...expected.keys(), ...actual.keys()]))) {
    const e = expected.get(key);
    const a = actual.get(key);
    if (!a) diffs.add(e!.rel, `missing (expected a ${e!.kind})`);
    else if (!e) diffs.add(a.rel, `unexpected ${a.kind}`);
    else await compareEntry(e, a, opts, diffs);
  }
  if (!opts.ignoreHardLinks) compareLinkGroups(expected, actual, diffs);
  if (opts.xattrs !== false) await compareXattrs(expectedDir, actualDir, opts, diffs);
  return diffs.result();
}

function sortedKeys(keys: Set<string>): string[] {
  return [...keys].sort((x, y) =>
    Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1')),
  );
}

async function compareEntry(
  e: TreeEntry,
  a: TreeEntry,
  opts: CompareOptions,
  diffs: Differences,
): Promise<void> {
  if (e.kind !== a.kind) {
    diffs.add(e.rel, `type expected ${e.kind}, actual ${a.kind}`);
    return;
  }
  const isRoot = e.rel.length === 0;
  if (!(isRoot && opts.ignoreRootMeta)) compareMeta(e, a, opts, diffs);
  switch (e.kind) {
    case 'file':
      await compareContents(e, a, opts, diffs);
      break;
    case 'symlink': {
      const te = readlinkSync(e.abs, { encoding: 'buffer' });
      const ta = readlinkSync(a.abs, { encoding: 'buffer' });
      if (!te.equals(ta))
        diffs.add(
          e.rel,
          `symlink target expected "${displayPath(te)}", actual "${displayPath(ta)}"`,
        );
      break;
    }
    case 'chardev':
    case 'blockdev': {
      const de = splitDev(e.st.rdev);
      const da = splitDev(a.st.rdev);
      if (de.major !== da.major || de.minor !== da.minor) {
        diffs.add(e.rel, `device expected ${de.major}:${de.minor}, actual ${da.major}:${da.minor}`);
      }
      break;
    }
    default:
      break;
  }
}

function compareMeta(e: TreeEntry, a: TreeEntry, opts: CompareOptions, diffs: Differences): void {
  // Symlink permission bits are always 0777 on Linux and meaningless; still equal, so compare.
  const me = Number(e.st.mode) & 0o7777;
  const ma = Number(a.st.mode) & 0o7777;
  if (me !== ma) diffs.add(e.rel, `mode expected ${octal(me)}, actual ${octal(ma)}`);
  if (!opts.ignoreOwners) {
    if (e.st.uid !== a.st.uid) diffs.add(e.rel, `uid expected ${e.st.uid}, actual ${a.st.uid}`);
    if (e.st.gid !== a.st.gid) diffs.add(e.rel, `gid expected ${e.st.gid}, actual ${a.st.gid}`);
  }
  if (!opts.ignoreMtimes) {
    const te = mtimeSeconds(e.st);
    const ta = mtimeSeconds(a.st);
    if (te !== ta) diffs.add(e.rel, `mtime expected ${te}, actual ${ta}`);
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(4, '0')}`;
}

async function compareContents(
  e: TreeEntry,
  a: TreeEntry,
  opts: CompareOptions,
  diffs: Differences,
): Promise<void> {
  const size = Number(e.st.size);
  if (e.st.size !== a.st.size) {
    diffs.add(e.rel, `size expected ${e.st.size}, actual ${a.st.size}`);
    return;
  }
  if (size === 0) return;
  if (size <= CHUNK) {
    // Small files dominate big trees: one synchronous read each is much faster than handles.
    const be = readFileSync(e.abs);
    const ba = readFileSync(a.abs);
    const at = firstDifference(be, ba);
    if (at >= 0) diffs.add(e.rel, `contents differ at byte ${at}`);
    return;
  }
  const threshold = opts.hugeFileThreshold ?? 256 * MiB;
  const regions =
    size > threshold
      ? hugeFileSamples(size, opts.hugeFileRegions?.[e.rel.toString('latin1')] ?? [])
      : [{ offset: 0, length: size }];
  const at = await firstDifferenceInRegions(e.abs, a.abs, regions);
  if (at >= 0) diffs.add(e.rel, `contents differ at byte ${at}`);
}

/** The regions sampled in a huge file: ends, GiB boundaries (32-bit overflows), and known data. */
export function hugeFileSamples(size: number, known: Region[]): Region[] {
  const regions: Region[] = [
    { offset: 0, length: 16 * MiB },
    { offset: size - 16 * MiB, length: 16 * MiB },
    ...known,
  ];
  for (let boundary = GiB; boundary < size; boundary += GiB) {
    regions.push({ offset: boundary - MiB / 2, length: MiB });
  }
  return regions
    .map((r) => {
      const offset = Math.max(0, r.offset);
      return { offset, length: Math.max(0, Math.min(size, r.offset + r.length) - offset) };
    })
    .filter((r) => r.length > 0)
    .sort((x, y) => x.offset - y.offset);
}

/** Offset of the first differing byte within the regions, or -1. */
async function firstDifferenceInRegions(
  pathE: Buffer,
  pathA: Buffer,
  regions: Region[],
): Promise<number> {
  const fe = await open(pathE, 'r');
  const fa = await open(pathA, 'r');
  try {
    const be = Buffer.alloc(CHUNK);
    const ba = Buffer.alloc(CHUNK);
    for (const region of regions) {
      for (let pos = region.offset; pos < region.offset + region.length; pos += CHUNK) {
        const want = Math.min(CHUNK, region.offset + region.length - pos);
        const [re, ra] = await Promise.all([
          readFully(fe, be, want, pos),
          readFully(fa, ba, want, pos),
        ]);
        const at = firstDifference(be.subarray(0, re), ba.subarray(0, ra));
        if (at >= 0) return pos + at;
      }
    }
    return -1;
  } finally {
    await fe.close();
    await fa.close();
  }
}

type Handle = Awaited<ReturnType<typeof open>>;

async function readFully(
  handle: Handle,
  buf: Buffer,
  want: number,
  position: number,
): Promise<number> {
  let got = 0;
  while (got < want) {
    const { bytesRead } = await handle.read(buf, got, want - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

function firstDifference(x: Buffer, y: Buffer): number {
  if (x.equals(y)) return -1;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return n;
}

/** Paths sharing an inode with each non-directory path, per tree. */
function linkGroups(tree: Map<string, TreeEntry>): Map<string, string[]> {
  const byInode = new Map<string, string[]>();
  for (const [key, entry] of tree) {
    if (entry.kind === 'dir') continue;
    const id = `${entry.st.dev}:${entry.st.ino}`;
    const group = byInode.get(id) ?? [];
    group.push(key);
    byInode.set(id, group);
  }
  const groupOf = new Map<string, string[]>();
  for (const group of byInode.values()) {
    const sorted = sortedKeys(new Set(group));
    for (const key of group) groupOf.set(key, sorted);
  }
  return groupOf;
}

/** A path is hard-linked to the same set of names in both trees (compared once per group). */
function compareLinkGroups(
  expected: Map<string, TreeEntry>,
  actual: Map<string, TreeEntry>,
  diffs: Differences,
): void {
  const ge = linkGroups(expected);
  const ga = linkGroups(actual);
  const reported = new Set<string>();
  for (const [key, groupE] of ge) {
    const groupA = ga.get(key);
    if (!groupA) continue; // missing or of another type: reported already
    const show = (g: string[]) =>
      `{${g.map((k) => displayPath(Buffer.from(k, 'latin1'))).join(', ')}}`;
    // Report once per expected group, not once per name in it.
    const label = groupE.join('\0');
    if (label !== groupA.join('\0') && !reported.has(label)) {
      reported.add(label);
      diffs.add(
        expected.get(key)!.rel,
        `hard links expected ${show(groupE)}, actual ${show(groupA)}`,
      );
    }
  }
}

/**
 * All xattrs under root with one `getfattr -R` (per-file calls would take minutes on a
 * 10 000-entry directory): -P does not follow symlinked dirs, -h reads a symlink's own xattrs.
 * Keyed like walkTree, values as hex.
 */
export async function readXattrs(
  dir: string,
  namespaces: string[],
): Promise<Map<string, Map<string, string>>> {
  // --absolute-names prints paths as given; an absolute root makes prefix stripping exact.
  const rootArg = resolve(dir);
  // Output is parsed as latin1 (one char per byte), so the root must be in that form too.
  const root = Buffer.from(rootArg).toString('latin1');
  const result = await run('getfattr', [
    '-R',
    '-P',
    '-h',
    '-d',
    '-m',
    '-',
    '--absolute-names',
    '-e',
    'hex',
    rootArg,
  ]);
  // A squashfs image without an xattr table answers listxattr with EOPNOTSUPP: no xattrs there.
  const problems = result.stderr
    .toString()
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith(': Operation not supported'));
  if (problems.length > 0 || (result.code !== 0 && result.stderr.length === 0)) {
    throw new Error(`getfattr -R ${rootArg} failed (exit ${result.code}):\n${problems.join('\n')}`);
  }
  const all = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  const rootPrefix = root === '/' ? '/' : `${root}/`;
  // getfattr writes names as raw bytes except that it escapes backslash and control bytes as \ooo.
  for (const line of result.stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = line
        .slice(8)
        .replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      const rel =
        path === root
          ? ''
          : path.startsWith(rootPrefix)
            ? path.slice(rootPrefix.length)
            : undefined;
      if (rel === undefined) throw new Error(`getfattr reported a path outside ${root}: ${path}`);
      current = new Map();
      all.set(rel, current);
    } else if (line !== '' && current) {
      const eq = line.indexOf('=');
      const name = eq < 0 ? line : line.slice(0, eq);
      const value = eq < 0 ? '' : line.slice(eq + 1).replace(/^0x/, '');
      if (namespaces.some((ns) => name.startsWith(ns))) current.set(name, value);
    }
  }
  return all;
}

async function compareXattrs(
  expectedDir: string,
  actualDir: string,
  opts: CompareOptions,
  diffs: Differences,
): Promise<void> {
  const namespaces = opts.xattrNamespaces ?? ['user.', 'trusted.'];
  const xe = await readXattrs(expectedDir, namespaces);
  const xa = await readXattrs(actualDir, namespaces);
  for (const key of sortedKeys(new Set([...xe.keys(), ...xa.keys()]))) {
    if (key === '' && opts.ignoreRootMeta) continue;
    const ae = xe.get(key) ?? new Map<string, string>();
    const aa = xa.get(key) ?? new Map<string, string>();
    const rel = Buffer.from(key, 'latin1');
    for (const name of [...new Set([...ae.keys(), ...aa.keys()])].sort()) {
      const ve = ae.get(name);
      const va = aa.get(name);
      if (ve === va) continue;
      if (va === undefined) diffs.add(rel, `xattr ${name} missing`);
      else if (ve === undefined) diffs.add(rel, `unexpected xattr ${name}`);
      else diffs.add(rel, `xattr ${name} expected 0x${ve}, actual 0x${va}`);
    }
  }
}

/**
 * Checks an `unsquashfs -lln` listing (see oracles.ts unsquashfsList) against a tree on disk:
 * the same paths, types, permission bits, owners, sizes of files, symlink targets and device
 * numbers, and mtimes to the minute (all the listing shows).
 */
export function compareListing(
  listing: ListEntry[],
  dir: string,
  opts: { ignoreRootMeta?: boolean } = {},
): string[] {
  const diffs = new Differences(200);
  const tree = walkTree(dir);
  const listed = new Map(listing.map((entry) => [entry.pathBytes.toString('latin1'), entry]));
  for (const key of sortedKeys(new Set([...tree.keys(), ...listed.keys()]))) {
    const t = tree.get(key);
    const l = listed.get(key);
    const rel = Buffer.from(key, 'latin1');
    if (!l) diffs.add(rel, `not listed (a ${t!.kind} in the tree)`);
    else if (!t) diffs.add(rel, `listed ${l.type} is not in the tree`);
    else if (t.kind !== l.type) diffs.add(rel, `listed as ${l.type}, is a ${t.kind}`);
    else compareListedEntry(t, l, key === '' && opts.ignoreRootMeta === true, diffs);
  }
  return diffs.result();
}

function compareListedEntry(
  t: TreeEntry,
  l: ListEntry,
  skipMeta: boolean,
  diffs: Differences,
): void {
  const want = (what: string, listed: unknown, actual: unknown) => {
    if (listed !== actual)
      diffs.add(t.rel, `listed ${what} ${String(listed)}, tree has ${String(actual)}`);
  };
  if (!skipMeta) {
    want('mode', octal(l.mode), octal(Number(t.st.mode) & 0o7777));
    want('uid', l.uid, Number(t.st.uid));
    want('gid', l.gid, Number(t.st.gid));
    const seconds = Number(mtimeSeconds(t.st));
    want('mtime minute', l.mtimeMinute, seconds - (((seconds % 60) + 60) % 60));
  }
  if (t.kind === 'file') want('size', l.size, Number(t.st.size));
  if (t.kind === 'symlink') {
    const target = readlinkSync(t.abs, { encoding: 'buffer' });
    if (!l.target?.equals(target)) diffs.add(t.rel, 'listed symlink target differs');
  }
  if (t.kind === 'chardev' || t.kind === 'blockdev') {
    const dev = splitDev(t.st.rdev);
    want('device', `${l.major}:${l.minor}`, `${dev.major}:${dev.minor}`);
  }
}
