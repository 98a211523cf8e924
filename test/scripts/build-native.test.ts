/**
 * scripts/build-native.js (the postinstall step) on a machine without a working C compiler: it
 * must not fail the install, must say which slower engine remains, and must leave no build/
 * folder behind (node-gyp-build would prefer a half-built lzma-native to its prebuilt binary).
 *
 * The package layout is copied to a temp dir (script, native sources, lzma-native without any
 * build/), and CC/CXX point at a compiler that does not exist. The successful path (a real
 * build, 1-4 minutes) is what `npm ci` itself runs; it is not repeated here.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

const ROOT = resolve(import.meta.dirname, '../..');
const require = createRequire(join(ROOT, 'package.json'));

describe('scripts/build-native.js without a compiler', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await makeTempDir('build-native');
    for (const p of ['package.json', 'scripts/build-native.js']) {
      mkdirSync(dirname(join(work.path, p)), { recursive: true });
      cpSync(join(ROOT, p), join(work.path, p));
    }
    // The addon's sources (what the packed package ships is checked below), without a build.
    cpSync(join(ROOT, 'native'), join(work.path, 'native'), {
      recursive: true,
      filter: (src) => !src.startsWith(join(ROOT, 'native/build')),
    });
    const modules = join(work.path, 'node_modules');
    mkdirSync(modules);
    const lzma = dirname(require.resolve('lzma-native/package.json'));
    cpSync(lzma, join(modules, 'lzma-native'), {
      recursive: true,
      filter: (src) => !src.startsWith(join(lzma, 'build')),
    });
    for (const dep of ['node-addon-api', 'node-gyp-build', 'readable-stream']) {
      symlinkSync(dirname(require.resolve(`${dep}/package.json`)), join(modules, dep));
    }
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  it('prints both notices, exits 0 and leaves the prebuilt lzma-native in use', () => {
    const r = spawnSync(process.execPath, ['scripts/build-native.js'], {
      cwd: work.path,
      encoding: 'utf8',
      env: { ...process.env, CC: '/nonexistent/cc', CXX: '/nonexistent/c++', CFLAGS: '' },
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/native engine not built \(.*\/nonexistent\/c.*\); gzip uses pako/);
    expect(r.stdout).toMatch(/lzma-native not rebuilt \(.*\); xz falls back to its prebuilt/);
    expect(existsSync(join(work.path, 'native/build'))).toBe(false);
    const lzma = join(work.path, 'node_modules/lzma-native');
    expect(existsSync(join(lzma, 'build'))).toBe(false);
    const loaded = spawnSync(
      process.execPath,
      ['-e', `console.log(require('node-gyp-build').path(${JSON.stringify(lzma)}))`],
      { cwd: work.path, encoding: 'utf8' },
    );
    expect(loaded.stdout.trim()).toBe(
      join(lzma, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node'),
    );
  });

  it('does nothing with TSQUASHFS_SKIP_NATIVE=1', () => {
    rmSync(join(work.path, 'native/build'), { recursive: true, force: true });
    const r = spawnSync(process.execPath, ['scripts/build-native.js'], {
      cwd: work.path,
      encoding: 'utf8',
      env: { ...process.env, TSQUASHFS_SKIP_NATIVE: '1' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/TSQUASHFS_SKIP_NATIVE=1/);
    expect(existsSync(join(work.path, 'native/build'))).toBe(false);
  });
});

/**
 * The package as `npm pack` makes it: its native/ folder must hold every file binding.gyp builds
 * from and every header those files include, or the addon of an installed tsquashfs fails to
 * build and every engine quietly falls back to the slow path. (0.1.0's "files" list named each
 * source by hand and missed list-dir.c and list-dir.h.) The build itself is real: node-gyp in
 * the unpacked package, without the lzma-native rebuild.
 */
describe('the packed package', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await makeTempDir('packed');
  });
  afterAll(async () => {
    await work?.cleanup();
  });

  it('ships the addon sources and builds an addon with every entry point', () => {
    const packed = spawnSync(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work.path],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(packed.status, packed.stderr).toBe(0);
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    const untar = spawnSync('tar', ['-xzf', join(work.path, filename), '-C', work.path], {
      encoding: 'utf8',
    });
    expect(untar.status, untar.stderr).toBe(0);
    const pkg = join(work.path, 'package');

    const gyp = readFileSync(join(ROOT, 'native/binding.gyp'), 'utf8');
    const sources = [...gyp.matchAll(/"([\w-]+\.c)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(0);
    const headers = new Set<string>();
    for (const c of sources) {
      for (const m of readFileSync(join(ROOT, 'native', c), 'utf8').matchAll(
        /^#include "([^"]+)"/gm,
      )) {
        headers.add(m[1]!);
      }
    }
    for (const f of [...sources, ...headers]) {
      expect(existsSync(join(pkg, 'native', f)), `native/${f} is not in the package`).toBe(true);
    }

    const built = spawnSync(process.execPath, ['scripts/build-native.js'], {
      cwd: pkg,
      encoding: 'utf8',
      env: { ...process.env, TSQUASHFS_SKIP_LZMA_REBUILD: '1' },
      timeout: 300_000,
    });
    expect(built.status, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/built native engine/);
    const addon = join(pkg, 'native/build/Release/tsquashfs_native.node');
    const exported = spawnSync(
      process.execPath,
      ['-e', `console.log(Object.keys(require(${JSON.stringify(addon)})).sort().join(' '))`],
      { encoding: 'utf8', env: { ...process.env, TSQUASHFS_NATIVE: '1' } },
    );
    expect(exported.stdout.trim().split(' ')).toEqual(
      expect.arrayContaining([
        'adviseHugePages',
        'deflate',
        'listDir',
        'readFiles',
        'xxh64Digest',
        'xattrListSize',
        'xxh64Update',
        'xzEncode',
      ]),
    );
  }, 330_000);
});
