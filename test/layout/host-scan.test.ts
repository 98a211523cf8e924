import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SquashfsError } from '../../src/squashfs/errors.js';
import type { DirNode, FileNode, FileSource, TreeNode } from '../../src/squashfs/tree.js';
import { scanSources, type ScanOptions } from '../../src/layout/host-scan.js';
import { HOST_READ_CHUNK } from '../../src/layout/host-file-source.js';

const isRoot = process.getuid?.() === 0;
/**
 * Root reads everything, so permission errors are tested as `nobody`: seteuid exists in forked
 * test processes (not in worker threads) and glibc applies it to libuv's threads as well.
 */
const canBeUnprivileged = !isRoot || typeof process.seteuid === 'function';
const NOBODY = 65534;

async function unprivileged<T>(fn: () => Promise<T>): Promise<T> {
  if (!isRoot) return fn();
  const { seteuid } = process;
  if (seteuid === undefined) throw new Error('seteuid is not available here');
  seteuid(NOBODY);
  try {
    return await fn();
  } finally {
    seteuid(0);
  }
}
const MiB = 1 << 20;

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system temp dir, removed after the test. */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsquashfs-scan-'));
  tempDirs.push(dir);
  return dir;
}

/** Writes files (string content) and directories (nested objects) under `dir`. */
function populate(dir: string, layout: Record<string, string | object>): void {
  for (const [name, content] of Object.entries(layout)) {
    const p = path.join(dir, name);
    if (typeof content === 'string') {
      fs.writeFileSync(p, content);
    } else {
      fs.mkdirSync(p);
      populate(p, content as Record<string, string | object>);
    }
  }
}

function names(dir: DirNode): string[] {
  return dir.entries.map((e) => Buffer.from(e.name).toString('utf8')).sort();
}

function child(dir: TreeNode, ...names: string[]): TreeNode {
  let node = dir;
  for (const name of names) {
    if (node.kind !== 'dir') throw new Error(`not a directory before ${name}`);
    const found = node.entries.find((e) => Buffer.from(e.name).equals(Buffer.from(name)));
    if (found === undefined) throw new Error(`no entry ${name}`);
    node = found.node;
  }
  return node;
}

function asDir(node: TreeNode): DirNode {
  if (node.kind !== 'dir') throw new Error(`expected a directory, got ${node.kind}`);
  return node;
}

function asFile(node: TreeNode): FileNode {
  if (node.kind !== 'file') throw new Error(`expected a file, got ${node.kind}`);
  return node;
}

async function readAll(source: FileSource): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source.read()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function scanError(promise: Promise<unknown>): Promise<SquashfsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SquashfsError);
  return err as SquashfsError;
}

function scanWithWarnings(sources: string[], options: ScanOptions = {}) {
  const warnings: string[] = [];
  const result = scanSources(sources, { ...options, onWarning: (m) => warnings.push(m) });
  return { result, warnings };
}

