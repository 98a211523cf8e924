/**
 * A minimal Debian bookworm root with systemd, D-Bus and systemd-container (portablectl,
 * systemd-portabled), made by debootstrap once and kept between runs, for booting under
 * systemd-nspawn.
 *
 * The root lives in a persistent cache directory (default /var/cache/tsquashfs, or
 * TSQUASHFS_CACHE_DIR) and is reused when its stamp file matches the recipe below. It is built
 * in a temporary directory beside its final place and renamed there only when complete, so an
 * interrupted or concurrent build never leaves a half root that looks valid. The booted
 * container never changes it: nspawn runs it with --volatile=overlay.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBounded } from '../helpers/bounded-run.js';
import { run } from '../helpers/fs-util.js';
import { findExecutable } from '../helpers/oracles.js';

/** What the root is made of. Changing it (or `revision`) invalidates every cached root. */
export const DEBIAN_ROOT_RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  include: ['systemd', 'systemd-sysv', 'dbus', 'systemd-container'],
  revision: 1,
} as const;

/** Inside the root, so that it moves with it in the final rename. */
const STAMP = '.tsquashfs-root.json';

/** Files the booted container and the attach test rely on: their absence means a broken root. */
const REQUIRED = ['lib/systemd/systemd', 'usr/bin/portablectl', 'lib/systemd/systemd-portabled'];

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

export function cacheDir(): string {
  return process.env.TSQUASHFS_CACHE_DIR ?? '/var/cache/tsquashfs';
}

export function debianRootPath(): string {
  return join(cacheDir(), `debian-${DEBIAN_ROOT_RECIPE.suite}-portable`);
}

/**
 * The Debian mirror apt on this machine uses for the suite (deb822 .sources or one-line .list
 * files), so that debootstrap reaches the same, allowed mirror; TSQUASHFS_DEBIAN_MIRROR wins.
 */
export function debianMirror(): string {
  if (process.env.TSQUASHFS_DEBIAN_MIRROR) return process.env.TSQUASHFS_DEBIAN_MIRROR;
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) {
      files.push(join('/etc/apt/sources.list.d', f));
    }
  } catch {
    // no sources.list.d
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const uri = file.endsWith('.sources') ? mirrorFromDeb822(text) : mirrorFromOneLine(text);
    if (uri !== undefined) return uri.replace(/\/+$/, '');
  }
  return DEFAULT_MIRROR;
}

/** The first URI of a stanza of type deb that carries the suite itself (not -security). */
export function mirrorFromDeb822(text: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) =>
      new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (/^\s*Enabled:\s*no\s*$/im.test(stanza)) continue;
    if (!field('Types').includes('deb')) continue;
    if (!field('Suites').includes(DEBIAN_ROOT_RECIPE.suite)) continue;
    const uri = field('URIs')[0];
    if (uri?.startsWith('http')) return uri;
  }
  return undefined;
}

/** `deb [options] URI SUITE COMPONENTS…` lines. */
export function mirrorFromOneLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m && m[2] === DEBIAN_ROOT_RECIPE.suite && m[1]!.startsWith('http')) return m[1];
  }
  return undefined;
}

/** Why the cached root at `path` cannot be used, or undefined when it can. */
export function cachedRootProblem(path: string): string | undefined {
  let stamp: unknown;
  try {
    stamp = JSON.parse(readFileSync(join(path, STAMP), 'utf8'));
  } catch {
    return `no valid stamp ${join(path, STAMP)}`;
  }
  const recipe = (stamp as { recipe?: unknown }).recipe;
  if (JSON.stringify(recipe) !== JSON.stringify(DEBIAN_ROOT_RECIPE)) {
    return `stamp recipe ${JSON.stringify(recipe)} is not ${JSON.stringify(DEBIAN_ROOT_RECIPE)}`;
  }
  const missing = REQUIRED.filter((f) => !existsSync(join(path, f)));
  if (missing.length > 0) return `the root lacks ${missing.join(', ')}`;
  return undefined;
}

export interface DebianRoot {
  path: string;
  /** True when this call ran debootstrap; false when the cache was reused. */
  built: boolean;
  /** How long debootstrap took (0 when reused). */
  seconds: number;
}

/** Mount points at or below dir, deepest first, from /proc/self/mountinfo. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes a root debootstrap may have left half built, with /proc or /sys still mounted in it:
 * unmount those first, and never let rm cross into another file system.
 */
async function removeRoot(dir: string): Promise<void> {
  for (const m of await mountsUnder(dir)) await run('umount', ['-l', m]);
  const r = await run('rm', ['-rf', '--one-file-system', dir]);
  if (r.code !== 0) throw new Error(`rm -rf ${dir} failed: ${r.stderr.toString()}`);
}

/**
 * The cached root, built with debootstrap when missing or stale. Throws with debootstrap's
 * output when it fails or exceeds `timeoutMs`.
 */
export async function ensureDebianRoot(timeoutMs: number): Promise<DebianRoot> {
  const path = debianRootPath();
  const problem = cachedRootProblem(path);
  if (problem === undefined) return { path, built: false, seconds: 0 };

  const debootstrap = findExecutable('debootstrap');
  if (debootstrap === undefined) {
    throw new Error(`debootstrap not found (Debian package debootstrap); cache: ${problem}`);
  }
  await mkdir(cacheDir(), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await removeRoot(tmp);
  const mirror = debianMirror();
  const args = [
    `--variant=${DEBIAN_ROOT_RECIPE.variant}`,
    `--include=${DEBIAN_ROOT_RECIPE.include.join(',')}`,
    DEBIAN_ROOT_RECIPE.suite,
    tmp,
    mirror,
  ];
  console.log(`[debian-root] ${problem}: debootstrap ${args.join(' ')}`);
  try {
    const r = await runBounded(debootstrap, args, { timeoutMs, graceMs: 20_000 });
    if (r.timedOut || r.code !== 0) {
      const log = `${r.stdout.toString()}${r.stderr.toString()}`.split('\n').slice(-30);
      throw new Error(
        `debootstrap ${r.timedOut ? `timed out after ${timeoutMs / 1000} s` : `failed (exit ${r.code ?? r.signal})`}:\n${log.join('\n')}`,
      );
    }
    await writeFile(
      join(tmp, STAMP),
      `${JSON.stringify({ recipe: DEBIAN_ROOT_RECIPE, mirror, built: new Date().toISOString() })}\n`,
    );
    const built = cachedRootProblem(tmp);
    if (built !== undefined) throw new Error(`debootstrap made an unusable root: ${built}`);
    if (existsSync(path)) await removeRoot(path); // stale
    try {
      await rename(tmp, path);
    } catch (err) {
      // Another run finished first: use its root if it is good.
      if (cachedRootProblem(path) !== undefined) throw err;
    }
    console.log(`[debian-root] built ${path} in ${r.seconds.toFixed(1)} s`);
    return { path, built: true, seconds: r.seconds };
  } finally {
    if (existsSync(tmp)) await removeRoot(tmp);
  }
}
