/**
 * `tsquashfs mk SOURCE... IMAGE [options] [-e LIST]`: mksquashfs 4.5.1's command line turned into
 * WriteOptions and scanner options. Spellings, meanings and error conditions follow mksquashfs:
 * - SOURCE... IMAGE come first: every argument up to the first one starting with '-'; the last of
 *   them is the image.
 * - `-e` ends the options: everything after it is an exclusion, even words starting with '-'.
 * - -X compressor options may come before or after -comp; they are checked against the compressor
 *   once the whole line is read, and a block-size-relative -Xdict-size is resolved against the
 *   final -b.
 * - For repeated options the last one wins, as mksquashfs.
 *
 * Pure: no file system access except the optional user/group name lookup, which is injectable.
 */
import type {
  BcjFilter,
  CompressionOptions,
  GzipOptions,
  GzipStrategy,
  XzOptions,
} from '../squashfs/compress/compressor.js';
import { SquashfsError } from '../squashfs/errors.js';
import type { WriteOptions } from '../squashfs/write/options.js';
import { systemIdLookup, type IdLookup } from './host-ids.js';

/** What the host scanner is asked to do (its outputPath and onWarning are added by mk.ts). */
export interface MkScanOptions {
  keepAsDirectory: boolean;
  exclude: string[];
  xattrs: boolean;
}

/** 'auto': a bar when stderr is a terminal; 'always' (-progress); 'never' (-no-progress, -quiet). */
export type ProgressMode = 'auto' | 'always' | 'never';

/** WriteOptions with every default written out, so callers and tests see what will happen. */
export type MkWriteOptions = WriteOptions &
  Required<
    Pick<
      WriteOptions,
      | 'compression'
      | 'blockSize'
      | 'uncompressedInodes'
      | 'uncompressedData'
      | 'uncompressedFragments'
      | 'uncompressedXattrs'
      | 'uncompressedIds'
      | 'fragments'
      | 'duplicates'
      | 'sparse'
      | 'xattrs'
      | 'exports'
      | 'mkfsTime'
    >
  >;

export interface MkCommand {
  sources: string[];
  image: string;
  scan: MkScanOptions;
  write: MkWriteOptions;
  quiet: boolean;
  progress: ProgressMode;
  /** -exit-on-error: scanner warnings (unreadable or vanished files) become fatal. */
  exitOnError: boolean;
  /** -noappend: an existing IMAGE may be replaced (without it, mksquashfs would append). */
  noAppend: boolean;
  /** -processors: compression worker threads (default: one per core). */
  processors: number | undefined;
}

export const DEFAULT_BLOCK_SIZE = 131072;
const MAX_UINT32 = 0xffffffff;
const USAGE = 'usage: tsquashfs mk SOURCE... IMAGE [options] [-e LIST] (see tsquashfs mk --help)';

function invalid(message: string): SquashfsError {
  return new SquashfsError('INVALID_ARGUMENT', message);
}

// ---------------------------------------------------------------------------------------------
// Parser state and the option table

interface MkState {
  compressor: string | undefined;
  compressorArgs: CompressorArg[];
  blockSize: number;
  noFragments: boolean;
  alwaysFragments: boolean;
  /** Time-setting options seen, for the SOURCE_DATE_EPOCH conflict check. */
  timeOptions: string[];
  write: Omit<MkWriteOptions, 'compression' | 'blockSize' | 'fragments'>;
  scan: MkScanOptions;
  quiet: boolean;
  progress: 'always' | 'never' | undefined;
  exitOnError: boolean;
  noAppend: boolean;
  processors: number | undefined;
  ids: IdLookup;
}

interface CompressorArg {
  option: string;
  value: string;
}

export type OptionGroup = 'compression' | 'layout' | 'ownership' | 'sources' | 'runtime';

export interface OptionSpec {
  /** Every spelling; the first is mksquashfs's main one. */
  names: readonly string[];
  /** Placeholder of the value, for options that take one. */
  arg?: string;
  group: OptionGroup;
  help: string;
  apply(state: MkState, value: string, name: string): void;
}

