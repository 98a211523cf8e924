/**
 * The inputs of a portable-service build, with nixpkgs' `portableService` keys, and their
 * validation. `resolvePortableOptions` checks everything that can be checked before writing
 * (names systemd would refuse, symlinks that escape the root or collide with the scaffold, paths
 * that are missing, outside the store or unreadable, a compression string mksquashfs would refuse)
 * and throws a SquashfsError naming the first problem; nothing is written by it.
 */
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { parseBlockSize, parseMkArgs } from '../cli/mk-args.js';
import type { CompressionOptions } from '../squashfs/compress/compressor.js';
import { ioError, SquashfsError } from '../squashfs/errors.js';
import { osReleaseText } from './os-release.js';
import {
  imageFileName,
  imageNameProblem,
  isAtOrBelow,
  pnameProblem,
  symlinkPathProblem,
  unitNameProblem,
  versionProblem,
} from './portable-names.js';
import {
  canonicalStoreMode,
  EMPTY_FILES,
  IMAGE_STORE_DIR,
  MOUNTED_OVER_DIRS,
  OS_RELEASE_PATH,
  SCAFFOLD_DIRS,
  UNIT_DIR,
} from './portable-scaffold.js';
import {
  checkStoreDir,
  DEFAULT_STORE_DIR,
  locateInStore,
  parseStoreBaseName,
  referencedHashes,
  StoreIndex,
} from './portable-store.js';

export interface PortableSymlink {
  /** What the link points to: a path in the store. */
  object: string;
  /** Where the link is made in the image: an absolute path. */
  symlink: string;
}

/** nixpkgs' arguments (`squash-compression` and `squash-block-size` under shorter names). */
export interface PortableServiceOptions {
  pname: string;
  version: string;
  /** Unit files in the store, copied to /etc/systemd/system/. */
  units: string[];
  /** PORTABLE_PRETTY_NAME in os-release; left out when null or undefined. */
  description?: string | null;
  /** HOME_URL in os-release; left out when null or undefined. */
  homepage?: string | null;
  symlinks?: PortableSymlink[];
  /** Store paths included (with their closure) as they are. */
  contents?: string[];
  /** mksquashfs's `-comp` argument and its -X options. Default "xz -Xdict-size 100%". */
  compression?: string;
  /** mksquashfs's `-b` argument. Default "1M". */
  blockSize?: string | number;
  /** Where the host keeps the store. Default /nix/store. In the image it is always /nix/store. */
  storeDir?: string;
  /** Where `<pname>_<version>.raw` is written. Default: the current directory. */
  outDir?: string;
}

export const DEFAULT_COMPRESSION = 'xz -Xdict-size 100%';
export const DEFAULT_BLOCK_SIZE = '1M';

export interface ResolvedUnit {
  /** The file name under /etc/systemd/system/. */
  name: string;
  hostPath: string;
  content: Buffer;
  mode: number;
}

export interface ResolvedSymlink {
  /** Normalised absolute path in the image. */
  symlink: string;
  /** The link target as stored: the object with the host store directory replaced by /nix/store. */
  target: string;
}

export interface ResolvedPortable {
  pname: string;
  version: string;
  imagePath: string;
  osRelease: string;
  units: ResolvedUnit[];
  symlinks: ResolvedSymlink[];
  /** Store paths (host) whose closure goes into the image, sorted, without duplicates. */
  closureRoots: string[];
  storeDir: string;
  compression: CompressionOptions;
  blockSize: number;
}

function invalid(message: string, where: { path?: string } = {}): SquashfsError {
  return new SquashfsError('INVALID_ARGUMENT', message, where);
}

// ---------------------------------------------------------------------------------------------
// Shapes (for callers without types: JSON configs, JavaScript)

function expectString(value: unknown, key: string): string {
  if (typeof value !== 'string') throw invalid(`${key} must be a string, got ${describe(value)}`);
  return value;
}

function optionalString(value: unknown, key: string): string | undefined {
  return value === undefined || value === null ? undefined : expectString(value, key);
}

