/**
 * The addon's one-job reader of small host files (native/read-file.c), which HostFileSource uses
 * for files smaller than one chunk: it must read what Node's fs reads, stop where the JavaScript
 * reader stops, never follow a symlink, and fail the way Node's fs fails (code, syscall).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BATCH_FILES,
  wholeFileReader,
  type WholeFileReader,
} from '../../src/layout/whole-file-reader.js';

const reader = wholeFileReader();
if (!reader) console.log('whole-file-reader: the native addon is not built; not tested');

function read(
  file: string,
  capacity: number,
  expected: number,
): Promise<{ bytes: Buffer; err: NodeJS.ErrnoException | null }> {
  const into = Buffer.alloc(capacity, 0xaa);
  return new Promise((resolve) =>
    (reader as WholeFileReader)(Buffer.from(file), into, expected, (err, n) =>
      resolve({ bytes: into.subarray(0, n ?? 0), err }),
    ),
  );
}

describe.runIf(reader)('native whole-file reader', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whole-file-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a file whole, and one byte more when the file grew', async () => {
    const content = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff));
    fs.writeFileSync(path.join(dir, 'f'), content);
    const exact = await read(path.join(dir, 'f'), content.length + 1, content.length);
    expect(exact.err).toBeNull();
    expect(exact.bytes.equals(content)).toBe(true);
    const grew = await read(path.join(dir, 'f'), 1001, 1000);
    expect(grew.bytes.length).toBe(1001);
    expect(grew.bytes.equals(content.subarray(0, 1001))).toBe(true);
    const shrank = await read(path.join(dir, 'f'), 100_001, 100_000);
    expect(shrank.bytes.length).toBe(content.length);
  });

  it('reads an empty file as no bytes', async () => {
    fs.writeFileSync(path.join(dir, 'empty'), '');
    const r = await read(path.join(dir, 'empty'), 1, 0);
    expect(r.err).toBeNull();
    expect(r.bytes.length).toBe(0);
  });

  it('does not follow a symlink, and fails like Node fs', async () => {
    fs.writeFileSync(path.join(dir, 'target'), 'secret');
    fs.symlinkSync(path.join(dir, 'target'), path.join(dir, 'link'));
    const link = await read(path.join(dir, 'link'), 10, 6);
    expect(link.err?.code).toBe('ELOOP');
    expect(link.err?.syscall).toBe('open');
    const missing = await read(path.join(dir, 'missing'), 10, 6);
    expect(missing.err?.code).toBe('ENOENT');
    expect(missing.err).toBeInstanceOf(Error);
    const directory = await read(dir, 10, 6);
    expect(directory.err?.code).toBe('EISDIR');
    expect(directory.err?.syscall).toBe('read');
  });

  it('fails a path with a NUL byte through the callback, not by throwing', async () => {
    const r = await read('a\0b', 1, 0);
    expect(r.err).toBeInstanceOf(TypeError);
  });

  it('reads many files requested at once, each with its own result', async () => {
    const names = Array.from({ length: 3 * BATCH_FILES + 5 }, (_, i) => `many-${i}`);
    names.forEach((n, i) => fs.writeFileSync(path.join(dir, n), 'x'.repeat(i)));
    const results = await Promise.all(
      names.map((n, i) => read(path.join(dir, i === 40 ? 'gone' : n), i + 1, i)),
    );
    results.forEach((r, i) => {
      if (i === 40) expect(r.err?.code).toBe('ENOENT');
      else expect(r.bytes.toString()).toBe('x'.repeat(i));
    });
  });
});
