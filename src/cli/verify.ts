/**
 * `tsquashfs verify IMAGE [--json]`: checks IMAGE byte by byte against the squashfs 4.0 rules and
 * prints every problem as `OFFSET  RULE  STRUCTURE: MESSAGE` (warnings say so), then a summary
 * line. Exit 0 when there is no error (warnings allowed), 1 otherwise. `--json` prints
 * `{ image, errors, warnings, stats, problems: [{ rule, severity, offset, structure, message }] }`.
 */
import type { CliCommand, CliContext } from './context.js';
import { parseArgs, usageError } from './read-args.js';

const USAGE = 'usage: tsquashfs verify IMAGE [--json]';
const HELP = `${USAGE}

Checks every structure of IMAGE against the squashfs 4.0 format rules (what the
Linux kernel enforces, and what mksquashfs writes) and reports every problem:
  OFFSET  RULE  STRUCTURE: MESSAGE
OFFSET is the absolute byte offset ('-' if none). Warnings are legal but not
what mksquashfs writes. Exit status 0 if there is no error, 1 otherwise.
  --json   the same as one JSON object
`;

export const command: CliCommand = { name: 'verify', run: runVerify };

export async function runVerify(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseArgs(argv, ['--json'], USAGE);
  if (args.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const [imagePath, ...extra] = args.positional;
  if (imagePath === undefined || extra.length > 0) throw usageError(USAGE);
  const { verifyImage } = await import('../squashfs/read/verify.js');
  const result = await verifyImage(imagePath);
  if (args.flags.has('--json')) {
    ctx.stdout.write(
      `${JSON.stringify(
        {
          image: imagePath,
          errors: result.errors,
          warnings: result.warnings,
          stats: result.stats,
          problems: result.problems,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines = result.problems.map(
      (p) =>
        `${p.offset === null ? '-' : String(p.offset)}  ${p.rule}  ${p.structure}: ${
          p.severity === 'warning' ? 'warning: ' : ''
        }${p.message}\n`,
    );
    const s = result.stats;
    lines.push(
      `${imagePath}: ${result.errors} error${result.errors === 1 ? '' : 's'}, ${result.warnings} warning${
        result.warnings === 1 ? '' : 's'
      } (${s.inodes} inodes, ${s.entries} entries, ${s.metadataBlocks} metadata blocks, ${s.dataBlocks} data blocks, ${s.fragmentBlocks} fragment blocks checked${
        s.complete ? '' : '; verification stopped early'
      })\n`,
    );
    ctx.stdout.write(lines.join(''));
  }
  return result.errors > 0 ? 1 : 0;
}