describe('scanSources: roots', () => {
  it.skipIf(!isRoot)('makes a single directory source the root with its metadata', async () => {
    const src = tempDir();
    populate(src, { a: 'alpha', sub: { b: 'beta' } });
    fs.chmodSync(src, 0o750);
    fs.chownSync(src, 1234, 5678);
    fs.utimesSync(src, 1_600_000_000, 1_600_000_000.75);

    const root = await scanSources([src]);

    expect(root).toMatchObject({ kind: 'dir', mode: 0o750, uid: 1234, gid: 5678 });
    expect(root.mtime).toBe(1_600_000_000);
    expect(names(root)).toEqual(['a', 'sub']);
    expect(names(asDir(child(root, 'sub')))).toEqual(['b']);
    const a = asFile(child(root, 'a'));
    expect(a.source.size).toBe(5);
    expect(a.source.description).toBe(path.join(src, 'a'));
    expect((await readAll(a.source)).toString()).toBe('alpha');
  });

  it('keeps file metadata: permission bits with setuid and sticky, owner, mtime', async () => {
    const src = tempDir();
    populate(src, { tool: 'x', shared: {} });
    fs.chmodSync(path.join(src, 'tool'), 0o4755);
    fs.chmodSync(path.join(src, 'shared'), 0o1777);
    fs.utimesSync(path.join(src, 'tool'), 1_700_000_000, 1_700_000_123);

    const root = await scanSources([src]);

    expect(child(root, 'tool')).toMatchObject({ kind: 'file', mode: 0o4755, mtime: 1_700_000_123 });
    expect(child(root, 'shared')).toMatchObject({ kind: 'dir', mode: 0o1777 });
    expect(child(root, 'tool').uid).toBe(fs.statSync(path.join(src, 'tool')).uid);
  });

  it('gathers several sources under a synthetic root, renaming repeated basenames', async () => {
    const top = tempDir();
    populate(top, {
      x: { data: { one: '1' } },
      y: { data: 'two' },
      z: { data: { three: '3' } },
      extra: 'e',
    });
    for (const [name, time] of [
      ['x/data', 1_500_000_000],
      ['y/data', 1_600_000_000],
      ['z/data', 1_550_000_000],
      ['extra', 1_400_000_000],
    ] as const) {
      fs.utimesSync(path.join(top, name), time, time);
    }
    const sources = ['x/data', 'y/data', 'z/data', 'extra'].map((s) => path.join(top, s));

    const { result, warnings } = scanWithWarnings(sources);
    const root = await result;

    expect(names(root)).toEqual(['data', 'data_1', 'data_2', 'extra']);
    expect(names(asDir(child(root, 'data')))).toEqual(['one']);
    expect(child(root, 'data_1').kind).toBe('file');
    expect(names(asDir(child(root, 'data_2')))).toEqual(['three']);
    expect(root).toMatchObject({
      mode: 0o777,
      uid: process.getuid?.(),
      gid: process.getgid?.(),
      mtime: 1_600_000_000,
    });
    expect(warnings.filter((w) => w.includes('data_'))).toHaveLength(2);
  });

  it('keeps a single directory under its name with keepAsDirectory', async () => {
    const top = tempDir();
    populate(top, { nix: { store: { f: 'x' } } });
    const root = await scanSources([path.join(top, 'nix')], { keepAsDirectory: true });

    expect(names(root)).toEqual(['nix']);
    expect(root.mode).toBe(0o777);
    expect(child(root, 'nix', 'store', 'f').kind).toBe('file');
  });

  it('puts a single non-directory source under a synthetic root', async () => {
    const top = tempDir();
    populate(top, { lone: 'just me' });
    const root = await scanSources([path.join(top, 'lone')]);

    expect(names(root)).toEqual(['lone']);
    expect(root.mode).toBe(0o777);
  });

  it('rejects a name squashfs cannot store (a renamed 255-byte basename)', async () => {
    const top = tempDir();
    const long = 'n'.repeat(255);
    populate(top, { a: { [long]: '' }, b: { [long]: '' } });
    const sources = [path.join(top, 'a', long), path.join(top, 'b', long)];

    const err = await scanError(scanSources(sources));
    expect(err.code).toBe('LIMIT');
    expect(err.message).toContain(path.join(top, 'b', long));
  });
});