const SUPPORTED_COMPRESSORS = ['gzip', 'xz', 'none'] as const;
type CompressorName = (typeof SUPPORTED_COMPRESSORS)[number];
/** mksquashfs has them; tsquashfs has no codec for them yet. */
const LATER_COMPRESSORS = ['lzo', 'lz4', 'zstd', 'lzma'];

const flag =
  (set: (s: MkState) => void) =>
  (s: MkState): void =>
    set(s);

export const MK_OPTIONS: readonly OptionSpec[] = [
  // Compression
  {
    names: ['-comp'],
    arg: 'COMP',
    group: 'compression',
    help: 'compressor: gzip (default), xz or none',
    apply: selectCompressor,
  },
  {
    names: ['-b'],
    arg: 'SIZE',
    group: 'compression',
    help: 'data block size, a power of two 4K .. 1M (default 128K)',
    apply: (s, v) => (s.blockSize = parseBlockSize(v)),
  },
  {
    names: ['-noI', '-noInodeCompression'],
    group: 'compression',
    help: 'do not compress the inode table (implies -noId)',
    // The writer stores the id table raw under -noI too, without the -noId flag bit, as
    // mksquashfs 4.5.1 does; setting uncompressedIds here would set that bit.
    apply: flag((s) => (s.write.uncompressedInodes = true)),
  },
  {
    names: ['-noId', '-noIdTableCompression'],
    group: 'compression',
    help: 'do not compress the uid/gid table',
    apply: flag((s) => (s.write.uncompressedIds = true)),
  },
  {
    names: ['-noD', '-noDataCompression'],
    group: 'compression',
    help: 'do not compress data blocks',
    apply: flag((s) => (s.write.uncompressedData = true)),
  },
  {
    names: ['-noF', '-noFragmentCompression'],
    group: 'compression',
    help: 'do not compress fragment blocks',
    apply: flag((s) => (s.write.uncompressedFragments = true)),
  },
  {
    names: ['-noX', '-noXattrCompression'],
    group: 'compression',
    help: 'do not compress extended attributes',
    apply: flag((s) => (s.write.uncompressedXattrs = true)),
  },
  // Layout
  {
    names: ['-no-fragments'],
    group: 'layout',
    help: 'do not use fragments',
    apply: flag((s) => (s.noFragments = true)),
  },
  {
    names: ['-always-use-fragments', '-tailends'],
    group: 'layout',
    help: 'put the tails of files larger than a block in fragments too',
    apply: flag((s) => (s.alwaysFragments = true)),
  },
  {
    names: ['-no-tailends'],
    group: 'layout',
    help: 'only files smaller than a block go in fragments (default)',
    apply: flag((s) => (s.alwaysFragments = false)),
  },
  {
    names: ['-no-duplicates'],
    group: 'layout',
    help: 'do not detect and share duplicate files',
    apply: flag((s) => (s.write.duplicates = false)),
  },
  {
    names: ['-no-sparse'],
    group: 'layout',
    help: 'do not detect sparse (all-zero) blocks',
    apply: flag((s) => (s.write.sparse = false)),
  },
  {
    names: ['-no-xattrs'],
    group: 'layout',
    help: 'do not store extended attributes',
    apply: flag((s) => (s.write.xattrs = s.scan.xattrs = false)),
  },
  {
    names: ['-xattrs'],
    group: 'layout',
    help: 'store extended attributes (default)',
    apply: flag((s) => (s.write.xattrs = s.scan.xattrs = true)),
  },
  {
    names: ['-no-exports'],
    group: 'layout',
    help: 'do not make the image exportable via NFS',
    apply: flag((s) => (s.write.exports = false)),
  },
  {
    names: ['-exports'],
    group: 'layout',
    help: 'make the image exportable via NFS (default)',
    apply: flag((s) => (s.write.exports = true)),
  },
  // Ownership, permissions and times
  {
    names: ['-all-root', '-root-owned'],
    group: 'ownership',
    help: 'make every file owned by root (uid 0, gid 0)',
    apply: flag((s) => (s.write.forceUid = s.write.forceGid = 0)),
  },
  {
    names: ['-force-uid'],
    arg: 'USER',
    group: 'ownership',
    help: 'set every uid to USER (a number, or a name from /etc/passwd)',
    apply: (s, v, n) => (s.write.forceUid = parseId(n, v, 'uid', s.ids.uid)),
  },
  {
    names: ['-force-gid'],
    arg: 'GROUP',
    group: 'ownership',
    help: 'set every gid to GROUP (a number, or a name from /etc/group)',
    apply: (s, v, n) => (s.write.forceGid = parseId(n, v, 'gid', s.ids.gid)),
  },
  {
    names: ['-root-mode'],
    arg: 'MODE',
    group: 'ownership',
    help: 'set the root directory permissions to octal MODE',
    apply: (s, v) => (s.write.rootMode = parseRootMode(v)),
  },
  {
    // mksquashfs 4.5.1 takes numbers only here, unlike -force-uid.
    names: ['-root-uid'],
    arg: 'UID',
    group: 'ownership',
    help: 'set the root directory owner to the number UID',
    apply: (s, v, n) => (s.write.rootUid = parseId(n, v, 'uid', undefined)),
  },
  {
    names: ['-root-gid'],
    arg: 'GID',
    group: 'ownership',
    help: 'set the root directory group to the number GID',
    apply: (s, v, n) => (s.write.rootGid = parseId(n, v, 'gid', undefined)),
  },
  {
    names: ['-root-time'],
    arg: 'TIME',
    group: 'ownership',
    help: 'set the root directory mtime to TIME (seconds since the epoch)',
    apply: (s, v, n) => (s.write.rootTime = parseTime(n, v)),
  },
  {
    names: ['-all-time'],
    arg: 'TIME',
    group: 'ownership',
    help: 'set every file mtime to TIME (seconds since the epoch)',
    apply: (s, v, n) => {
      s.write.allTime = parseTime(n, v);
      s.timeOptions.push(n);
    },
  },
  {
    names: ['-mkfs-time', '-fstime'],
    arg: 'TIME',
    group: 'ownership',
    help: 'set the image creation time to TIME (default 0, not the clock)',
    apply: (s, v, n) => {
      s.write.mkfsTime = parseTime(n, v);
      s.timeOptions.push(n);
    },
  },
  // Sources
  {
    names: ['-keep-as-directory'],
    group: 'sources',
    help: 'one source directory: keep it as a directory in the root',
    apply: flag((s) => (s.scan.keepAsDirectory = true)),
  },
  {
    // Handled by the parse loop (it swallows the rest of the line); listed here for --help.
    names: ['-e'],
    arg: 'LIST...',
    group: 'sources',
    help: 'exclude these paths; must come last (every later word is one)',
    apply: () => undefined,
  },
  // Runtime
  {
    names: ['-noappend'],
    group: 'runtime',
    help: 'replace an existing IMAGE (tsquashfs never appends)',
    apply: flag((s) => (s.noAppend = true)),
  },
  {
    names: ['-durable'],
    group: 'runtime',
    help: 'exit only once IMAGE is on the disk (fsync), safe from a power cut',
    apply: flag((s) => (s.write.durable = true)),
  },
  {
    names: ['-quiet'],
    group: 'runtime',
    help: 'print no summary and no progress bar',
    apply: flag((s) => (s.quiet = true)),
  },
  {
    names: ['-progress'],
    group: 'runtime',
    help: 'show the progress bar even when stderr is not a terminal',
    apply: flag((s) => (s.progress = 'always')),
  },
  {
    names: ['-no-progress'],
    group: 'runtime',
    help: 'do not show the progress bar',
    apply: flag((s) => (s.progress = 'never')),
  },
  {
    names: ['-exit-on-error'],
    group: 'runtime',
    help: 'treat unreadable or vanished files as fatal, not warnings',
    apply: flag((s) => (s.exitOnError = true)),
  },
  {
    names: ['-processors'],
    arg: 'N',
    group: 'runtime',
    help: 'compression worker threads (default: one per core)',
    apply: (s, v) => (s.processors = parseProcessors(v)),
  },
  {
    // Accepted because they ask for what tsquashfs always does.
    names: ['-reproducible'],
    group: 'runtime',
    help: 'accepted: tsquashfs output is always reproducible',
    apply: () => undefined,
  },
  {
    names: ['-no-recovery'],
    group: 'runtime',
    help: 'accepted: tsquashfs never writes a recovery file',
    apply: () => undefined,
  },
];

