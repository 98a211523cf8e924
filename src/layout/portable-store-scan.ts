/**
 * Maps store paths from the host into Tree nodes for the image's /nix/store. nixpkgs copies each
 * store path with its own `cp -a` before mksquashfs reads the copies, so hard links are kept
 * inside a store path but not across store paths (an optimised store hard-links identical files
 * everywhere); scanning each store path on its own gives the same result. Modes, symlinks and
 * xattrs are taken as the scanner reads them; owners and times are set by the writer options.
 *
 * Every regular file is opened once here, so that an unreadable file is reported with its path
 * before the image is started rather than halfway through it.
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { ioError, SquashfsError } from '../squashfs/errors.js';
import type { DirEntryNode, DirNode, TreeNode } from '../squashfs/tree.js';
import { childPath, displayPath } from './host-paths.js';
import { scanSources } from './host-scan.js';
import { mapLimited } from './map-limited.js';

/** Store paths scanned at once; each scan has its own parallelism inside. */
const STORE_PATH_CONCURRENCY = 4;
const OPEN_CONCURRENCY = 32;

/**
 * The entries of /nix/store for these (existing, host) store paths. What the scanner would only
 * warn about (a file that vanished, a type squashfs cannot store) is an error here, as nixpkgs
 * runs mksquashfs with -exit-on-error.
 */
export async function scanStorePaths(storePaths: readonly string[]): Promise<DirEntryNode[]> {
  return mapLimited(storePaths, STORE_PATH_CONCURRENCY, async (storePath) => {
    let problem: string | undefined;
    const root = await scanSources([storePath], {
      keepAsDirectory: true,
      onWarning: (message) => {
        // Out-of-range times are clamped to 0 with all others (SOURCE_DATE_EPOCH=0): harmless.
        if (!message.includes('modification time does not fit')) problem ??= message;
      },
    });
    if (problem !== undefined) {
      throw new SquashfsError('IO', `${problem} (fatal: nixpkgs packs with -exit-on-error)`);
    }
    const entry = root.entries[0];
    if (root.entries.length !== 1 || entry === undefined) {
      throw new SquashfsError('IO', `store path ${storePath} could not be read`, {
        path: storePath,
      });
    }
    await checkReadable(entry.node, Buffer.from(path.resolve(storePath)));
    return entry;
  });
}

/** Opens (and closes) every regular file below `node`, which was scanned from `hostPath`. */
async function checkReadable(node: TreeNode, hostPath: Buffer): Promise<void> {
  const files: Buffer[] = [];
  const seen = new Set<TreeNode>();
  const walk = (n: TreeNode, p: Buffer) => {
    if (n.kind === 'file' && !seen.has(n)) {
      seen.add(n);
      files.push(p);
    } else if (n.kind === 'dir') {
      for (const e of (n as DirNode).entries) walk(e.node, childPath(p, e.name));
    }
  };
  walk(node, hostPath);
  await mapLimited(files, OPEN_CONCURRENCY, async (file) => {
    let handle;
    try {
      handle = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw ioError(err, displayPath(file), 'read');
    }
    await handle.close();
  });
}
