/**
 * Store paths: `<storeDir>/<hash>-<name>`, where the hash part is 32 characters of Nix's base32
 * alphabet (digits and lower-case letters without e, o, u and t) and the name follows Nix's
 * rules (as in Nix 2.8, the version Debian ships): 1 to 211 characters out of
 * `A-Z a-z 0-9 + - . _ ? =`, not starting with '.'. A path below a store path
 * (`/nix/store/<hash>-foo/bin/x`) names that store path plus a rest.
 *
 * Everything here is about strings; nothing touches the disk.
 */
import { posix } from 'node:path';
import { ClosureError } from './errors.js';

export const DEFAULT_STORE_DIR = '/nix/store';
/** Nix's base32 alphabet, in digit order. */
export const NIX_BASE32_CHARS = '0123456789abcdfghijklmnpqrsvwxyz';
/** Characters in the hash part of a store path (160 bits in base32). */
export const HASH_LENGTH = 32;
/** Nix's StorePath::MaxPathLen: the longest name after `<hash>-`. */
export const MAX_NAME_LENGTH = 211;

const NAME_CHARS = /^[A-Za-z0-9+\-._?=]*$/;

export interface StorePath {
  /** The store directory, normalized, without a trailing slash. */
  storeDir: string;
  /** The 32-character hash part. */
  hash: string;
  /** The name after `<hash>-`. */
  name: string;
  /** `<hash>-<name>`, the entry in the store directory. */
  baseName: string;
  /** `<storeDir>/<hash>-<name>`. */
  path: string;
}

export interface ParsedStorePath extends StorePath {
  /** What follows the store path: '' for the store path itself, else '/bin/x' and the like. */
  rest: string;
}

export interface StoreDirOption {
  /** The store directory; default /nix/store. */
  storeDir?: string;
}

/** Validates and normalizes a store directory: absolute, no trailing slash, not '/'. */
export function normalizeStoreDir(storeDir: string = DEFAULT_STORE_DIR): string {
  if (!posix.isAbsolute(storeDir)) {
    throw new ClosureError(
      'BAD_STORE_DIR',
      `bad store directory ${storeDir}: it must be an absolute path`,
      { path: storeDir },
    );
  }
  const dir = posix.normalize(storeDir).replace(/\/+$/, '');
  if (dir === '') {
    throw new ClosureError('BAD_STORE_DIR', `bad store directory ${storeDir}: it cannot be /`, {
      path: storeDir,
    });
  }
  return dir;
}

/** Why `hash` is not a valid hash part, or undefined when it is. */
export function hashProblem(hash: string): string | undefined {
  if (hash.length !== HASH_LENGTH) {
    return `the hash part ${JSON.stringify(hash)} has ${hash.length} characters, not ${HASH_LENGTH}`;
  }
  for (const ch of hash) {
    if (!NIX_BASE32_CHARS.includes(ch)) {
      return `${JSON.stringify(ch)} is not a nix base32 character (${NIX_BASE32_CHARS})`;
    }
  }
  return undefined;
}

/** Why `name` is not a valid store path name, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.length > MAX_NAME_LENGTH) {
    return `the name has ${name.length} characters; Nix allows at most ${MAX_NAME_LENGTH}`;
  }
  if (name.startsWith('.')) return 'the name starts with a period';
  if (!NAME_CHARS.test(name)) {
    const bad = [...name].find((ch) => !NAME_CHARS.test(ch))!;
    return `the name contains ${JSON.stringify(bad)}; Nix allows only A-Z a-z 0-9 + - . _ ? =`;
  }
  return undefined;
}

/**
 * Parses a store directory entry `<hash>-<name>`. `path` is only for the message (the full path
 * the entry came from).
 */
export function parseStorePathBaseName(
  baseName: string,
  storeDir: string = DEFAULT_STORE_DIR,
  path: string = `${storeDir}/${baseName}`,
): StorePath {
  if (baseName.length < HASH_LENGTH + 1 || baseName[HASH_LENGTH] !== '-') {
    const problem =
      baseName.length <= HASH_LENGTH
        ? `${JSON.stringify(baseName)} is too short for <32-character hash>-<name>`
        : `${JSON.stringify(baseName)} has no '-' after a 32-character hash`;
    throw new ClosureError('BAD_HASH', `bad hash in ${path}: ${problem}`, { path });
  }
  const hash = baseName.slice(0, HASH_LENGTH);
  const name = baseName.slice(HASH_LENGTH + 1);
  const badHash = hashProblem(hash);
  if (badHash !== undefined) {
    throw new ClosureError('BAD_HASH', `bad hash in ${path}: ${badHash}`, { path });
  }
  const badName = nameProblem(name);
  if (badName !== undefined) {
    throw new ClosureError('BAD_NAME', `bad name in ${path}: ${badName}`, { path });
  }
  return { storeDir, hash, name, baseName, path: `${storeDir}/${baseName}` };
}

/** True when a store directory entry is a valid `<hash>-<name>`. */
export function isStorePathBaseName(baseName: string): boolean {
  if (baseName.length < HASH_LENGTH + 1 || baseName[HASH_LENGTH] !== '-') return false;
  return (
    hashProblem(baseName.slice(0, HASH_LENGTH)) === undefined &&
    nameProblem(baseName.slice(HASH_LENGTH + 1)) === undefined
  );
}

/**
 * Parses an absolute path that is a store path or lies below one. The path is normalized
 * lexically first ('//', '.', '..'), so `/nix/store/../etc` is not under the store; symlinks
 * are not looked at (see followLinksToStorePath for that).
 */
export function parseStorePath(path: string, options: StoreDirOption = {}): ParsedStorePath {
  const storeDir = normalizeStoreDir(options.storeDir);
  if (!posix.isAbsolute(path)) {
    throw new ClosureError('NOT_A_STORE_PATH', `not a store path: ${path} (not an absolute path)`, {
      path,
    });
  }
  const normal = posix.normalize(path).replace(/(.)\/+$/, '$1');
  if (normal === storeDir) {
    throw new ClosureError(
      'NOT_A_STORE_PATH',
      `not a store path: ${path} (it is the store directory itself)`,
      { path },
    );
  }
  if (!normal.startsWith(`${storeDir}/`)) {
    throw new ClosureError(
      'NOT_A_STORE_PATH',
      `not a store path: ${path} (not under ${storeDir})`,
      {
        path,
      },
    );
  }
  const below = normal.slice(storeDir.length + 1);
  const slash = below.indexOf('/');
  const baseName = slash < 0 ? below : below.slice(0, slash);
  const rest = slash < 0 ? '' : below.slice(slash);
  return { ...parseStorePathBaseName(baseName, storeDir, path), rest };
}

/** Parses a path that must be a store path itself, not something below one. */
export function parseExactStorePath(path: string, options: StoreDirOption = {}): StorePath {
  const parsed = parseStorePath(path, options);
  if (parsed.rest !== '') {
    throw new ClosureError(
      'NOT_A_STORE_PATH',
      `not a store path: ${path} (it is inside ${parsed.path})`,
      { path },
    );
  }
  const { storeDir, hash, name, baseName, path: storePath } = parsed;
  return { storeDir, hash, name, baseName, path: storePath };
}
