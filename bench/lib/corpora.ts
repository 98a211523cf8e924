/**
 * Deterministic benchmark inputs, built once into a cache directory and reused while their
 * parameters stay the same:
 *
 * - `binaries`: copies (not links) of ELF files in sorted order: 40% of the size cap from
 *   /usr/bin, 40% from /usr/lib/<multiarch> (shared libraries), 20% from the rest of /usr/lib
 *   (not /usr/lib/debug); files over an eighth of the cap are left out.
 * - `small`: N generated files of 0–16 KiB in 1 000 leaf directories: text, random, zeros,
 *   tiny files and duplicates, from a fixed seed.
 * - `large`: one file of mixed 256 KiB–4 MiB segments: text, random, zeros, structured binary.
 *
 * Each corpus `<cache>/<id>` has a manifest `<cache>/<id>.json` beside it (not inside, so it is
 * not in the images) with its parameters, file count and byte count.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { Prng, fillStructured, fillText } from './prng.js';

export type CorpusKind = 'binaries' | 'small' | 'large';
export const CORPUS_KINDS: readonly CorpusKind[] = ['binaries', 'small', 'large'];

export interface CorpusParams {
  /** binaries: size cap in bytes. */
  binariesBytes: number;
  /** small: number of files. */
  smallFiles: number;
  /** large: size of the one file in bytes. */
  largeBytes: number;
}

export interface Corpus {
  /** e.g. `binaries-250M`, `small-100000`, `large-200M`: names the cache directory too. */
  id: string;
  kind: CorpusKind | 'external';
  /** Directory given to the tools as the source. */
  path: string;
  description: string;
  params: Record<string, number | string>;
  files: number;
  directories: number;
  bytes: number;
}

const MiB = 1 << 20;

