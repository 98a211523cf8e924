/**
 * The directory of tsquashfs's package.json, found by walking up from this module: it runs from
 * src/ (tests), dist/ (the library) and dist/bundle/ (the command line), at different depths.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageInfo {
  root: string;
  version: string;
}

let found: PackageInfo | null | undefined;

/** Null when no package.json names tsquashfs above this module (a copied file, say). */
export function packageInfo(): PackageInfo | null {
  if (found !== undefined) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'tsquashfs' && typeof pkg.version === 'string') {
        found = { root: dir, version: pkg.version };
        return found;
      }
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) {
      found = null;
      return found;
    }
    dir = parent;
  }
}
