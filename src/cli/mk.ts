/**
 * `tsquashfs mk`: scan the sources, write the image, print a mksquashfs-like summary.
 * Argument handling is in mk-args.ts; this file only does the I/O around the two library calls.
 */
import { stat } from 'node:fs/promises';
import { ioError, SquashfsError } from '../squashfs/errors.js';
import type { DirNode } from '../squashfs/tree.js';
import type { WriteProgress, WriteReport } from '../squashfs/write/options.js';
import type { CliCommand, CliContext } from './context.js';
import { mkHelp } from './help.js';
import { mkInfoRequest, parseMkArgs, type MkCommand } from './mk-args.js';
import { ProgressBar } from './progress.js';
import { formatSummary } from './summary.js';

export const command: CliCommand = {
  name: 'mk',
  run: runMk,
};

export async function runMk(argv: string[], ctx: CliContext): Promise<number> {
  const info = mkInfoRequest(argv);
  if (info === 'help') {
    ctx.stdout.write(mkHelp());
    return 0;
  }
  if (info === 'version') {
    ctx.stdout.write(`tsquashfs mk ${ctx.version} (mksquashfs 4.5.1 command line)\n`);
    return 0;
  }
  const cmd = parseMkArgs(argv, ctx.env);
  await checkImagePath(cmd.image, cmd.noAppend);
  if (!cmd.quiet) {
    ctx.stdout.write(
      `Creating 4.0 filesystem on ${cmd.image}, block size ${cmd.write.blockSize}.\n`,
    );
  }
  // Loaded here, not at the top, so that `mk --help` and argument errors need neither the
  // scanner nor the writer (whose compressors load a native module). The writer's modules load
  // while the scan waits for the disk instead of after it.
  const writerModule = import('../squashfs/write/image-writer.js');
  // Its failure is reported where it is awaited; this only keeps an early scan error from
  // leaving it unhandled.
  writerModule.catch(() => {});
  const { scanSources } = await import('../layout/host-scan.js');
  const warnings = warningSink(cmd, ctx);
  const root = await scanSources(cmd.sources, {
    ...cmd.scan,
    outputPath: cmd.image,
    onWarning: warnings.report,
  });
  warnings.throwIfFatal();
  const report = await writeWithProgress(cmd, ctx, root, await writerModule);
  if (!cmd.quiet) ctx.stdout.write('\n' + formatSummary(report, cmd.write));
  return 0;
}

/**
 * Without -noappend mksquashfs would append to an existing image; tsquashfs cannot, and says so
 * instead of silently replacing the file. Anything but a regular file is refused too: the writer
 * replaces IMAGE by renaming a temporary file over it, which would turn a device into a file.
 */
async function checkImagePath(image: string, noAppend: boolean): Promise<void> {
  let info;
  try {
    info = await stat(image);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(err, image, 'check the output');
  }
  if (info.isDirectory()) {
    throw new SquashfsError('INVALID_ARGUMENT', `${image} is a directory: IMAGE must name a file`, {
      path: image,
    });
  }
  if (!info.isFile()) {
    throw new SquashfsError(
      'UNSUPPORTED',
      `${image} is not a regular file: writing to devices or pipes is not supported yet`,
      { path: image },
    );
  }
  if (!noAppend) {
    throw new SquashfsError(
      'UNSUPPORTED',
      `${image} exists: appending to an existing image is not supported; use -noappend to overwrite`,
      { path: image },
    );
  }
}

/**
 * Scanner warnings (a file that cannot be read, one that vanished) are printed and the run goes
 * on, as mksquashfs; with -exit-on-error the first one stops it. The throw from the callback ends
 * the scan early if the scanner lets it through; throwIfFatal catches the case where it does not.
 */
function warningSink(cmd: MkCommand, ctx: CliContext) {
  let firstFatal: string | undefined;
  return {
    report(message: string): void {
      if (cmd.exitOnError) {
        firstFatal ??= message;
        throw new SquashfsError('IO', `${message} (fatal because of -exit-on-error)`);
      }
      ctx.stderr.write(`tsquashfs: warning: ${message}\n`);
    },
    throwIfFatal(): void {
      if (firstFatal !== undefined) {
        throw new SquashfsError('IO', `${firstFatal} (fatal because of -exit-on-error)`);
      }
    },
  };
}

function wantsProgressBar(cmd: MkCommand, ctx: CliContext): boolean {
  if (cmd.progress === 'never') return false;
  return cmd.progress === 'always' || ctx.stderr.isTTY === true;
}

async function writeWithProgress(
  cmd: MkCommand,
  ctx: CliContext,
  root: DirNode,
  { writeImage }: typeof import('../squashfs/write/image-writer.js'),
): Promise<WriteReport> {
  const bar = wantsProgressBar(cmd, ctx) ? new ProgressBar(ctx.stderr) : undefined;
  const onProgress = bar === undefined ? undefined : (p: WriteProgress) => bar.update(p);
  let succeeded = false;
  // Ctrl-C or a kill: abort the write so that its temporary file is removed, then report it
  // like any other error (one line, exit 1).
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) =>
    controller.abort(new SquashfsError('IO', `interrupted by ${signal}; no image was written`));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const report = await writeImage(root, cmd.image, {
      ...cmd.write,
      workers: cmd.processors,
      onProgress,
      signal: controller.signal,
    });
    succeeded = true;
    return report;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    // Ends the bar's line either way, so an error message starts on a line of its own.
    bar?.finish(succeeded);
  }
}