/** mksquashfs 4.5.1 options tsquashfs does not implement: rejected, never silently ignored. */
export const UNSUPPORTED_OPTIONS: readonly string[] = [
  '-tar',
  '-no-strip',
  '-tarstyle',
  '-cpiostyle',
  '-cpiostyle0',
  '-not-reproducible',
  '-no-hardlinks',
  '-action',
  '-log-action',
  '-true-action',
  '-false-action',
  '-action-file',
  '-log-action-file',
  '-true-action-file',
  '-false-action-file',
  '-p',
  '-pf',
  '-sort',
  '-ef',
  '-wildcards',
  '-regex',
  '-one-file-system',
  '-root-becomes',
  '-recover',
  '-recovery-path',
  '-info',
  '-throttle',
  '-limit',
  '-mem',
  '-nopad',
  '-offset',
  '-o',
];

/** Options that print something and exit; mk.ts looks for them before parsing (mkInfoRequest). */
const HELP_OPTIONS = new Set(['-help', '-h', '--help', '-Xhelp']);
const VERSION_OPTIONS = new Set(['-version', '--version']);

const OPTION_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(
  MK_OPTIONS.flatMap((spec) => spec.names.map((name) => [name, spec] as const)),
);

// ---------------------------------------------------------------------------------------------
// Compressor (-X) options

