/**
 * `buildPortableService(options)`: what nixpkgs' `pkgs.portableService` builds, written by
 * tsquashfs. Validate everything, compute the closure of the units' references, the symlink
 * objects and the contents, lay out the tree, and write `<outDir>/<pname>_<version>.raw`
 * atomically with the settings of nixpkgs' mksquashfs call:
 *
 *   SOURCE_DATE_EPOCH=0 mksquashfs nix <scaffold>/* out.raw -quiet -noappend -exit-on-error \
 *     -keep-as-directory -all-root -root-mode 755 -b 1M -comp xz -Xdict-size 100%
 *
 * i.e. superblock time 0, every mtime clamped to 0, every owner root, root directory 0755.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ioError, SquashfsError } from '../squashfs/errors.js';
import type { WriteProgress } from '../squashfs/write/options.js';
import { writeImage } from '../squashfs/write/image-writer.js';
import { buildPortableTree } from './portable-layout.js';
import {
  compareStrings,
  resolvePortableOptions,
  type PortableServiceOptions,
  type ResolvedPortable,
} from './portable-options.js';
import { scanStorePaths } from './portable-store-scan.js';
import { locateInStore } from './portable-store.js';

/** How the closure is computed: the store paths of the transitive closure of the roots. */
export type ClosureFunction = (
  roots: string[],
  options?: { storeDir?: string },
) => Promise<string[]>;

export interface PortableBuildHooks {
  /** How to compute the closure; default: src/closure's `computeClosure`. */
  computeClosure?: ClosureFunction;
  onProgress?: (progress: WriteProgress) => void;
  signal?: AbortSignal;
}

export interface PortableServiceReport {
  imagePath: string;
  /** Store paths in the image (host paths), sorted. */
  storePaths: string[];
  /** Regular files in the image. */
  fileCount: number;
  /** Uncompressed file data. */
  bytesBefore: number;
  /** Size of the image file. */
  bytesAfter: number;
  duplicateFiles: number;
  seconds: number;
}

/**
 * src/closure's `computeClosure`, loaded when first used. It answers `{ paths, references }`; a
 * plain list is taken too.
 */
async function defaultClosure(roots: string[], options?: { storeDir?: string }): Promise<string[]> {
  const mod = (await import('../closure/index.js')) as {
    computeClosure?: (roots: string[], options?: { storeDir?: string }) => Promise<unknown>;
  };
  if (typeof mod.computeClosure !== 'function') {
    throw new SquashfsError('UNSUPPORTED', 'the closure module has no computeClosure function');
  }
  const result = await mod.computeClosure(roots, options);
  const paths = Array.isArray(result) ? result : (result as { paths?: unknown })?.paths;
  if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) {
    throw new SquashfsError('UNSUPPORTED', 'computeClosure did not answer a list of store paths');
  }
  return paths as string[];
}

/** The closure of the roots, checked: store paths of the store, roots included, sorted. */
export async function portableClosure(
  resolved: ResolvedPortable,
  computeClosure: ClosureFunction = defaultClosure,
): Promise<string[]> {
  if (resolved.closureRoots.length === 0) return [];
  const closure = await computeClosure([...resolved.closureRoots], {
    storeDir: resolved.storeDir,
  });
  const all = new Set([...closure, ...resolved.closureRoots]);
  for (const p of all) {
    const location = locateInStore(p, resolved.storeDir);
    if (location === undefined || location.rest !== '') {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `the closure contains ${p}, which is not a store path of ${resolved.storeDir}`,
        { path: p },
      );
    }
  }
  return [...all].sort(compareStrings);
}

export async function buildPortableService(
  options: PortableServiceOptions,
  hooks: PortableBuildHooks = {},
): Promise<PortableServiceReport> {
  const started = performance.now();
  const resolved = await resolvePortableOptions(options);
  const storePaths = await portableClosure(resolved, hooks.computeClosure);
  const storeEntries = await scanStorePaths(storePaths);
  const root = buildPortableTree(resolved, storeEntries);
  try {
    await mkdir(dirname(resolved.imagePath), { recursive: true });
  } catch (err) {
    throw ioError(err, dirname(resolved.imagePath), 'create the output directory');
  }
  const report = await writeImage(root, resolved.imagePath, {
    compression: resolved.compression,
    blockSize: resolved.blockSize,
    mkfsTime: 0,
    clampTime: 0,
    forceUid: 0,
    forceGid: 0,
    rootMode: 0o755,
    onProgress: hooks.onProgress,
    signal: hooks.signal,
  });
  return {
    imagePath: resolved.imagePath,
    storePaths,
    fileCount: report.files,
    bytesBefore: report.dataBytes,
    bytesAfter: report.paddedSize,
    duplicateFiles: report.duplicateFiles,
    seconds: (performance.now() - started) / 1000,
  };
}
