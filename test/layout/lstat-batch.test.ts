/**
 * The addon's batched lstat (native/lstat-many.c), which the scanner uses for every directory:
 * each entry must come back as Node's own lstat({ bigint: true }) sees it, in the order of the
 * names, never following a symlink; an entry it cannot stat comes back undefined (the scanner
 * then asks Node, for Node's error).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostStats } from '../../src/layout/host-stat.js';
import { BATCH_NAMES, lstatEntries } from '../../src/layout/lstat-batch.js';

const batch = lstatEntries();
if (!batch) console.log('lstat-batch: the native addon is not built; not tested');

const FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'blocks', 'mtimeNs'];
const KINDS = [
  'isDirectory',
  'isFile',
  'isSymbolicLink',
  'isBlockDevice',
  'isCharacterDevice',
  'isFIFO',
  'isSocket',
] as const;

/** The fields and kind tests the scanner uses, as plain values to compare. */
function shape(s: HostStats): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = s[f as keyof HostStats];
  for (const k of KINDS) out[k] = s[k]();
  return out;
}

describe.runIf(batch)('native batched lstat', () => {
  let dir: string;
  let server: net.Server;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lstat-batch-'));
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
    fs.utimesSync(path.join(dir, 'file'), 1_234_567_890.5, -12.25);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives every kind of entry exactly as Node's lstat does, without following symlinks", async () => {
    const names = fs.readdirSync(dir, { encoding: 'buffer' });
    expect(names.length).toBe(8);
    const got = await batch!(Buffer.from(dir), names);
    expect(got.length).toBe(names.length);
    names.forEach((name, i) => {
      const node = fs.lstatSync(path.join(dir, name.toString()), { bigint: true });
      expect(got[i], name.toString()).toBeDefined();
      expect(shape(got[i]!), name.toString()).toEqual(shape(node));
    });
  });

  it('gives a device as Node does (rdev kept whole)', async () => {
    const [got] = await batch!(Buffer.from('/dev'), [Buffer.from('null')]);
    expect(shape(got!)).toEqual(shape(fs.lstatSync('/dev/null', { bigint: true })));
    expect(got!.isCharacterDevice()).toBe(true);
  });

  it('keeps the order of the names over several jobs', async () => {
    const many = path.join(dir, 'subdir');
    const count = BATCH_NAMES * 2 + 17;
    for (let i = 0; i < count; i++) fs.writeFileSync(path.join(many, `f${i}`), 'x'.repeat(i));
    const names = Array.from({ length: count }, (_, i) => Buffer.from(`f${count - 1 - i}`));
    const got = await batch!(Buffer.from(many), names);
    expect(got.map((s) => Number(s!.size))).toEqual(names.map((_, i) => count - 1 - i));
    expect(new Set(got.map((s) => s!.ino)).size).toBe(count);
  });

  it('leaves an entry it cannot stat undefined, and the others whole', async () => {
    const got = await batch!(Buffer.from(dir), [
      Buffer.from('file'),
      Buffer.from('vanished'),
      Buffer.from('bad\0name'),
    ]);
    // A NUL byte fails the call's argument check: the whole job falls back to Node.
    expect(got).toEqual([undefined, undefined, undefined]);
    const [file, vanished] = await batch!(Buffer.from(dir), [
      Buffer.from('file'),
      Buffer.from('vanished'),
    ]);
    expect(file?.isFile()).toBe(true);
    expect(vanished).toBeUndefined();
    const inMissingDir = await batch!(Buffer.from(path.join(dir, 'nope')), [Buffer.from('file')]);
    expect(inMissingDir).toEqual([undefined]);
  });
});
