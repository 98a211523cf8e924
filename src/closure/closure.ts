/**
 * The closure of some store paths, computed the way Nix computes references: every store path
 * present in the store directory is a candidate, each path reached is scanned for the hash
 * parts of the candidates, and what it refers to is reached in turn. The result is ordered as
 * `nix-store -qR` prints it (see order.ts).
 *
 * Nix scans a build's output only for the hashes of the build's inputs and records the result in
 * its database; we scan for every path in the store. The two agree unless a file mentions the
 * hash of a path that was not an input of its build (possible only by discarding string
 * context), in which case we include that path too: a larger closure, never a smaller one.
 * Derivations (`.drv` files) are the one common case: their text names their outputs and their
 * inputs' outputs, which Nix does not count as references (it records the input derivations and
 * sources instead), so the closure of a `.drv` here also holds those outputs if they are built.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { dirname, posix, resolve } from 'node:path';
import { ClosureError, closureIoError } from './errors.js';
import { nixStoreOrder } from './order.js';
import { HashSet, scanPath } from './scanner.js';
import {
  isStorePathBaseName,
  normalizeStoreDir,
  parseStorePath,
  HASH_LENGTH,
  type StoreDirOption,
} from './store-path.js';

export interface StoreLocation extends StoreDirOption {
  /**
   * Where the store directory is on this host: the files of `/nix/store/x` are read from
   * `<root>/nix/store/x`. For a chroot store (`nix --store ROOT`), whose paths still read
   * `/nix/store/...`. Default '/'.
   */
  root?: string;
}

export interface ClosureOptions extends StoreLocation {
  /** How many store paths are scanned at once; default 4. */
  concurrency?: number;
  /** Called with the size of every chunk read, for progress displays. */
  onBytes?: (bytes: number) => void;
}

export interface Closure {
  /** The store paths, in `nix-store -qR` order: each after everything it refers to. */
  paths: string[];
  /** Store path → the other store paths it refers to, sorted (self-references left out). */
  references: Map<string, string[]>;
}

/** The store paths of a store directory, indexed by hash part. */
export interface StoreIndex {
  storeDir: string;
  root: string;
  /** Hash part → the store paths with that hash (one, except in odd hand-made stores). */
  byHash: Map<string, string[]>;
  candidates: HashSet;
}

/** The path on this host of a store path (or of the store directory). */
export function hostPath(storePath: string, location: StoreLocation): string {
  const root = location.root ?? '/';
  return root === '/' ? storePath : posix.join(resolve(root), storePath);
}

/**
 * Lists the store directory: every entry with a valid `<hash>-<name>` is a candidate. A
 * `<path>.lock` left by a build is ignored when the path itself exists, since both have the
 * same hash part.
 */
export async function indexStore(location: StoreLocation = {}): Promise<StoreIndex> {
  const storeDir = normalizeStoreDir(location.storeDir);
  const root = location.root ?? '/';
  const dir = hostPath(storeDir, { root });
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw closureIoError(err, dir, 'list the store directory');
  }
  const valid = new Set(names.filter(isStorePathBaseName));
  const byHash = new Map<string, string[]>();
  for (const name of [...valid].sort()) {
    if (name.endsWith('.lock') && valid.has(name.slice(0, -'.lock'.length))) continue;
    const hash = name.slice(0, HASH_LENGTH);
    const list = byHash.get(hash);
    const path = `${storeDir}/${name}`;
    if (list === undefined) byHash.set(hash, [path]);
    else list.push(path);
  }
  return { storeDir, root, byHash, candidates: new HashSet(byHash.keys()) };
}

/** The store paths that `storePath` refers to (itself included if it refers to itself). */
export async function scanReferences(
  storePath: string,
  index: StoreIndex,
  options: Pick<ClosureOptions, 'onBytes'> = {},
): Promise<string[]> {
  const hashes = await scanPath(hostPath(storePath, index), index.candidates, {
    onBytes: options.onBytes,
  });
  return [...hashes].flatMap((h) => index.byHash.get(h) ?? []).sort();
}

/**
 * The closure of `roots`: store paths, or paths inside store paths (which stand for their
 * store path). Every root must exist.
 */
export async function computeClosure(
  roots: readonly string[],
  options: ClosureOptions = {},
): Promise<Closure> {
  const storeDir = normalizeStoreDir(options.storeDir);
  const start = roots.map((r) => parseStorePath(r, { storeDir }).path);
  const index = await indexStore({ storeDir, root: options.root });
  for (const path of new Set(start)) await checkExists(path, index);

  const references = new Map<string, string[]>();
  const reached = new Set<string>(start);
  let queue = [...reached];
  const concurrency = Math.max(1, options.concurrency ?? 4);
  while (queue.length > 0) {
    const next: string[] = [];
    await forEachLimited(queue, concurrency, async (path) => {
      const refs = await scanReferences(path, index, options);
      references.set(
        path,
        refs.filter((r) => r !== path),
      );
      for (const ref of refs) {
        if (!reached.has(ref)) {
          reached.add(ref);
          next.push(ref);
        }
      }
    });
    queue = next;
  }
  const paths = nixStoreOrder(reached, (p) => references.get(p) ?? []);
  return { paths, references };
}

async function checkExists(storePath: string, index: StoreIndex): Promise<void> {
  const hash = storePath.slice(index.storeDir.length + 1, index.storeDir.length + 1 + HASH_LENGTH);
  if (index.byHash.get(hash)?.includes(storePath)) return;
  const where = index.root === '/' ? '' : ` (looked for under ${index.root})`;
  throw new ClosureError('NOT_FOUND', `no such store path: ${storePath}${where}`, {
    path: storePath,
  });
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Like Nix's followLinksToStorePath: a path outside the store that is a symlink (such as a
 * `result` link of nix-build) is followed, link by link, until it names something in the store;
 * the store path is returned. Relative paths are taken from the current directory. Links are
 * read on the host as they are, so with a chroot store a link must point to `/nix/store/...`.
 */
export async function followLinksToStorePath(
  path: string,
  options: StoreDirOption = {},
): Promise<string> {
  const storeDir = normalizeStoreDir(options.storeDir);
  let current = resolve(path);
  for (let hops = 0; hops < 40 && !isInStore(current, storeDir); hops++) {
    let info;
    try {
      info = await lstat(current);
    } catch (err) {
      throw closureIoError(err, current, 'read');
    }
    if (!info.isSymbolicLink()) break;
    const target = await readlink(current).catch((err: unknown) => {
      throw closureIoError(err, current, 'read the symlink');
    });
    current = resolve(dirname(current), target);
  }
  return parseStorePath(current, { storeDir }).path;
}

function isInStore(path: string, storeDir: string): boolean {
  return path.startsWith(`${storeDir}/`);
}
