/**
 * `tsquashfs extract IMAGE DEST [PATH]`: restores the image (or the subtree at PATH) into DEST:
 * contents (holes kept), modes, owners when run as root, mtimes, symlinks, hard links, xattrs
 * where the host permits, device nodes and fifos. The safety rules are in
 * src/squashfs/read/extract.ts: nothing is ever written outside DEST.
 *
 * Node cannot create device nodes or fifos, so this command (not the library) runs mknod(1) and
 * mkfifo(1) for them, in the one function below. Sockets are skipped with a warning.
 */
import { execFileSync } from 'node:child_process';
import { SquashfsError } from '../squashfs/errors.js';
import type { NodeKind } from '../squashfs/read/extract.js';
import type { CliCommand, CliContext } from './context.js';
import { parseArgs, usageError } from './read-args.js';

const USAGE = 'usage: tsquashfs extract IMAGE DEST [PATH] [--force] [--no-xattrs] [--no-owners]';
const HELP = `${USAGE}

Extracts IMAGE into the directory DEST (created if missing; it must be empty unless --force).
With PATH, only that subtree: a directory's contents go into DEST, a file into DEST/NAME.
  --force       extract into a non-empty DEST, replacing non-directories in the way
  --no-xattrs   do not restore extended attributes
  --no-owners   do not restore owners (the default when not running as root)
Names are checked (no '/', '.', '..' or NUL) and no symlink is ever followed.
`;

export const command: CliCommand = { name: 'extract', run: runExtract };

export async function runExtract(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseArgs(argv, ['--force', '--no-xattrs', '--no-owners'], USAGE);
  if (args.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const [imagePath, dest, path, ...extra] = args.positional;
  if (imagePath === undefined || dest === undefined || extra.length > 0) throw usageError(USAGE);
  const { openImage } = await import('../squashfs/read/image.js');
  const { extractImage } = await import('../squashfs/read/extract.js');
  const image = await openImage(imagePath);
  try {
    await extractImage(image, dest, {
      force: args.flags.has('--force'),
      path,
      xattrs: !args.flags.has('--no-xattrs'),
      owners: args.flags.has('--no-owners') ? false : undefined,
      makeNode,
      onWarning: (message) => ctx.stderr.write(`tsquashfs: warning: ${message}\n`),
    });
  } finally {
    await image.close();
  }
  return 0;
}

/**
 * mknod(2)/mkfifo(2) through the tools, since Node has no binding. Both fail with EEXIST on any
 * existing entry, symlinks included, so they never write through a symlink.
 */
function makeNode(path: Buffer, kind: NodeKind, mode: number, major: number, minor: number): void {
  const name = path.toString('utf8');
  if (!Buffer.from(name, 'utf8').equals(path)) {
    throw new SquashfsError(
      'UNSUPPORTED',
      `cannot create a ${kind} under a non-UTF-8 name: ${name}`,
    );
  }
  const modeArg = (mode & 0o7777).toString(8);
  try {
    if (kind === 'fifo') execFileSync('mkfifo', ['-m', modeArg, '--', name], { stdio: 'pipe' });
    else {
      const type = kind === 'chardev' ? 'c' : 'b';
      execFileSync('mknod', ['-m', modeArg, '--', name, type, String(major), String(minor)], {
        stdio: 'pipe',
      });
    }
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new SquashfsError(
      'IO',
      `cannot create ${kind} ${name}: ${stderr || (err as Error).message}`,
    );
  }
}
