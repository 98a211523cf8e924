/**
 * A JSON file with the arguments of nixpkgs' `portableService`, for `tsquashfs portable
 * --config FILE.json`:
 *
 *   { "pname": "demo", "version": "1.0", "units": ["/nix/store/...-demo.service"],
 *     "description": "...", "homepage": "...", "symlinks": [{"object": "...", "symlink": "/bin/sh"}],
 *     "contents": ["/nix/store/..."], "squash-compression": "xz -Xdict-size 100%",
 *     "squash-block-size": "1M" }
 *
 * `compression` and `blockSize` are accepted for the last two as well, and `storeDir` and
 * `outDir` are tsquashfs's own. Relative paths are taken from the file's directory.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ioError, SquashfsError } from '../squashfs/errors.js';
import type { PortableServiceOptions, PortableSymlink } from './portable-options.js';

const KEYS: Readonly<Record<string, keyof PortableServiceOptions>> = {
  pname: 'pname',
  version: 'version',
  units: 'units',
  description: 'description',
  homepage: 'homepage',
  symlinks: 'symlinks',
  contents: 'contents',
  'squash-compression': 'compression',
  compression: 'compression',
  'squash-block-size': 'blockSize',
  blockSize: 'blockSize',
  storeDir: 'storeDir',
  outDir: 'outDir',
};

function invalid(file: string, message: string): SquashfsError {
  return new SquashfsError('INVALID_ARGUMENT', `${file}: ${message}`, { path: file });
}

/** Maps the JSON object's keys to options; types are checked later with everything else. */
export function portableOptionsFromJson(
  json: unknown,
  file: string,
): Partial<PortableServiceOptions> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(file, 'the configuration must be a JSON object');
  }
  const baseDir = path.dirname(path.resolve(file));
  const fromFile = (p: unknown) => (typeof p === 'string' ? path.resolve(baseDir, p) : p);
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const target = KEYS[key];
    if (target === undefined) {
      if (key === 'squashfs-tools') {
        throw invalid(file, 'squashfs-tools does not apply: tsquashfs writes the image itself');
      }
      throw invalid(file, `unknown key "${key}" (known: ${Object.keys(KEYS).join(', ')})`);
    }
    if (options[target] !== undefined) {
      throw invalid(file, `"${key}" given twice (under two names)`);
    }
    options[target] = value;
  }
  for (const key of ['units', 'contents'] as const) {
    if (Array.isArray(options[key])) options[key] = (options[key] as unknown[]).map(fromFile);
  }
  if (Array.isArray(options.symlinks)) {
    options.symlinks = (options.symlinks as unknown[]).map((s) =>
      typeof s === 'object' && s !== null && !Array.isArray(s)
        ? { ...s, object: fromFile((s as PortableSymlink).object) }
        : s,
    );
  }
  for (const key of ['storeDir', 'outDir'] as const) options[key] = fromFile(options[key]);
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as Partial<PortableServiceOptions>;
}

export async function readPortableConfig(file: string): Promise<Partial<PortableServiceOptions>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw ioError(err, file, 'read the configuration');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `not valid JSON: ${(err as Error).message}`);
  }
  return portableOptionsFromJson(json, file);
}
