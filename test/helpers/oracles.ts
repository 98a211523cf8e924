/**
 * The foreign tools that judge our images, found once per test process, and thin wrappers that
 * turn their output into data and their complaints into thrown errors.
 *
 * Oracles: unsquashfs/mksquashfs (squashfs-tools 4.5.1), sqfsdiff/rdsquashfs (squashfs-tools-ng
 * 1.2.0), getfattr/setfattr (attr), and the kernel (`mount -o loop,ro`, needs root and loop
 * devices). A test states what it needs with requireOracle(); a missing oracle skips the suite
 * with a printed reason outside CI and fails it in CI.
 */
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile, rmdir, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { describe, it } from 'vitest';
import { displayPath, inCI, makeTempDir, run, runChecked, testTmpRoot } from './fs-util.js';

// ---------------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------------

export type OracleName =
  | 'unsquashfs'
  | 'mksquashfs'
  | 'sqfsdiff'
  | 'rdsquashfs'
  | 'gensquashfs'
  | 'getfattr'
  | 'setfattr'
  /** Kernel squashfs mount through a loop device (root, /dev/loop-control, a real test mount). */
  | 'mount'
  /** uid 0: needed to chown to arbitrary ids and for unsquashfs to restore owners. */
  | 'root'
  /** Device nodes can be created (mknod) in the test temp dir. */
  | 'mknod'
  /** user.* and trusted.* xattrs can be set in the test temp dir (trusted needs root). */
  | 'xattrs';

export interface OracleStatus {
  name: OracleName;
  available: boolean;
  /** Why it is unavailable (or a note about it, such as an unexpected version). */
  reason?: string;
  version?: string;
}

/** Debian packages that provide each tool, for messages and scripts/test.js. */
export const ORACLE_PACKAGES: Partial<Record<OracleName, string>> = {
  unsquashfs: 'squashfs-tools',
  mksquashfs: 'squashfs-tools',
  sqfsdiff: 'squashfs-tools-ng',
  rdsquashfs: 'squashfs-tools-ng',
  gensquashfs: 'squashfs-tools-ng',
  getfattr: 'attr',
  setfattr: 'attr',
  mount: 'mount (util-linux)',
};

/** The versions the project's expectations were written against. */
const EXPECTED_VERSIONS: Partial<Record<OracleName, string>> = {
  unsquashfs: '4.5.1',
  mksquashfs: '4.5.1',
  sqfsdiff: '1.2.0',
  rdsquashfs: '1.2.0',
};

const cache = new Map<OracleName, OracleStatus>();

/** Whether an oracle can be used here. Synchronous so that it can decide at collection time. */
export function oracleStatus(name: OracleName): OracleStatus {
  let status = cache.get(name);
  if (!status) {
    status = detect(name);
    cache.set(name, status);
  }
  return status;
}

export function hasOracle(name: OracleName): boolean {
  return oracleStatus(name).available;
}

function detect(name: OracleName): OracleStatus {
  switch (name) {
    case 'unsquashfs':
    case 'mksquashfs':
      // Both print "<name> version X.Y.Z" for -version (unsquashfs then exits 1, so no exit check).
      return detectTool(name, ['-version'], /version (\d+\.\d+(?:\.\d+)?)/);
    case 'sqfsdiff':
    case 'rdsquashfs':
    case 'gensquashfs':
      return detectTool(name, ['--version'], /squashfs-tools-ng\) (\d+\.\d+(?:\.\d+)?)/);
    case 'getfattr':
    case 'setfattr':
      return detectTool(name, ['--version'], /(\d+\.\d+(?:\.\d+)?)/);
    case 'root':
      return process.getuid?.() === 0
        ? { name, available: true }
        : { name, available: false, reason: 'not running as root (uid 0)' };
    case 'mknod':
      return detectMknod();
    case 'xattrs':
      return detectXattrs();
    case 'mount':
      return detectMount();
  }
}

