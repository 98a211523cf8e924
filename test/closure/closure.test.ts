/**
 * Closures of a hand-made store in a temp dir (no Nix needed): which paths are reached, and in
 * which order. nix-oracle.test.ts checks the same against nix-store -qR on a store Nix built.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClosureError,
  computeClosure,
  followLinksToStorePath,
  indexStore,
  nixStoreOrder,
  parsePathList,
  readClosureInfo,
  readPathList,
} from '../../src/closure/index.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

// Hash parts chosen so that sorting by hash differs from sorting by name.
const HASHES = {
  app: '9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  lib: '1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  libc: '5ccccccccccccccccccccccccccccccc',
  data: '3ddddddddddddddddddddddddddddddd',
  lonely: '0fffffffffffffffffffffffffffffff',
  cyc1: '7ggggggggggggggggggggggggggggggg',
  cyc2: '8hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh',
};
type Name = keyof typeof HASHES;

describe('computeClosure on a hand-made store', () => {
  let tmp: TempDir;
  let storeDir: string;
  const sp = (name: Name) => `${storeDir}/${HASHES[name]}-${name}`;

  beforeAll(async () => {
    tmp = await makeTempDir('closure');
    storeDir = join(tmp.path, 'store');
    await mkdir(storeDir);
    for (const name of Object.keys(HASHES) as Name[]) await mkdir(sp(name));
    // app: refers to lib through a script, to data through a symlink, and to itself.
    await mkdir(join(sp('app'), 'bin'));
    await writeFile(join(sp('app'), 'bin/app'), `#!${sp('lib')}/bin/sh\nexec ${sp('app')}/x\n`);
    await symlink(`${sp('data')}/share`, join(sp('app'), 'data'));
    // lib refers to libc from deep inside, with the hash split by nothing but 1 MiB of padding.
    await mkdir(join(sp('lib'), 'lib/a/b'), { recursive: true });
    await writeFile(
      join(sp('lib'), 'lib/a/b/libfoo.so'),
      Buffer.concat([Buffer.alloc((1 << 20) - 7), Buffer.from(sp('libc'))]),
    );
    await writeFile(join(sp('libc'), 'libc.so'), 'nothing here\n');
    await writeFile(join(sp('data'), 'x'), `${sp('libc')}\n`);
    await writeFile(join(sp('lonely'), 'README'), 'mentions /nix/store but no hash\n');
    // A cycle, which Nix never registers but a hand-made store may have.
    await writeFile(join(sp('cyc1'), 'f'), sp('cyc2'));
    await writeFile(join(sp('cyc2'), 'f'), sp('cyc1'));
    // Things in the store directory that are not store paths, and a lock next to its path.
    await mkdir(join(storeDir, '.links'));
    await writeFile(join(storeDir, 'not-a-store-path'), '');
    await writeFile(`${sp('libc')}.lock`, '');
  });

  afterAll(async () => {
    await tmp.cleanup();
  });

  it('indexes the valid entries of the store directory', async () => {
    const index = await indexStore({ storeDir });
    expect(index.candidates.size).toBe(7);
    expect(index.byHash.get(HASHES.libc)).toEqual([sp('libc')]);
  });

  it('follows references in files, symlink targets and deep files; orders like nix-store -qR', async () => {
    const closure = await computeClosure([sp('app')], { storeDir });
    // Post-order of a DFS over the closure sorted by hash: app (9a..) comes last; its
    // references lib (1b..) and data (3d..) in hash order, each after libc (5c..).
    expect(closure.paths).toEqual([sp('libc'), sp('lib'), sp('data'), sp('app')]);
    expect(closure.references.get(sp('app'))).toEqual([sp('lib'), sp('data')]);
    expect(closure.references.get(sp('libc'))).toEqual([]);
  });

  it('takes paths inside store paths and several roots', async () => {
    const closure = await computeClosure([`${sp('data')}/x`, sp('lonely'), sp('data')], {
      storeDir,
    });
    expect(closure.paths).toEqual([sp('lonely'), sp('libc'), sp('data')]);
  });

  it('tolerates a cycle', async () => {
    const closure = await computeClosure([sp('cyc2')], { storeDir });
    expect(closure.paths).toEqual([sp('cyc2'), sp('cyc1')]);
  });

  it('reads a store under another root (a chroot store)', async () => {
    const closure = await computeClosure([`/s/${HASHES.data}-data`], {
      storeDir: '/s',
      root: join(tmp.path, 'chroot'),
    }).catch((e: unknown) => e);
    expect((closure as ClosureError).code).toBe('NOT_FOUND');
    await mkdir(join(tmp.path, 'chroot'));
    await symlink(storeDir, join(tmp.path, 'chroot/s'));
    const found = await computeClosure([`/s/${HASHES.data}-data`], {
      storeDir: '/s',
      root: join(tmp.path, 'chroot'),
    });
    expect(found.paths).toEqual([`/s/${HASHES.libc}-libc`, `/s/${HASHES.data}-data`]);
  });

  it('refuses roots that are missing or outside the store', async () => {
    const missing = `${storeDir}/${'2'.repeat(32)}-missing`;
    await expect(computeClosure([missing], { storeDir })).rejects.toThrow(
      `no such store path: ${missing}`,
    );
    await expect(computeClosure(['/usr/bin/env'], { storeDir })).rejects.toThrow(
      `not a store path: /usr/bin/env (not under ${storeDir})`,
    );
  });

  it('follows symlinks such as result to the store path', async () => {
    const link = join(tmp.path, 'result');
    await symlink(`${sp('app')}/bin`, link);
    const hop = join(tmp.path, 'result-2');
    await symlink('result', hop);
    expect(await followLinksToStorePath(hop, { storeDir })).toBe(sp('app'));
    await expect(followLinksToStorePath(tmp.path, { storeDir })).rejects.toThrow(
      /not a store path/,
    );
  });
});

describe('nixStoreOrder', () => {
  it('is the post-order of a DFS over the sorted set, references in sorted order', () => {
    const refs: Record<string, string[]> = {
      '/s/d': ['/s/a', '/s/c'],
      '/s/c': ['/s/b', '/s/c'],
      '/s/b': [],
      '/s/a': ['/s/b'],
      '/s/e': ['/s/c'],
    };
    expect(nixStoreOrder(Object.keys(refs), (p) => refs[p]!)).toEqual([
      '/s/b',
      '/s/a',
      '/s/c',
      '/s/d',
      '/s/e',
    ]);
  });

  it('handles chains deeper than the call stack', () => {
    const n = 100_000;
    const name = (i: number) => `/s/${String(i).padStart(6, '0')}`;
    const order = nixStoreOrder(
      Array.from({ length: n }, (_, i) => name(i)),
      (p) => (p === name(n - 1) ? [] : [name(Number(p.slice(3)) + 1)]),
    );
    expect(order[0]).toBe(name(n - 1));
    expect(order[n - 1]).toBe(name(0));
  });
});

describe('path lists and closureInfo', () => {
  const a = `/nix/store/${HASHES.app}-app`;
  const b = `/nix/store/${HASHES.lib}-lib`;

  it('parses one store path a line', () => {
    expect(parsePathList(`${a}\n${b}\n\n${a}\n`, 'list')).toEqual([a, b]);
  });

  it('names the file and line of a bad entry', () => {
    expect(() => parsePathList(`${a}\n/usr/lib\n`, 'list')).toThrow(
      'list line 2: not a store path: /usr/lib (not under /nix/store)',
    );
    expect(() => parsePathList(`${a}/bin\n`, 'list')).toThrow(/line 1: .*it is inside/);
    expect(() => parsePathList(` ${a}\n`, 'list')).toThrow(/line 1: .*white space/);
    expect(() => parsePathList(`/nix/store/${'e'.repeat(32)}-x\n`, 'list')).toThrow(
      /line 1: bad hash/,
    );
    try {
      parsePathList('/x\n', 'list');
    } catch (err) {
      expect((err as ClosureError).code).toBe('BAD_PATH_LIST');
    }
  });

  it('reads files and closureInfo directories', async () => {
    const tmp = await makeTempDir('closure-info');
    try {
      await writeFile(join(tmp.path, 'store-paths'), `${b}\n${a}\n`);
      expect(await readClosureInfo(tmp.path)).toEqual([b, a]);
      expect(await readPathList(join(tmp.path, 'store-paths'))).toEqual([b, a]);
      await expect(readClosureInfo(join(tmp.path, 'nope'))).rejects.toThrow(
        /cannot read the path list .*nope\/store-paths: no such file or directory/,
      );
    } finally {
      await tmp.cleanup();
    }
  });
});
