#!/usr/bin/env node
/**
 * postinstall: build tsquashfs's optional native code. Works offline; never fails the install.
 *
 * 1. native/build/Release/tsquashfs_native.node: a small N-API addon that calls the system's zlib
 *    the way mksquashfs does (src/squashfs/compress/native.ts). Needs node-gyp's toolchain
 *    (python3, make, a C compiler) and Node's headers, nothing else: no -dev packages.
 * 2. lzma-native rebuilt from its bundled xz 5.2.3 source with CFLAGS=-O2. Its prebuilt binary
 *    was compiled without optimisation (about half the speed, identical bytes). The rebuild goes
 *    to lzma-native's build/ folder, which its loader (node-gyp-build) prefers to the prebuilt
 *    binary; it is kept only if it loads and writes the prebuilt binary's bytes on a sample.
 *
 * Whatever fails is removed again and a one-line notice says which slower engine remains.
 * TSQUASHFS_SKIP_NATIVE=1 skips both steps; TSQUASHFS_SKIP_LZMA_REBUILD=1 skips step 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const say = (msg) => console.log(`tsquashfs: ${msg}`);

if (process.env.TSQUASHFS_SKIP_NATIVE === '1') {
  say(
    'TSQUASHFS_SKIP_NATIVE=1: native engines not built (gzip uses pako, xz lzma-native as shipped)',
  );
  process.exit(0);
}

/** node-gyp: the one npm runs lifecycle scripts with, else npm's bundled copy, else PATH. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(
      path.join(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    );
  }
  candidates.push(
    path.join(
      path.dirname(process.execPath),
      '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    ),
  );
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

/** Node's own headers when they sit beside the binary (Debian/NodeSource packages): no download. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

/** A build that hangs (say, node-gyp fetching headers through a black-holed network) is cut off. */
function gypRebuild(cwd, env, timeoutMinutes) {
  const [cmd, ...pre] = nodeGyp();
  const r = spawnSync(cmd, [...pre, 'rebuild', ...nodedirArgs()], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: timeoutMinutes * 60_000,
    killSignal: 'SIGKILL',
  });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\nerror: ${String(r.error)}` : ''}`;
  return { ok: r.status === 0, log };
}

/** Runs `code` in a fresh node (a broken addon must not take this process down). */
function probe(code) {
  const r = spawnSync(process.execPath, ['--input-type=commonjs', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, TSQUASHFS_NATIVE: '1' },
  });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The first informative error lines of a build log (not node-gyp's stack and version footer). */
function lastLines(log, n = 2) {
  const noise =
    /gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)|^\s*(at |File |raise )/;
  const lines = log.split('\n').filter((l) => l.trim() && !noise.test(l));
  const errors = lines.filter((l) => /error|not found|no such file|ERR!/i.test(l));
  return (errors.length ? errors.slice(0, n) : lines.slice(-n)).map((l) => l.trim()).join(' | ');
}

// ---- 1. the addon ----
const nativeDir = path.join(root, 'native');
const addon = path.join(nativeDir, 'build/Release/tsquashfs_native.node');
{
  const t = Date.now();
  const { ok, log } = gypRebuild(nativeDir, {}, 5);
  const versions = ok
    ? probe(
        `const n=require(${JSON.stringify(addon)});if(!n.zlibVersion)process.exit(1);console.log('zlib '+n.zlibVersion)`,
      )
    : null;
  if (versions) {
    say(`built native engine (system ${versions}) in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  } else {
    rmSync(path.join(nativeDir, 'build'), { recursive: true, force: true });
    say(
      `native engine not built (${ok ? 'it does not load or finds no system zlib' : lastLines(log)}); gzip uses pako (same bytes, slower)`,
    );
  }
}

// ---- 2. lzma-native with -O2 ----
if (process.env.TSQUASHFS_SKIP_LZMA_REBUILD === '1') process.exit(0);
let lzmaDir;
try {
  lzmaDir = path.dirname(require.resolve('lzma-native/package.json'));
} catch {
  process.exit(0);
}
const marker = path.join(lzmaDir, 'build/tsquashfs-rebuild.json');
const stamp = JSON.stringify({
  version: JSON.parse(readFileSync(path.join(lzmaDir, 'package.json'), 'utf8')).version,
  node: process.versions.modules,
  cflags: '-O2',
});
if (existsSync(marker) && readFileSync(marker, 'utf8') === stamp) {
  say('lzma-native already rebuilt with -O2');
  process.exit(0);
}

/** Hash of raw LZMA2 preset-6 output of a fixed 256 KiB sample, by the binding at `bindingPath`. */
const sampleHash = (bindingPath) =>
  probe(`
const lz = require(${JSON.stringify(bindingPath)});
const crypto = require('crypto');
const sample = Buffer.alloc(256 << 10);
let x = 12345;
for (let i = 0; i < sample.length; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  sample[i] = (x >>> 16) % 3 === 0 ? (x >>> 8) & 0xff : 0x61 + ((i * 7) % 23);
}
const h = crypto.createHash('sha256');
for (const dictSize of [8192, 1 << 20]) {
  for (const pre of [[], [{ id: lz.FILTER_X86 }]]) {
    const s = new lz.Stream();
    s.bufferHandler = (b) => b && h.update(b);
    s.rawEncoder_([...pre, { id: lz.FILTER_LZMA2, options: { dictSize, lc: 3, lp: 0, pb: 2,
      mode: lz.MODE_NORMAL, niceLen: 64, mf: lz.MF_BT4, depth: 0 } }]);
    s.code(sample, false);
    s.code(null, false);
  }
}
console.log(h.digest('hex'));`);

const prebuilt = path.join(
  lzmaDir,
  'prebuilds',
  `${process.platform}-${process.arch}`,
  'node.napi.node',
);
const want = existsSync(prebuilt) ? sampleHash(prebuilt) : null;
say('rebuilding lzma-native from its bundled xz source with -O2 (about a minute)...');
const t = Date.now();
const cflags = `-O2 ${process.env.CFLAGS ?? ''}`.trim();
const { ok, log } = gypRebuild(lzmaDir, { CFLAGS: cflags }, 20);
const built = path.join(lzmaDir, 'build/Release/lzma_native.node');
const got = ok && existsSync(built) ? sampleHash(built) : null;
if (got && (want === null || got === want)) {
  writeFileSync(marker, stamp);
  say(
    `lzma-native rebuilt with -O2 in ${((Date.now() - t) / 1000).toFixed(0)} s (same bytes as the prebuilt binary)`,
  );
} else {
  rmSync(path.join(lzmaDir, 'build'), { recursive: true, force: true });
  const why = !ok
    ? lastLines(log)
    : got
      ? 'its output differs from the prebuilt binary'
      : 'it does not load';
  say(`lzma-native not rebuilt (${why}); xz falls back to its prebuilt, unoptimised binary`);
}
