/**
 * The Tree of a portable-service image, laid out as nixpkgs' `portableService` lays it out (see
 * portable-scaffold.ts for the builder steps and where each mode comes from):
 *
 *   /                      0755 (-root-mode 755)
 *   /nix, /nix/store       0755 (made in the build directory)
 *   /nix/store/<path>...   the closure, each store path as on the host
 *   /etc /dev /proc /run /sys /tmp /var and below: the scaffold, canonicalised like a store path:
 *                          directories 0555, files 0444 (0555 when executable), symlinks 0777
 *
 * Every inode is owned by root with mtime 0 (the writer's forceUid/forceGid/clampTime make sure
 * of it for the store paths too).
 */
import type { DirEntryNode, DirNode, TreeNode } from '../squashfs/tree.js';
import { bytesSource, nameBytes } from '../squashfs/tree.js';
import type { ResolvedPortable } from './portable-options.js';
import {
  BUILD_DIR_MODE,
  EMPTY_FILES,
  IMAGE_STORE_DIR,
  OS_RELEASE_PATH,
  ROOT_MODE,
  SCAFFOLD_DIRS,
  STORE_DIR_MODE,
  STORE_FILE_MODE,
  SYMLINK_MODE,
  UNIT_DIR,
} from './portable-scaffold.js';

const meta = (mode: number) => ({ mode, uid: 0, gid: 0, mtime: 0 });

function dir(mode: number, entries: DirEntryNode[] = []): DirNode {
  return { kind: 'dir', entries, ...meta(mode) };
}

/** The directory at `dirPath` below root, made (with `mode`) where missing, like `mkdir -p`. */
function mkdirP(root: DirNode, dirPath: string, mode: number): DirNode {
  let current = root;
  for (const part of dirPath.split('/').filter((p) => p !== '')) {
    const name = nameBytes(part);
    const existing = current.entries.find((e) => Buffer.compare(e.name, name) === 0);
    if (existing === undefined) {
      const made = dir(mode);
      current.entries.push({ name, node: made });
      current = made;
    } else if (existing.node.kind === 'dir') {
      current = existing.node;
    } else {
      // Validation rules this out; a failure here is a bug, not a user error.
      throw new Error(`portable layout: ${dirPath} crosses a non-directory at ${part}`);
    }
  }
  return current;
}

/** Adds `node` at an absolute path whose parent directories exist or are made with `mode`. */
function place(root: DirNode, nodePath: string, node: TreeNode, parentMode: number): void {
  const slash = nodePath.lastIndexOf('/');
  const parent = mkdirP(root, nodePath.slice(0, slash), parentMode);
  parent.entries.push({ name: nameBytes(nodePath.slice(slash + 1)), node });
}

/** The scaffold alone: everything but the store. */
export function buildScaffold(resolved: ResolvedPortable): DirNode {
  const root = dir(ROOT_MODE);
  mkdirP(root, IMAGE_STORE_DIR, BUILD_DIR_MODE);
  for (const d of SCAFFOLD_DIRS) mkdirP(root, d, STORE_DIR_MODE);
  const file = (content: Uint8Array | string, mode: number, description: string): TreeNode => ({
    kind: 'file',
    source: bytesSource(typeof content === 'string' ? nameBytes(content) : content, description),
    ...meta(mode),
  });
  for (const f of EMPTY_FILES) place(root, f, file('', STORE_FILE_MODE, f), STORE_DIR_MODE);
  place(
    root,
    OS_RELEASE_PATH,
    file(resolved.osRelease, STORE_FILE_MODE, 'generated os-release'),
    STORE_DIR_MODE,
  );
  for (const unit of resolved.units) {
    place(
      root,
      `${UNIT_DIR}/${unit.name}`,
      file(unit.content, unit.mode, unit.hostPath),
      STORE_DIR_MODE,
    );
  }
  for (const link of resolved.symlinks) {
    const node: TreeNode = {
      kind: 'symlink',
      target: nameBytes(link.target),
      ...meta(SYMLINK_MODE),
    };
    place(root, link.symlink, node, STORE_DIR_MODE);
  }
  return root;
}

/** The whole image tree: the scaffold with these store-path entries in /nix/store. */
export function buildPortableTree(
  resolved: ResolvedPortable,
  storeEntries: readonly DirEntryNode[],
): DirNode {
  const root = buildScaffold(resolved);
  mkdirP(root, IMAGE_STORE_DIR, BUILD_DIR_MODE).entries.push(...storeEntries);
  return root;
}
