/**
 * Help texts. The mk help is generated from the option table in mk-args.ts, so an option cannot
 * be accepted without being listed, nor listed without being accepted.
 */
import { COMMANDS } from './commands.js';
import {
  COMPRESSORS,
  DEFAULT_BLOCK_SIZE,
  MK_OPTIONS,
  UNSUPPORTED_OPTIONS,
  type OptionGroup,
} from './mk-args.js';

const COLUMN = 30;

/** Two-column lines; a left part too long for its column keeps two spaces before the text. */
function row(left: string, text: string): string {
  const padded = left.length + 2 <= COLUMN ? left.padEnd(COLUMN) : `${left}  `;
  return `  ${padded}${text}`;
}

/** Wraps a list of words to lines of at most `width` characters, each indented. */
function wrapWords(words: readonly string[], indent: string, width = 96): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const word of words) {
    if (line.length + word.length + 1 > width && line.trim() !== '') {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  if (line.trim() !== '') lines.push(line.trimEnd());
  return lines;
}

export function mainHelp(): string {
  return [
    'Usage: tsquashfs COMMAND [ARGS...]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => row(c.name, c.summary)),
    '',
    'Options:',
    row('-h, --help', 'show this help'),
    row('--version', 'print the version'),
    '',
    "Run 'tsquashfs COMMAND --help' for the options of a command.",
    '',
  ].join('\n');
}

export function mainUsage(): string {
  const names = COMMANDS.map((c) => c.name).join('|');
  return `usage: tsquashfs {${names}} [ARGS...]  (tsquashfs --help for more)\n`;
}

const GROUP_TITLES: Record<OptionGroup, string> = {
  compression: 'Compression:',
  layout: 'Image layout:',
  ownership: 'Ownership, permissions and times:',
  sources: 'Sources:',
  runtime: 'Runtime:',
};

export function mkHelp(): string {
  const lines = [
    'Usage: tsquashfs mk SOURCE... IMAGE [OPTIONS] [-e LIST...]',
    '',
    'Creates the squashfs 4.0 image IMAGE from the SOURCE files and directories. The command',
    "line is mksquashfs's (squashfs-tools 4.5.1): same spellings, meanings and defaults.",
    'One SOURCE directory becomes the root; several SOURCEs become entries of the root.',
    'tsquashfs never appends: an existing IMAGE is replaced only with -noappend.',
  ];
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    lines.push('', GROUP_TITLES[group]);
    for (const spec of MK_OPTIONS.filter((s) => s.group === group)) {
      const left = spec.names.join(', ') + (spec.arg === undefined ? '' : ` ${spec.arg}`);
      lines.push(row(left, spec.help));
    }
  }
  for (const spec of Object.values(COMPRESSORS)) {
    if (spec.options.length === 0) continue;
    lines.push(
      '',
      `Compressor options (${spec.name}, with -comp ${spec.name}; lists are comma-separated,`,
    );
    lines.push('the smallest result per block is kept):');
    for (const o of spec.options) lines.push(row(`${o.option} ${o.arg}`, o.help));
  }
  lines.push(
    '',
    'Information:',
    row('-help, -h, --help, -Xhelp', 'show this help'),
    row('-version, --version', 'print the version'),
    '',
    'Environment:',
    row('SOURCE_DATE_EPOCH', 'image time, and the latest mtime any file gets (later ones'),
    row('', 'are clamped); not with -mkfs-time, -fstime or -all-time'),
    '',
    `Defaults: -comp gzip, -b ${DEFAULT_BLOCK_SIZE / 1024}K, -mkfs-time 0.`,
    '',
    'mksquashfs options not supported yet (rejected with an error):',
    ...wrapWords(UNSUPPORTED_OPTIONS, '  '),
    '',
  );
  return lines.join('\n');
}
