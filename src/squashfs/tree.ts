/**
 * The in-memory tree the writer consumes. It holds metadata and *sources* of file contents, never
 * the contents themselves, so its size grows with the number of inodes, not with the data.
 *
 * Names are raw bytes: directories are sorted by unsigned byte order and names need not be UTF-8.
 * A hard link is the same node object reachable under two names. `mode` holds permission bits
 * only (including setuid/setgid/sticky); the kind gives the file type.
 */

export interface Xattr {
  /** Full name including the namespace prefix, e.g. `user.comment`. */
  name: string;
  value: Uint8Array;
}

export interface NodeMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, 0 … 2^32-1. */
  mtime: number;
  xattrs?: Xattr[];
}

/**
 * Where a regular file's bytes come from. `read()` is called at most once and must yield the
 * bytes in order; `size` is what the file is expected to hold: a source that yields a different
 * number of bytes is reported as changed during the write.
 */
/**
 * Bytes that another thread is reading (FileSource.readWhole). `wait()` returns them, waiting
 * for the read if it has not finished, or throws the read's failure. Call it exactly once: the
 * reader holds resources for the read until then.
 */
export interface PendingBytes {
  wait(): Uint8Array;
}

/** Whether a readWhole() result is a PendingBytes. */
export function isPendingBytes(
  whole: Uint8Array | Promise<Uint8Array> | PendingBytes,
): whole is PendingBytes {
  return typeof (whole as Partial<PendingBytes>).wait === 'function';
}

export interface FileSource {
  readonly size: number;
  /** Names the source in error messages (a host path, or a description). */
  readonly description: string;
  /**
   * True when the file on the host has holes (allocated blocks < size). mksquashfs then records
   * the bytes saved by sparse blocks in an extended inode; we do the same for parity.
   */
  readonly sparseOnDisk?: boolean;
  read(): AsyncIterable<Uint8Array>;
  /**
   * Optional: read() may be called again, and yields the same bytes unless the file changed.
   * The writer then keeps nothing of a possible duplicate while it waits for its hash: it reads
   * the file again to compare it or to store it (from the page cache, for a host file). Without
   * it, such a file's blocks are held in memory (up to 32 MiB).
   */
  readonly repeatable?: boolean;
  /**
   * Optional, for speed: all the bytes at once (what read() would yield, with the same checks),
   * or null where this source has no such path for this file, and read() is to be used. On a
   * tree of small files, the async iterators of read() were a large share of the writer's time.
   * The bytes themselves when they are at hand at once, a PendingBytes when another thread reads
   * them (a host file: the addon's reader thread), else a promise of them. A failure is a rejected
   * promise, or thrown by PendingBytes.wait().
   */
  readWhole?(): Uint8Array | Promise<Uint8Array> | PendingBytes | null;
  /**
   * Optional: the caller will never touch `chunk` (yielded by read()) again, nor any view of it,
   * so its memory may be read into again. A reader that does not call it loses nothing.
   */
  recycle?(chunk: Uint8Array): void;
}

export interface DirEntryNode {
  name: Uint8Array;
  node: TreeNode;
}

export interface DirNode extends NodeMeta {
  kind: 'dir';
  entries: DirEntryNode[];
}
export interface FileNode extends NodeMeta {
  kind: 'file';
  source: FileSource;
}
export interface SymlinkNode extends NodeMeta {
  kind: 'symlink';
  target: Uint8Array;
}
export interface DeviceNode extends NodeMeta {
  kind: 'blockdev' | 'chardev';
  major: number;
  minor: number;
}
export interface IpcNode extends NodeMeta {
  kind: 'fifo' | 'socket';
}

export type TreeNode = DirNode | FileNode | SymlinkNode | DeviceNode | IpcNode;
export type NodeKind = TreeNode['kind'];

const encoder = new TextEncoder();

/** Converts a JS string name to bytes (UTF-8); pass bytes directly for non-UTF-8 names. */
export function nameBytes(name: string | Uint8Array): Uint8Array {
  // Buffer.from packs short strings into Node's shared pool: a tree of a million names then
  // costs a view each, not an ArrayBuffer each.
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
}

/** A source over bytes already in memory. */
export function bytesSource(bytes: Uint8Array, description = 'in-memory data'): FileSource {
  return {
    size: bytes.length,
    description,
    async *read() {
      yield bytes;
    },
  };
}

/** A source that yields `size` zero bytes in 1 MiB chunks without allocating them all. */
export function zeroSource(size: number, description = 'zero-filled data'): FileSource {
  return {
    size,
    description,
    async *read() {
      const chunk = new Uint8Array(Math.min(size, 1 << 20));
      for (let left = size; left > 0; left -= chunk.length) {
        yield left >= chunk.length ? chunk : chunk.subarray(0, left);
      }
    },
  };
}

/**
 * Small helpers for building trees in code (tests, the portable-service layout, API users).
 * Defaults: root-owned, mtime 0, 0755 for directories, 0644 for files, 0777 for symlinks.
 */
export const tree = {
  dir(
    entries: Record<string, TreeNode> | DirEntryNode[] = {},
    meta: Partial<NodeMeta> = {},
  ): DirNode {
    const list = Array.isArray(entries)
      ? entries
      : Object.entries(entries).map(([name, node]) => ({ name: nameBytes(name), node }));
    return { kind: 'dir', entries: list, ...defaults(0o755), ...meta };
  },
  file(content: Uint8Array | string | FileSource, meta: Partial<NodeMeta> = {}): FileNode {
    const source =
      typeof content === 'string'
        ? bytesSource(encoder.encode(content))
        : content instanceof Uint8Array
          ? bytesSource(content)
          : content;
    return { kind: 'file', source, ...defaults(0o644), ...meta };
  },
  symlink(target: string | Uint8Array, meta: Partial<NodeMeta> = {}): SymlinkNode {
    return { kind: 'symlink', target: nameBytes(target), ...defaults(0o777), ...meta };
  },
  device(
    kind: 'blockdev' | 'chardev',
    major: number,
    minor: number,
    meta: Partial<NodeMeta> = {},
  ): DeviceNode {
    return { kind, major, minor, ...defaults(0o644), ...meta };
  },
  ipc(kind: 'fifo' | 'socket', meta: Partial<NodeMeta> = {}): IpcNode {
    return { kind, ...defaults(0o644), ...meta };
  },
};

function defaults(mode: number): NodeMeta {
  return { mode, uid: 0, gid: 0, mtime: 0 };
}
