/**
 * The tools under test and their command lines for each setting. Every tool writes a comparable
 * image: all files owned by root, every timestamp 0, no xattrs, an export table, 4 KiB padding.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type SettingId = 'xz-1m' | 'gzip-128k' | 'none';
export const SETTING_IDS: readonly SettingId[] = ['xz-1m', 'gzip-128k', 'none'];

export interface Setting {
  id: SettingId;
  description: string;
  /** mksquashfs's (and so tsquashfs mk's) flags. */
  mksquashfs: string[];
  /** gensquashfs's flags, or why it cannot write this setting. */
  gensquashfs: string[] | { unsupported: string };
}

export const SETTINGS: Record<SettingId, Setting> = {
  'xz-1m': {
    id: 'xz-1m',
    description: 'portable-service settings: xz, 1 MiB blocks, dictionary 100%',
    mksquashfs: ['-comp', 'xz', '-b', '1M', '-Xdict-size', '100%'],
    // gensquashfs 1.2.0 rejects dictsize=100% ("unknown suffix"): give the same size in bytes.
    gensquashfs: ['-c', 'xz', '-b', '1048576', '-X', 'dictsize=1048576'],
  },
  'gzip-128k': {
    id: 'gzip-128k',
    description: "mksquashfs's defaults: gzip level 9, 128 KiB blocks",
    mksquashfs: ['-comp', 'gzip', '-b', '128K'],
    gensquashfs: ['-c', 'gzip', '-b', '131072'],
  },
  none: {
    id: 'none',
    description: 'uncompressed (-noI -noD -noF -noX), 128 KiB blocks',
    mksquashfs: ['-noI', '-noD', '-noF', '-noX'],
    gensquashfs: { unsupported: 'gensquashfs has no uncompressed mode' },
  },
};

/** Flags every mksquashfs-style run gets, so that the images do not depend on the host. */
const MKSQUASHFS_COMMON = [
  '-noappend',
  '-no-progress',
  '-quiet',
  '-all-root',
  '-all-time',
  '0',
  '-mkfs-time',
  '0',
  '-no-xattrs',
];

export type ToolFamily = 'tsquashfs' | 'mksquashfs' | 'gensquashfs';

export interface Tool {
  /** e.g. `tsquashfs-p2`, `mksquashfs-p1`, `gensquashfs-j2`. */
  id: string;
  family: ToolFamily;
  /** Worker threads / processors / jobs asked for. */
  processors: number;
  /** The argv to run for (source, image, setting), or why it cannot. */
  argv(source: string, image: string, setting: Setting): string[] | { unsupported: string };
}

export function makeTools(cores: number, tsquashfsBin: string): Tool[] {
  const counts = [...new Set([1, Math.min(2, cores), cores])];
  /** A command taking mksquashfs's command line: `cmd SOURCE IMAGE flags...`. */
  const mkStyle = (
    cmd: string[],
    src: string,
    img: string,
    s: Setting,
    p: number,
    extra: string[] = [],
  ) => [
    ...cmd,
    src,
    img,
    ...MKSQUASHFS_COMMON,
    '-processors',
    String(p),
    ...s.mksquashfs,
    ...extra,
  ];
  // Run as a user's shell runs the installed command: by its #! line (bin/tsquashfs.js).
  const tsquashfs = (src: string, img: string, s: Setting, p: number, extra: string[] = []) =>
    mkStyle([tsquashfsBin, 'mk'], src, img, s, p, extra);
  const tools: Tool[] = counts.map((p) => ({
    id: `tsquashfs-p${p}`,
    family: 'tsquashfs',
    processors: p,
    argv: (src, img, s) => tsquashfs(src, img, s, p),
  }));
  // Default gzip is the bundled libdeflate; this run shows the engine that writes mksquashfs's bytes.
  tools.push({
    id: `tsquashfs-zlib-p${cores}`,
    family: 'tsquashfs',
    processors: cores,
    argv: (src, img, s) =>
      s.id === 'gzip-128k'
        ? tsquashfs(src, img, s, cores, ['-Xengine', 'zlib'])
        : { unsupported: '-Xengine zlib is a gzip option' },
  });
  for (const p of [...new Set([1, cores])]) {
    tools.push({
      id: `mksquashfs-p${p}`,
      family: 'mksquashfs',
      processors: p,
      argv: (src, img, s) => mkStyle(['mksquashfs'], src, img, s, p),
    });
  }
  tools.push({
    id: `gensquashfs-j${cores}`,
    family: 'gensquashfs',
    processors: cores,
    argv: (src, img, s) =>
      Array.isArray(s.gensquashfs)
        ? [
            'gensquashfs',
            '-D',
            src,
            '-f',
            '-q',
            '--all-root',
            '-e',
            '-j',
            String(cores),
            ...s.gensquashfs,
            img,
          ]
        : s.gensquashfs,
  });
  return tools;
}

/** First line of a tool's version output, or null when it is not installed. */
export function toolVersions(tsquashfsPackageJson: string): Record<ToolFamily, string | null> {
  const first = (cmd: string, args: string[]): string | null => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.error) return null;
    return (r.stdout + r.stderr).split('\n')[0]?.trim() || null;
  };
  const pkg = JSON.parse(readFileSync(tsquashfsPackageJson, 'utf8')) as { version: string };
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return {
    tsquashfs: `tsquashfs ${pkg.version}${rev.status === 0 ? ` (${rev.stdout.trim()})` : ''}`,
    mksquashfs: first('mksquashfs', ['-version']),
    gensquashfs: first('gensquashfs', ['--version']),
  };
}
