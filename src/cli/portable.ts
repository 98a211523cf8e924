/**
 * `tsquashfs portable`: builds a systemd portable-service image as nixpkgs' `portableService`
 * does, from flags or from a JSON file with the function's arguments. The work is in
 * src/layout/portable.ts; this file parses the command line, shows progress on a terminal and
 * prints where the image is with a short summary.
 */
import { SquashfsError } from '../squashfs/errors.js';
import type { WriteProgress } from '../squashfs/write/options.js';
import type { PortableServiceOptions, PortableSymlink } from '../layout/portable-options.js';
import type { PortableServiceReport } from '../layout/portable.js';
import type { CliCommand, CliContext } from './context.js';
import { ProgressBar } from './progress.js';

const USAGE =
  'usage: tsquashfs portable --pname P --version V --unit FILE... [--content PATH...]\n' +
  '         [--symlink OBJECT:LINK...] [--description D] [--homepage URL]\n' +
  '         [--compression "xz -Xdict-size 100%"] [--block-size 1M] [--store-dir DIR] [-o OUTDIR]\n' +
  '       tsquashfs portable --config FILE.json [flags overriding the file]';

const HELP = `${USAGE}

Builds OUTDIR/P_V.raw, a systemd portable-service image laid out like nixpkgs'
pkgs.portableService: units in /etc/systemd/system, the scaffold (/proc, /sys, /dev, /run,
/tmp, /var/..., empty /etc/resolv.conf and /etc/machine-id, /etc/os-release), the symlinks,
and the closure of the units' references, symlink objects and contents under /nix/store.

  --pname P              service name: unit names must start with it (letters, digits, - .)
  --version V            image version: the image is P_V.raw
  --unit FILE            a unit file in the store (repeatable)
  --content PATH         a store path to include with its closure (repeatable)
  --symlink OBJECT:LINK  a symlink at LINK in the image pointing to OBJECT in the store
  --description D        PORTABLE_PRETTY_NAME in os-release
  --homepage URL         HOME_URL in os-release
  --compression C        mksquashfs -comp value and -X options (default "xz -Xdict-size 100%")
  --block-size SIZE      mksquashfs -b value (default 1M)
  --store-dir DIR        where the host keeps the store (default /nix/store)
  -o, --out-dir OUTDIR   where to write the image (default: the current directory)
  --config FILE.json     the arguments of portableService as JSON (pname, version, units,
                         description, homepage, symlinks, contents, squash-compression,
                         squash-block-size; also storeDir, outDir); flags override it
  --progress / --no-progress   force the progress bar on or off (default: on a terminal)
`;

export const command: CliCommand = { name: 'portable', run: runPortable };

interface PortableArgs {
  options: Partial<PortableServiceOptions>;
  config: string | undefined;
  progress: 'auto' | 'always' | 'never';
  help: boolean;
}

const VALUE_FLAGS: Readonly<Record<string, string>> = {
  '--pname': 'pname',
  '--version': 'version',
  '--unit': 'units',
  '--content': 'contents',
  '--symlink': 'symlinks',
  '--description': 'description',
  '--homepage': 'homepage',
  '--compression': 'compression',
  '--block-size': 'blockSize',
  '--store-dir': 'storeDir',
  '-o': 'outDir',
  '--out-dir': 'outDir',
  '--config': 'config',
};

function usageError(message: string): SquashfsError {
  return new SquashfsError('INVALID_ARGUMENT', `portable: ${message}\n${USAGE}`);
}

/** `OBJECT:LINK`, split before the last ':' that starts the absolute LINK. */
export function parseSymlinkArg(value: string): PortableSymlink {
  const at = value.lastIndexOf(':/');
  if (at <= 0) {
    throw usageError(`--symlink "${value}" must be OBJECT:LINK with an absolute LINK`);
  }
  return { object: value.slice(0, at), symlink: value.slice(at + 1) };
}

export function parsePortableArgs(argv: readonly string[]): PortableArgs {
  const options: Record<string, unknown> = {};
  const lists: Record<string, unknown[]> = {};
  let config: string | undefined;
  let progress: PortableArgs['progress'] = 'auto';
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (arg === '--progress' || arg === '--no-progress') {
      progress = arg === '--progress' ? 'always' : 'never';
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const key = VALUE_FLAGS[flag];
    if (key === undefined) {
      throw usageError(
        arg.startsWith('-') ? `unknown option ${arg}` : `unexpected argument "${arg}"`,
      );
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw usageError(`${flag} needs a value`);
      value = argv[++i]!;
    }
    if (key === 'config') config = value;
    else if (key === 'units' || key === 'contents') (lists[key] ??= []).push(value);
    else if (key === 'symlinks') (lists[key] ??= []).push(parseSymlinkArg(value));
    else options[key] = value;
  }
  return {
    options: { ...options, ...lists } as Partial<PortableServiceOptions>,
    config,
    progress,
    help,
  };
}

export async function runPortable(argv: string[], ctx: CliContext): Promise<number> {
  const args = parsePortableArgs(argv);
  if (args.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  let options = args.options;
  if (args.config !== undefined) {
    const { readPortableConfig } = await import('../layout/portable-config.js');
    options = { ...(await readPortableConfig(args.config)), ...options };
  }
  for (const required of ['pname', 'version', 'units'] as const) {
    if (options[required] === undefined) {
      const flag = required === 'units' ? '--unit' : `--${required}`;
      throw usageError(`missing ${flag} (or "${required}" in --config)`);
    }
  }
  const { buildPortableService } = await import('../layout/portable.js');
  const showBar =
    args.progress === 'always' || (args.progress === 'auto' && ctx.stderr.isTTY === true);
  const bar = showBar ? new ProgressBar(ctx.stderr) : undefined;
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) =>
    controller.abort(new SquashfsError('IO', `interrupted by ${signal}; no image was written`));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let report: PortableServiceReport | undefined;
  try {
    report = await buildPortableService(options as PortableServiceOptions, {
      onProgress: bar === undefined ? undefined : (p: WriteProgress) => bar.update(p),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    bar?.finish(report !== undefined);
  }
  ctx.stdout.write(formatPortableSummary(report));
  return 0;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function formatPortableSummary(report: PortableServiceReport): string {
  const ratio =
    report.bytesBefore > 0
      ? ` (${((report.bytesAfter / report.bytesBefore) * 100).toFixed(1)}%)`
      : '';
  return [
    `Portable service image: ${report.imagePath}`,
    `  store paths: ${report.storePaths.length}`,
    ...report.storePaths.map((p) => `    ${p}`),
    `  files: ${report.fileCount}, duplicates: ${report.duplicateFiles}`,
    `  size: ${size(report.bytesBefore)} of file data -> ${size(report.bytesAfter)} image${ratio}`,
    `  time: ${report.seconds.toFixed(2)} s`,
    '',
  ].join('\n');
}
