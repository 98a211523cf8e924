/**
 * `tsquashfs closure PATH...`: prints the closure of store paths, one a line, in the order of
 * `nix-store -qR`. With --closure-info DIR it prints Nix's own answer from a closureInfo
 * directory instead, after checking that every PATH given is in it.
 */
import { SquashfsError } from '../squashfs/errors.js';
import type { CliCommand, CliContext } from './context.js';

const USAGE =
  'usage: tsquashfs closure PATH... [--store-dir DIR] [--root DIR] [--closure-info DIR]';

const HELP = `${USAGE}

Prints the closure of the store paths PATH... (paths inside store paths, and symlinks to them
such as nix-build's result, stand for their store path): each path and everything it refers to,
found by scanning for the hashes of the store's paths as Nix does, one a line, in the order of
nix-store -qR.

Options:
  --store-dir DIR      the store directory (default /nix/store)
  --root DIR           read the store from DIR/<store-dir>, for a chroot store (nix --store DIR)
  --closure-info DIR   print the store-paths of a nixpkgs closureInfo directory instead of
                       scanning; every PATH given must be listed there
  -h, --help           show this help
`;

interface ClosureArgs {
  paths: string[];
  storeDir: string | undefined;
  root: string | undefined;
  closureInfo: string | undefined;
  help: boolean;
}

const VALUE_OPTIONS = ['--store-dir', '--root', '--closure-info'] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

export function parseClosureArgs(argv: readonly string[]): ClosureArgs {
  const args: ClosureArgs = {
    paths: [],
    storeDir: undefined,
    root: undefined,
    closureInfo: undefined,
    help: false,
  };
  const set = (option: ValueOption, value: string) => {
    if (value === '') throw usage(`${option} needs a directory`);
    if (option === '--store-dir') args.storeDir = value;
    else if (option === '--root') args.root = value;
    else args.closureInfo = value;
  };
  let onlyPaths = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyPaths || !arg.startsWith('-') || arg === '-') {
      args.paths.push(arg);
      continue;
    }
    if (arg === '--') onlyPaths = true;
    else if (arg === '-h' || arg === '--help') args.help = true;
    else {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg : arg.slice(0, eq);
      if (!(VALUE_OPTIONS as readonly string[]).includes(name)) {
        throw usage(`unknown option ${arg}`);
      }
      if (eq >= 0) set(name as ValueOption, arg.slice(eq + 1));
      else {
        const value = argv[++i];
        if (value === undefined) throw usage(`${name} needs a directory`);
        set(name as ValueOption, value);
      }
    }
  }
  return args;
}

function usage(problem: string): SquashfsError {
  return new SquashfsError('INVALID_ARGUMENT', `${problem}\n${USAGE}`);
}

export const command: CliCommand = { name: 'closure', run: runClosure };

export async function runClosure(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseClosureArgs(argv);
  if (args.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const closure = await import('../closure/index.js');
  const storeDir = closure.normalizeStoreDir(args.storeDir);
  let paths: string[];
  if (args.closureInfo !== undefined) {
    paths = await closure.readClosureInfo(args.closureInfo, { storeDir });
    const listed = new Set(paths);
    for (const p of args.paths) {
      const storePath = closure.parseStorePath(p, { storeDir }).path;
      if (!listed.has(storePath)) {
        throw new SquashfsError(
          'INVALID_ARGUMENT',
          `${p} is not in the closure listed in ${args.closureInfo}/store-paths`,
        );
      }
    }
  } else {
    if (args.paths.length === 0) throw usage('no PATH given');
    const roots: string[] = [];
    for (const p of args.paths) roots.push(await closure.followLinksToStorePath(p, { storeDir }));
    paths = (await closure.computeClosure(roots, { storeDir, root: args.root })).paths;
  }
  ctx.stdout.write(paths.map((p) => `${p}\n`).join(''));
  return 0;
}
