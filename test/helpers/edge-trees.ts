/**
 * Edge-case source trees built on disk for the oracle tests (issue 2, "How it must be shown").
 * Each tree is deterministic: contents come from a seeded PRNG, every mode is set explicitly
 * (no umask dependence) and every mtime is fixed, so two builds give equal trees.
 *
 * Trees are grouped so that a test matrix can pick them; TREE_NEEDS says which capabilities a
 * tree needs (devices and arbitrary owners need root).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './fs-util.js';
import { oracleStatus, type OracleName } from './oracles.js';
import { walkTree, type Region } from './tree-compare.js';

export type TreeName =
  | 'basic'
  | 'links'
  | 'special'
  | 'names'
  | 'owners'
  | 'big-dir'
  | 'deep'
  | 'sparse-huge'
  | 'xattrs';

export const TREE_NAMES: readonly TreeName[] = [
  'basic',
  'links',
  'special',
  'names',
  'owners',
  'big-dir',
  'deep',
  'sparse-huge',
  'xattrs',
];

/** Capabilities each tree needs to be built (see oracles.ts). */
export const TREE_NEEDS: Record<TreeName, OracleName[]> = {
  basic: [],
  links: [],
  special: ['root', 'mknod'],
  names: [],
  owners: ['root'],
  'big-dir': [],
  deep: [],
  'sparse-huge': [],
  xattrs: ['xattrs'],
};

export interface EdgeTree {
  name: TreeName;
  /** The tree's root directory (a fresh directory of its own). */
  dir: string;
  cleanup(): Promise<void>;
  /** What the tree covers and what it cannot, for test output. */
  notes: string[];
  /** Where data lives in huge sparse files, for compareTrees' hugeFileRegions. */
  hugeFileRegions?: Record<string, Region[]>;
}

export interface TreeOptions {
  /** Block size the size-sensitive files are cut around (basic). Default 131072. */
  blockSize?: number;
  /** big-dir: number of entries. Default 10 000. */
  entries?: number;
  /** deep: nesting depth. Default 64. */
  depth?: number;
  /** sparse-huge: file size. Default 4 GiB + 4 MiB (over 2^32, the point of the tree). */
  hugeSize?: number;
  /** owners: number of files with distinct owners. Default 1500 (ids then fill 2 id-table blocks). */
  idFiles?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Base of the fixed mtimes given to entries without an explicit one. */
const BASE_TIME = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------------

/** A seeded 32-bit generator (a Weyl sequence through a multiply-xorshift mixer). */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }
}

/** Incompressible bytes. */
export function randomBytes(seed: number, length: number): Buffer {
  const prng = new Prng(seed);
  const buf = Buffer.alloc(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) buf.writeUInt32LE(prng.next(), i);
  for (; i < length; i++) buf[i] = prng.next() & 0xff;
  return buf;
}

const WORDS = (
  'squashfs inode block fragment directory table metadata compress gzip xz lzma zero sparse ' +
  'kernel mount loop device symlink hard link owner group mode time xattr user trusted the of ' +
  'and a to in is that it for on with as was at by this be from or have an'
).split(' ');

/** Compressible text of exactly `length` bytes (ASCII words, spaces and newlines). */
export function textBytes(seed: number, length: number): Buffer {
  const prng = new Prng(seed);
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const word = WORDS[prng.next() % WORDS.length]!;
    const sep = prng.next() % 12 === 0 ? '\n' : ' ';
    parts.push(word, sep);
    size += word.length + 1;
  }
  return Buffer.from(parts.join('').slice(0, length), 'latin1');
}

// ---------------------------------------------------------------------------------------------
// A small builder that remembers explicit times
// ---------------------------------------------------------------------------------------------

type Name = string | Buffer;

class TreeBuilder {
  private readonly explicitTimes = new Set<string>();
  readonly notes: string[] = [];

  constructor(readonly root: string) {}

  /** Absolute path as bytes, so names need not be UTF-8. */
  path(rel: Name | Name[]): Buffer {
    const parts = (Array.isArray(rel) ? rel : [rel]).map((p) =>
      typeof p === 'string' ? Buffer.from(p) : p,
    );
    return Buffer.concat([Buffer.from(this.root), ...parts.flatMap((p) => [Buffer.from('/'), p])]);
  }

