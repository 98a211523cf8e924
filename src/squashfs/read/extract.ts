/**
 * Extraction of an image (or of one path in it) into a directory, built so that a hostile image
 * cannot write outside DEST (the CVE-2021-40153 / CVE-2021-41072 classes of unsquashfs bugs):
 *
 * - names come from SquashfsImage.readdir, which refuses '/', NUL, '.', '..', duplicates and
 *   unsorted listings, so every path is DEST followed by checked single components;
 * - every directory on the way is either created here by mkdir (which never follows a final
 *   symlink) or, with `force`, an existing entry that lstat shows to be a real directory: a
 *   symlink already in DEST, or one the image created earlier, is never traversed;
 * - files are opened with O_CREAT | O_EXCL | O_NOFOLLOW, symlinks, hard links and nodes are made
 *   with calls that do not follow a final symlink, and metadata of non-files is set with the
 *   l-variants; directory loops are refused by the walk.
 * Concurrent changes to DEST by another process while extracting are out of scope.
 *
 * Node has no mknod: devices and fifos are made by a caller-supplied `makeNode` (the CLI runs
 * mknod(1)); without one they are skipped with a warning. Sockets are always skipped.
 */
import { closeSync, constants, openSync, type BigIntStats } from 'node:fs';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  symlink,
  unlink,
  utimes,
} from 'node:fs/promises';
import { ioError, SquashfsError } from '../errors.js';
import { decodeRdev, type DeviceInode } from '../format/inode.js';
import { InodeType } from '../format/constants.js';
import type { Xattr } from '../tree.js';
import { showName, type ReadInode, type SquashfsImage } from './image.js';

export type NodeKind = 'chardev' | 'blockdev' | 'fifo';

export interface ExtractOptions {
  /** Extract into a DEST that exists and is not empty (existing non-directories are replaced). */
  force?: boolean;
  /** Path inside the image to extract; default the root. */
  path?: string;
  /** Restore uid/gid. Default: when running as root. */
  owners?: boolean;
  /** Restore xattrs where the host allows it. Default true. */
  xattrs?: boolean;
  /** Creates a device node or fifo at `path` (must not follow symlinks); absent: skipped. */
  makeNode?: (
    path: Buffer,
    kind: NodeKind,
    mode: number,
    major: number,
    minor: number,
  ) => void | Promise<void>;
  onWarning?: (message: string) => void;
}

export interface ExtractReport {
  files: number;
  directories: number;
  symlinks: number;
  hardLinks: number;
  nodes: number;
  skipped: number;
}

/** O_PATH is not in fs.constants; its value on x86, ARM, RISC-V and PowerPC Linux. */
const O_PATH = 0o10000000;
const SLASH = Buffer.from('/');

type XattrLibrary = Pick<typeof import('fs-xattr'), 'setAttributeSync'>;

