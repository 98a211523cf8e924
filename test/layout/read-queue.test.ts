/**
 * The addon's reader thread for small host files (native/read-queue.c): reads submitted ahead
 * and collected in order must give each file's own bytes and errors (those of readFiles: no
 * symlink followed, fs-style code and syscall), whether the thread or the collecting caller did
 * the read, and a ticket is collected once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanSources } from '../../src/layout/host-scan.js';
import { queuedReads } from '../../src/layout/whole-file-reader.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';

const queue = queuedReads();
if (!queue) console.log('read-queue: the native addon is not built; not tested');

function content(i: number): Buffer {
  return Buffer.from(Array.from({ length: (i * 977) % 9000 }, (_, k) => (k * 13 + i) & 0xff));
}

describe.runIf(queue)('native read queue', () => {
  const q = queue!;
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-queue-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives every file its own bytes, read ahead or by the collecting caller', () => {
    const count = 300;
    for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `f${i}`), content(i));
    const intos: Buffer[] = [];
    const tickets: number[] = [];
    const submit = (i: number) => {
      intos[i] = Buffer.alloc(content(i).length + 1, 0xee);
      tickets[i] = q.submit(Buffer.from(path.join(dir, `f${i}`)), intos[i]!, content(i).length);
      expect(tickets[i]).toBeGreaterThanOrEqual(0);
    };
    // Most submitted well ahead (the thread reads them); every seventh collected at once, before
    // the thread can have got to it (the caller reads it).
    for (let i = 0; i < count; i++) {
      submit(i);
      if (i % 7 === 3) {
        expect(q.collect(tickets[i]!)).toBe(content(i).length);
        expect(intos[i]!.subarray(0, content(i).length).equals(content(i))).toBe(true);
      }
    }
    for (let i = 0; i < count; i++) {
      if (i % 7 === 3) continue;
      expect(q.collect(tickets[i]!), `f${i}`).toBe(content(i).length);
      expect(intos[i]!.subarray(0, content(i).length).equals(content(i)), `f${i}`).toBe(true);
    }
  });

  it('reads one byte more of a file that grew, and what is there of one that shrank', () => {
    const file = Buffer.from(path.join(dir, 'sized'));
    fs.writeFileSync(file.toString(), content(40));
    const grew = Buffer.alloc(1001);
    expect(q.collect(q.submit(file, grew, 1000))).toBe(1001);
    const shrank = Buffer.alloc(9001);
    expect(q.collect(q.submit(file, shrank, 9000))).toBe(content(40).length);
  });

  it('fails like Node fs, without following a symlink', () => {
    fs.writeFileSync(path.join(dir, 'target'), 'secret');
    fs.symlinkSync(path.join(dir, 'target'), path.join(dir, 'link'));
    const failure = (name: string) => {
      const ticket = q.submit(Buffer.from(name), Buffer.alloc(10), 6);
      try {
        q.collect(ticket);
      } catch (err) {
        return err as NodeJS.ErrnoException;
      }
      throw new Error(`${name}: the read did not fail`);
    };
    expect(failure(path.join(dir, 'link'))).toMatchObject({ code: 'ELOOP', syscall: 'open' });
    expect(failure(path.join(dir, 'missing'))).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(failure(dir)).toMatchObject({ code: 'EISDIR', syscall: 'read' });
  });

  it('refuses a ticket collected already, one never given, and a path with a NUL byte', () => {
    fs.writeFileSync(path.join(dir, 'once'), 'x');
    const ticket = q.submit(Buffer.from(path.join(dir, 'once')), Buffer.alloc(2), 1);
    expect(q.collect(ticket)).toBe(1);
    expect(() => q.collect(ticket)).toThrow(TypeError);
    expect(() => q.collect(ticket + 5000)).toThrow(TypeError);
    expect(() => q.collect(-1)).toThrow(TypeError);
    expect(() => q.submit(Buffer.from('a\0b'), Buffer.alloc(1), 0)).toThrow(TypeError);
  });

  it('says when too many reads wait uncollected, and takes more once they are collected', () => {
    fs.writeFileSync(path.join(dir, 'many'), 'y');
    const name = Buffer.from(path.join(dir, 'many'));
    const tickets: number[] = [];
    for (
      let t = q.submit(name, Buffer.alloc(2), 1);
      t >= 0;
      t = q.submit(name, Buffer.alloc(2), 1)
    ) {
      tickets.push(t);
      if (tickets.length > 100_000) throw new Error('the queue never filled');
    }
    expect(tickets.length).toBe(1024);
    expect(q.collect(tickets.shift()!)).toBe(1);
    const after = q.submit(name, Buffer.alloc(2), 1);
    expect(after).toBeGreaterThanOrEqual(0);
    tickets.push(after);
    for (const t of tickets) expect(q.collect(t)).toBe(1);
  });
});

describe('images written at once from host trees', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-queue-images-'));
    // Two trees of small files (all through the reader thread, when built), some the same.
    for (const tree of ['a', 'b']) {
      for (let i = 0; i < 400; i++) {
        const file = path.join(dir, tree, `d${i % 9}`, `f${i}`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content(tree === 'a' ? i : i + (i % 3)));
      }
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('come out as they do one at a time: their reads share one reader thread', async () => {
    const image = async (tree: string, name: string) => {
      const out = path.join(dir, name);
      await writeImage(await scanSources([path.join(dir, tree)]), out, {
        compression: { name: 'none' },
      });
      return fs.readFileSync(out);
    };
    const alone = [await image('a', 'a1'), await image('b', 'b1')];
    const together = await Promise.all([image('a', 'a2'), image('b', 'b2'), image('a', 'a3')]);
    expect(together[0]!.equals(alone[0]!)).toBe(true);
    expect(together[1]!.equals(alone[1]!)).toBe(true);
    expect(together[2]!.equals(alone[0]!)).toBe(true);
    expect(alone[0]!.equals(alone[1]!)).toBe(false);
  });
});