function stringList(value: unknown, key: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${key} must be a list, got ${describe(value)}`);
  return value.map((item, i) => expectString(item, `${key}[${i}]`));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function symlinkList(value: unknown): PortableSymlink[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`symlinks must be a list, got ${describe(value)}`);
  return value.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw invalid(`symlinks[${i}] must be an object {object, symlink}, got ${describe(item)}`);
    }
    const entry = item as Record<string, unknown>;
    const extra = Object.keys(entry).filter((k) => k !== 'object' && k !== 'symlink');
    if (extra.length > 0) {
      throw invalid(
        `symlinks[${i}] has unknown keys ${extra.join(', ')} (expected object, symlink)`,
      );
    }
    return {
      object: expectString(entry.object, `symlinks[${i}].object`),
      symlink: expectString(entry.symlink, `symlinks[${i}].symlink`),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Compression

/**
 * Turns nixpkgs' `squash-compression` and `squash-block-size` strings into writer options, with
 * mksquashfs's own rules (reusing `tsquashfs mk`'s parser): "xz -Xdict-size 100%", "gzip
 * -Xcompression-level 6", "xz -Xbcj x86"... Only a compressor name and its -X options are taken.
 */
export function parseCompression(
  compression: string,
  blockSize: string | number,
): { compression: CompressionOptions; blockSize: number } {
  const size = typeof blockSize === 'number' ? String(blockSize) : blockSize.trim();
  let bytes: number;
  try {
    bytes = parseBlockSize(size);
  } catch (err) {
    throw invalid(`blockSize "${blockSize}": ${(err as Error).message.replace(/^-b: /, '')}`);
  }
  const words = compression
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const [name, ...rest] = words;
  if (name === undefined || name.startsWith('-')) {
    throw invalid(`compression "${compression}" must start with a compressor name (e.g. xz, gzip)`);
  }
  const stray = rest.find((w) => w.startsWith('-') && !w.startsWith('-X'));
  if (stray !== undefined) {
    throw invalid(
      `compression "${compression}": only a compressor and its -X options are accepted, not ${stray}`,
    );
  }
  const noIds = { uid: () => undefined, gid: () => undefined };
  try {
    const cmd = parseMkArgs(['source', 'image', '-b', size, '-comp', ...words], {}, noIds);
    return { compression: cmd.write.compression, blockSize: bytes };
  } catch (err) {
    throw invalid(`compression "${compression}": ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The checks

/** Validates everything and reads the units; throws on the first problem found. */
export async function resolvePortableOptions(
  options: PortableServiceOptions,
): Promise<ResolvedPortable> {
  if (typeof options !== 'object' || options === null) {
    throw invalid('portable-service options must be an object');
  }
  // Name checks first: they need no file system and are the most common mistakes.
  const pname = expectString(options.pname, 'pname');
  const version = expectString(options.version, 'version');
  const nameProblem = pnameProblem(pname) ?? versionProblem(version);
  if (nameProblem !== undefined) throw invalid(nameProblem);
  const imageProblem = imageNameProblem(pname, version);
  if (imageProblem !== undefined) throw invalid(imageProblem);

  const unitPaths = stringList(options.units, 'units');
  if (unitPaths.length === 0) throw invalid('units is empty: a portable service needs a unit');
  const contents = stringList(options.contents, 'contents');
  const symlinks = symlinkList(options.symlinks);
  const description = optionalString(options.description, 'description');
  const homepage = optionalString(options.homepage, 'homepage');
  const osRelease = osReleaseText({ pname, description, homepage });
  const storeDir = checkStoreDir(optionalString(options.storeDir, 'storeDir') ?? DEFAULT_STORE_DIR);
  const { compression, blockSize } = parseCompression(
    optionalString(options.compression, 'compression') ?? DEFAULT_COMPRESSION,
    typeof options.blockSize === 'number'
      ? options.blockSize
      : (optionalString(options.blockSize, 'blockSize') ?? DEFAULT_BLOCK_SIZE),
  );
  const outDir = path.resolve(optionalString(options.outDir, 'outDir') ?? '.');
  const imagePath = path.join(outDir, imageFileName(pname, version));

  const unitNames = unitPaths.map((p) => unitName(p, storeDir, pname));
  checkDuplicateUnits(unitNames, unitPaths);
  const links = symlinks.map((s) => resolveSymlink(s, storeDir));
  checkSymlinkCollisions(links, unitNames);

  // Then the file system.
  const index = new StoreIndex(storeDir);
  const units = await Promise.all(unitPaths.map((p, i) => readUnit(p, unitNames[i]!)));
  const roots = new Set<string>();
  for (const unit of units) {
    for (const root of await unitReferences(unit, index)) roots.add(root);
  }
  for (const [i, s] of symlinks.entries()) {
    roots.add(await existingStorePath(s.object, storeDir, `symlinks[${i}].object`));
  }
  for (const [i, c] of contents.entries()) {
    roots.add(await existingStorePath(c, storeDir, `contents[${i}]`));
  }
  await checkOutput(outDir, imagePath);
  return {
    pname,
    version,
    imagePath,
    osRelease,
    units,
    symlinks: links,
    closureRoots: [...roots].sort(compareStrings),
    storeDir,
    compression,
    blockSize,
  };
}

export function compareStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * nixpkgs copies a unit under its derivation name: for a store path `<hash>-demo.service`, that
 * is `demo.service`. A file deeper in a store path keeps its own file name.
 */
function unitName(unitPath: string, storeDir: string, pname: string): string {
  const location = locateInStore(unitPath, storeDir);
  if (location === undefined) {
    throw invalid(`unit ${unitPath} is not in the store ${storeDir}`, { path: unitPath });
  }
  const name =
    location.rest === ''
      ? parseStoreBaseName(path.basename(location.storePath))!.name
      : path.basename(location.rest);
  const problem = unitNameProblem(name, pname);
  if (problem !== undefined) throw invalid(`${problem} (from ${unitPath})`, { path: unitPath });
  return name;
}

function checkDuplicateUnits(names: string[], paths: string[]): void {
  const seen = new Map<string, string>();
  names.forEach((name, i) => {
    const other = seen.get(name);
    if (other !== undefined) {
      throw invalid(`units ${other} and ${paths[i]} would both be /etc/systemd/system/${name}`);
    }
    seen.set(name, paths[i]!);
  });
}

function resolveSymlink(s: PortableSymlink, storeDir: string): ResolvedSymlink {
  const problem = symlinkPathProblem(s.symlink);
  if (problem !== undefined) throw invalid(problem);
  if (!path.isAbsolute(s.object) || path.normalize(s.object) !== s.object) {
    throw invalid(`symlink object "${s.object}" must be an absolute, normalised path`);
  }
  const location = locateInStore(s.object, storeDir);
  if (location === undefined) {
    throw invalid(`symlink object ${s.object} (for ${s.symlink}) is not in the store ${storeDir}`, {
      path: s.object,
    });
  }
  const target = `${IMAGE_STORE_DIR}/${path.basename(location.storePath)}${location.rest}`;
  return { symlink: s.symlink, target };
}

/**
 * A symlink may go anywhere the scaffold leaves free: not over a scaffold directory (or one of
 * its parents), file or unit, not into /nix (the store), not into directories systemd mounts
 * over at run time (where it would never be seen), and not at or below another symlink.
 */
function checkSymlinkCollisions(links: ResolvedSymlink[], unitNames: string[]): void {
  const scaffoldDirs = new Set<string>();
  for (const dir of SCAFFOLD_DIRS) {
    for (let d = dir; d !== '/'; d = path.posix.dirname(d)) scaffoldDirs.add(d);
  }
  const files = [OS_RELEASE_PATH, ...EMPTY_FILES, ...unitNames.map((n) => `${UNIT_DIR}/${n}`)];
  links.forEach(({ symlink }, i) => {
    const clash = (what: string) => invalid(`symlink ${symlink} ${what}`);
    if (isAtOrBelow(symlink, '/nix')) throw clash('would be inside /nix, which holds the store');
    const mounted = MOUNTED_OVER_DIRS.find((d) => isAtOrBelow(symlink, d) && symlink !== d);
    if (mounted !== undefined) {
      throw clash(`is inside ${mounted}, which systemd mounts over when the service runs`);
    }
    if (scaffoldDirs.has(symlink)) throw clash(`would replace the scaffold directory ${symlink}`);
    const file = files.find((f) => isAtOrBelow(symlink, f));
    if (file !== undefined) throw clash(`collides with the scaffold file ${file}`);
    for (const other of links.slice(0, i)) {
      if (isAtOrBelow(symlink, other.symlink) || isAtOrBelow(other.symlink, symlink)) {
        throw clash(`collides with the symlink ${other.symlink}`);
      }
    }
  });
}

async function statOrThrow(p: string, what: string, follow: boolean): Promise<Stats> {
  try {
    return follow ? await fsp.stat(p) : await fsp.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw invalid(`${what} ${p} does not exist`, { path: p });
    }
    throw ioError(err, p, `check ${what}`);
  }
}

