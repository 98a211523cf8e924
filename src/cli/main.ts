/**
 * The `tsquashfs` entry point: picks the subcommand and turns errors into exit codes.
 * Exit codes: 0 success; 1 an error the user can act on (SquashfsError or a system error such as
 * ENOENT), printed as one line; 2 a usage error at this level (no or unknown command);
 * 70 (EX_SOFTWARE) a bug, printed with its stack so it can be reported.
 */
import { packageInfo } from '../package-root.js';
import { SquashfsError } from '../squashfs/errors.js';
import { findCommand } from './commands.js';
import type { CliContext } from './context.js';
import { mainHelp, mainUsage } from './help.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_BUG = 70;

export async function main(argv: string[]): Promise<number> {
  return runCli(argv, {
    // Getters: Node makes process.stdout and process.stderr on first use, and a pipe or a file
    // behind them loads its stream classes (node:net, node:stream), 1-2 ms of a run that, like
    // `mk -quiet`, prints nothing.
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    version: packageVersion(),
  });
}

export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  try {
    return await dispatch(argv, ctx);
  } catch (err) {
    return reportError(err, ctx);
  }
}

async function dispatch(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    ctx.stderr.write(mainUsage());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    // `tsquashfs help mk` is `tsquashfs mk --help`.
    if (name === 'help' && rest[0] !== undefined) return dispatch([rest[0], '--help'], ctx);
    ctx.stdout.write(mainHelp());
    return EXIT_OK;
  }
  if (name === '--version') {
    ctx.stdout.write(`tsquashfs ${ctx.version}\n`);
    return EXIT_OK;
  }
  const entry = findCommand(name);
  if (entry === undefined) {
    const what = name.startsWith('-') ? 'option' : 'command';
    ctx.stderr.write(`tsquashfs: unknown ${what} "${name}"\n${mainUsage()}`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  return command.run(rest, ctx);
}

/**
 * System errors carry a code like 'ENOENT'; Node's own 'ERR_*' codes mean we called an API
 * wrongly, which is a bug.
 */
function isUserError(err: unknown): err is Error {
  if (err instanceof SquashfsError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && !code.startsWith('ERR_');
}

export function reportError(err: unknown, ctx: CliContext): number {
  if (isUserError(err)) {
    ctx.stderr.write(`tsquashfs: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    return EXIT_ERROR;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  ctx.stderr.write(`tsquashfs: internal error (please report it):\n${detail}\n`);
  return EXIT_BUG;
}

/** The version of the installed package, from its package.json. */
export function packageVersion(): string {
  return packageInfo()?.version ?? 'unknown';
}
