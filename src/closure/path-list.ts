/**
 * A closure given explicitly, for hosts that want Nix's own answer: a file with one store path
 * a line, such as the `store-paths` file of a nixpkgs `closureInfo` directory (which holds the
 * closure's paths sorted, one a line). Every line must be a store path itself, not a path inside
 * one; empty lines are ignored; duplicates are dropped, the first occurrence keeping its place.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClosureError, closureIoError } from './errors.js';
import { parseExactStorePath, type StoreDirOption } from './store-path.js';

/** The store paths listed in `file`, in file order. */
export async function readPathList(file: string, options: StoreDirOption = {}): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw closureIoError(err, file, 'read the path list');
  }
  return parsePathList(text, file, options);
}

/** The store paths of a closureInfo directory (its `store-paths` file). */
export async function readClosureInfo(
  dir: string,
  options: StoreDirOption = {},
): Promise<string[]> {
  return readPathList(join(dir, 'store-paths'), options);
}

/** Parses the text of a path list; `source` names it in error messages. */
export function parsePathList(
  text: string,
  source: string,
  options: StoreDirOption = {},
): string[] {
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    if (line !== line.trim()) {
      throw new ClosureError(
        'BAD_PATH_LIST',
        `${source} line ${i + 1}: ${JSON.stringify(line)} has surrounding white space`,
        { path: source },
      );
    }
    try {
      seen.add(parseExactStorePath(line, options).path);
    } catch (err) {
      if (!(err instanceof ClosureError)) throw err;
      throw new ClosureError('BAD_PATH_LIST', `${source} line ${i + 1}: ${err.message}`, {
        path: source,
        cause: err,
      });
    }
  }
  return [...seen];
}
