/**
 * Small shared pieces for the oracle helpers: running a command with byte-exact output, temp
 * directories, and printing raw-byte paths readably.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Raw bytes: listings contain names that are not UTF-8. */
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command to completion, collecting stdout and stderr as bytes. Never throws on exit code. */
export function run(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }),
    );
  });
}

/** Like run(), but a non-zero exit is an error that carries the command and its stderr. */
export async function runChecked(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${result.code ?? result.signal}):\n` +
        `${result.stderr.toString()}${result.stdout.toString()}`,
    );
  }
  return result;
}

/**
 * Where test trees and images go. Overridable because the default /tmp may be a tmpfs without
 * room for sparse multi-GiB files or without xattr support on old kernels.
 */
export function testTmpRoot(): string {
  return process.env.TSQUASHFS_TEST_TMPDIR ?? tmpdir();
}

export interface TempDir {
  path: string;
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(testTmpRoot(), `tsquashfs-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A raw-byte path as text for messages: valid UTF-8 is shown as is (a backslash doubled), every
 * other byte as \xNN, and a newline as \n, so that two different byte strings never print the same.
 */
export function displayPath(bytes: Uint8Array): string {
  let out = '';
  let start = 0;
  while (start < bytes.length) {
    const end = validUtf8Prefix(bytes, start);
    if (end > start) {
      out += utf8.decode(bytes.subarray(start, end)).replace(/\\/g, '\\\\');
      start = end;
    } else {
      out += `\\x${bytes[start]!.toString(16).padStart(2, '0')}`;
      start += 1;
    }
  }
  return out.replace(/\n/g, '\\n');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** End of the longest prefix of bytes[start..] that is well-formed UTF-8. */
function validUtf8Prefix(bytes: Uint8Array, start: number): number {
  let i = start;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len =
      b < 0x80
        ? 1
        : b >= 0xc2 && b < 0xe0
          ? 2
          : b >= 0xe0 && b < 0xf0
            ? 3
            : b >= 0xf0 && b < 0xf5
              ? 4
              : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let k = 1; k < len; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    // Reject overlong / surrogate / out-of-range forms the strict decoder would reject.
    try {
      utf8.decode(bytes.subarray(i, i + len));
    } catch {
      return i;
    }
    i += len;
  }
  return i;
}

/** True when CI=true (or any CI value other than false/0): missing oracles then fail tests. */
export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}