export function buildCorpus(kind: CorpusKind, params: CorpusParams, cacheDir: string): Corpus {
  const spec = specOf(kind, params);
  const dir = path.join(cacheDir, spec.id);
  const manifestPath = `${dir}.json`;
  if (existsSync(manifestPath) && existsSync(dir)) {
    const cached = JSON.parse(readFileSync(manifestPath, 'utf8')) as Corpus;
    if (JSON.stringify(cached.params) === JSON.stringify(spec.params)) {
      return { ...cached, description: spec.description };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(manifestPath, { force: true });
  mkdirSync(dir, { recursive: true });
  spec.build(dir);
  const counts = countTree(dir);
  const corpus: Corpus = {
    id: spec.id,
    kind,
    path: dir,
    description: spec.description,
    params: spec.params,
    ...counts,
  };
  writeFileSync(manifestPath, JSON.stringify(corpus, null, 2) + '\n');
  return corpus;
}

/** A directory given with --source, used in place (not copied, not cached). */
export function externalCorpus(dir: string): Corpus {
  const abs = path.resolve(dir);
  return {
    id: `source-${path.basename(abs)}`,
    kind: 'external',
    path: abs,
    description: `the directory ${abs}`,
    params: { path: abs },
    ...countTree(abs),
  };
}

interface Spec {
  id: string;
  description: string;
  params: Record<string, number | string>;
  build(dir: string): void;
}

function specOf(kind: CorpusKind, p: CorpusParams): Spec {
  switch (kind) {
    case 'binaries':
      return {
        id: `binaries-${Math.round(p.binariesBytes / MiB)}M`,
        description: `ELF executables and libraries from /usr/bin and /usr/lib (sorted, ≤ ${fmtMiB(p.binariesBytes)})`,
        params: { version: 2, capBytes: p.binariesBytes },
        build: (dir) => buildBinaries(dir, p.binariesBytes),
      };
    case 'small':
      return {
        id: `small-${p.smallFiles}`,
        description: `${p.smallFiles} generated files of 0–16 KiB in up to 1 000 leaf directories`,
        params: { version: 1, files: p.smallFiles, seed: 1 },
        build: (dir) => buildSmall(dir, p.smallFiles, 1),
      };
    case 'large':
      return {
        id: `large-${Math.round(p.largeBytes / MiB)}M`,
        description: `one ${fmtMiB(p.largeBytes)} file: text, random, zeros, structured binary`,
        params: { version: 1, bytes: p.largeBytes, seed: 2 },
        build: (dir) => buildLarge(path.join(dir, 'mixed.bin'), p.largeBytes, 2),
      };
  }
}

function fmtMiB(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

// --- binaries ---------------------------------------------------------------------------------

function buildBinaries(dir: string, cap: number): void {
  const multiarch = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  // Executables, shared libraries, then the rest of /usr/lib (plugins, helpers, objects).
  const roots: [string, number, Set<string>][] = [
    ['/usr/bin', 0.4, new Set()],
    [multiarch, 0.4, new Set()],
    ['/usr/lib', 0.2, new Set([multiarch, '/usr/lib/debug'])],
  ];
  for (const [root, share, skip] of roots) {
    let budget = cap * share;
    for (const file of sortedFiles(root, skip)) {
      const size = lstatSync(file).size;
      if (size === 0 || size > cap / 8 || !isElf(file)) continue;
      if (size > budget) break; // a sorted prefix of each root
      const dest = path.join(dir, file);
      mkdirSync(path.dirname(dest), { recursive: true });
      copyFileSync(file, dest);
      budget -= size;
    }
  }
}

/** Regular files under `root`, depth first in byte order of names; symlinks are not followed. */
export function* sortedFiles(
  root: string,
  skip: ReadonlySet<string> = new Set(),
): Generator<string> {
  let names: string[];
  try {
    names = readdirSync(root).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  } catch {
    return; // unreadable directory
  }
  for (const name of names) {
    const full = path.join(root, name);
    if (skip.has(full)) continue;
    const st = lstatSync(full, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) yield* sortedFiles(full, skip);
    else if (st.isFile()) yield full;
  }
}

function isElf(file: string): boolean {
  const head = Buffer.alloc(4);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === '\x7fELF';
  } finally {
    closeSync(fd);
  }
}

// --- small files ------------------------------------------------------------------------------

function buildSmall(dir: string, count: number, seed: number): void {
  const g = new Prng(seed);
  const earlier: Uint8Array[] = []; // a few earlier contents, for duplicates
  for (let i = 0; i < count; i++) {
    const leaf = i % 1000;
    const sub = path.join(
      dir,
      `d${String(leaf % 100).padStart(2, '0')}`,
      `s${Math.floor(leaf / 100)}`,
    );
    if (i < 1000) mkdirSync(sub, { recursive: true });
    const content = smallContent(g, earlier);
    if (earlier.length < 64) earlier.push(content);
    else if (g.int(16) === 0) earlier[g.int(64)] = content;
    writeFileSync(path.join(sub, `f${String(i).padStart(6, '0')}`), content);
  }
}

function smallContent(g: Prng, earlier: Uint8Array[]): Uint8Array {
  const r = g.float();
  const skewed = () => Math.floor(g.float() ** 2 * 16385);
  if (r < 0.45) return fillText(g, new Uint8Array(skewed()));
  if (r < 0.7) return g.fill(new Uint8Array(skewed()));
  if (r < 0.85 && earlier.length > 0) return earlier[g.int(earlier.length)]!;
  if (r < 0.95) return fillText(g, new Uint8Array(g.int(65)));
  return new Uint8Array(g.int(16385));
}

// --- one large file ---------------------------------------------------------------------------

function buildLarge(file: string, size: number, seed: number): void {
  const g = new Prng(seed);
  const fd = openSync(file, 'w');
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(left, 256 * 1024 + g.int(4 * MiB - 256 * 1024));
      const r = g.float();
      const seg = new Uint8Array(n);
      if (r < 0.4) fillText(g, seg);
      else if (r < 0.6) g.fill(seg);
      else if (r < 0.75) seg.fill(0);
      else fillStructured(g, seg);
      writeSync(fd, seg);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

// --- shared -----------------------------------------------------------------------------------

function countTree(dir: string): { files: number; directories: number; bytes: number } {
  let files = 0;
  let directories = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        directories++;
        walk(full);
      } else if (e.isFile()) {
        files++;
        bytes += lstatSync(full).size;
      }
    }
  };
  walk(dir);
  return { files, directories, bytes };
}

/** Reads every file of the corpus once, so that no tool pays for a cold page cache. */
export function warmCorpus(dir: string): void {
  const buf = Buffer.alloc(MiB);
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) {
        const fd = openSync(full, 'r');
        try {
          while (readSync(fd, buf, 0, buf.length, null) > 0);
        } finally {
          closeSync(fd);
        }
      }
    }
  };
  walk(dir);
}