/** `cp` follows a unit that is a symlink, and the copy is canonicalised by Nix. */
async function readUnit(unitPath: string, name: string): Promise<ResolvedUnit> {
  const hostPath = path.resolve(unitPath);
  const stats = await statOrThrow(hostPath, 'unit', true);
  if (!stats.isFile()) {
    throw invalid(`unit ${unitPath} is not a regular file`, { path: unitPath });
  }
  let content: Buffer;
  try {
    content = await fsp.readFile(hostPath);
  } catch (err) {
    throw ioError(err, hostPath, 'read unit');
  }
  return { name, hostPath, content, mode: canonicalStoreMode(stats.mode) };
}

/** The store paths a unit's text mentions; every one must be in the store. */
async function unitReferences(unit: ResolvedUnit, index: StoreIndex): Promise<string[]> {
  const found: string[] = [];
  for (const hash of referencedHashes(unit.content)) {
    const storePath = await index.lookup(hash);
    if (storePath === undefined) {
      throw invalid(
        `unit ${unit.name} (${unit.hostPath}) refers to a store path with hash ${hash}, ` +
          `which is not in the store ${index.storeDir}`,
        { path: unit.hostPath },
      );
    }
    found.push(storePath);
  }
  return found;
}

async function existingStorePath(p: string, storeDir: string, what: string): Promise<string> {
  const location = locateInStore(path.resolve(p), storeDir);
  if (location === undefined) {
    throw invalid(`${what} ${p} is not in the store ${storeDir}`, { path: p });
  }
  await statOrThrow(path.resolve(p), what, false);
  return location.storePath;
}

/** The image replaces a file, never a directory; the output directory may not exist yet. */
async function checkOutput(outDir: string, imagePath: string): Promise<void> {
  const dir = await fsp.stat(outDir).catch(() => undefined);
  if (dir !== undefined && !dir.isDirectory()) {
    throw invalid(`output directory ${outDir} is not a directory`, { path: outDir });
  }
  const image = await fsp.lstat(imagePath).catch(() => undefined);
  if (image !== undefined && !image.isFile()) {
    throw invalid(`${imagePath} exists and is not a regular file`, { path: imagePath });
  }
}
