/**
 * Running a long child process (debootstrap, a booted container) under a time bound, and
 * killing everything it started when the bound is hit.
 *
 * Killing only the child is not enough: `systemd-nspawn` killed with SIGKILL leaves the
 * container's init and every process under it running (they are not in its process group and
 * get no parent-death signal), and debootstrap leaves dpkg behind. So on timeout the child gets
 * SIGTERM first (nspawn then powers the container off cleanly, debootstrap's traps unmount what
 * it mounted), and after a grace period the child is killed, then every descendant seen still
 * alive, by pid and start time, the deepest first. Only processes this helper started are ever
 * signalled.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { RunResult } from './fs-util.js';

export interface BoundedRunOptions {
  /** Hard bound for the whole run. */
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL on timeout. Default 15 s. */
  graceMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface BoundedRunResult extends RunResult {
  timedOut: boolean;
  seconds: number;
}

/** Direct children of a process, from /proc/PID/task/TID/children (empty once it is gone). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const child of text.split(/\s+/)) if (child) out.push(Number(child));
    } catch {
      // the task ended meanwhile
    }
  }
  return out;
}

/** A process as it was seen: its pid and start time, so a reused pid is never signalled. */
interface SeenProcess {
  pid: number;
  start: string;
}

/** The fields of /proc/PID/stat after the command name (field 3 on), or undefined once gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined once it is gone. */
function startTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** Every descendant of pid, children after their own descendants (so the deepest come first). */
export function descendantsOf(pid: number): SeenProcess[] {
  const out: SeenProcess[] = [];
  for (const child of childrenOf(pid)) {
    out.push(...descendantsOf(child));
    const start = startTime(child);
    if (start !== undefined) out.push({ pid: child, start });
  }
  return out;
}

/** SIGKILLs each process that is still the one seen (same pid and start time). */
function killSeen(seen: readonly SeenProcess[]): void {
  for (const p of seen) {
    if (startTime(p.pid) !== p.start) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Whether the process seen is still running: same start time, and not a zombie. */
function stillRunning(p: SeenProcess): boolean {
  const fields = statFields(p.pid);
  return fields !== undefined && fields[19] === p.start && fields[0] !== 'Z';
}

/**
 * Waits (up to limitMs) until none of the processes seen is running. A SIGKILLed process
 * closes its files before it becomes a zombie, so the output pipe can reach EOF while it is
 * still exiting; callers are promised that what was killed is gone.
 */
async function waitGone(seen: readonly SeenProcess[], limitMs: number): Promise<void> {
  const until = performance.now() + limitMs;
  while (seen.some(stillRunning) && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs cmd to completion or to the time bound, collecting its output. Never throws on exit
 * status or timeout: the caller asserts on `timedOut`, `code` and the output.
 */
export function runBounded(
  cmd: string,
  args: readonly string[],
  options: BoundedRunOptions,
): Promise<BoundedRunResult> {
  const started = performance.now();
  const graceMs = options.graceMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    // Everything seen under the child when the bound was hit: if the child exits on SIGTERM
    // and leaves orphans, they can no longer be found from it.
    let seen: SeenProcess[] = [];
    const sweep = () => {
      seen = [...seen, ...descendantsOf(child.pid!)];
      // The child first: killing its descendants first could let it end on its own in between
      // (a shell whose `wait` returns), so it would not be reported as killed. The descendants
      // are known by pid and start time, and are killed after it all the same.
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      killSeen(seen);
    };
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const bound = setTimeout(() => {
      timedOut = true;
      seen = descendantsOf(child.pid!);
      try {
        process.kill(child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      killTimer = setTimeout(sweep, graceMs);
    }, options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(bound);
      clearTimeout(killTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(bound);
      clearTimeout(killTimer);
      if (timedOut) killSeen(seen); // orphans of a child that obeyed SIGTERM
      const result = {
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        timedOut,
        seconds: (performance.now() - started) / 1000,
      };
      waitGone(timedOut ? seen : [], 5000).then(() => resolve(result), reject);
    });
  });
}