export interface CompressorOptionHelp {
  option: string;
  arg: string;
  help: string;
}

interface CompressorSpec {
  name: CompressorName;
  options: readonly CompressorOptionHelp[];
  build(args: CompressorArg[], blockSize: number): CompressionOptions;
}

/**
 * mksquashfs keeps fixed tables of gzip strategies and xz filters and tries the selected ones in
 * table order, whatever order the command line named them in; with ties going to the first tried,
 * that order decides which stream is kept, so we hand them to the compressor in the same order.
 */
const GZIP_STRATEGIES: readonly GzipStrategy[] = [
  'default',
  'filtered',
  'huffman_only',
  'run_length_encoded',
  'fixed',
];
/** The gzip engines the command line offers (the API has more; see GzipOptions.engine). */
const GZIP_CLI_ENGINES = ['libdeflate', 'zlib'] as const;
const BCJ_FILTERS: readonly BcjFilter[] = ['x86', 'powerpc', 'ia64', 'arm', 'armthumb', 'sparc'];

export const COMPRESSORS: Readonly<Record<CompressorName, CompressorSpec>> = {
  gzip: {
    name: 'gzip',
    options: [
      { option: '-Xcompression-level', arg: 'N', help: 'compression level 1 .. 9 (default 9)' },
      { option: '-Xwindow-size', arg: 'N', help: 'window size 8 .. 15 (default 15)' },
      {
        option: '-Xstrategy',
        arg: 'LIST',
        help: `try each of ${GZIP_STRATEGIES.join(',')}`,
      },
      {
        option: '-Xengine',
        arg: 'NAME',
        help: "libdeflate (default; faster, smaller) or zlib (mksquashfs's bytes)",
      },
    ],
    build: buildGzip,
  },
  xz: {
    name: 'xz',
    options: [
      {
        option: '-Xbcj',
        arg: 'LIST',
        help: `also try each of ${BCJ_FILTERS.join(',')}`,
      },
      {
        option: '-Xdict-size',
        arg: 'SIZE',
        help: 'N, NK, NM or N% of -b; 2^n or 3*2^n, 8K .. block size',
      },
    ],
    build: buildXz,
  },
  none: { name: 'none', options: [], build: () => ({ name: 'none' }) },
};