describe('scanSources: file types', () => {
  it('stores symlinks as symlinks, dangling ones too, never following them', async () => {
    const src = tempDir();
    populate(src, { target: { inside: 'x' } });
    fs.symlinkSync('target', path.join(src, 'to-dir'));
    fs.symlinkSync('/nonexistent/nowhere', path.join(src, 'dangling'));

    const root = await scanSources([src]);

    expect(child(root, 'to-dir')).toMatchObject({ kind: 'symlink', mode: 0o777 });
    const toDir = child(root, 'to-dir');
    const dangling = child(root, 'dangling');
    if (toDir.kind !== 'symlink' || dangling.kind !== 'symlink') throw new Error('not symlinks');
    expect(Buffer.from(toDir.target).toString()).toBe('target');
    expect(Buffer.from(dangling.target).toString()).toBe('/nonexistent/nowhere');
  });

  it('stores a symlink given among several sources as a symlink', async () => {
    const top = tempDir();
    populate(top, { real: { f: '' }, other: '' });
    fs.symlinkSync('real', path.join(top, 'link'));

    const root = await scanSources([path.join(top, 'link'), path.join(top, 'other')]);
    expect(child(root, 'link').kind).toBe('symlink');
  });

  it('follows a lone source that is a symlink to a directory, as mksquashfs', async () => {
    const top = tempDir();
    populate(top, { real: { f: 'x' } });
    fs.symlinkSync('real', path.join(top, 'result'));

    const root = await scanSources([path.join(top, 'result')]);
    expect(names(root)).toEqual(['f']);
  });

  it('makes hard links one node object under every name', async () => {
    const src = tempDir();
    populate(src, { a: 'shared bytes', sub: {}, other: 'not linked' });
    fs.linkSync(path.join(src, 'a'), path.join(src, 'b'));
    fs.linkSync(path.join(src, 'a'), path.join(src, 'sub', 'c'));

    const root = await scanSources([src]);
    const a = child(root, 'a');
    expect(child(root, 'b')).toBe(a);
    expect(child(root, 'sub', 'c')).toBe(a);
    expect(child(root, 'other')).not.toBe(a);

    const unlinked = await scanSources([src], { hardLinks: false });
    expect(child(unlinked, 'b')).not.toBe(child(unlinked, 'a'));
  });

  it('finds hard links across sources', async () => {
    const top = tempDir();
    populate(top, { one: { f: 'x' }, two: {} });
    fs.linkSync(path.join(top, 'one', 'f'), path.join(top, 'two', 'g'));

    const root = await scanSources([path.join(top, 'one'), path.join(top, 'two')]);
    expect(child(root, 'two', 'g')).toBe(child(root, 'one', 'f'));
  });

  it('stores fifos and sockets', async () => {
    const src = tempDir();
    execFileSync('mkfifo', ['-m', '0640', path.join(src, 'pipe')]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(src, 'sock'), resolve));
    try {
      const root = await scanSources([src]);
      expect(child(root, 'pipe')).toMatchObject({ kind: 'fifo', mode: 0o640 });
      expect(child(root, 'sock').kind).toBe('socket');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.skipIf(!isRoot)('stores devices with their major and minor numbers', async () => {
    const src = tempDir();
    execFileSync('mknod', ['-m', '0600', path.join(src, 'nvme'), 'c', '259', '300']);
    execFileSync('mknod', ['-m', '0660', path.join(src, 'sda1'), 'b', '8', '1']);
    // Bits above the historical 8:8 layout on both sides.
    execFileSync('mknod', [path.join(src, 'big'), 'c', '4095', '1048575']);

    const root = await scanSources([src]);

    expect(child(root, 'nvme')).toMatchObject({
      kind: 'chardev',
      major: 259,
      minor: 300,
      mode: 0o600,
    });
    expect(child(root, 'sda1')).toMatchObject({
      kind: 'blockdev',
      major: 8,
      minor: 1,
      mode: 0o660,
    });
    expect(child(root, 'big')).toMatchObject({ kind: 'chardev', major: 4095, minor: 1048575 });
  });

  it('keeps a non-UTF-8 name as its bytes', async () => {
    const src = tempDir();
    const rawName = Buffer.from([0x66, 0xff, 0xfe]);
    fs.writeFileSync(Buffer.concat([Buffer.from(src + '/'), rawName]), 'raw');
    fs.symlinkSync(rawName, Buffer.concat([Buffer.from(src + '/'), Buffer.from('to-raw')]));

    const root = await scanSources([src]);
    const entry = root.entries.find((e) => Buffer.from(e.name).equals(rawName));
    expect(entry).toBeDefined();
    expect((await readAll(asFile(entry!.node).source)).toString()).toBe('raw');
    const link = child(root, 'to-raw');
    if (link.kind !== 'symlink') throw new Error('not a symlink');
    expect(Buffer.from(link.target)).toEqual(rawName);
  });

  it('marks files with holes as sparse on disk', async () => {
    const src = tempDir();
    populate(src, { dense: 'x'.repeat(100_000) });
    const fd = fs.openSync(path.join(src, 'holes'), 'w');
    fs.ftruncateSync(fd, 8 * MiB);
    fs.closeSync(fd);

    const root = await scanSources([src]);
    expect(asFile(child(root, 'holes')).source).toMatchObject({
      size: 8 * MiB,
      sparseOnDisk: true,
    });
    expect(asFile(child(root, 'dense')).source.sparseOnDisk).toBe(false);
  });

  it('stores a time before 1970 as 0 with a warning', async () => {
    const src = tempDir();
    populate(src, { old: '' });
    // Node's utimes turns negative times into "now", so set it with touch.
    execFileSync('touch', ['-h', '-d', '@-100', path.join(src, 'old')]);

    const { result, warnings } = scanWithWarnings([src]);
    const root = await result;
    expect(child(root, 'old').mtime).toBe(0);
    expect(warnings.some((w) => w.includes(path.join(src, 'old')))).toBe(true);
  });
});

describe('scanSources: what is left out', () => {
  it('leaves out relative and absolute exclusions', async () => {
    const top = tempDir();
    populate(top, {
      one: { keep: '', skip: { deep: '' }, dir: { sub: '', other: '' } },
      two: { skip: '', keep: '' },
    });
    const sources = [path.join(top, 'one'), path.join(top, 'two')];

    const root = await scanSources(sources, {
      exclude: ['skip', path.join(top, 'one', 'dir', 'sub')],
    });

    expect(names(asDir(child(root, 'one')))).toEqual(['dir', 'keep']);
    expect(names(asDir(child(root, 'one', 'dir')))).toEqual(['other']);
    expect(names(asDir(child(root, 'two')))).toEqual(['keep']);
  });

  it('leaves out a nested relative path and a whole source', async () => {
    const top = tempDir();
    populate(top, { src: { a: { b: '', c: '' } }, gone: {} });
    const sources = [path.join(top, 'src'), path.join(top, 'gone')];

    const root = await scanSources(sources, { exclude: ['a/b', path.join(top, 'gone')] });
    expect(names(root)).toEqual(['src']);
    expect(names(asDir(child(root, 'src', 'a')))).toEqual(['c']);
  });

  it('skips the output image when it lies inside the source', async () => {
    const src = tempDir();
    // `twin` has the output's size (compared first) but is another file.
    populate(src, { 'out.sqfs': 'old image', 'not-yet': {}, f: '', twin: 'old image' });
    fs.linkSync(path.join(src, 'out.sqfs'), path.join(src, 'alias'));

    const existing = await scanSources([src], { outputPath: path.join(src, 'out.sqfs') });
    // The hard link is the same file: writing into it would read our own output.
    expect(names(existing)).toEqual(['f', 'not-yet', 'twin']);

    fs.writeFileSync(path.join(src, 'not-yet', 'img'), '');
    const relative = path.relative(process.cwd(), path.join(src, 'not-yet', 'img'));
    const byPath = await scanSources([src], { outputPath: relative });
    expect(names(asDir(child(byPath, 'not-yet')))).toEqual([]);
  });
});

describe('scanSources: warnings', () => {
  it('gives them in path order, whatever order the directories were listed in', async () => {
    const src = tempDir();
    const layout: Record<string, Record<string, string>> = {};
    for (let i = 0; i < 30; i++) layout[`d${String(i).padStart(2, '0')}`] = { f: 'x', late: '' };
    populate(src, { ...layout, zz: 'y' });
    // Modification times squashfs cannot store (after 2106): one warning each.
    const late = new Date('2200-01-01T00:00:00Z');
    const clamped = [...Object.keys(layout).map((d) => path.join(d, 'late')), 'zz'];
    for (const p of clamped) fs.utimesSync(path.join(src, p), late, late);

    const runs: string[][] = [];
    for (let run = 0; run < 3; run++) {
      const { result, warnings } = scanWithWarnings([src]);
      await result;
      runs.push(warnings);
    }
    // Sorted by path: the root's own file `zz` last, though it is met before any subdirectory.
    const expected = clamped.map(
      (p) =>
        `${path.join(src, p)}: modification time does not fit squashfs (1970..2106); stored as 4294967295`,
    );
    for (const warnings of runs) expect(warnings).toEqual(expected);
  });

  it('names a dropped xattr once, on the first path in order', async () => {
    const { ScanWarnings } = await import('../../src/layout/scan-warnings.js');
    const w = new ScanWarnings();
    w.add('dropped on b', { path: Buffer.from('/t/b'), once: 'xattr system.x' });
    w.add('about the scan');
    w.add('dropped on a', { path: Buffer.from('/t/a'), once: 'xattr system.x' });
    w.add('another name', { path: Buffer.from('/t/c'), once: 'xattr system.y' });
    w.add('a vanished', { path: Buffer.from('/t/a') });
    const out: string[] = [];
    w.flush((m) => out.push(m));
    expect(out).toEqual(['about the scan', 'dropped on a', 'a vanished', 'another name']);
    w.flush((m) => out.push(m));
    expect(out.length).toBe(4); // given once
  });
});

describe('scanSources: xattrs', () => {
  it.skipIf(!isRoot)('reads user. and trusted. xattrs, sorted by name', async () => {
    const src = tempDir();
    populate(src, { f: 'x', plain: '' });
    const f = path.join(src, 'f');
    execFileSync('setfattr', ['-n', 'user.x', '-v', 'hello', f]);
    execFileSync('setfattr', ['-n', 'trusted.y', '-v', '0sAAEC', f]);
    execFileSync('setfattr', ['-n', 'user.dir', '-v', 'on-root', src]);

    const root = await scanSources([src]);

    expect(child(root, 'f').xattrs).toEqual([
      { name: 'trusted.y', value: Buffer.from([0, 1, 2]) },
      { name: 'user.x', value: Buffer.from('hello') },
    ]);
    expect(child(root, 'plain').xattrs).toBeUndefined();
    expect(root.xattrs).toEqual([{ name: 'user.dir', value: Buffer.from('on-root') }]);

    const without = await scanSources([src], { xattrs: false });
    expect(child(without, 'f').xattrs).toBeUndefined();
  });

  it.skipIf(!isRoot)("reads a symlink's own xattrs, not its target's", async () => {
    const src = tempDir();
    populate(src, { target: '' });
    const link = path.join(src, 'link');
    fs.symlinkSync('target', link);
    execFileSync('setfattr', ['-n', 'user.t', '-v', 'on-target', path.join(src, 'target')]);
    execFileSync('setfattr', ['-h', '-n', 'trusted.s', '-v', 'on-link', link]);

    const root = await scanSources([src]);

    expect(child(root, 'link').xattrs).toEqual([
      { name: 'trusted.s', value: Buffer.from('on-link') },
    ]);
  });

  it.skipIf(!isRoot)('reads xattrs of a file whose name is not UTF-8', async () => {
    const src = tempDir();
    const rawName = Buffer.from([0x66, 0xff, 0xfe]);
    const rawPath = Buffer.concat([Buffer.from(src + '/'), rawName]);
    fs.writeFileSync(rawPath, '');
    // Node encodes argv as UTF-8, so let the shell's glob produce the raw name.
    execFileSync('sh', ['-c', 'setfattr -n user.raw -v yes f?*'], { cwd: src });

    const root = await scanSources([src]);
    const entry = root.entries.find((e) => Buffer.from(e.name).equals(rawName));
    expect(entry?.node.xattrs).toEqual([{ name: 'user.raw', value: Buffer.from('yes') }]);
  });
});

describe('host file sources', () => {
  it('yields exactly the bytes of a multi-MiB file, in fresh chunks of at most 1 MiB', async () => {
    const src = tempDir();
    const content = randomBytes(3 * MiB + 12345);
    fs.writeFileSync(path.join(src, 'big'), content);

    const root = await scanSources([src]);
    const chunks: Uint8Array[] = [];
    for await (const chunk of asFile(child(root, 'big')).source.read()) chunks.push(chunk);

    // Concatenating only at the end catches a reader that reuses one buffer.
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(HOST_READ_CHUNK);
    // Each its own memory: distinct buffers, or distinct places in one slab (read-buffers.ts).
    expect(distinctMemory(chunks)).toBe(chunks.length);
  });

  it('reads into the memory of chunks given back with recycle(), and only those', async () => {
    const src = tempDir();
    const content = randomBytes(3 * MiB + 12345);
    fs.writeFileSync(path.join(src, 'a'), content);
    fs.writeFileSync(path.join(src, 'b'), content);
    const root = await scanSources([src]);
    const a = asFile(child(root, 'a')).source;
    const b = asFile(child(root, 'b')).source;
    const kept: Uint8Array[] = [];
    for await (const chunk of a.read()) kept.push(chunk);
    a.recycle!(kept[0]!);
    const copies: Buffer[] = [];
    const memory: Uint8Array[] = [];
    for await (const chunk of b.read()) {
      copies.push(Buffer.from(chunk));
      memory.push(chunk);
    }
    expect(Buffer.concat(copies).equals(content)).toBe(true);
    expect(
      memory.some((c) => c.buffer === kept[0]!.buffer && c.byteOffset === kept[0]!.byteOffset),
    ).toBe(true);
    // The chunks not given back were left alone.
    expect(Buffer.concat(kept.slice(1)).equals(content.subarray(kept[0]!.length))).toBe(true);
  });

  it('reads an empty file as no bytes', async () => {
    const src = tempDir();
    populate(src, { empty: '' });
    const root = await scanSources([src]);
    expect((await readAll(asFile(child(root, 'empty')).source)).length).toBe(0);
  });

  it('reports a file truncated after the scan as changed during read', async () => {
    const src = tempDir();
    populate(src, { f: '0123456789' });
    const root = await scanSources([src]);
    fs.truncateSync(path.join(src, 'f'), 7);

    const err = await scanError(readAll(asFile(child(root, 'f')).source));
    expect(err.code).toBe('CHANGED_DURING_READ');
    expect(err.message).toBe(
      `${path.join(src, 'f')} changed size while being read (expected 10 bytes, got 7)`,
    );
  });

  it('reports a file that grew after the scan as changed during read', async () => {
    const src = tempDir();
    populate(src, { f: 'short' });
    const root = await scanSources([src]);
    fs.appendFileSync(path.join(src, 'f'), 'er now');

    const err = await scanError(readAll(asFile(child(root, 'f')).source));
    expect(err.code).toBe('CHANGED_DURING_READ');
    expect(err.path).toBe(path.join(src, 'f'));
  });

  it('refuses a file replaced by a symlink after the scan, small or large', async () => {
    const src = tempDir();
    // Small files take the addon's one-job reader where it is built, large ones Node's fs.
    const secret = path.join(src, 'secret');
    fs.writeFileSync(secret, randomBytes(2 * MiB));
    fs.writeFileSync(path.join(src, 'small'), 'x');
    fs.writeFileSync(path.join(src, 'large'), randomBytes(2 * MiB));
    const root = await scanSources([src]);
    for (const name of ['small', 'large']) {
      fs.rmSync(path.join(src, name));
      fs.symlinkSync(secret, path.join(src, name));
      const err = await scanError(readAll(asFile(child(root, name)).source));
      expect(err.code).toBe('IO');
      expect(err.message).toMatch(`cannot read ${path.join(src, name)}: `);
    }
  });

  it('names the file when it cannot be opened', async () => {
    const src = tempDir();
    populate(src, { f: 'x' });
    const root = await scanSources([src]);
    fs.rmSync(path.join(src, 'f'));

    const err = await scanError(readAll(asFile(child(root, 'f')).source));
    expect(err.code).toBe('IO');
    expect(err.message).toBe(`cannot read ${path.join(src, 'f')}: no such file or directory`);
  });
});

describe('scanSources: errors', () => {
  it('names a missing source', async () => {
    const top = tempDir();
    const missing = path.join(top, 'nope');

    for (const sources of [[missing], [top, missing]]) {
      const err = await scanError(scanSources(sources));
      expect(err.code).toBe('IO');
      expect(err.path).toBe(missing);
      expect(err.message).toBe(`cannot read source ${missing}: no such file or directory`);
    }
  });

  it.skipIf(!canBeUnprivileged)('names an unreadable directory', async () => {
    const src = tempDir();
    populate(src, { locked: { f: '' } });
    fs.chmodSync(src, 0o755);
    fs.chmodSync(path.join(src, 'locked'), 0);

    const err = await unprivileged(() => scanError(scanSources([src])));
    expect(err.code).toBe('IO');
    expect(err.message).toBe(
      `cannot read directory ${path.join(src, 'locked')}: permission denied`,
    );
  });

  it.skipIf(!canBeUnprivileged)(
    'names an unreadable directory among many scanned at once, and stops',
    async () => {
      const src = tempDir();
      const wide: Record<string, Record<string, string>> = {};
      for (let i = 0; i < 40; i++) wide[`d${String(i).padStart(2, '0')}`] = { f: 'x', g: 'y' };
      populate(src, { ...wide, d17: { locked: { f: '' } } });
      fs.chmodSync(src, 0o755);
      fs.chmodSync(path.join(src, 'd17', 'locked'), 0);

      const err = await unprivileged(() => scanError(scanSources([src])));
      expect(err.code).toBe('IO');
      expect(err.message).toBe(
        `cannot read directory ${path.join(src, 'd17', 'locked')}: permission denied`,
      );
    },
  );

  it.skipIf(!canBeUnprivileged)('names an unreadable file when its data is read', async () => {
    const src = tempDir();
    populate(src, { secret: 'x' });
    fs.chmodSync(src, 0o755);
    fs.chmodSync(path.join(src, 'secret'), 0);

    const err = await unprivileged(async () => {
      const root = await scanSources([src]);
      return scanError(readAll(asFile(child(root, 'secret')).source));
    });
    expect(err.message).toBe(`cannot read ${path.join(src, 'secret')}: permission denied`);
  });

  it('rejects an empty source list', async () => {
    expect((await scanError(scanSources([]))).code).toBe('INVALID_ARGUMENT');
  });
});

/** How many different places in memory the chunks start at (buffer and offset). */
function distinctMemory(chunks: Uint8Array[]): number {
  const starts = new Map<ArrayBufferLike, Set<number>>();
  for (const c of chunks) {
    let offsets = starts.get(c.buffer);
    if (!offsets) starts.set(c.buffer, (offsets = new Set()));
    offsets.add(c.byteOffset);
  }
  return [...starts.values()].reduce((n, offsets) => n + offsets.size, 0);
}
