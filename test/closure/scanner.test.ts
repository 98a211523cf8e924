import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClosureError,
  HashSet,
  NIX_BASE32_CHARS,
  SCAN_CHUNK_SIZE,
  StreamScanner,
  scanPath,
  searchHashes,
} from '../../src/closure/index.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

const H1 = 'dc04vv14dak1c1r48qa0m23vr9jy8sm0';
const H2 = 'zc842j0rz61mjsp3h3wp5ly71ak6qgdn';
const H3 = '00000000000000000000000000000000';
const CANDIDATES = new HashSet([H1, H2, H3]);

function search(text: string | Uint8Array, candidates = CANDIDATES): string[] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const found = new Set<string>();
  searchHashes(bytes, 0, bytes.length, candidates, found);
  return [...found].sort();
}

/** The obvious search, to check the clever one against. */
function naive(bytes: Buffer, hashes: Iterable<string>): string[] {
  return [...hashes].filter((h) => bytes.includes(Buffer.from(h, 'latin1'))).sort();
}

/** A deterministic pseudo-random generator (xorshift32), so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomHash(next: () => number): string {
  let s = '';
  for (let i = 0; i < 32; i++) s += NIX_BASE32_CHARS[next() % 32];
  return s;
}

describe('searchHashes', () => {
  it('finds hashes anywhere, including inside longer base32 runs', () => {
    expect(search('foobar')).toEqual([]);
    expect(search(`foobar${H1}xyzzy`)).toEqual([H1]);
    expect(search(`foobar${H1}xyzzy${H2}`)).toEqual([H1, H2].sort());
    expect(search(`${H1}`)).toEqual([H1]);
    expect(search(`aaaa${H1}bbbb`)).toEqual([H1]);
    expect(search(`/nix/store/${H2}-name`)).toEqual([H2]);
    // A run of 40 zeros holds H3 at 9 positions.
    expect(search('0'.repeat(40))).toEqual([H3]);
    expect(search(`${'0'.repeat(31)}x${H1.slice(0, 31)}`)).toEqual([]);
  });

  it('finds nothing on near misses', () => {
    const nearMisses = [
      H1.slice(0, 31), // one character short
      `${H1.slice(0, 31)}-${H1.slice(31)}`, // broken by a non-base32 byte
      `${H1.slice(0, 16)}\n${H1.slice(16)}`,
      `${H1.slice(0, 10)}e${H1.slice(11)}`, // a letter outside the alphabet
      H1.toUpperCase(),
      `${H1.slice(0, 31)}${H1[31] === 'z' ? 'y' : 'z'}`, // last character different
      `${H1[0] === 'z' ? 'y' : 'z'}${H1.slice(1)}`, // first character different
      H1.split('').reverse().join(''),
      '0'.repeat(31),
      `${'0'.repeat(16)}1${'0'.repeat(15)}`,
    ];
    for (const text of nearMisses) expect(search(`xx${text}yy`), text).toEqual([]);
  });

  it('respects the range it is given', () => {
    const bytes = Buffer.from(`--${H1}--`, 'latin1');
    const found = new Set<string>();
    searchHashes(bytes, 3, bytes.length, CANDIDATES, found);
    searchHashes(bytes, 0, 33, CANDIDATES, found);
    expect(found.size).toBe(0);
    searchHashes(bytes, 2, 34, CANDIDATES, found);
    expect([...found]).toEqual([H1]);
  });

  it('agrees with a naive search on random data', () => {
    const next = rng(42);
    const hashes = Array.from({ length: 200 }, () => randomHash(next));
    const candidates = new HashSet(hashes);
    // Mostly base32 bytes, so that long runs and prefix-table hits are common.
    const alphabet = Buffer.from(`${NIX_BASE32_CHARS}eotu-/\n\0`, 'latin1');
    for (let round = 0; round < 200; round++) {
      const bytes = Buffer.alloc(2000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = alphabet[next() % alphabet.length]!;
      for (let k = next() % 4; k > 0; k--) {
        const h = hashes[next() % hashes.length]!;
        bytes.write(h, next() % (bytes.length - 32), 'latin1');
      }
      expect(search(bytes, candidates)).toEqual(naive(bytes, hashes));
    }
  });

  it('rejects malformed candidates', () => {
    expect(() => new HashSet(['abc'])).toThrow(ClosureError);
    expect(() => new HashSet([`e${H1.slice(1)}`])).toThrow(/not a nix base32 character/);
  });
});

describe('StreamScanner', () => {
  it('finds a hash split between two pieces at every offset 1..31', () => {
    const text = Buffer.from(`some text before /nix/store/${H1}-x and after`, 'latin1');
    const at = text.indexOf(H1);
    for (let split = 1; split <= 31; split++) {
      const scanner = new StreamScanner(CANDIDATES);
      scanner.update(text.subarray(0, at + split));
      scanner.update(text.subarray(at + split));
      expect([...scanner.found], `split at ${split}`).toEqual([H1]);
    }
  });

  it('finds a hash fed one byte at a time, or in pieces of every size', () => {
    const text = Buffer.from(`ab${H1}cd${H2}`, 'latin1');
    for (let size = 1; size <= 40; size++) {
      const scanner = new StreamScanner(CANDIDATES);
      for (let i = 0; i < text.length; i += size) scanner.update(text.subarray(i, i + size));
      expect([...scanner.found].sort(), `pieces of ${size}`).toEqual([H1, H2].sort());
    }
  });

  it('does not join unrelated strings after reset()', () => {
    const scanner = new StreamScanner(CANDIDATES);
    scanner.update(Buffer.from(H1.slice(0, 20)));
    scanner.reset();
    scanner.update(Buffer.from(H1.slice(20)));
    expect(scanner.found.size).toBe(0);
  });
});

describe('scanPath', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('closure-scan');
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  it('finds a hash split across 1 MiB read chunks at every offset 1..31', async () => {
    expect(SCAN_CHUNK_SIZE).toBe(1 << 20);
    const dir = join(tmp.path, 'chunks');
    await mkdir(dir);
    for (let k = 1; k <= 31; k++) {
      // The hash starts k bytes before the end of the first chunk.
      const file = join(dir, `f${k}`);
      const bytes = Buffer.alloc(SCAN_CHUNK_SIZE + 100, 0x2f); // '/': not base32
      bytes.write(H2, SCAN_CHUNK_SIZE - k, 'latin1');
      await writeFile(file, bytes);
      expect([...(await scanPath(file, CANDIDATES))], `offset ${k}`).toEqual([H2]);
    }
    // And with small chunks, where one hash spans three reads.
    const file = join(dir, 'small');
    await writeFile(file, `..${H1}..`);
    for (let chunkSize = 1; chunkSize <= 40; chunkSize++) {
      expect([...(await scanPath(file, CANDIDATES, { chunkSize }))], `chunk ${chunkSize}`).toEqual([
        H1,
      ]);
    }
  });

  it('counts every byte once', async () => {
    const file = join(tmp.path, 'count');
    await writeFile(file, Buffer.alloc(3 * SCAN_CHUNK_SIZE + 5));
    let total = 0;
    await scanPath(file, CANDIDATES, { onBytes: (n) => (total += n) });
    expect(total).toBe(3 * SCAN_CHUNK_SIZE + 5);
  });

  it('scans files deep in directories, symlink targets and entry names, never following links', async () => {
    const root = join(tmp.path, 'tree');
    await mkdir(join(root, 'a/b/c'), { recursive: true });
    await writeFile(join(root, 'a/b/c/file'), `#!/bin/sh\nexec /nix/store/${H1}-foo/bin/foo\n`);
    await symlink(`/nix/store/${H2}-bar/lib`, join(root, 'link'));
    await mkdir(join(root, 'names'));
    await writeFile(join(root, 'names', `${H3}-baz.conf`), 'no hash inside');
    expect([...(await scanPath(root, CANDIDATES))].sort()).toEqual([H1, H2, H3].sort());

    // The link's target directory is full of hashes, but links are not followed.
    const other = join(tmp.path, 'other');
    await mkdir(other);
    await symlink(root, join(other, 'to-tree'));
    expect([...(await scanPath(other, CANDIDATES))]).toEqual([]);
    // A symlink given as the path itself is a symlink too.
    expect([...(await scanPath(join(root, 'link'), CANDIDATES))]).toEqual([H2]);
  });

  it('handles names that are not UTF-8', async () => {
    const root = Buffer.from(join(tmp.path, 'latin'));
    await mkdir(root);
    const name = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`-${H1}`)]);
    const dir = Buffer.concat([root, Buffer.from('/'), name]);
    await mkdir(dir);
    await writeFile(Buffer.concat([dir, Buffer.from('/f')]), H2);
    expect([...(await scanPath(root, CANDIDATES))].sort()).toEqual([H1, H2].sort());
  });

  it('refuses devices, fifos and sockets, naming the path', async () => {
    const root = join(tmp.path, 'fifo');
    await mkdir(root);
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const err = await scanPath(root, CANDIDATES).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClosureError);
    expect((err as ClosureError).code).toBe('UNSUPPORTED_FILE');
    expect((err as ClosureError).message).toContain(join(root, 'pipe'));
  });

  it('reports a missing path', async () => {
    const err = await scanPath(join(tmp.path, 'nope'), CANDIDATES).catch((e: unknown) => e);
    expect((err as ClosureError).code).toBe('NOT_FOUND');
    expect((err as ClosureError).message).toMatch(/nope: no such file or directory/);
  });
});