  dir(rel: Name | Name[], mode = 0o755): Buffer {
    const p = this.path(rel);
    mkdirSync(p, { recursive: true });
    chmodSync(p, mode);
    return p;
  }

  file(rel: Name | Name[], data: Uint8Array | string, mode = 0o644): Buffer {
    const p = this.path(rel);
    writeFileSync(p, data);
    chmodSync(p, mode);
    return p;
  }

  symlink(rel: Name | Name[], target: Name): Buffer {
    const p = this.path(rel);
    symlinkSync(target, p);
    return p;
  }

  link(existing: Name | Name[], rel: Name | Name[]): void {
    linkSync(this.path(existing), this.path(rel));
  }

  fifo(rel: Name | Name[], mode = 0o644): Buffer {
    const p = this.path(rel);
    exec('mkfifo', ['-m', mode.toString(8), p.toString()]);
    return p;
  }

  /**
   * Node has no bind() without listen(), and closing a listening server unlinks its socket file,
   * so a child process listens and exits without closing: the socket file stays behind.
   */
  socket(rel: Name | Name[], mode = 0o755): Buffer {
    const p = this.path(rel);
    exec(process.execPath, [
      '-e',
      "require('net').createServer().listen(process.argv[1], () => process.exit(0))",
      p.toString(),
    ]);
    chmodSync(p, mode);
    return p;
  }

  device(rel: Name | Name[], type: 'c' | 'b', major: number, minor: number, mode = 0o644): Buffer {
    const p = this.path(rel);
    exec('mknod', ['-m', mode.toString(8), p.toString(), type, String(major), String(minor)]);
    return p;
  }

  /** Sets an mtime that the final pass must not overwrite (works on symlinks too). */
  time(rel: Name | Name[], seconds: number): void {
    const p = this.path(rel);
    lutimesSync(p, seconds, seconds);
    this.explicitTimes.add(p.toString('latin1'));
  }

  /**
   * Gives every entry without an explicit time a fixed, distinct mtime (61 s apart so that even
   * minute-precision listings tell neighbours apart). Runs last: creating entries changes the
   * parent's mtime, setting times does not.
   */
  finishTimes(): void {
    const entries = [...walkTree(this.root).values()].sort((x, y) => Buffer.compare(x.rel, y.rel));
    entries.forEach((entry, index) => {
      if (this.explicitTimes.has(entry.abs.toString('latin1'))) return;
      const t = BASE_TIME + index * 61;
      lutimesSync(entry.abs, t, t);
    });
  }
}

