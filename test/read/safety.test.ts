/**
 * Extraction safety with hostile images: names patched to contain '/', '..', '.' or NUL, duplicate
 * names, a directory loop, symlinks already in DEST (or planted there by an earlier image) that
 * point outside it, and a non-empty DEST. Every case must end in a SquashfsError (or a safe
 * result) with nothing written outside DEST.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refOffset } from '../../src/squashfs/format/metadata.js';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';
import { extractImage } from '../../src/squashfs/read/extract.js';
import { openImage } from '../../src/squashfs/read/image.js';
import { tree } from '../../src/squashfs/tree.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { expectSquashfsError, imageBytes } from './helpers.js';

const RAW = { compression: { name: 'none' as const } };

/** Replaces the only occurrence of `from` in the image with `to` (same length). */
function patchName(image: Buffer, from: string | Buffer, to: Buffer): Buffer {
  const needle = Buffer.from(from);
  const at = image.indexOf(needle);
  expect(at, `${from} in the image`).toBeGreaterThan(0);
  expect(image.indexOf(needle, at + 1), `${from} only once`).toBe(-1);
  expect(to.length).toBe(needle.length);
  const out = Buffer.from(image);
  to.copy(out, at);
  return out;
}

let work: TempDir;
let outside: string;
let dest: string;
beforeEach(async () => {
  work = await makeTempDir('safety');
  outside = join(work.path, 'outside');
  dest = join(work.path, 'dest');
  mkdirSync(outside);
});
afterEach(async () => {
  await work.cleanup();
});

/** Extracts `bytes` into dest; returns the outcome. */
async function extract(bytes: Uint8Array, options: { force?: boolean } = {}) {
  const image = await openImage(bytes);
  try {
    return await extractImage(image, dest, { ...options, xattrs: false });
  } finally {
    await image.close();
  }
}

function nothingOutside(): void {
  expect(readdirSync(outside)).toEqual([]);
  expect(readdirSync(work.path).sort()).toEqual(
    ['dest', 'outside'].filter((n) => existsSync(join(work.path, n))).sort(),
  );
}

describe('hostile names', () => {
  // A one-byte name is found with its entry's type (2, file) and length-1 (0) in front of it.
  const ONE_BYTE = Buffer.from([2, 0, 0, 0]);
  const cases: [string, string, Buffer, Buffer?][] = [
    ['a slash', 'evil-name', Buffer.from('ev/l-name')],
    ['a slash leading out', 'ab-x', Buffer.from('../x')],
    ['NUL', 'evil-name', Buffer.from('evil\0name')],
    ['..', 'zz', Buffer.from('..')],
    ['.', 'q', Buffer.from('.'), ONE_BYTE],
  ];
  for (const [label, original, patched, context] of cases) {
    it(`a name with ${label} is refused by extract, ls and lookup`, async () => {
      const root = tree.dir({
        sub: tree.dir({ [original]: tree.file('payload\n') }),
        plain: tree.file('plain\n'),
      });
      const bytes = context
        ? patchName(
            await imageBytes(root, RAW),
            Buffer.concat([context, Buffer.from(original)]),
            Buffer.concat([context, patched]),
          )
        : patchName(await imageBytes(root, RAW), original, patched);
      const err = await expectSquashfsError(extract(bytes), 'CORRUPT');
      expect(err.message).toMatch(/invalid entry name/);
      nothingOutside();
      const image = await openImage(bytes);
      try {
        await expectSquashfsError(image.readdir((await image.lookup('sub'))!), 'CORRUPT');
      } finally {
        await image.close();
      }
    });
  }

  it('duplicate names are refused', async () => {
    const root = tree.dir({ aa: tree.file('1'), ab: tree.file('2') });
    const bytes = patchName(await imageBytes(root, RAW), 'ab', Buffer.from('aa'));
    const err = await expectSquashfsError(extract(bytes), 'CORRUPT');
    expect(err.message).toMatch(/duplicate/);
  });
});

describe('directory loops', () => {
  it('an entry pointing back at the root is refused, not followed forever', async () => {
    const root = tree.dir({
      'aaaa-dir': tree.dir({ 'loop-dir': tree.dir({ f: tree.file('x') }) }),
    });
    const bytes = Buffer.from(await imageBytes(root, RAW));
    const sb = decodeSuperblock(bytes.subarray(0, 96));
    const image = await openImage(bytes);
    const loop = (await image.lookup('aaaa-dir/loop-dir'))!;
    await image.close();
    // The entry: u16 offset, s16 delta, u16 type, u16 length-1, then the name.
    const at = bytes.indexOf(Buffer.from('loop-dir')) - 8;
    const delta = bytes.readInt16LE(at + 2);
    const base = loop.inodeNumber - delta;
    expect(refOffset(sb.rootInode)).toBeLessThan(8192);
    bytes.writeUInt16LE(refOffset(sb.rootInode), at);
    bytes.writeInt16LE(sb.inodeCount - base, at + 2);
    const err = await expectSquashfsError(extract(bytes), 'CORRUPT');
    expect(err.message).toMatch(/already visited/);
    nothingOutside();
  }, 10_000);
});

describe('symlinks', () => {
  it('a symlink already in DEST is not traversed to create a directory (--force)', async () => {
    mkdirSync(dest);
    symlinkSync(outside, join(dest, 'sub'));
    const bytes = await imageBytes(tree.dir({ sub: tree.dir({ x: tree.file('pwned\n') }) }));
    const err = await expectSquashfsError(extract(bytes, { force: true }), 'INVALID_ARGUMENT');
    expect(err.message).toMatch(/symlink/);
    nothingOutside();
  });

  it('a symlink planted by an earlier image is not traversed by a later one', async () => {
    const first = await imageBytes(tree.dir({ s: tree.symlink(outside) }));
    await extract(first);
    expect(lstatSync(join(dest, 's')).isSymbolicLink()).toBe(true);
    const second = await imageBytes(tree.dir({ s: tree.dir({ x: tree.file('pwned\n') }) }));
    await expectSquashfsError(extract(second, { force: true }), 'INVALID_ARGUMENT');
    nothingOutside();
  });

  it('a symlink in DEST where a file goes is replaced, not written through (--force)', async () => {
    mkdirSync(dest);
    symlinkSync(join(outside, 'f'), join(dest, 'f'));
    await extract(await imageBytes(tree.dir({ f: tree.file('inside\n') })), { force: true });
    expect(lstatSync(join(dest, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('inside\n');
    nothingOutside();
  });

  it('symlinks in the image pointing outside are created as symlinks, never followed', async () => {
    const root = tree.dir({
      up: tree.symlink('../outside'),
      abs: tree.symlink('/'),
      z: tree.file('z'),
    });
    await extract(await imageBytes(root));
    expect(lstatSync(join(dest, 'up')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(dest, 'abs')).isSymbolicLink()).toBe(true);
    nothingOutside();
  });
});

describe('DEST', () => {
  it('a non-empty DEST is refused without --force', async () => {
    mkdirSync(dest);
    writeFileSync(join(dest, 'existing'), 'x');
    const bytes = await imageBytes(tree.dir({ f: tree.file('1') }));
    await expectSquashfsError(extract(bytes), 'INVALID_ARGUMENT');
    expect(readdirSync(dest)).toEqual(['existing']);
    await extract(bytes, { force: true });
    expect(readdirSync(dest).sort()).toEqual(['existing', 'f']);
  });
});
