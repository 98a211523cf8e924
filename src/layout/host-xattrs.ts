/**
 * Reading extended attributes from the host. Node has no xattr API, so this is the one module
 * that depends on a native addon (`fs-xattr`); swap the library here and nothing else changes.
 *
 * fs-xattr has two limits we work around instead of dropping data:
 * - it calls getxattr/listxattr, which follow a final symlink (there is no lgetxattr), and
 * - it takes paths as JS strings, which cannot carry a non-UTF-8 name.
 * We therefore open each inode with O_PATH | O_NOFOLLOW (a Buffer path, no permission needed,
 * no side effects even on fifos and devices) and hand the library `/proc/self/fd/N`. Following
 * that magic link lands on the opened inode itself, the symlink included, so the library's
 * "follow" behaviour becomes exactly lgetxattr on the original name. Where /proc is not mounted
 * we fall back to the plain path, which is only right for UTF-8 names of non-symlinks; symlinks
 * and other names are then stored without xattrs, with a warning.
 *
 * The calls are synchronous on purpose. Each costs microseconds (the lstat just before has the
 * inode in cache), while the async versions cost three thread-pool round trips per inode:
 * measured on /usr (138 000 inodes), 1.4 s synchronous against 11.7 s async. No single call
 * blocks the event loop for long, and the interface stays async so a slower reader can swap in.
 *
 * Only the namespaces squashfs can store are kept: user., trusted. and security. (mksquashfs
 * drops the rest too, e.g. system.posix_acl_access).
 */
import fs from 'node:fs';
import { loadNative } from '../squashfs/compress/native.js';
import type { NodeKind, Xattr } from '../squashfs/tree.js';
import { displayPath } from './host-paths.js';
import type { Warn } from './scan-warnings.js';

export interface XattrReader {
  /** The inode's xattrs sorted by name (byte order), or undefined when it has none. */
  read(path: Buffer, kind: NodeKind): Promise<Xattr[] | undefined>;
}

/** For `xattrs: false`. */
export const noXattrs: XattrReader = { read: async () => undefined };

type XattrLibrary = Pick<typeof import('fs-xattr'), 'listAttributesSync' | 'getAttributeSync'>;

/**
 * O_PATH is not in fs.constants. 0o10000000 is its value on x86, ARM, RISC-V and PowerPC Linux;
 * libuv passes numeric flags straight to open(2).
 */
const O_PATH = 0o10000000;
const PROC_FD_DIR = '/proc/self/fd';
const STORABLE_PREFIXES = ['user.', 'trusted.', 'security.'];
/** Errors that mean "no xattrs here" rather than "something went wrong". */
const NOT_SUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP']);

export function hostXattrReader(warn: Warn): XattrReader {
  return new HostXattrReader(warn);
}

class HostXattrReader implements XattrReader {
  private library: Promise<XattrLibrary | undefined> | undefined;
  private readonly hasProcFd = fs.existsSync(PROC_FD_DIR);

  constructor(private readonly warn: Warn) {}

  async read(path: Buffer, kind: NodeKind): Promise<Xattr[] | undefined> {
    if (xattrListSizeOf(path) === 0) return undefined;
    const library = await this.loadLibrary();
    if (library === undefined) return undefined;
    try {
      return this.hasProcFd
        ? this.readThroughProc(library, path)
        : this.readByName(library, path, kind);
    } catch (err) {
      if (NOT_SUPPORTED.has(errorCode(err))) return undefined;
      this.warn(
        `cannot read extended attributes of ${displayPath(path)}: ${reason(err)}; storing none`,
        { path },
      );
      return undefined;
    }
  }

  /** Loaded on first use so that scans without xattrs never load a native addon. */
  private loadLibrary(): Promise<XattrLibrary | undefined> {
    this.library ??= import('fs-xattr').catch((err: unknown) => {
      this.warn(
        `cannot read extended attributes: fs-xattr failed to load (${reason(err)}); storing none`,
      );
      return undefined;
    });
    return this.library;
  }

  private readThroughProc(library: XattrLibrary, path: Buffer): Xattr[] | undefined {
    const fd = fs.openSync(path, O_PATH | fs.constants.O_NOFOLLOW);
    try {
      return this.readAll(library, `${PROC_FD_DIR}/${fd}`, path);
    } finally {
      fs.closeSync(fd);
    }
  }

  private readByName(library: XattrLibrary, path: Buffer, kind: NodeKind): Xattr[] | undefined {
    const name = path.toString('utf8');
    if (kind === 'symlink' || !Buffer.from(name, 'utf8').equals(path)) {
      this.warn(`cannot read extended attributes of ${name} without /proc; storing none`, {
        path,
      });
      return undefined;
    }
    return this.readAll(library, name, path);
  }

  private readAll(library: XattrLibrary, access: string, path: Buffer): Xattr[] | undefined {
    const names = library.listAttributesSync(access).filter((n) => this.isStorable(n, path));
    const xattrs: Xattr[] = [];
    for (const name of names) {
      const value = getOrSkip(library, access, name);
      if (value !== undefined) xattrs.push({ name, value });
    }
    xattrs.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    return xattrs.length > 0 ? xattrs : undefined;
  }

  /** Warns once per dropped name, not once per file: one ACL'd tree would flood the output. */
  private isStorable(name: string, path: Buffer): boolean {
    if (STORABLE_PREFIXES.some((prefix) => name.startsWith(prefix))) return true;
    this.warn(
      `extended attribute ${name} (first seen on ${displayPath(path)}) cannot be stored in squashfs; dropped`,
      { path, once: `xattr ${name}` },
    );
    return false;
  }
}

type XattrListSize = (path: Buffer) => number;
let addonListSize: XattrListSize | null | undefined;

/**
 * The size of the path's xattr name list by the addon (llistxattr; 0 for none, negative for an
 * error), or undefined without the addon. The directory listings say which entries have xattrs;
 * this covers the rest (a source named on the command line, the root among them), so that a
 * tree without xattrs never loads fs-xattr, about 11 ms of a start.
 */
function xattrListSizeOf(path: Buffer): number | undefined {
  if (addonListSize === undefined) {
    const fn = (loadNative() as { xattrListSize?: XattrListSize } | null)?.xattrListSize;
    addonListSize = typeof fn === 'function' ? fn : null;
  }
  return addonListSize?.(path);
}

/**
 * An attribute removed between list and get is simply gone (ENODATA); so is a name that was not
 * valid UTF-8, which the library turned into another string when listing.
 */
function getOrSkip(library: XattrLibrary, access: string, name: string): Uint8Array | undefined {
  try {
    return library.getAttributeSync(access, name);
  } catch (err) {
    if (errorCode(err) === 'ENODATA') return undefined;
    throw err;
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
