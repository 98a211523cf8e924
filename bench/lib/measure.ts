/**
 * Runs one child under bench/lib/run-timed.c and returns its wall time, CPU time (user + system)
 * and peak RSS. The helper takes wall time with CLOCK_MONOTONIC around fork and wait4(), and the
 * rest from wait4()'s rusage, as GNU time does: CPU time includes every thread and waited-for
 * descendant, and peak RSS is that of the largest single process. GNU time, used before, gives
 * wall time in hundredths of a second: a tenth of an uncompressed 100 ms run, where the targets
 * are decided by a few milliseconds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Measurement {
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

const SOURCE = path.join(import.meta.dirname, 'run-timed.c');

let helper: string | undefined;

/** The compiled helper, built with gcc into `work` when missing or older than its source. */
export function timingHelper(work: string): string {
  if (helper !== undefined) return helper;
  const built = path.join(work, 'run-timed');
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(SOURCE).mtimeMs) {
    mkdirSync(work, { recursive: true });
    try {
      execFileSync('gcc', ['-O2', '-o', built, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new Error(
        `cannot build the timing helper (gcc -O2 -o ${built} ${SOURCE}): ${(err as Error).message}`,
      );
    }
  }
  return (helper = built);
}

export function measure(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  work: string = tmpdir(),
): Measurement {
  if (argv.length === 0) throw new Error('measure: empty command');
  const run = timingHelper(work);
  const dir = mkdtempSync(path.join(tmpdir(), 'tsquashfs-bench-time-'));
  const out = path.join(dir, 'time');
  try {
    const r = spawnSync(run, [out, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      env,
      maxBuffer: 64 << 20,
    });
    if (r.error) throw new Error(`cannot run ${run}: ${r.error.message}`);
    if (r.status !== 0) {
      throw new Error(`${argv.join(' ')} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
    }
    return parseTimedOutput(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses run-timed's `WALL_NS USER_US SYSTEM_US MAXRSS_KB EXIT` line. */
export function parseTimedOutput(text: string): Measurement {
  const m = /^(\d+) (\d+) (\d+) (\d+) (\d+)$/.exec(text.trim());
  if (!m) throw new Error(`unexpected run-timed output: ${JSON.stringify(text)}`);
  const user = Number(m[2]) / 1e6;
  const system = Number(m[3]) / 1e6;
  return {
    wallSeconds: Number(m[1]) / 1e9,
    userSeconds: user,
    systemSeconds: system,
    cpuSeconds: user + system,
    maxRssBytes: Number(m[4]) * 1024,
  };
}