function exec(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

function setfattr(path: Buffer, name: string, value: Uint8Array): void {
  // -v 0x... passes exact bytes; without -v the value is empty.
  const args = ['-h', '-n', name];
  if (value.length > 0) args.push('-v', `0x${Buffer.from(value).toString('hex')}`);
  exec('setfattr', [...args, path.toString()]);
}

// ---------------------------------------------------------------------------------------------
// The trees
// ---------------------------------------------------------------------------------------------

/** Builds one edge-case tree in a fresh temp directory. Throws if a needed capability is missing. */
export async function buildEdgeTree(name: TreeName, options: TreeOptions = {}): Promise<EdgeTree> {
  const missing = TREE_NEEDS[name].map(oracleStatus).filter((s) => !s.available);
  if (missing.length > 0) {
    throw new Error(
      `tree ${name} cannot be built here: ${missing.map((s) => s.reason).join('; ')}`,
    );
  }
  const tmp = await makeTempDir(`tree-${name}`);
  const root = join(tmp.path, name);
  const b = new TreeBuilder(root);
  b.dir([]);
  let hugeFileRegions: Record<string, Region[]> | undefined;
  try {
    switch (name) {
      case 'basic':
        buildBasic(b, options.blockSize ?? 128 * KiB);
        break;
      case 'links':
        buildLinks(b);
        break;
      case 'special':
        buildSpecial(b);
        break;
      case 'names':
        buildNames(b);
        break;
      case 'owners':
        buildOwners(b, options.idFiles ?? 1500);
        break;
      case 'big-dir':
        buildBigDir(b, options.entries ?? 10_000);
        break;
      case 'deep':
        buildDeep(b, options.depth ?? 64);
        break;
      case 'sparse-huge':
        hugeFileRegions = buildSparseHuge(b, options.hugeSize ?? 4 * GiB + 4 * MiB);
        break;
      case 'xattrs':
        buildXattrs(b);
        break;
    }
    b.finishTimes();
  } catch (err) {
    await tmp.cleanup();
    throw err;
  }
  const tree: EdgeTree = { name, dir: root, cleanup: tmp.cleanup, notes: b.notes };
  if (hugeFileRegions) tree.hugeFileRegions = hugeFileRegions;
  return tree;
}

/** Files cut around the block size, duplicates, fragments, and a small sparse file. */
function buildBasic(b: TreeBuilder, blockSize: number): void {
  b.notes.push(`sizes around block size ${blockSize}`);
  b.dir('empty');
  b.file(['empty', 'empty-a'], '');
  b.file(['empty', 'empty-b'], '');
  b.dir(['empty', 'empty-dir']);

  b.dir('sizes');
  b.file(['sizes', 'one-byte'], 'x');
  b.file(['sizes', 'block-minus-1'], randomBytes(11, blockSize - 1));
  b.file(['sizes', 'block-exact'], randomBytes(12, blockSize));
  b.file(['sizes', 'block-plus-1'], randomBytes(13, blockSize + 1));
  b.file(['sizes', 'two-blocks-exact'], randomBytes(14, 2 * blockSize));

  b.dir('multi');
  b.file(['multi', 'random.bin'], randomBytes(21, 3 * blockSize + Math.floor(blockSize / 3)));
  b.file(['multi', 'text.txt'], textBytes(22, 3 * blockSize + 777));
  // A zero block inside an ordinary file: mksquashfs stores it as a sparse block.
  b.file(
    ['multi', 'zero-block-inside.bin'],
    Buffer.concat([
      randomBytes(23, blockSize),
      Buffer.alloc(blockSize),
      randomBytes(24, blockSize / 2),
    ]),
  );
  b.file(['multi', 'all-zero-written.bin'], Buffer.alloc(2 * blockSize + 5));
  // Runs of data blocks broken by zero blocks: the writer queues a chunk's consecutive raw
  // blocks as one run, which must end at a zero block and start again after it.
  b.file(
    ['multi', 'runs-and-zeros.bin'],
    Buffer.concat([
      randomBytes(25, 2 * blockSize),
      Buffer.alloc(blockSize),
      randomBytes(26, 3 * blockSize),
      Buffer.alloc(2 * blockSize),
      randomBytes(27, blockSize + 17),
    ]),
  );

  // Duplicates: whole files in different folders, a same-size near-copy (must not dedup), and
  // small duplicates that live in fragments.
  const copy = randomBytes(31, 2 * blockSize + 100);
  const nearCopy = Buffer.from(copy);
  nearCopy[nearCopy.length - 1] = nearCopy[nearCopy.length - 1]! ^ 0xff;
  const small = textBytes(32, Math.floor(blockSize / 8) + 3);
  for (const d of ['a', 'b', 'c']) b.dir(['dup', d]);
  b.file(['dup', 'a', 'copy.bin'], copy);
  b.file(['dup', 'b', 'copy.bin'], copy);
  b.file(['dup', 'c', 'near-copy.bin'], nearCopy);
  b.file(['dup', 'a', 'small.txt'], small);
  b.file(['dup', 'b', 'small.txt'], small);
  b.file(['dup', 'c', 'small-copy.txt'], small);

  // Small files totalling 3.5 blocks: mostly random (incompressible) so that they need at least
  // four fragment blocks whatever the compressor.
  b.dir('frags');
  const prng = new Prng(41);
  let total = 0;
  for (let i = 0; total < 3.5 * blockSize; i++) {
    const size = prng.int(Math.floor(blockSize / 32), Math.floor(blockSize / 8));
    const data = i % 3 === 2 ? textBytes(1000 + i, size) : randomBytes(1000 + i, size);
    b.file(['frags', `f-${String(i).padStart(3, '0')}`], data);
    total += size;
  }

  // Holes in a small file: written only at two places, the rest never allocated.
  b.dir('sparse');
  const holes = b.path(['sparse', 'holes.bin']);
  const fd = openSync(holes, 'w', 0o644);
  try {
    ftruncateSync(fd, 4 * blockSize + 123);
    writeSync(fd, randomBytes(51, blockSize / 2), 0, blockSize / 2, blockSize);
    writeSync(fd, randomBytes(52, 1000), 0, 1000, 3 * blockSize + 5);
  } finally {
    closeSync(fd);
  }
  chmodSync(holes, 0o644);
}

/** Hard links (3 names, an empty file, a symlink) and symlinks of every shape. */
function buildLinks(b: TreeBuilder): void {
  b.file('target.txt', textBytes(61, 5000));
  b.dir(['hl', 'deeper']);
  b.link('target.txt', ['hl', 'second']);
  b.link('target.txt', ['hl', 'deeper', 'third']);
  b.file('empty-linked-a', '');
  b.link('empty-linked-a', 'empty-linked-b');

  b.dir('sym');
  b.symlink(['sym', 'relative'], '../target.txt');
  b.symlink(['sym', 'to-symlink'], 'relative');
  b.symlink(['sym', 'absolute'], '/etc/passwd');
  b.symlink(['sym', 'dangling'], 'does/not/exist');
  b.symlink(['sym', 'to-dir'], '../hl');
  b.symlink(['sym', 'one-char'], 'x');
  b.symlink(['sym', 'long-4095'], longTarget(4095));
  b.notes.push(
    'the longest symlink target Linux can store is 4095 bytes (PATH_MAX counts the NUL); a 4096-byte target needs an in-memory tree',
  );
  // link(2) on a symlink links the symlink itself on Linux: one symlink inode, two names.
  b.symlink(['sym', 'hardlinked-symlink'], '../target.txt');
  b.link(['sym', 'hardlinked-symlink'], ['sym', 'hardlinked-symlink-2']);
  if (lstatSync(b.path(['sym', 'hardlinked-symlink'])).nlink !== 2) {
    throw new Error('link() on a symlink did not create a hard-linked symlink');
  }
}

/** A relative-looking target of exactly `length` bytes made of path components. */
function longTarget(length: number): string {
  let target = '';
  for (let i = 0; target.length < length; i++) target += `component-${String(i).padStart(4, '0')}/`;
  return target.slice(0, length - 1) + 'z';
}

/** Fifos, sockets, devices, special mode bits, and extreme times. */
function buildSpecial(b: TreeBuilder): void {
  b.dir('ipc');
  b.fifo(['ipc', 'fifo']);
  b.link(['ipc', 'fifo'], ['ipc', 'fifo-hardlink']);
  b.socket(['ipc', 'socket']);

  b.dir('dev');
  b.device(['dev', 'char-1-3'], 'c', 1, 3, 0o666);
  b.device(['dev', 'char-259-300'], 'c', 259, 300);
  b.device(['dev', 'block-8-1'], 'b', 8, 1, 0o660);
  // The largest numbers the kernel's 12:20-bit dev_t and squashfs's 32-bit field can hold.
  b.device(['dev', 'char-4095-1048575'], 'c', 4095, 1048575, 0o600);

  b.dir('modes');
  b.file(['modes', 'setuid'], '#!/bin/sh\n', 0o4755);
  b.file(['modes', 'setgid'], '#!/bin/sh\n', 0o2755);
  b.file(['modes', 'all-bits'], 'all\n', 0o7777);
  b.file(['modes', 'mode-0000'], 'nobody may read\n', 0o000);
  b.file(['modes', 'odd-0421'], 'odd\n', 0o421);
  b.dir(['modes', 'sticky-dir'], 0o1777);
  b.dir(['modes', 'setgid-dir'], 0o2775);
  // Create the content first: a 0000 directory is entered only because we are root.
  b.dir(['modes', 'dir-0000']);
  b.file(['modes', 'dir-0000', 'inside'], 'inside a 0000 dir\n');
  chmodSync(b.path(['modes', 'dir-0000']), 0o000);

  b.dir('times');
  b.file(['times', 'epoch-0'], 'time 0\n');
  b.time(['times', 'epoch-0'], 0);
  b.file(['times', 'max-u32'], 'time 2^32-1\n');
  b.time(['times', 'max-u32'], 2 ** 32 - 1);
  b.dir(['times', 'dir-epoch-0']);
  b.time(['times', 'dir-epoch-0'], 0);
  b.symlink(['times', 'symlink-max-u32'], 'max-u32');
  b.time(['times', 'symlink-max-u32'], 2 ** 32 - 1);
  b.fifo(['times', 'fifo-1']);
  b.time(['times', 'fifo-1'], 1);
  b.notes.push('mtimes 0 and 2^32-1 on a file, a dir, a symlink and a fifo');
}

/** Names that are not UTF-8, names at the 255-byte limit, and names that sort awkwardly. */
function buildNames(b: TreeBuilder): void {
  b.dir('bytes');
  b.file(['bytes', Buffer.from([0x6e, 0xff, 0xfe, 0x2d, 0x80, 0x78])], 'not utf-8\n');
  b.file(['bytes', Buffer.from([0x63, 0x61, 0x66, 0xe9])], 'latin-1 café\n');
  b.file(['bytes', 'ünïcödé-名前'], 'utf-8\n');
  b.file(['bytes', 'back\\slash'], 'backslash\n');
  b.file(['bytes', 'tab\tand space'], 'whitespace\n');
  b.file(['bytes', '\x01control'], 'control byte\n');
  b.notes.push('no name contains a newline: unsquashfs -lln output is line-based');

  b.dir('long');
  b.file(['long', 'L'.repeat(255)], '255-byte name\n');
  b.file(['long', '€'.repeat(85)], '255 bytes of 3-byte UTF-8\n');
  b.dir(['long', 'D'.repeat(255)]);
  b.file(['long', 'D'.repeat(255), 'f'], 'inside a 255-byte dir name\n');
  b.notes.push(
    '256-byte names cannot exist on ext4 (NAME_MAX 255); test them with an in-memory tree',
  );

  // Unsigned byte order puts 'A' < 'a' < 'a b'... < 0x80+ bytes; prefixes test the sort and runs.
  b.dir('order');
  for (const n of ['a', 'A', 'a b', 'a-b', 'a.b', 'a_b', 'ab', 'aB', 'z', '~', 'é', 'Z']) {
    b.file(['order', n], `${n}\n`);
  }
  for (let k = 0; k < 8; k++) b.file(['order', `prefix${'x'.repeat(k * 16)}`], `${k}\n`);
}

/** Many distinct owners: more ids than one 8 KiB id-table block holds (2048). */
function buildOwners(b: TreeBuilder, count: number): void {
  b.dir('ids');
  const half = Math.floor(count / 2);
  for (let i = 0; i < count; i++) {
    const p = b.file(['ids', `f-${String(i).padStart(4, '0')}`], '');
    // gids overlap half of the uids: the id table must hold each value once.
    chownSync(p, 1000 + i, 1000 + half + i);
  }
  b.notes.push(`${count + half} distinct ids from ${count} files, plus extremes`);

  const extremes: [string, number, number][] = [
    ['root', 0, 0],
    ['nobody', 65534, 65534],
    ['u16-max', 65535, 65536],
    ['u32-max', 4294967294, 4294967294], // 2^32-1 means "unchanged" to chown, so 2^32-2
  ];
  b.dir('extremes');
  for (const [name, uid, gid] of extremes)
    chownSync(b.file(['extremes', name], `${name}\n`), uid, gid);

  const dir = b.dir('owned-dir');
  chownSync(dir, 4242, 4343);
  lchownSync(b.symlink(['owned-dir', 'owned-symlink'], '../extremes/root'), 777, 888);
  // chown clears setuid/setgid, so the mode is set after it.
  const suid = b.file('setuid-owned', '#!/bin/sh\n');
  chownSync(suid, 1234, 5678);
  chmodSync(suid, 0o6755);
}

/** One directory with many entries of mixed types and name lengths (directory index). */
function buildBigDir(b: TreeBuilder, count: number): void {
  b.dir('big');
  for (let i = 0; i < count; i++) {
    const name = `entry-${String(i).padStart(5, '0')}-${'x'.repeat(i % 37)}`;
    if (i % 500 === 0) {
      b.dir(['big', name]);
      b.file(['big', name, 'inside'], `${i}\n`);
    } else if (i % 333 === 0) {
      b.symlink(
        ['big', name],
        `entry-${String(i - 1).padStart(5, '0')}-${'x'.repeat((i - 1) % 37)}`,
      );
    } else if (i % 97 === 0) {
      b.file(['big', name], textBytes(i, 100 + (i % 1000)));
    } else {
      b.file(['big', name], '');
    }
  }
  b.notes.push(
    `${count} entries in big/ (dirs every 500th, symlinks every 333rd, data every 97th)`,
  );
}

/** A chain of nested directories with a file at every level. */
function buildDeep(b: TreeBuilder, depth: number): void {
  const parts: string[] = [];
  for (let level = 1; level <= depth; level++) {
    parts.push(`level-${String(level).padStart(2, '0')}`);
    b.dir(parts);
    b.file([...parts, 'f'], `level ${level}\n`);
  }
  b.symlink([...parts, 'up-to-top'], '../'.repeat(depth) + 'level-01/f');
  b.notes.push(`${depth} nested directories`);
}

/** One file over 4 GiB with data only at 0, just past 4 GiB, and at the end. */
function buildSparseHuge(b: TreeBuilder, size: number): Record<string, Region[]> {
  const writes: { offset: number; data: Buffer }[] = [
    { offset: 0, data: randomBytes(71, 64 * KiB) },
    { offset: 4 * GiB + 1, data: randomBytes(72, 64 * KiB) },
    { offset: size - 1000, data: randomBytes(73, 1000) },
  ];
  const p = b.path('huge.bin');
  const fd = openSync(p, 'w', 0o644);
  try {
    ftruncateSync(fd, size);
    for (const w of writes) writeSync(fd, w.data, 0, w.data.length, w.offset);
  } finally {
    closeSync(fd);
  }
  chmodSync(p, 0o644);
  b.file('small.txt', 'beside the huge file\n');
  b.notes.push(`huge.bin: ${size} bytes, data at 0, 4 GiB+1 and the end; compared by sampling`);
  return { 'huge.bin': writes.map((w) => ({ offset: w.offset, length: w.data.length })) };
}

/** user.* and trusted.* xattrs: binary, empty, large, many, shared sets, on dirs/symlinks/fifos. */
function buildXattrs(b: TreeBuilder): void {
  const text = (s: string) => Buffer.from(s);
  const plain = b.file('plain.txt', 'has xattrs\n');
  setfattr(plain, 'user.comment', text('hello world'));
  setfattr(plain, 'user.binary', Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  setfattr(plain, 'user.empty', Buffer.alloc(0));
  setfattr(plain, 'trusted.secret', text('s3cr3t'));

  // Identical sets on several inodes: squashfs stores one xattr id for all of them.
  for (const n of ['shared-1', 'shared-2', 'shared-3']) {
    const p = b.file(n, `${n}\n`);
    setfattr(p, 'user.shared', text('same value everywhere'));
    setfattr(p, 'trusted.shared', text('t'));
  }
  // Same value under another name (value sharing across different keys).
  setfattr(b.file('same-value.txt', 'x\n'), 'user.other', text('hello world'));

  const many = b.file('many.txt', 'many\n');
  for (let i = 0; i < 20; i++)
    setfattr(many, `user.k${String(i).padStart(2, '0')}`, text(`value-${i}`));
  // ext4 keeps all of an inode's xattrs within one 4 KiB block, so 2000 bytes is a safe "large".
  setfattr(b.file('big-value.txt', 'big\n'), 'user.big', textBytes(81, 2000));

  const dir = b.dir('dir');
  setfattr(dir, 'user.dir', text('directory attr'));
  setfattr(dir, 'trusted.dir', text('trusted directory attr'));
  // user.* is not allowed on symlinks and fifos (Linux restricts it to files and dirs).
  setfattr(b.symlink('symlink', 'plain.txt'), 'trusted.link', text('on the link itself'));
  setfattr(b.fifo('fifo'), 'trusted.fifo', text('on a fifo'));
  b.file('none.txt', 'no xattrs\n');
  b.notes.push('security.* is not set: its values depend on the host LSM');
}
