/**
 * `tsquashfs cat IMAGE PATH`: writes the bytes of the regular file at PATH to stdout, one block
 * at a time. Symlinks are not followed (their target is inside the image's namespace, not ours).
 */
import { SquashfsError } from '../squashfs/errors.js';
import type { CliCommand, CliContext } from './context.js';
import { parseArgs, usageError, writeBytes } from './read-args.js';

const USAGE = 'usage: tsquashfs cat IMAGE PATH';

export const command: CliCommand = { name: 'cat', run: runCat };

export async function runCat(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseArgs(argv, [], USAGE);
  if (args.help) {
    ctx.stdout.write(
      `${USAGE}\n\nWrites the contents of the regular file PATH in IMAGE to stdout.\n`,
    );
    return 0;
  }
  const [imagePath, path, ...extra] = args.positional;
  if (imagePath === undefined || path === undefined || extra.length > 0) throw usageError(USAGE);
  const { openImage } = await import('../squashfs/read/image.js');
  const image = await openImage(imagePath);
  try {
    const inode = await image.lookup(path);
    if (inode === undefined) {
      throw new SquashfsError('INVALID_ARGUMENT', `${path} does not exist in ${imagePath}`);
    }
    if (inode.kind !== 'file') {
      const what =
        inode.kind === 'ipc' ? 'fifo or socket' : inode.kind === 'dir' ? 'directory' : inode.kind;
      throw new SquashfsError('INVALID_ARGUMENT', `${path} is a ${what}, not a regular file`);
    }
    for await (const chunk of image.readFile(inode)) await writeBytes(ctx.stdout, chunk);
  } finally {
    await image.close();
  }
  return 0;
}