export async function extractImage(
  image: SquashfsImage,
  dest: string,
  options: ExtractOptions = {},
): Promise<ExtractReport> {
  const warn = options.onWarning ?? (() => {});
  const owners = options.owners ?? process.getuid?.() === 0;
  const start = options.path === undefined ? image.root : await image.lookup(options.path);
  if (start === undefined) {
    throw new SquashfsError('INVALID_ARGUMENT', `${options.path} does not exist in the image`);
  }
  await prepareDest(dest, options.force === true);
  const destBytes = Buffer.from(dest);
  const report: ExtractReport = {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardLinks: 0,
    nodes: 0,
    skipped: 0,
  };
  const xattrLib = options.xattrs === false ? undefined : await loadXattrs(warn);
  const firstPath = new Map<number, Buffer>();
  const dirs: { path: Buffer; inode: ReadInode }[] = [];

  // A non-directory PATH lands in DEST under its own name.
  const prefix =
    start.kind === 'dir' ? Buffer.alloc(0) : Buffer.from(lastComponent(options.path ?? ''));
  for await (const { path, inode } of image.walk(start, prefix)) {
    const target = path.length === 0 ? destBytes : Buffer.concat([destBytes, SLASH, path]);
    const shown = `/${showName(path)}`;
    if (inode.kind === 'dir') {
      if (path.length > 0) await makeDir(target, options.force === true, shown);
      dirs.push({ path: target, inode });
      report.directories++;
      continue;
    }
    const earlier = firstPath.get(inode.ref);
    if (earlier !== undefined) {
      await replaceable(target, options.force === true, () => link(earlier, target), shown);
      report.hardLinks++;
      continue;
    }
    let made = true;
    switch (inode.kind) {
      case 'file':
        await writeFile(image, inode, target, options.force === true, shown);
        report.files++;
        break;
      case 'symlink':
        await replaceable(
          target,
          options.force === true,
          () => symlink(Buffer.from(image.readlink(inode)), target),
          shown,
        );
        report.symlinks++;
        break;
      case 'device':
      case 'ipc': {
        const kind = nodeKind(inode);
        if (kind === undefined || options.makeNode === undefined) {
          warn(
            `${shown}: ${kind ?? 'socket'} not created (${kind === undefined ? 'sockets cannot be made from a file' : 'no way to create device nodes and fifos here'})`,
          );
          report.skipped++;
          made = false;
          break;
        }
        const { major, minor } =
          inode.kind === 'device'
            ? decodeRdev((inode as DeviceInode).rdev)
            : { major: 0, minor: 0 };
        const makeNode = options.makeNode;
        await replaceable(
          target,
          options.force === true,
          () => makeNode(target, kind, inode.mode, major, minor),
          shown,
        );
        report.nodes++;
        break;
      }
    }
    if (!made) continue;
    firstPath.set(inode.ref, target);
    await restoreMeta(image, inode, target, owners, xattrLib, warn, shown);
  }
  // Deepest first, so that a read-only or 0000 directory is closed only after its contents.
  for (let i = dirs.length - 1; i >= 0; i--) {
    const { path, inode } = dirs[i]!;
    await restoreMeta(
      image,
      inode,
      path,
      owners,
      xattrLib,
      warn,
      `/${showName(path.subarray(destBytes.length + 1))}`,
    );
  }
  return report;
}

function lastComponent(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts[parts.length - 1] ?? '';
}

function nodeKind(inode: ReadInode): NodeKind | undefined {
  switch (inode.type) {
    case InodeType.CharDev:
    case InodeType.ExtCharDev:
      return 'chardev';
    case InodeType.BlockDev:
    case InodeType.ExtBlockDev:
      return 'blockdev';
    case InodeType.Fifo:
    case InodeType.ExtFifo:
      return 'fifo';
    default:
      return undefined;
  }
}

async function prepareDest(dest: string, force: boolean): Promise<void> {
  let info;
  try {
    info = await lstat(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, dest, 'check');
    try {
      await mkdir(dest, 0o700);
    } catch (e) {
      throw ioError(e, dest, 'create the directory');
    }
    return;
  }
  if (!info.isDirectory()) {
    throw new SquashfsError('INVALID_ARGUMENT', `${dest} exists and is not a directory`, {
      path: dest,
    });
  }
  if (!force && (await readdir(dest)).length > 0) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `${dest} is not empty; use --force to extract into it anyway`,
      { path: dest },
    );
  }
}

/** mkdir that never follows a symlink: an existing entry is accepted only if it is a real directory. */
async function makeDir(path: Buffer, force: boolean, shown: string): Promise<void> {
  try {
    await mkdir(path, 0o700);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !force)
      throw ioError(err, shown, 'create the directory');
  }
  let info: BigIntStats;
  try {
    info = await lstat(path, { bigint: true });
  } catch (err) {
    throw ioError(err, shown, 'check');
  }
  if (!info.isDirectory()) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `${shown} already exists in the destination as a ${info.isSymbolicLink() ? 'symlink' : 'non-directory'}; refusing to extract through it`,
      { path: shown },
    );
  }
}

