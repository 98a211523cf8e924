/**
 * A tiny Nix store for the portable-service tests: store paths named with valid nix-base32
 * hashes, canonicalised the way Nix leaves them (0444/0555, mtime 1), with a known dependency
 * graph that stands in for reference scanning.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ClosureFunction } from '../../src/layout/portable.js';

const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';

/** A deterministic 32-character nix-base32 hash for a name. */
export function fakeHash(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < 32; i++) out += NIX_BASE32[digest[i]! % 32];
  return out;
}

/**
 * Nix's canonicalisation of a store path: every non-symlink gets 0444, or 0555 when the owner
 * could execute it; every inode gets mtime 1. Children first, so directories can still be
 * entered while their contents are changed.
 */
export function canonicalise(p: string): void {
  const st = fs.lstatSync(p);
  if (st.isDirectory()) {
    fs.chmodSync(p, 0o755);
    for (const name of fs.readdirSync(p)) canonicalise(path.join(p, name));
  }
  if (!st.isSymbolicLink()) fs.chmodSync(p, st.mode & 0o100 ? 0o555 : 0o444);
  fs.lutimesSync(p, 1, 1);
}

/** Deterministic pseudo-random bytes (compressible only a little), for multi-block files. */
export function noise(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  // Half the bytes made repetitive, so xz has something to do.
  for (let i = 0; i < size; i += 2) out[i] = 0x41 + (i % 7);
  return out;
}

/**
 * A closure function over a fixed reference graph (path -> the paths it references): the
 * transitive closure of the roots, sorted like `nix-store -qR`.
 */
export function closureOf(references: Record<string, string[]>): ClosureFunction {
  return async (roots) => {
    const seen = new Set<string>();
    const visit = (p: string) => {
      if (seen.has(p)) return;
      seen.add(p);
      for (const r of references[p] ?? []) visit(r);
    };
    roots.forEach(visit);
    return [...seen].sort();
  };
}

export interface FakeStorePaths {
  libc: string;
  hello: string;
  service: string;
  cacert: string;
  extra: string;
  unrelated: string;
}

export interface FakeStore {
  storeDir: string;
  /** Store paths by short name. */
  paths: FakeStorePaths;
  /** The closure of the fake references graph. */
  closure: ClosureFunction;
  /** Every root the closure function was called with, per call. */
  calls: string[][];
}

type Layout = { [name: string]: string | Buffer | Layout | { link: string } | { exec: string } };

function populate(dir: string, layout: Layout): void {
  for (const [name, value] of Object.entries(layout)) {
    const p = path.join(dir, name);
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      fs.writeFileSync(p, value, { mode: 0o644 });
    } else if ('link' in value && typeof value.link === 'string') {
      fs.symlinkSync(value.link, p);
    } else if ('exec' in value && typeof value.exec === 'string') {
      fs.writeFileSync(p, value.exec, { mode: 0o755 });
    } else {
      fs.mkdirSync(p);
      populate(p, value as Layout);
    }
  }
}

/**
 * The demo store: `hello` (a program, a hard link, a symlink, docs) depending on `libc` (a
 * multi-block file); a unit `demo.service` running hello; a unit file inside `hello`; `cacert`
 * for a symlink; `extra` for contents (sharing a file with hello, for de-duplication); and
 * `unrelated`, which nothing refers to.
 */
export function makeFakeStore(base: string): FakeStore {
  const storeDir = path.join(base, 'store');
  fs.mkdirSync(storeDir, { recursive: true });
  const name = (n: string) => path.join(storeDir, `${fakeHash(n)}-${n}`);
  const paths: FakeStorePaths = {
    libc: name('libc-2.38'),
    hello: name('hello-1.0'),
    service: name('demo.service'),
    cacert: name('cacert-3.95'),
    extra: name('extra-data'),
    unrelated: name('unrelated-0.1'),
  };
  const helloInImage = `/nix/store/${path.basename(paths.hello)}`;
  fs.mkdirSync(paths.libc);
  populate(paths.libc, { lib: { 'libc.so.6': noise(1_500_000, 'libc'), empty: '' } });
  fs.mkdirSync(paths.hello);
  populate(paths.hello, {
    bin: { hello: { exec: '#!/bin/sh\necho hello from the store\n' }, hi: { link: 'hello' } },
    share: { doc: { README: 'Hello, a demo.\n', 'shared.txt': 'shared bytes\n' } },
    lib: { systemd: { system: { 'demo-extra.timer': '[Timer]\nOnBootSec=1h\n' } } },
  });
  fs.linkSync(path.join(paths.hello, 'bin/hello'), path.join(paths.hello, 'bin/hello-again'));
  fs.writeFileSync(
    paths.service,
    `[Unit]\nDescription=Demo\n\n[Service]\nExecStart=${helloInImage}/bin/hello\n`,
  );
  fs.mkdirSync(paths.cacert);
  populate(paths.cacert, {
    etc: { ssl: { certs: { 'ca.pem': '-----BEGIN CERTIFICATE-----\n' } } },
  });
  fs.mkdirSync(paths.extra);
  populate(paths.extra, {
    'shared.txt': 'shared bytes\n',
    data: { 'numbers.bin': noise(5000, 'x') },
  });
  fs.mkdirSync(paths.unrelated);
  populate(paths.unrelated, { 'nothing.txt': 'not in the closure\n' });
  for (const p of Object.values(paths)) canonicalise(p);

  const references: Record<string, string[]> = {
    [paths.hello]: [paths.libc],
    [paths.service]: [paths.hello],
  };
  const calls: string[][] = [];
  const follow = closureOf(references);
  const closure: ClosureFunction = async (roots) => {
    calls.push([...roots]);
    return follow(roots);
  };
  return { storeDir, paths, closure, calls };
}