/**
 * How many values each -X option of mksquashfs takes, over all its compressors (lzo's
 * -Xalgorithm and lz4's -Xhc included), so the parser can step over it before it knows the
 * compressor; whether it fits the compressor is checked at the end.
 */
const COMPRESSOR_OPTION_ARITY: ReadonlyMap<string, number> = new Map([
  ['-Xcompression-level', 1],
  ['-Xwindow-size', 1],
  ['-Xstrategy', 1],
  ['-Xengine', 1],
  ['-Xbcj', 1],
  ['-Xdict-size', 1],
  ['-Xalgorithm', 1],
  ['-Xhc', 0],
]);

function selectCompressor(s: MkState, name: string): void {
  if (!(SUPPORTED_COMPRESSORS as readonly string[]).includes(name)) {
    const supported = SUPPORTED_COMPRESSORS.join(', ');
    if (LATER_COMPRESSORS.includes(name)) {
      throw invalid(`compressor ${name} is not supported yet (supported: ${supported})`);
    }
    throw invalid(`-comp: unknown compressor "${name}" (supported: ${supported})`);
  }
  if (s.compressor !== undefined && s.compressor !== name) {
    throw invalid(
      `-comp: multiple conflicting -comp options, previously ${s.compressor}, now ${name}`,
    );
  }
  s.compressor = name;
}

function buildCompression(s: MkState): CompressionOptions {
  const name = (s.compressor ?? 'gzip') as CompressorName;
  const spec = COMPRESSORS[name];
  for (const arg of s.compressorArgs) {
    if (!spec.options.some((o) => o.option === arg.option)) {
      throw wrongCompressorOption(arg.option, spec, s.compressor === undefined);
    }
  }
  return spec.build(s.compressorArgs, s.blockSize);
}

function wrongCompressorOption(
  option: string,
  spec: CompressorSpec,
  compDefaulted: boolean,
): SquashfsError {
  const hint = compDefaulted ? ' (did you forget to specify -comp?)' : '';
  const supported =
    spec.options.length === 0
      ? `${spec.name} takes no options`
      : `${spec.name} supports ${spec.options.map((o) => o.option).join(', ')}`;
  return invalid(
    `unrecognised compressor option ${option} for compressor ${spec.name}${hint}; ${supported}`,
  );
}

function buildGzip(args: CompressorArg[]): GzipOptions {
  const options: GzipOptions = { name: 'gzip', level: 9, windowBits: 15 };
  for (const { option, value } of args) {
    if (option === '-Xcompression-level') {
      options.level = parseIntInRange(`gzip: ${option}`, value, 1, 9);
    } else if (option === '-Xwindow-size') {
      options.windowBits = parseIntInRange(`gzip: ${option}`, value, 8, 15);
    } else if (option === '-Xengine') {
      if (!(GZIP_CLI_ENGINES as readonly string[]).includes(value)) {
        throw invalid(
          `gzip: -Xengine: unknown engine "${value}" (available: ${GZIP_CLI_ENGINES.join(', ')})`,
        );
      }
      options.engine = value as (typeof GZIP_CLI_ENGINES)[number];
    } else {
      // Left unset unless given: an explicit strategy list is recorded in the image's
      // compressor options even when it is just 'default', as mksquashfs does.
      options.strategies = mergeList(
        `gzip: ${option}`,
        'strategy',
        options.strategies,
        value,
        GZIP_STRATEGIES,
      );
    }
  }
  const otherStrategy = options.strategies?.some((s) => s !== 'default');
  if (options.engine === 'libdeflate' && (options.windowBits !== 15 || otherStrategy)) {
    throw invalid(
      `gzip: -Xengine libdeflate has only a 32 KiB window (-Xwindow-size 15) and the default strategy; use -Xengine zlib with ${otherStrategy ? '-Xstrategy' : '-Xwindow-size'}`,
    );
  }
  return options;
}

