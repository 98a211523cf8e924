/**
 * Store paths as the portable-service builder needs them: telling whether a host path lies in
 * the store (and in which store path), and finding the store paths a unit file's text refers to.
 *
 * A store path is `<storeDir>/<hash>-<name>`: 32 characters of Nix's base-32 alphabet (digits and
 * lower-case letters without e, o, u, t), a dash, and a name of letters, digits and `+-._?=` that
 * does not start with '.'. References are found the way Nix finds them: by the hash alone, so a
 * unit that says `/nix/store/<hash>-hello/bin/hello` refers to the store path with that hash,
 * wherever the host keeps its store.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ioError, SquashfsError } from '../squashfs/errors.js';

export const DEFAULT_STORE_DIR = '/nix/store';

const HASH_CHARS = '[0-9a-df-np-sv-z]';
const HASH_LENGTH = 32;
const BASENAME = new RegExp(`^(${HASH_CHARS}{${HASH_LENGTH}})-([A-Za-z0-9+\\-._?=]+)$`);
/** A hash right after a '/' and followed by '-': how a store path appears in text. */
const REFERENCE = new RegExp(`/(${HASH_CHARS}{${HASH_LENGTH}})-`, 'g');
const MAX_NAME_LENGTH = 211;

export interface StoreLocation {
  /** `<storeDir>/<hash>-<name>`. */
  storePath: string;
  hash: string;
  /** The part after the store path: '' or `/sub/path`. */
  rest: string;
}

/** Checks a store directory option: absolute and normalised. */
export function checkStoreDir(storeDir: string): string {
  if (!path.isAbsolute(storeDir) || path.normalize(storeDir) !== storeDir || storeDir === '/') {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `store directory "${storeDir}" must be an absolute, normalised path other than /`,
    );
  }
  return storeDir.endsWith('/') ? storeDir.slice(0, -1) : storeDir;
}

/** Whether a directory entry name is a store path's: `<hash>-<name>`. */
export function parseStoreBaseName(name: string): { hash: string; name: string } | undefined {
  const m = BASENAME.exec(name);
  if (!m || m[2]!.startsWith('.') || m[2]!.length > MAX_NAME_LENGTH) return undefined;
  return { hash: m[1]!, name: m[2]! };
}

/**
 * Where an absolute host path lies in the store, or undefined if it does not (lexically: no
 * symlink is followed, so a path reached through a link into the store is not a store path).
 */
export function locateInStore(hostPath: string, storeDir: string): StoreLocation | undefined {
  const resolved = path.resolve(hostPath);
  if (!resolved.startsWith(`${storeDir}/`)) return undefined;
  const tail = resolved.slice(storeDir.length + 1);
  const slash = tail.indexOf('/');
  const base = slash === -1 ? tail : tail.slice(0, slash);
  const parsed = parseStoreBaseName(base);
  if (parsed === undefined) return undefined;
  return {
    storePath: `${storeDir}/${base}`,
    hash: parsed.hash,
    rest: slash === -1 ? '' : tail.slice(slash),
  };
}

/** The hashes of the store paths that bytes mention, in order of first appearance. */
export function referencedHashes(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const seen = new Set<string>();
  for (const m of text.matchAll(REFERENCE)) seen.add(m[1]!);
  return [...seen];
}

/** The store directory's entries by hash, read once and only when first needed. */
export class StoreIndex {
  private byHash: Promise<Map<string, string>> | undefined;

  constructor(readonly storeDir: string) {}

  /** The store path with this hash, or undefined if the store has none. */
  async lookup(hash: string): Promise<string | undefined> {
    this.byHash ??= this.read();
    const base = (await this.byHash).get(hash);
    return base === undefined ? undefined : `${this.storeDir}/${base}`;
  }

  private async read(): Promise<Map<string, string>> {
    let names: string[];
    try {
      names = await fsp.readdir(this.storeDir);
    } catch (err) {
      throw ioError(err, this.storeDir, 'read the store directory');
    }
    const map = new Map<string, string>();
    for (const name of names) {
      const parsed = parseStoreBaseName(name);
      if (parsed !== undefined) map.set(parsed.hash, name);
    }
    return map;
  }
}
