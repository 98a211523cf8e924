/**
 * Boots a directory tree with `systemd-nspawn --boot` for one job: a unit bound into the
 * container is started once the system is up, does its work, and powers the container off.
 *
 * - `--register=no --keep-unit`: no systemd-machined and no transient scope are needed, so this
 *   also works where PID 1 is not systemd (CI runners, this project's build machines).
 * - `--volatile=overlay`: the root is mounted read-only under a tmpfs overlay, so the cached
 *   root is never changed and several containers can boot it at once.
 * - `--private-network`: the container needs no network and must not touch the host's.
 * - `--console=read-only`: the boot messages come back on stdout, for failure reports.
 * - The job unit is pulled in with `systemd.wants=` on PID 1's command line (systemd reads
 *   its command line from there inside a container), so nothing is installed into the root.
 * - Loop devices: nspawn's /dev is a fresh tmpfs without them; /dev/loop-control and the
 *   host's /dev/loopN nodes are bound in (the job creates nodes for numbers made later).
 */
import { readdirSync } from 'node:fs';
import { runBounded, type BoundedRunResult } from '../helpers/bounded-run.js';
import { findExecutable } from '../helpers/oracles.js';

export interface Bind {
  host: string;
  container: string;
  readOnly?: boolean;
}

export interface BootOptions {
  root: string;
  /** Container (and host) name: unique per run, so parallel boots never clash. */
  machine: string;
  /** The job: a unit file on the host, bound to /etc/systemd/system/<unitName>. */
  unitFile: string;
  unitName: string;
  binds: Bind[];
  timeoutMs: number;
}

/** Why this machine cannot boot a container, or undefined. */
export function nspawnMissingReason(): string | undefined {
  if (findExecutable('systemd-nspawn') === undefined) {
    return 'systemd-nspawn not found (Debian package systemd-container)';
  }
  if (process.getuid?.() !== 0) return 'systemd-nspawn --boot needs root';
  return undefined;
}

/** /dev/loop-control and every /dev/loopN of the host, as binds of the same path. */
export function loopDeviceBinds(): Bind[] {
  const names = readdirSync('/dev').filter((n) => n === 'loop-control' || /^loop\d+$/.test(n));
  return names.map((n) => ({ host: `/dev/${n}`, container: `/dev/${n}` }));
}

export function nspawnArgs(options: BootOptions): string[] {
  const binds = [
    ...options.binds,
    {
      host: options.unitFile,
      container: `/etc/systemd/system/${options.unitName}`,
      readOnly: true,
    },
  ];
  return [
    '--quiet',
    '--boot',
    '--register=no',
    '--keep-unit',
    `--directory=${options.root}`,
    `--machine=${options.machine}`,
    '--volatile=overlay',
    '--private-network',
    // A pseudo-terminal whose output nspawn copies to its stdout: with --console=pipe the
    // container's PID 1 prints nothing, and its boot status is what explains a failed boot.
    '--console=read-only',
    '--setenv=SYSTEMD_COLORS=0',
    ...binds.map((b) => `--bind${b.readOnly ? '-ro' : ''}=${b.host}:${b.container}`),
    // Arguments for the container's PID 1.
    `systemd.wants=${options.unitName}`,
    'systemd.show_status=yes',
  ];
}

/** Boots the container and waits until it powers off, or kills it at the time bound. */
export async function bootContainer(options: BootOptions): Promise<BoundedRunResult> {
  return runBounded(findExecutable('systemd-nspawn')!, nspawnArgs(options), {
    timeoutMs: options.timeoutMs,
    graceMs: 15_000,
  });
}