function buildXz(args: CompressorArg[], blockSize: number): XzOptions {
  let bcj: BcjFilter[] = [];
  let dictSize = blockSize;
  for (const { option, value } of args) {
    if (option === '-Xbcj') {
      bcj = mergeList(`xz: ${option}`, 'filter', bcj, value, BCJ_FILTERS);
    } else {
      dictSize = resolveDictSize(parseDictSize(value), blockSize);
    }
  }
  return { name: 'xz', dictSize, bcj };
}

/** Comma-separated names, added to those already chosen (repeating the option accumulates). */
function mergeList<T extends string>(
  what: string,
  noun: string,
  current: readonly T[] | undefined,
  value: string,
  table: readonly T[],
): T[] {
  const chosen = new Set<T>(current ?? []);
  // mksquashfs splits with strtok, so empty items ("x86,,arm", "") are skipped, not errors.
  for (const item of value.split(',').filter((i) => i !== '')) {
    if (!(table as readonly string[]).includes(item)) {
      throw invalid(`${what}: unrecognised ${noun} "${item}" (available: ${table.join(', ')})`);
    }
    chosen.add(item as T);
  }
  return table.filter((t) => chosen.has(t));
}

type DictSize = { bytes: number } | { percent: number };

function parseDictSize(value: string): DictSize {
  const percent = /^(\d+(?:\.\d*)?|\.\d+)%$/.exec(value);
  if (percent) {
    const p = Number(percent[1]);
    if (!(p > 0 && p <= 100)) {
      throw invalid(`xz: -Xdict-size percentage should be 0 < dict-size <= 100, got ${value}`);
    }
    return { percent: p };
  }
  const absolute = /^(\d+(?:\.\d*)?)([kKmM]?)$/.exec(value);
  if (!absolute) throw invalid(`xz: -Xdict-size invalid dict-size "${value}"`);
  const n = Number(absolute[1]);
  if (!Number.isInteger(n)) {
    throw invalid(
      `xz: -Xdict-size can't be fractional unless a percentage of the block size, got ${value}`,
    );
  }
  return { bytes: n * suffixMultiplier(absolute[2]!) };
}

/** mksquashfs's order of checks: larger than the block, then too small, then not storable. */
function resolveDictSize(dict: DictSize, blockSize: number): number {
  let bytes: number;
  if ('bytes' in dict) {
    if (dict.bytes > blockSize) {
      throw invalid(`xz: -Xdict-size ${dict.bytes} is larger than the block size ${blockSize}`);
    }
    bytes = dict.bytes;
  } else {
    bytes = Math.floor((blockSize * dict.percent) / 100);
  }
  if (bytes < 8192) throw invalid(`xz: -Xdict-size should be 8192 bytes or larger, got ${bytes}`);
  if (!isStorableDictSize(bytes)) {
    throw invalid(
      `xz: -Xdict-size ${bytes} is an unsupported value, it must be storable in the xz header ` +
        'as either 2^n or 3*2^n (for example 75%, 50%, 37.5%, 25%, or 32K, 16K, 8K)',
    );
  }
  return bytes;
}

/** The xz header (and the kernel's decoder) can only express 2^n and 2^n + 2^(n+1) = 3*2^n. */
function isStorableDictSize(n: number): boolean {
  let odd = n;
  while (odd % 2 === 0) odd /= 2;
  return odd === 1 || odd === 3;
}

// ---------------------------------------------------------------------------------------------
// Value parsers

function suffixMultiplier(suffix: string): number {
  if (suffix === 'k' || suffix === 'K') return 1024;
  if (suffix === 'm' || suffix === 'M') return 1024 * 1024;
  return 1;
}

export function parseBlockSize(value: string): number {
  const match = /^(\d+)([kKmM]?)$/.exec(value);
  if (!match) {
    throw invalid(`-b: invalid block size "${value}" (bytes, or a number with a K or M suffix)`);
  }
  const size = Number(match[1]) * suffixMultiplier(match[2]!);
  if (size < 4096 || size > 1048576 || (size & (size - 1)) !== 0) {
    throw invalid(`-b: block size ${value} is not a power of two between 4K and 1M`);
  }
  return size;
}