/** Runs `create`; with `force`, an existing non-directory in the way is removed first (never followed). */
async function replaceable(
  path: Buffer,
  force: boolean,
  create: () => Promise<unknown> | unknown,
  shown: string,
): Promise<void> {
  if (force) {
    let info;
    try {
      info = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, shown, 'check');
    }
    if (info?.isDirectory()) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `${shown} already exists in the destination as a directory`,
        { path: shown },
      );
    }
    if (info !== undefined) await unlink(path);
  }
  try {
    await create();
  } catch (err) {
    if (err instanceof SquashfsError) throw err;
    throw ioError(err, shown, 'create');
  }
}

async function writeFile(
  image: SquashfsImage,
  inode: ReadInode,
  path: Buffer,
  force: boolean,
  shown: string,
): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  await replaceable(
    path,
    force,
    async () => {
      handle = await open(path, flags, 0o600);
    },
    shown,
  );
  const h = handle!;
  try {
    let position = 0;
    for await (const chunk of image.readFileChunks(inode)) {
      if (typeof chunk === 'number') {
        position += chunk; // a hole: leave it unwritten, truncate sets the size
        continue;
      }
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await h.write(chunk, done, chunk.length - done, position + done);
        done += bytesWritten;
      }
      position += chunk.length;
    }
    await h.truncate(position);
  } catch (err) {
    if (err instanceof SquashfsError) throw err;
    throw ioError(err, shown, 'write');
  } finally {
    await h.close();
  }
}

async function restoreMeta(
  image: SquashfsImage,
  inode: ReadInode,
  path: Buffer,
  owners: boolean,
  xattrLib: XattrLibrary | undefined,
  warn: (m: string) => void,
  shown: string,
): Promise<void> {
  const isLink = inode.kind === 'symlink';
  if (xattrLib !== undefined) {
    const list = await image.xattrs(inode);
    if (list.length > 0) setXattrs(xattrLib, path, list, warn, shown);
  }
  try {
    if (owners) {
      const { uid, gid } = await image.owner(inode);
      await lchown(path, uid, gid);
    }
    // chmod follows symlinks, and symlink modes mean nothing on Linux: skip them.
    if (!isLink) await chmod(path, inode.mode & 0o7777);
    if (isLink) await lutimes(path, inode.mtime, inode.mtime);
    else await utimes(path, inode.mtime, inode.mtime);
  } catch (err) {
    throw ioError(err, shown, 'set the owner, mode or time of');
  }
}

/**
 * fs-xattr follows symlinks and takes string paths; opening the entry with O_PATH | O_NOFOLLOW
 * and naming /proc/self/fd/N makes it act on the entry itself, whatever its name's bytes.
 */
function setXattrs(
  lib: XattrLibrary,
  path: Buffer,
  list: Xattr[],
  warn: (m: string) => void,
  shown: string,
): void {
  let fd: number | undefined;
  try {
    fd = openSyncPath(path);
    for (const x of list) {
      try {
        lib.setAttributeSync(`/proc/self/fd/${fd}`, x.name, Buffer.from(x.value));
      } catch (err) {
        warn(`${shown}: xattr ${x.name} not restored: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    warn(`${shown}: xattrs not restored: ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSyncFd(fd);
  }
}

function openSyncPath(path: Buffer): number {
  return openSync(path, O_PATH | constants.O_NOFOLLOW);
}
function closeSyncFd(fd: number): void {
  closeSync(fd);
}

async function loadXattrs(warn: (m: string) => void): Promise<XattrLibrary | undefined> {
  try {
    return await import('fs-xattr');
  } catch (err) {
    warn(`xattrs will not be restored: fs-xattr failed to load (${(err as Error).message})`);
    return undefined;
  }
}
