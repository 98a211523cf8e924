/**
 * `tsquashfs ls IMAGE [PATH] [-l]`: lists the image (or the subtree at PATH) depth first in name
 * order, one path per line, like `unsquashfs -ls`. With -l each line is `unsquashfs -lln -UTC`'s:
 * type and permissions, numeric uid/gid, size (directories: the squashfs directory size; symlinks:
 * the target length) or "major,minor" for devices, the mtime in UTC, the path and "-> target".
 * Paths start at "/" (unsquashfs prints "squashfs-root"). Devices show the kernel's major and
 * minor numbers (unsquashfs 4.5.1 misprints minors above 255).
 */
import {
  decodeRdev,
  type DeviceInode,
  type FileInode,
  type DirInode,
} from '../squashfs/format/inode.js';
import type { ReadInode, SquashfsImage } from '../squashfs/read/image.js';
import { SquashfsError } from '../squashfs/errors.js';
import type { CliCommand, CliContext } from './context.js';
import { BufferedOutput, parseArgs, usageError } from './read-args.js';

const USAGE = 'usage: tsquashfs ls IMAGE [PATH] [-l]';
const HELP = `${USAGE}

Lists the paths in IMAGE (or under PATH), depth first in name order.
  -l, --long   one unsquashfs -lln style line per entry: mode, uid/gid, size or
               major,minor, mtime (UTC), path, and "-> target" for symlinks
`;

export const command: CliCommand = { name: 'ls', run: runLs };

export async function runLs(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseArgs(argv, ['-l', '--long'], USAGE);
  if (args.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const [imagePath, path, ...extra] = args.positional;
  if (imagePath === undefined || extra.length > 0) throw usageError(USAGE);
  const long = args.flags.has('-l') || args.flags.has('--long');
  const { openImage } = await import('../squashfs/read/image.js');
  const image = await openImage(imagePath);
  try {
    const start = path === undefined ? image.root : await image.lookup(path);
    if (start === undefined) {
      throw new SquashfsError('INVALID_ARGUMENT', `${path} does not exist in ${imagePath}`);
    }
    const prefix = Buffer.from(
      (path ?? '')
        .split('/')
        .filter((p) => p !== '' && p !== '.')
        .join('/'),
    );
    const out = new BufferedOutput(ctx.stdout);
    for await (const { path: p, inode } of image.walk(start, prefix)) {
      const shown = Buffer.concat([Buffer.from('/'), p]);
      if (!long) {
        await out.push(Buffer.concat([shown, Buffer.from('\n')]));
        continue;
      }
      await out.push(await longLine(image, inode, shown));
    }
    await out.flush();
  } finally {
    await image.close();
  }
  return 0;
}

const TYPE_CHAR: Record<number, string> = {
  1: 'd',
  2: '-',
  3: 'l',
  4: 'b',
  5: 'c',
  6: 'p',
  7: 's',
};

/** "rwxr-sr-t" style permissions, as ls and unsquashfs print them. */
export function modeString(basicType: number, mode: number): string {
  const bit = (m: number, c: string) => ((mode & m) !== 0 ? c : '-');
  const exec = (x: number, special: number, set: string, unset: string) =>
    (mode & special) !== 0 ? ((mode & x) !== 0 ? set : unset) : bit(x, 'x');
  return (
    (TYPE_CHAR[basicType] ?? '?') +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    exec(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    exec(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    exec(0o001, 0o1000, 't', 'T')
  );
}

/** YYYY-MM-DD HH:MM in UTC. */
export function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

async function longLine(image: SquashfsImage, inode: ReadInode, shown: Buffer): Promise<Buffer> {
  const basic = inode.type > 7 ? inode.type - 7 : inode.type;
  const { uid, gid } = await image.owner(inode);
  const owner = `${uid}/${gid}`;
  // unsquashfs pads user and group together to 25 columns.
  const width = Math.max(25 - String(uid).length - String(gid).length, 1);
  let size: string;
  if (inode.kind === 'device') {
    const { major, minor } = decodeRdev((inode as DeviceInode).rdev);
    size = `${String(major).padStart(width - 3)},${String(minor).padStart(3)}`;
  } else {
    const value =
      inode.kind === 'file'
        ? (inode as FileInode).fileSize
        : inode.kind === 'dir'
          ? (inode as DirInode).fileSize
          : inode.kind === 'symlink'
            ? image.readlink(inode).length
            : 0;
    size = String(value).padStart(width);
  }
  const head = Buffer.from(
    `${modeString(basic, inode.mode)} ${owner} ${size} ${formatTime(inode.mtime)} `,
  );
  const parts = [head, shown];
  if (inode.kind === 'symlink') parts.push(Buffer.from(' -> '), Buffer.from(image.readlink(inode)));
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}
