/**
 * runBounded's time bound: a child that ignores SIGTERM, and the orphans of one that obeys it,
 * are all killed once the grace period is over; a child within its bound is left alone.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { runBounded } from './bounded-run.js';

/** True while pid is a live (not zombie) process. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function pids(stdout: Buffer): number[] {
  return stdout.toString().split('\n').filter(Boolean).map(Number);
}

it('leaves a child that ends within its bound alone', async () => {
  const r = await runBounded('sh', ['-c', 'echo done'], { timeoutMs: 10_000 });
  expect(r.timedOut).toBe(false);
  expect(r.code).toBe(0);
  expect(r.stdout.toString()).toBe('done\n');
});

// The bounds below leave the shell time to set its trap and start its children even on a loaded
// machine (at 300 ms it sometimes had not, and died of the SIGTERM itself).
it('kills a child that ignores SIGTERM, and its children, after the grace period', async () => {
  // Ignored signals stay ignored across fork and exec: the sleeps ignore SIGTERM too.
  const script = 'trap "" TERM; sleep 300 & echo $!; sleep 300 & echo $!; wait';
  const r = await runBounded('sh', ['-c', script], { timeoutMs: 2000, graceMs: 300 });
  expect(r.timedOut).toBe(true);
  expect(r.signal).toBe('SIGKILL');
  const children = pids(r.stdout);
  expect(children).toHaveLength(2);
  for (const pid of children) expect(alive(pid), `pid ${pid}`).toBe(false);
  expect(r.seconds).toBeLessThan(5);
});

it('kills the orphans of a child that obeys SIGTERM', async () => {
  // The shell dies on SIGTERM; its sleep ignores it and keeps the output pipe open.
  const script = '(trap "" TERM; exec sleep 300) & echo $!; wait';
  const r = await runBounded('sh', ['-c', script], { timeoutMs: 2000, graceMs: 300 });
  expect(r.timedOut).toBe(true);
  expect(r.signal).toBe('SIGTERM');
  const [orphan] = pids(r.stdout);
  expect(orphan).toBeGreaterThan(0);
  expect(alive(orphan!)).toBe(false);
  expect(r.seconds).toBeLessThan(5);
});