function parseIntInRange(what: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw invalid(`${what} invalid value "${value}", it should be ${min} <= n <= ${max}`);
  }
  return n;
}

/**
 * mksquashfs 4.5.1 takes times as plain numbers only (date strings came in 4.6); we take decimal
 * digits and nothing else, rather than strtoul's leading blanks and signs.
 */
export function parseTime(option: string, value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n <= MAX_UINT32)) {
    throw invalid(
      `${option}: invalid time value "${value}" (seconds since the epoch, 0 to ${MAX_UINT32}; ` +
        'date strings are not supported)',
    );
  }
  return n;
}

function parseId(
  option: string,
  value: string,
  kind: 'uid' | 'gid',
  lookup: ((name: string) => number | undefined) | undefined,
): number {
  if (/^[-+]?\d+$/.test(value)) {
    const n = Number(value);
    if (n < 0 || n > MAX_UINT32) {
      throw invalid(`${option}: ${kind} ${value} out of range (0 to ${MAX_UINT32})`);
    }
    return n;
  }
  const who = kind === 'uid' ? 'user' : 'group';
  if (lookup === undefined) throw invalid(`${option}: invalid ${kind} "${value}" (a number)`);
  const id = lookup(value);
  if (id === undefined) throw invalid(`${option}: invalid ${kind} or unknown ${who} "${value}"`);
  return id;
}

function parseRootMode(value: string): number {
  const mode = /^[0-7]+$/.test(value) ? parseInt(value, 8) : NaN;
  if (!(mode <= 0o7777)) {
    throw invalid(`-root-mode: invalid mode "${value}" (an octal number <= 07777)`);
  }
  return mode;
}

function parseProcessors(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw invalid(`-processors: invalid processor number "${value}"`);
  }
  const n = Number(value);
  if (n < 1) throw invalid('-processors should be 1 or larger');
  return n;
}

/** mksquashfs treats an empty SOURCE_DATE_EPOCH as unset. */
function parseSourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n <= MAX_UINT32)) {
    throw invalid(
      `environment variable SOURCE_DATE_EPOCH has an invalid time value "${raw}" ` +
        `(seconds since the epoch, 0 to ${MAX_UINT32})`,
    );
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// The parse

/**
 * 'help' or 'version' when the options ask for it (before any -e, whose words are file names);
 * mk.ts answers those without parsing, so `tsquashfs mk -help` needs no SOURCE or IMAGE.
 */
export function mkInfoRequest(argv: readonly string[]): 'help' | 'version' | undefined {
  for (const arg of argv) {
    if (arg === '-e') break;
    if (HELP_OPTIONS.has(arg)) return 'help';
    if (VERSION_OPTIONS.has(arg)) return 'version';
  }
  return undefined;
}

export function parseMkArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  ids: IdLookup = systemIdLookup(),
): MkCommand {
  const positionals = leadingPositionals(argv);
  if (positionals.length < 2) {
    const missing = positionals.length === 0 ? 'SOURCE and IMAGE' : 'SOURCE or IMAGE';
    throw invalid(`mk: missing ${missing}; ${USAGE}`);
  }
  const state = initialState(ids);
  parseOptions(argv.slice(positionals.length), state);
  return finish(state, positionals, env);
}

function leadingPositionals(argv: readonly string[]): string[] {
  const end = argv.findIndex((a) => a.startsWith('-'));
  return argv.slice(0, end === -1 ? argv.length : end);
}

function initialState(ids: IdLookup): MkState {
  return {
    compressor: undefined,
    compressorArgs: [],
    blockSize: DEFAULT_BLOCK_SIZE,
    noFragments: false,
    alwaysFragments: false,
    timeOptions: [],
    write: {
      uncompressedInodes: false,
      uncompressedData: false,
      uncompressedFragments: false,
      uncompressedXattrs: false,
      uncompressedIds: false,
      duplicates: true,
      sparse: true,
      xattrs: true,
      exports: true,
      mkfsTime: 0,
      durable: false,
    },
    scan: { keepAsDirectory: false, exclude: [], xattrs: true },
    quiet: false,
    progress: undefined,
    exitOnError: false,
    noAppend: false,
    processors: undefined,
    ids,
  };
}

