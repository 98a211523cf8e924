/**
 * The addon's directory listing (native/list-dir.c), which the scanner uses for every directory:
 * the names must be readdir's, and each entry's stats exactly what Node's own
 * lstat({ bigint: true }) sees, never following a symlink; a directory it cannot list gives null
 * and an entry it cannot stat undefined (the scanner then asks Node, for Node's error).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromNodeStats, nodeKind, type HostStats } from '../../src/layout/host-stat.js';
import {
  MAX_LIST_JOBS,
  MIN_LIST_BATCH,
  directoryLister,
  type Listing,
} from '../../src/layout/dir-listing.js';

const lister = directoryLister();
if (!lister) console.log('dir-listing: the native addon is not built; not tested');

async function listed(dir: string, xattrs = false): Promise<Listing> {
  const listing = await lister!(Buffer.from(dir), xattrs);
  if (!listing) throw new Error(`${dir} was not listed`);
  return listing;
}

function statsOf(listing: Listing, name: string): HostStats | undefined {
  const i = listing.names.findIndex((n) => n.toString() === name);
  if (i < 0) throw new Error(`${name} is not in the listing`);
  return listing.stats[i];
}

/** Every field the scanner reads, as plain values to compare. */
function shape(s: HostStats): Record<string, unknown> {
  return {
    mode: s.mode,
    nlink: s.nlink,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    blocks: s.blocks,
    mtimeSeconds: s.mtimeSeconds,
    rdev: s.rdev,
    inodeKey: s.inodeKey,
    kind: nodeKind(s),
  };
}

/** The same fields read off Node's own BigIntStats, without our conversion. */
function nodeShape(s: fs.BigIntStats): Record<string, unknown> {
  const kind = s.isDirectory()
    ? 'dir'
    : s.isFile()
      ? 'file'
      : s.isSymbolicLink()
        ? 'symlink'
        : s.isBlockDevice()
          ? 'blockdev'
          : s.isCharacterDevice()
            ? 'chardev'
            : s.isFIFO()
              ? 'fifo'
              : s.isSocket()
                ? 'socket'
                : undefined;
  return {
    mode: Number(s.mode),
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    size: Number(s.size),
    blocks: Number(s.blocks),
    mtimeSeconds: Math.floor(Number(s.mtimeMs) / 1000),
    rdev: s.rdev,
    inodeKey: `${s.dev}:${s.ino}`,
    kind,
  };
}