/** Finds an executable on PATH, plus the sbin directories a non-login root shell may lack. */
export function findExecutable(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function detectTool(name: OracleName, args: string[], versionPattern: RegExp): OracleStatus {
  const pkg = ORACLE_PACKAGES[name];
  if (!findExecutable(name)) {
    return { name, available: false, reason: `${name} not found on PATH (Debian package ${pkg})` };
  }
  const result = spawnSync(name, args, { encoding: 'utf8' });
  const version = versionPattern.exec(`${result.stdout}${result.stderr}`)?.[1];
  if (result.error || !version) {
    return { name, available: false, reason: `${name} ${args.join(' ')} did not report a version` };
  }
  const expected = EXPECTED_VERSIONS[name];
  const status: OracleStatus = { name, available: true, version };
  if (expected && version !== expected) {
    status.reason = `${name} is version ${version}; expectations were written against ${expected}`;
    console.warn(`[oracles] note: ${status.reason}`);
  }
  return status;
}

/** A scratch directory for the synchronous capability probes, removed by the caller. */
function probeDir(): string {
  return mkdtempSync(join(testTmpRoot(), 'tsquashfs-probe-'));
}

function detectMknod(): OracleStatus {
  if (process.getuid?.() !== 0)
    return { name: 'mknod', available: false, reason: 'mknod needs root' };
  const dir = probeDir();
  try {
    const r = spawnSync('mknod', [join(dir, 'c'), 'c', '1', '3'], { encoding: 'utf8' });
    if (r.status !== 0) {
      return {
        name: 'mknod',
        available: false,
        reason: `mknod failed: ${(r.stderr || String(r.error)).trim()}`,
      };
    }
    return { name: 'mknod', available: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function detectXattrs(): OracleStatus {
  for (const tool of ['getfattr', 'setfattr'] as const) {
    const s = oracleStatus(tool);
    if (!s.available) return { name: 'xattrs', available: false, reason: s.reason };
  }
  if (process.getuid?.() !== 0) {
    return { name: 'xattrs', available: false, reason: 'trusted.* xattrs need root' };
  }
  const dir = probeDir();
  try {
    const file = join(dir, 'f');
    writeFileSync(file, '');
    for (const attr of ['user.probe', 'trusted.probe']) {
      const r = spawnSync('setfattr', ['-n', attr, '-v', '1', file], { encoding: 'utf8' });
      if (r.status !== 0) {
        return {
          name: 'xattrs',
          available: false,
          reason: `cannot set ${attr} under ${testTmpRoot()}: ${r.stderr.trim()} (set TSQUASHFS_TEST_TMPDIR to an ext4/xfs dir)`,
        };
      }
    }
    return { name: 'xattrs', available: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Root and /dev/loop-control are necessary but not sufficient (containers often lack loop
 * devices or the squashfs module), so this builds a one-file image and really mounts it.
 */
function detectMount(): OracleStatus {
  const fail = (reason: string): OracleStatus => ({ name: 'mount', available: false, reason });
  if (process.getuid?.() !== 0) return fail('kernel mount needs root');
  if (!existsSync('/dev/loop-control'))
    return fail('/dev/loop-control is missing (no loop device support)');
  for (const cmd of ['mount', 'umount']) {
    if (!findExecutable(cmd)) return fail(`${cmd} not found (Debian package mount)`);
  }
  const mk = oracleStatus('mksquashfs');
  if (!mk.available) return fail(`cannot build the probe image: ${mk.reason}`);

  const dir = probeDir();
  const src = join(dir, 'src');
  const image = join(dir, 'probe.sqfs');
  const mnt = join(dir, 'mnt');
  try {
    mkdirSync(src);
    mkdirSync(mnt);
    writeFileSync(join(src, 'hello'), 'squashfs mount probe\n');
    const mkr = spawnSync('mksquashfs', [src, image, '-noappend', '-quiet', '-no-progress'], {
      encoding: 'utf8',
    });
    if (mkr.status !== 0) return fail(`mksquashfs of the probe image failed: ${mkr.stderr.trim()}`);
    const mr = spawnSync('mount', ['-o', 'loop,ro', '-t', 'squashfs', image, mnt], {
      encoding: 'utf8',
    });
    if (mr.status !== 0) return fail(`mount -o loop,ro -t squashfs failed: ${mr.stderr.trim()}`);
    try {
      const content = readFileSync(join(mnt, 'hello'), 'utf8');
      if (content !== 'squashfs mount probe\n')
        return fail('the probe mount returned wrong file contents');
    } finally {
      const ur = spawnSync('umount', [mnt], { encoding: 'utf8' });
      if (ur.status !== 0) spawnSync('umount', ['-l', mnt]);
    }
    return { name: 'mount', available: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Gatekeeping for test suites
// ---------------------------------------------------------------------------------------------

export type SuiteFn = (title: string, fn: () => void) => void;

/**
 * Returns the `describe` to use for a suite that needs the given oracles: the real one when all
 * are present; otherwise, outside CI, describe.skip after printing why; in CI, a suite whose only
 * test fails with the reason, so a missing tool can never pass silently.
 */
export function requireOracle(...names: OracleName[]): SuiteFn {
  const missing = names.map(oracleStatus).filter((s) => !s.available);
  if (missing.length === 0) return describe;
  const reason = missing.map((s) => `${s.name}: ${s.reason}`).join('; ');
  if (inCI()) {
    return (title, _fn) => {
      console.error(`[oracles] MISSING in CI for "${title}": ${reason}`);
      describe(title, () => {
        it(`needs ${names.join(', ')}`, () => {
          throw new Error(`oracle missing in CI: ${reason}`);
        });
      });
    };
  }
  return (title, fn) => {
    console.warn(`[oracles] SKIPPING "${title}": ${reason}`);
    describe.skip(title, fn);
  };
}

/**
 * The same gate as requireOracle for something that is not a command (a library, a build
 * product): skipped with the printed reason outside CI, a failing test in CI.
 */
export function requireFeature(label: string, available: boolean, reason: string): SuiteFn {
  if (available) return describe;
  if (inCI()) {
    return (title, _fn) => {
      console.error(`[oracles] MISSING in CI for "${title}": ${label}: ${reason}`);
      describe(title, () => {
        it(`needs ${label}`, () => {
          throw new Error(`${label} missing in CI: ${reason}`);
        });
      });
    };
  }
  return (title, fn) => {
    console.warn(`[oracles] SKIPPING "${title}": ${label}: ${reason}`);
    describe.skip(title, fn);
  };
}

// ---------------------------------------------------------------------------------------------
// unsquashfs
// ---------------------------------------------------------------------------------------------

export type EntryType = 'dir' | 'file' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface ListEntry {
  /** Path inside the image without a leading slash; '' is the root. Readable form of pathBytes. */
  path: string;
  pathBytes: Buffer;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Files: size in bytes; symlinks: target length; directories: squashfs directory size. */
  size?: number;
  major?: number;
  minor?: number;
  /** Seconds since the epoch, but only to the minute: -lln prints no seconds. */
  mtimeMinute: number;
  target?: Buffer;
}

const TYPE_CHARS: Record<string, EntryType> = {
  '-': 'file',
  d: 'dir',
  l: 'symlink',
  c: 'chardev',
  b: 'blockdev',
  p: 'fifo',
  s: 'socket',
};

// One -lln line: "drwxr-xr-x 0/0   81 2026-11-22 04:46 squashfs-root/d" ("maj, min" for devices).
const LLN_LINE =
  /^([-dlcbps])([-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]) (\d+)\/(\d+) +(?:(-?\d+), *(-?\d+)|(\d+)) (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d) squashfs-root(.*)$/s;

/** rwxr-sr-t → 0o3755 style bits. */
export function parsePermissions(rwx: string): number {
  let mode = 0;
  const bit = (i: number, ch: string, value: number) => (rwx[i] === ch ? value : 0);
  for (const [i, shift] of [
    [0, 6],
    [3, 3],
    [6, 0],
  ] as const) {
    mode |= bit(i, 'r', 4 << shift) | bit(i + 1, 'w', 2 << shift);
    const x = rwx[i + 2];
    if (x === 'x' || x === 's' || x === 't') mode |= 1 << shift;
  }
  if ('sS'.includes(rwx[2]!)) mode |= 0o4000;
  if ('sS'.includes(rwx[5]!)) mode |= 0o2000;
  if ('tT'.includes(rwx[8]!)) mode |= 0o1000;
  return mode;
}

/**
 * unsquashfs 4.5.1 prints a device as "(data >> 8), (data & 0xff)" of the 32-bit squashfs
 * device field taken as a signed int, which is wrong for minors above 255 (c 259 300 shows as
 * "4355, 44", c 4095 1048575 as "-1,255"). We rebuild the field and decode it the kernel's way
 * (new_decode_dev).
 */
export function decodeListedDevice(
  shownMajor: number,
  shownMinor: number,
): { major: number; minor: number } {
  const raw = ((shownMajor << 8) | shownMinor) >>> 0;
  return { major: (raw >>> 8) & 0xfff, minor: (raw & 0xff) | ((raw >>> 12) & 0xfff00) };
}

/** Parses `unsquashfs -lln -UTC` output. Names containing a newline cannot be listed this way. */
export function parseUnsquashfsListing(stdout: Buffer): ListEntry[] {
  const entries: ListEntry[] = [];
  // latin1 maps each byte to one char, so raw names survive the regex and go back to bytes.
  for (const line of stdout.toString('latin1').split('\n')) {
    if (line === '') continue;
    const m = LLN_LINE.exec(line);
    if (!m) throw new Error(`unparsable unsquashfs -lln line: ${JSON.stringify(line)}`);
    const type = TYPE_CHARS[m[1]!]!;
    let rest = m[13]!.replace(/^\//, '');
    const entry: ListEntry = {
      path: '',
      pathBytes: Buffer.alloc(0),
      type,
      mode: parsePermissions(m[2]!),
      uid: Number(m[3]),
      gid: Number(m[4]),
      mtimeMinute:
        Date.UTC(Number(m[8]), Number(m[9]) - 1, Number(m[10]), Number(m[11]), Number(m[12])) /
        1000,
    };
    if (m[5] !== undefined) Object.assign(entry, decodeListedDevice(Number(m[5]), Number(m[6])));
    else entry.size = Number(m[7]);
    if (type === 'symlink') {
      // The size column is the target length, which splits "name -> target" even if either
      // contains " -> ".
      const size = entry.size!;
      const arrow = rest.length - size - 4;
      if (arrow < 0 || rest.slice(arrow, arrow + 4) !== ' -> ') {
        throw new Error(`symlink line without a ${size}-byte target: ${JSON.stringify(line)}`);
      }
      entry.target = Buffer.from(rest.slice(arrow + 4), 'latin1');
      rest = rest.slice(0, arrow);
    }
    entry.pathBytes = Buffer.from(rest, 'latin1');
    entry.path = displayPath(entry.pathBytes);
    entries.push(entry);
  }
  return entries;
}

/** Lists an image with numeric owners (-lln) in UTC; any stderr output is an error. */
export async function unsquashfsList(image: string): Promise<ListEntry[]> {
  const result = await runChecked('unsquashfs', ['-lln', '-UTC', image]);
  const stderr = result.stderr.toString();
  if (stderr.trim() !== '') throw new Error(`unsquashfs -lln ${image} complained:\n${stderr}`);
  return parseUnsquashfsListing(result.stdout);
}

// The lines unsquashfs 4.5.1 prints on a clean extraction. Anything else is a warning or error.
const CLEAN_EXTRACT_LINES = [
  /^$/,
  /^Parallel unsquashfs: Using \d+ processors?$/,
  /^\d+ inodes \(\d+ blocks?\) to write$/,
  /^created \d+ (files?|director(y|ies)|symlinks?|devices?|fifos?|sockets?|hardlinks?)$/,
];

/** The lines of unsquashfs output that are not part of a clean run (warnings and errors). */
export function findUnsquashfsProblems(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => !CLEAN_EXTRACT_LINES.some((re) => re.test(line)));
}

export interface ExtractResult {
  stdout: string;
  stderr: string;
}

/**
 * Extracts with `unsquashfs -no-progress -xattrs -d DEST IMAGE`. As root unsquashfs restores
 * owners, modes, times and xattrs. Throws on a non-zero exit or on any line that a clean
 * extraction does not print. DEST must not exist: unsquashfs would silently merge into it.
 */
export async function unsquashfsExtract(image: string, dest: string): Promise<ExtractResult> {
  if (existsSync(dest)) throw new Error(`unsquashfsExtract: ${dest} already exists`);
  const result = await run('unsquashfs', ['-no-progress', '-xattrs', '-d', dest, image]);
  const stdout = result.stdout.toString();
  const stderr = result.stderr.toString();
  const problems = findUnsquashfsProblems(`${stdout}\n${stderr}`);
  if (result.code !== 0 || problems.length > 0) {
    throw new Error(
      `unsquashfs extraction of ${image} was not clean (exit ${result.code ?? result.signal}):\n` +
        problems.slice(0, 50).join('\n'),
    );
  }
  return { stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// mksquashfs
// ---------------------------------------------------------------------------------------------

export interface MksquashfsResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `mksquashfs SOURCES... IMAGE ARGS...`, always with -noappend (appending to a stale
 * image would corrupt a test) and -no-progress. SOURCE_DATE_EPOCH is removed from the
 * environment unless `env` is given, since it silently changes every timestamp. mksquashfs
 * stamps the superblock with the current time unless -mkfs-time is passed.
 */
export async function mksquashfs(
  sources: string[],
  image: string,
  args: string[] = [],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<MksquashfsResult> {
  const extra = [...args];
  if (!extra.includes('-noappend')) extra.push('-noappend');
  if (!extra.includes('-progress') && !extra.includes('-no-progress')) extra.push('-no-progress');
  let env = options.env;
  if (!env) {
    env = { ...process.env };
    delete env.SOURCE_DATE_EPOCH;
  }
  const result = await runChecked('mksquashfs', [...sources, image, ...extra], { env });
  return { stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

// ---------------------------------------------------------------------------------------------
// sqfsdiff / rdsquashfs
// ---------------------------------------------------------------------------------------------

export interface SqfsdiffFlags {
  /** Default true; false passes -C (--no-contents). */
  contents?: boolean;
  /** Default true; false passes -O (--no-owner). */
  owners?: boolean;
  /** Default true; false passes -P (--no-permissions). */
  permissions?: boolean;
  /** Default true: -T (--timestamps), mtimes are not compared without it. */
  timestamps?: boolean;
  /** Default true: -I (--inode-num), inode numbers are not compared without it. */
  inodeNumbers?: boolean;
  /** Default false: -S (--super) also compares superblocks, i.e. sizes and table offsets. */
  superBlock?: boolean;
}

export interface SqfsdiffResult {
  same: boolean;
  exitCode: number;
  output: string;
}

/**
 * Compares two images with `sqfsdiff -a A -b B` (exit 0 same, 1 different, 2 error). Every
 * printed line counts as a difference too, because sqfsdiff 1.2.0 prints "has a different link
 * target" yet still exits 0. sqfsdiff does not compare xattrs at all: compare kernel mounts of
 * both images with compareTrees for that.
 */
export async function sqfsdiff(
  a: string,
  b: string,
  flags: SqfsdiffFlags = {},
): Promise<SqfsdiffResult> {
  const args = ['-a', a, '-b', b];
  if (flags.contents === false) args.push('-C');
  if (flags.owners === false) args.push('-O');
  if (flags.permissions === false) args.push('-P');
  if (flags.timestamps !== false) args.push('-T');
  if (flags.inodeNumbers !== false) args.push('-I');
  if (flags.superBlock) args.push('-S');
  const result = await run('sqfsdiff', args);
  const output = `${result.stdout.toString()}${result.stderr.toString()}`;
  if (result.code !== 0 && result.code !== 1) {
    throw new Error(
      `sqfsdiff ${args.join(' ')} failed (exit ${result.code ?? result.signal}):\n${output}`,
    );
  }
  return { same: result.code === 0 && output.trim() === '', exitCode: result.code, output };
}

export interface RdsquashfsStat {
  text: string;
  /** e.g. "regular file", "extended regular file": tells basic from extended inodes. */
  inodeType: string;
  inodeNumber: number;
}

/** `rdsquashfs -s PATH IMAGE`: one inode as squashfs-tools-ng's reader sees it. */
export async function rdsquashfsStat(image: string, path: string): Promise<RdsquashfsStat> {
  const result = await runChecked('rdsquashfs', ['-s', path, image]);
  const text = result.stdout.toString();
  const inodeType = /^Inode type: (.*)$/m.exec(text)?.[1];
  const inodeNumber = /^Inode number: (\d+)$/m.exec(text)?.[1];
  if (inodeType === undefined || inodeNumber === undefined)
    throw new Error(`unexpected rdsquashfs -s output:\n${text}`);
  return { text, inodeType, inodeNumber: Number(inodeNumber) };
}

// ---------------------------------------------------------------------------------------------
// Kernel mount
// ---------------------------------------------------------------------------------------------

/** The source device of the mount at `mountpoint`, from /proc/self/mountinfo, if mounted. */
export async function mountSource(mountpoint: string): Promise<string | undefined> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  for (const line of info.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5 || unescape(fields[4]!) !== mountpoint) continue;
    const dash = fields.indexOf('-');
    return fields[dash + 2];
  }
  return undefined;
}

/**
 * Mounts IMAGE read-only through a loop device on a fresh temp dir, runs fn(mountpoint), and
 * always unmounts and removes the mountpoint. `mount -o loop` sets autoclear so umount frees the
 * loop device; if it is still bound to our image afterwards we detach it ourselves. Only our own
 * image's loop device is ever detached, since parallel tests may reuse the number at once.
 */
export async function withKernelMount<T>(
  image: string,
  fn: (mountpoint: string) => Promise<T> | T,
): Promise<T> {
  const tmp = await makeTempDir('mnt');
  const mnt = tmp.path;
  const imagePath = resolve(image);
  try {
    await runChecked('mount', ['-o', 'loop,ro', '-t', 'squashfs', imagePath, mnt]);
  } catch (err) {
    await rmdir(mnt);
    throw err;
  }
  let loopDevice: string | undefined;
  try {
    loopDevice = await mountSource(mnt);
    return await fn(mnt);
  } finally {
    await unmount(mnt);
    if (loopDevice?.startsWith('/dev/loop')) await detachIfStillOurs(loopDevice, imagePath);
    await rmdir(mnt);
  }
}

async function unmount(mnt: string): Promise<void> {
  // A file handle the test forgot to close makes umount fail with EBUSY; retry briefly, then
  // detach lazily so the mountpoint never outlives the test.
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await run('umount', [mnt]);
    if (r.code === 0) return;
    await new Promise((ok) => setTimeout(ok, 200));
  }
  await runChecked('umount', ['-l', mnt]);
  throw new Error(`${mnt} was busy; unmounted lazily (a file under the mount was left open)`);
}

async function detachIfStillOurs(device: string, imagePath: string): Promise<void> {
  const backing = `/sys/block/${device.replace('/dev/', '')}/loop/backing_file`;
  // Autoclear happens on the last close, which can trail umount by a moment.
  for (let attempt = 0; attempt < 10; attempt++) {
    let current: string;
    try {
      current = (await readFile(backing, 'utf8')).trim();
    } catch {
      return; // detached
    }
    if (current !== imagePath) return; // someone else's now
    await new Promise((ok) => setTimeout(ok, 50));
  }
  const r = await run('losetup', ['-d', device]);
  if (r.code !== 0) throw new Error(`losetup -d ${device} failed: ${r.stderr.toString()}`);
}

/** True when nothing is mounted at `mountpoint` and no loop device is backed by `image`. */
export async function isFullyReleased(mountpoint: string, image: string): Promise<boolean> {
  if ((await mountSource(mountpoint)) !== undefined) return false;
  const r = await run('losetup', ['-j', resolve(image)]);
  return r.stdout.toString().trim() === '';
}

/** Size of a file in bytes (images are compared by size in other tests). */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