function parseOptions(args: readonly string[], state: MkState): void {
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!;
    if (name === '-e') {
      const exclusions = args.slice(i + 1);
      if (exclusions.length === 0) throw invalid('-e missing arguments: the files to exclude');
      state.scan.exclude.push(...exclusions);
      return;
    }
    const takesValue = optionArity(name);
    let value = '';
    if (takesValue) {
      if (i + 1 >= args.length) throw invalid(`${name} missing ${describeValue(name)}`);
      // Like mksquashfs, the next word is the value even if it starts with '-'.
      value = args[++i]!;
    }
    applyOption(state, name, value);
  }
}

/** 1 when the option takes a value; throws for anything that is not an option we handle. */
function optionArity(name: string): number {
  const spec = OPTION_BY_NAME.get(name);
  if (spec !== undefined) return spec.arg === undefined ? 0 : 1;
  const xArity = COMPRESSOR_OPTION_ARITY.get(name);
  if (xArity !== undefined) return xArity;
  if (HELP_OPTIONS.has(name) || VERSION_OPTIONS.has(name)) return 0;
  if (UNSUPPORTED_OPTIONS.includes(name)) throw invalid(`option ${name} is not supported yet`);
  if (!name.startsWith('-')) {
    throw invalid(`unexpected argument "${name}": SOURCE... IMAGE must come before the options`);
  }
  if (name.startsWith('-X')) {
    throw invalid(`unrecognised compressor option ${name} (see tsquashfs mk --help)`);
  }
  throw invalid(`unknown option ${name} (see tsquashfs mk --help)`);
}

function describeValue(name: string): string {
  const arg = OPTION_BY_NAME.get(name)?.arg;
  return arg === undefined ? 'value' : `value ${arg}`;
}

function applyOption(state: MkState, name: string, value: string): void {
  const spec = OPTION_BY_NAME.get(name);
  if (spec !== undefined) {
    spec.apply(state, value, name);
  } else if (COMPRESSOR_OPTION_ARITY.has(name)) {
    state.compressorArgs.push({ option: name, value });
  }
  // Help and version options reach here only when a caller skipped mkInfoRequest: nothing to do.
}

function finish(state: MkState, positionals: string[], env: NodeJS.ProcessEnv): MkCommand {
  const write: MkWriteOptions = {
    compression: buildCompression(state),
    blockSize: state.blockSize,
    fragments: state.noFragments ? 'never' : state.alwaysFragments ? 'always' : 'small',
    ...state.write,
  };
  applySourceDateEpoch(write, state.timeOptions, env);
  return {
    sources: positionals.slice(0, -1),
    image: positionals[positionals.length - 1]!,
    scan: state.scan,
    write,
    quiet: state.quiet,
    progress: state.quiet ? 'never' : (state.progress ?? 'auto'),
    exitOnError: state.exitOnError,
    noAppend: state.noAppend,
    processors: state.processors,
  };
}

/**
 * SOURCE_DATE_EPOCH is the image time and an upper bound on every mtime. mksquashfs refuses it
 * together with -mkfs-time/-fstime/-all-time (both would set the same timestamps) but allows
 * -root-time.
 */
function applySourceDateEpoch(
  write: MkWriteOptions,
  timeOptions: readonly string[],
  env: NodeJS.ProcessEnv,
): void {
  const epoch = parseSourceDateEpoch(env);
  if (epoch === undefined) return;
  if (timeOptions.length > 0) {
    throw invalid(
      "SOURCE_DATE_EPOCH and command line options can't be used at the same time to set " +
        `timestamp(s) (${[...new Set(timeOptions)].join(', ')} given)`,
    );
  }
  write.mkfsTime = epoch;
  write.clampTime = epoch;
}