describe.runIf(lister)('native directory listing', () => {
  let dir: string;
  let server: net.Server;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dir-listing-'));
    fs.writeFileSync(path.join(dir, 'file'), 'some bytes');
    fs.linkSync(path.join(dir, 'file'), path.join(dir, 'hardlink'));
    fs.mkdirSync(path.join(dir, 'subdir'));
    fs.symlinkSync('does-not-exist', path.join(dir, 'dangling'));
    fs.symlinkSync('subdir', path.join(dir, 'to-dir'));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'socket'), resolve));
    // A sparse file: its block count is below its size.
    const fd = fs.openSync(path.join(dir, 'sparse'), 'w');
    fs.ftruncateSync(fd, 10 << 20);
    fs.closeSync(fd);
    // A Date: utimes() takes a negative number of seconds for "now".
    fs.utimesSync(path.join(dir, 'file'), 1_234_567_890.5, new Date(-12_250));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives readdir's names and every kind of entry exactly as Node's lstat does", async () => {
    const got = await listed(dir);
    const names = fs.readdirSync(dir, { encoding: 'buffer' });
    expect(names.length).toBe(8);
    // The same names in the same order as Node's readdir, without . and ..
    expect(got.names).toEqual(names);
    expect(got.stats.length).toBe(names.length);
    names.forEach((name, i) => {
      const node = fs.lstatSync(path.join(dir, name.toString()), { bigint: true });
      expect(got.stats[i], name.toString()).toBeDefined();
      expect(shape(got.stats[i]!), name.toString()).toEqual(nodeShape(node));
      expect(shape(got.stats[i]!), name.toString()).toEqual(shape(fromNodeStats(node)));
    });
    // -12.25 s: whole seconds round down, to -13.
    const file = statsOf(got, 'file')!;
    expect(file.mtimeSeconds).toBe(-13);
    expect(file.nlink).toBe(2);
    expect(statsOf(got, 'hardlink')!.inodeKey).toBe(file.inodeKey);
    const sparse = statsOf(got, 'sparse')!;
    expect(sparse.size).toBe(10 << 20);
    expect(sparse.blocks * 512).toBeLessThan(sparse.size);
  });

  it('gives a device as Node does (rdev kept whole)', async () => {
    const got = statsOf(await listed('/dev'), 'null');
    expect(shape(got!)).toEqual(nodeShape(fs.lstatSync('/dev/null', { bigint: true })));
    expect(nodeKind(got!)).toBe('chardev');
  });

  it('lists a large directory and an empty one', async () => {
    const many = path.join(dir, 'subdir');
    const count = 3000; // past the first growth of both of the addon's buffers
    for (let i = 0; i < count; i++) {
      fs.writeFileSync(path.join(many, `f${i}-${'n'.repeat(i % 200)}`), 'x'.repeat(i));
    }
    const got = await listed(many);
    // In the order of Node's readdir (libuv sorts with strcmp).
    expect(got.names).toEqual(fs.readdirSync(many, { encoding: 'buffer' }));
    got.names.forEach((name, i) => {
      expect(got.stats[i]!.size).toBe(Number(name.toString().slice(1).split('-')[0]));
    });
    expect(new Set(got.stats.map((s) => s!.inodeKey)).size).toBe(count);
    fs.mkdirSync(path.join(dir, 'empty'));
    try {
      expect(await listed(path.join(dir, 'empty'))).toEqual({ names: [], stats: [] });
    } finally {
      fs.rmdirSync(path.join(dir, 'empty'));
    }
  });

  it.skipIf(process.getuid?.() !== 0)(
    'tells which entries have xattrs when asked (trusted.* on a symlink needs root)',
    async () => {
      execFileSync('setfattr', ['-n', 'user.x', '-v', 'hello', path.join(dir, 'file')]);
      execFileSync('setfattr', [
        '-h',
        '-n',
        'trusted.s',
        '-v',
        'on-link',
        path.join(dir, 'to-dir'),
      ]);
      try {
        const got = await listed(dir, true);
        expect(statsOf(got, 'file')!.hasXattrs).toBe(true);
        expect(statsOf(got, 'hardlink')!.hasXattrs).toBe(true); // the same inode
        expect(statsOf(got, 'to-dir')!.hasXattrs).toBe(true); // the link's own, not followed
        expect(statsOf(got, 'subdir')!.hasXattrs).toBe(false);
        expect(statsOf(got, 'dangling')!.hasXattrs).toBe(false);
        expect(statsOf(got, 'fifo')!.hasXattrs).toBe(false);
        const unasked = await listed(dir);
        expect(unasked.stats.map((s) => s!.hasXattrs)).toEqual(unasked.names.map(() => undefined));
      } finally {
        execFileSync('setfattr', ['-x', 'user.x', path.join(dir, 'file')]);
        execFileSync('setfattr', ['-h', '-x', 'trusted.s', path.join(dir, 'to-dir')]);
      }
    },
  );

  it('lists many directories asked for at once, each its own, a failure only its own', async () => {
    // More than MAX_LIST_JOBS × MIN_LIST_BATCH, so that they share several jobs.
    const count = 4 * MAX_LIST_JOBS * MIN_LIST_BATCH + 3;
    const root = path.join(dir, 'many-dirs');
    for (let i = 0; i < count; i++) {
      fs.mkdirSync(path.join(root, `d${i}`), { recursive: true });
      for (let k = 0; k < i % 5; k++)
        fs.writeFileSync(path.join(root, `d${i}`, `f${k}`), 'y'.repeat(i));
    }
    try {
      const asked = Array.from({ length: count }, (_, i) =>
        // Every seventh does not exist; a third ask for xattrs (jobs of their own).
        lister!(Buffer.from(path.join(root, i % 7 === 6 ? `gone${i}` : `d${i}`)), i % 3 === 0),
      );
      const got = await Promise.all(asked);
      got.forEach((listing, i) => {
        if (i % 7 === 6) return expect(listing, `gone${i}`).toBeNull();
        const names = fs.readdirSync(path.join(root, `d${i}`), { encoding: 'buffer' });
        expect(listing?.names, `d${i}`).toEqual(names);
        expect(listing!.stats.map((s) => s!.size)).toEqual(names.map(() => i));
        const xattrs = listing!.stats.map((s) => s!.hasXattrs);
        expect(xattrs).toEqual(names.map(() => (i % 3 === 0 ? false : undefined)));
      });
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });

  it('gives null for what it cannot list, for Node to report', async () => {
    expect(await lister!(Buffer.from(path.join(dir, 'nope')), false)).toBeNull();
    expect(await lister!(Buffer.from(path.join(dir, 'file')), false)).toBeNull(); // not a directory
    expect(await lister!(Buffer.from(`${dir}/bad\0name`), true)).toBeNull();
  });
});

describe("Node's stats as HostStats", () => {
  const real = fs.lstatSync(os.tmpdir(), { bigint: true });
  const withIds = (over: Partial<fs.BigIntStats>) =>
    fromNodeStats(Object.assign(Object.create(real) as fs.BigIntStats, real, over));

  it('keeps 64-bit inode and device numbers exact', () => {
    const big = (1n << 60n) + 3n;
    const s = withIds({ dev: 2n ** 64n - 1n, ino: big, rdev: (0xabcn << 32n) | 0x12345n });
    expect(s.inodeKey).toBe(`18446744073709551615:${big}`);
    expect(s.rdev).toBe((0xabcn << 32n) | 0x12345n);
    // Two inodes that differ only above 2^53 stay apart.
    expect(withIds({ dev: 1n, ino: big + 1n }).inodeKey).not.toBe(
      withIds({ dev: 1n, ino: big }).inodeKey,
    );
  });

  it('rounds modification times down to whole seconds', () => {
    expect(withIds({ mtimeNs: -1n }).mtimeSeconds).toBe(-1);
    expect(withIds({ mtimeNs: -1_000_000_000n }).mtimeSeconds).toBe(-1);
    expect(withIds({ mtimeNs: 1_999_999_999n }).mtimeSeconds).toBe(1);
    expect(withIds({ mtimeNs: 0n }).mtimeSeconds).toBe(0);
  });
});
