/**
 * The key oracle for the portable-service layout: for the same inputs, lay the image out on disk
 * exactly as nixpkgs' `portableService` builder does (its shell steps, Nix's canonicalisation of
 * the scaffold store path, then its mksquashfs command), and compare that image with ours using
 * sqfsdiff (contents, owners, permissions, timestamps). The only differences allowed are named:
 *
 * - /etc/os-release: we add PORTABLE_PREFIXES and quote values os-release(5)-style; the values
 *   are compared separately below.
 * - /nix/store/<hash>-root-fs-scaffold-<version>: nixpkgs' closure includes the scaffold's own
 *   store path (a second copy of /etc and friends); we do not copy it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildPortableService, type PortableServiceReport } from '../../src/layout/portable.js';
import type { PortableServiceOptions } from '../../src/layout/portable-options.js';
import { makeTempDir, run, type TempDir } from '../helpers/fs-util.js';
import { requireOracle, sqfsdiff, unsquashfsList } from '../helpers/oracles.js';
import { canonicalise, fakeHash, makeFakeStore, type FakeStore } from './portable-fake-store.js';

const suite = requireOracle('mksquashfs', 'unsquashfs', 'sqfsdiff', 'rdsquashfs');

/** nixpkgs' os-release: lib.generators.toKeyValue, keys sorted, values bare. */
function nixpkgsOsRelease(fields: Record<string, string>): string {
  return Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}\n`)
    .join('');
}

/** Parses KEY=value lines, undoing os-release(5) double quoting. */
function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    const raw = m[2]!;
    out[m[1]!] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return out;
}

suite('portable layout equals nixpkgs portableService + mksquashfs', () => {
  let tmp: TempDir;
  let store: FakeStore;
  let options: PortableServiceOptions;
  let ours: PortableServiceReport;
  let theirs: string;
  let scaffoldName: string;

  beforeAll(async () => {
    tmp = await makeTempDir('portable-eq');
    store = makeFakeStore(tmp.path);
    const p = store.paths;
    options = {
      pname: 'demo',
      version: '1.0',
      units: [p.service, path.join(p.hello, 'lib/systemd/system/demo-extra.timer')],
      description: 'A demo service',
      homepage: 'https://example.org/demo',
      symlinks: [
        { object: path.join(p.cacert, 'etc/ssl'), symlink: '/etc/ssl' },
        { object: path.join(p.hello, 'bin/hello'), symlink: '/usr/bin/hello' },
        { object: p.hello, symlink: '/opt/hello' },
      ],
      contents: [p.extra],
      storeDir: store.storeDir,
      outDir: path.join(tmp.path, 'ours'),
    };
    ours = await buildPortableService(options, { computeClosure: store.closure });

    // --- nixpkgs, step by step -------------------------------------------------------------
    // rootFsScaffold: a derivation, so its output is a store path, canonicalised by Nix.
    scaffoldName = `${fakeHash('root-fs-scaffold-1.0')}-root-fs-scaffold-1.0`;
    const scaffold = path.join(store.storeDir, scaffoldName);
    const osRelease = path.join(tmp.path, 'os-release');
    fs.writeFileSync(
      osRelease,
      nixpkgsOsRelease({
        PORTABLE_ID: 'demo',
        PORTABLE_PRETTY_NAME: 'A demo service',
        HOME_URL: 'https://example.org/demo',
        ID: 'nixos',
        PRETTY_NAME: 'NixOS',
        BUILD_ID: 'rolling',
      }),
    );
    canonicalise(osRelease); // pkgs.writeText output: a store file, 0444
    // In the image the store is /nix/store; the fake store stands in for it.
    const inImage = (hostPath: string) => hostPath.replace(store.storeDir, '/nix/store');
    const units = options.units.map((u) => {
      const base = path.basename(u);
      return { path: u, name: u === p.service ? base.slice(33) : base };
    });
    const buildScaffold = [
      'set -eu',
      'umask 022',
      'out="$1"',
      'mkdir -p $out/etc/systemd/system $out/proc $out/sys $out/dev $out/run \\',
      '         $out/tmp $out/var/tmp $out/var/lib $out/var/cache $out/var/log',
      'touch $out/etc/resolv.conf $out/etc/machine-id',
      `cp ${osRelease} $out/etc/os-release`,
      ...units.map((u) => `cp ${u.path} $out/etc/systemd/system/${u.name};`),
      ...(options.symlinks ?? []).flatMap((s) => [
        `mkdir -p $(dirname $out/${s.symlink});`,
        `ln -s ${inImage(s.object)} $out/${s.symlink};`,
      ]),
    ].join('\n');
    expectRun('bash', ['-c', buildScaffold, 'scaffold', scaffold]);
    canonicalise(scaffold);

    // The image derivation: closureInfo { rootPaths = [ rootFsScaffold ] ++ contents }.
    const closure = [
      ...(await store.closure([p.hello, p.libc, p.cacert, p.extra])),
      scaffold,
    ].sort();
    const build = path.join(tmp.path, 'build');
    fs.mkdirSync(build);
    fs.writeFileSync(path.join(tmp.path, 'store-paths'), closure.join('\n') + '\n');
    theirs = path.join(tmp.path, 'theirs', 'demo_1.0.raw');
    fs.mkdirSync(path.dirname(theirs));
    const buildImage = [
      'set -eu',
      'umask 022',
      'cd "$1"',
      'mkdir -p nix/store',
      // nixpkgs: cp -a "$i" "${i:1}" with i under /nix/store; here the store lives elsewhere.
      `for i in $(< "$2"); do cp -a "$i" "nix/store/$(basename "$i")"; done`,
      `SOURCE_DATE_EPOCH=0 mksquashfs nix ${scaffold}/* "$3" \\`,
      '  -quiet -noappend \\',
      '  -exit-on-error \\',
      '  -keep-as-directory \\',
      '  -all-root -root-mode 755 \\',
      '  -b 1M -comp xz -Xdict-size 100%',
    ].join('\n');
    expectRun('bash', [
      '-c',
      buildImage,
      'build',
      build,
      path.join(tmp.path, 'store-paths'),
      theirs,
    ]);
  });

  afterAll(async () => {
    await tmp?.cleanup();
  });

  it('differs only in the named places', async () => {
    const diff = await sqfsdiff(theirs, ours.imagePath, { inodeNumbers: false });
    const lines = diff.output.split('\n').filter((l) => l.trim() !== '');
    const expected = [
      // nixpkgs copies the scaffold's own store path into the image; we do not.
      (l: string) => l.startsWith(`< nix/store/${scaffoldName}`),
      // PORTABLE_PREFIXES and quoting: checked value by value in the next test.
      (l: string) => l === 'regular file /etc/os-release differs',
    ];
    const unexpected = lines.filter((l) => !expected.some((ok) => ok(l)));
    expect(unexpected, diff.output).toEqual([]);
    // The named differences are really there (the comparison saw them).
    expect(lines).toContain(`< nix/store/${scaffoldName}`);
    expect(lines).toContain('regular file /etc/os-release differs');
  });

  it('has the same os-release values as nixpkgs, plus PORTABLE_PREFIXES', async () => {
    const cat = async (image: string) =>
      (await run('rdsquashfs', ['-c', '/etc/os-release', image])).stdout.toString();
    const theirValues = parseOsRelease(await cat(theirs));
    const ourText = await cat(ours.imagePath);
    expect(parseOsRelease(ourText)).toEqual({ ...theirValues, PORTABLE_PREFIXES: 'demo' });
    // Same key order as nixpkgs' generator (sorted), PORTABLE_PREFIXES in its sorted place.
    const keys = (t: string) =>
      t
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]);
    expect(keys(ourText)).toEqual([...keys(await cat(theirs)), 'PORTABLE_PREFIXES'].sort());
  });

  it('gives the scaffold the modes of a canonicalised store path', async () => {
    const entries = await unsquashfsList(ours.imagePath);
    const find = (p: string) => entries.find((e) => e.path === p.replace(/^\//, ''));
    const mode = (p: string) => find(p)?.mode;
    expect(mode('')).toBe(0o755);
    expect(mode('/nix')).toBe(0o755);
    expect(mode('/nix/store')).toBe(0o755);
    for (const d of ['/etc', '/etc/systemd/system', '/tmp', '/var/log', '/usr/bin', '/opt']) {
      expect(mode(d), d).toBe(0o555);
    }
    for (const f of ['/etc/os-release', '/etc/machine-id', '/etc/systemd/system/demo.service']) {
      expect(mode(f), f).toBe(0o444);
    }
    expect(mode('/etc/ssl')).toBe(0o777);
    expect(entries.every((e) => e.uid === 0 && e.gid === 0 && e.mtimeMinute === 0)).toBe(true);
    const link = find('/usr/bin/hello');
    expect(link?.target?.toString()).toBe(
      `/nix/store/${path.basename(store.paths.hello)}/bin/hello`,
    );
  });

  it('reports what went in', () => {
    const p = store.paths;
    expect(ours.imagePath).toBe(path.join(tmp.path, 'ours', 'demo_1.0.raw'));
    expect(ours.storePaths).toEqual([p.libc, p.hello, p.cacert, p.extra].sort());
    expect(store.calls).toContainEqual([p.cacert, p.extra, p.hello].sort());
    expect(ours.duplicateFiles).toBeGreaterThanOrEqual(1); // shared.txt in hello and extra
    expect(ours.bytesBefore).toBeGreaterThan(1_500_000);
    expect(ours.bytesAfter).toBe(fs.statSync(ours.imagePath).size);
    expect(ours.seconds).toBeGreaterThan(0);
  });
});

function expectRun(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stderr}${r.stdout}`);
}
