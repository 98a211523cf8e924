/**
 * Runs one child under GNU time and returns its wall time, CPU time (user + system) and peak
 * RSS. /usr/bin/time reports the child's wait4() rusage: CPU time includes every thread and
 * waited-for descendant, and peak RSS is that of the largest single process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Measurement {
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

export const TIME_BIN = '/usr/bin/time';

export function measure(argv: string[], env: NodeJS.ProcessEnv = process.env): Measurement {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('measure: empty command');
  const dir = mkdtempSync(path.join(tmpdir(), 'tsquashfs-bench-time-'));
  const out = path.join(dir, 'time');
  try {
    const r = spawnSync(TIME_BIN, ['-o', out, '-f', '%e %U %S %M', cmd, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      env,
      maxBuffer: 64 << 20,
    });
    if (r.error) throw new Error(`cannot run ${TIME_BIN}: ${r.error.message}`);
    if (r.status !== 0) {
      throw new Error(`${argv.join(' ')} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
    }
    return parseTimeOutput(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses the `%e %U %S %M` line GNU time writes (the last non-empty line of its output). */
export function parseTimeOutput(text: string): Measurement {
  const line = text.trim().split('\n').pop() ?? '';
  const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(line.trim());
  if (!m) throw new Error(`unexpected /usr/bin/time output: ${JSON.stringify(text)}`);
  const user = Number(m[2]);
  const system = Number(m[3]);
  return {
    wallSeconds: Number(m[1]),
    userSeconds: user,
    systemSeconds: system,
    cpuSeconds: Math.round((user + system) * 100) / 100,
    maxRssBytes: Number(m[4]) * 1024,
  };
}
