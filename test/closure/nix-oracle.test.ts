/**
 * The oracle for src/closure: a real Nix store, built offline by Debian's nix-bin in the test's
 * own directory, and `nix-store -qR` on it. Our closure of each root must equal Nix's: same
 * paths, same order.
 *
 * Two stores, since both ways of keeping a store out of /nix are useful and behave differently:
 *   - a chroot store (`--store DIR`): paths read /nix/store/..., files live under DIR/nix/store;
 *     Nix builds in a chroot, so /bin, /usr and the libraries are bound in as sandbox paths;
 *   - a store whose directory is itself in the temp dir (NIX_STORE_DIR and friends): paths read
 *     <tmp>/store/..., builds run on the host.
 *
 * The derivations use `builder = "/bin/sh"` and refer to each other in every way the scanner
 * must see: a path in a file, in a symlink target, in a file deep in subdirectories, in a file
 * name only, across the 1 MiB read boundary, and to itself; one refers to nothing, one has an
 * input it does not refer to.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClosure } from '../../src/cli/closure.js';
import type { CliContext } from '../../src/cli/context.js';
import { computeClosure } from '../../src/closure/index.js';
import { inCI, makeTempDir, runChecked, type TempDir } from '../helpers/fs-util.js';
import { findExecutable } from '../helpers/oracles.js';

/** Debian packages the oracle needs (`apt-get install -y nix-bin`). */
const NIX_PACKAGES = 'nix-bin';

function nixStatus(): { available: boolean; reason?: string; version?: string } {
  for (const tool of ['nix-build', 'nix-store']) {
    if (!findExecutable(tool)) {
      return { available: false, reason: `${tool} not found (Debian package ${NIX_PACKAGES})` };
    }
  }
  if (process.getuid?.() !== 0) {
    return { available: false, reason: 'building a store of our own with nix-bin needs root' };
  }
  const r = spawnSync('nix-store', ['--version'], { encoding: 'utf8' });
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout)?.[1];
  if (!version) return { available: false, reason: 'nix-store --version reported no version' };
  return { available: true, version };
}

/** describe when Nix is here; otherwise describe.skip with a printed reason, or a failure in CI. */
function requireNix(): (title: string, fn: () => void) => void {
  const status = nixStatus();
  if (status.available) return describe;
  if (inCI()) {
    return (title) =>
      describe(title, () => {
        it('needs nix-store and nix-build (nix-bin)', () => {
          throw new Error(`oracle missing in CI: ${status.reason}`);
        });
      });
  }
  return (title, fn) => {
    console.warn(`[oracles] SKIPPING "${title}": ${status.reason}`);
    describe.skip(title, fn);
  };
}

const DERIVATIONS = `
let
  mk = name: script: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  };
in rec {
  lonely = mk "lonely" "echo nothing > $out";
  leaf = mk "leaf" "mkdir $out; echo leaf > $out/file";
  deep = mk "deep" "mkdir -p $out/share; echo deep > $out/share/x";
  named = mk "named" "mkdir $out; echo named > $out/x";
  via-file = mk "via-file" "mkdir $out; echo ${'${leaf}'}/file > $out/ref";
  via-link = mk "via-link" "mkdir $out; ln -s ${'${leaf}'}/file $out/link";
  via-deep = mk "via-deep" "mkdir -p $out/a/b/c/d/e; echo 'x ${'${deep}'}/share y' > $out/a/b/c/d/e/f.txt";
  via-name = mk "via-name" "mkdir -p $out/names; touch $out/names/$(basename ${'${named}'}).conf";
  via-chunk = mk "via-chunk" "head -c 1048566 /dev/zero > $out; basename ${'${deep}'} >> $out";
  diamond = mk "diamond" "mkdir $out; echo ${'${via-file}'} > $out/a; ln -s ${'${via-link}'} $out/b";
  top = mk "top" ''
    mkdir -p $out/bin $out/share
    echo "#!${'${via-file}'}/bin/sh" > $out/bin/run
    echo "unused input: ${'${lonely}'}" > /dev/null
    echo $out > $out/share/self
    ln -s ${'${diamond}'} $out/share/diamond
    echo ${'${via-deep}'} ${'${via-name}'} ${'${via-chunk}'} > $out/share/refs
  '';
}
`;

const ATTRS = [
  'lonely',
  'leaf',
  'deep',
  'named',
  'via-file',
  'via-link',
  'via-deep',
  'via-name',
  'via-chunk',
  'diamond',
  'top',
] as const;
type Attr = (typeof ATTRS)[number];

interface Store {
  label: string;
  /** nix-build / nix-store arguments that select this store. */
  storeArgs: string[];
  env: NodeJS.ProcessEnv;
  storeDir: string;
  root: string | undefined;
}

function offlineEnv(tmp: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: join(tmp, 'home'),
    XDG_CACHE_HOME: join(tmp, 'cache'),
    XDG_CONFIG_HOME: join(tmp, 'config'),
    // An empty configuration directory: the host's nix.conf must not matter.
    NIX_CONF_DIR: join(tmp, 'etc'),
    ...extra,
  };
  for (const name of ['NIX_REMOTE', 'NIX_PATH', 'NIX_STORE']) delete env[name];
  return env;
}

const BUILD_OPTIONS = [
  '--option',
  'sandbox',
  'false',
  '--option',
  'build-users-group',
  '',
  '--option',
  'substituters',
  '',
];

/** Builds; no result link unless `outLink` is given. Runs in the temp dir, in case. */
async function nixBuild(store: Store, file: string, attrs: readonly Attr[], outLink?: string) {
  const args = [file, ...attrs.flatMap((a) => ['-A', a]), ...store.storeArgs, ...BUILD_OPTIONS];
  args.push(...(outLink === undefined ? ['--no-out-link'] : ['--out-link', outLink]));
  const r = await runChecked('nix-build', args, { env: store.env, cwd: dirname(file) });
  return r.stdout.toString().trim().split('\n');
}

async function nixStoreQR(store: Store, paths: string[]): Promise<string> {
  const r = await runChecked('nix-store', [...store.storeArgs, '-qR', ...paths], {
    env: store.env,
  });
  return r.stdout.toString();
}

function capture(): { ctx: CliContext; out: () => string } {
  let out = '';
  return {
    ctx: {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: () => true },
      env: {},
      version: 'test',
    },
    out: () => out,
  };
}

requireNix()('closure equals nix-store -qR on a store built by nix-bin', () => {
  let tmp: TempDir;
  let file: string;

  beforeAll(async () => {
    tmp = await makeTempDir('nix-oracle');
    file = join(tmp.path, 'derivations.nix');
    await writeFile(file, DERIVATIONS);
    for (const dir of ['home', 'cache', 'config', 'etc']) await mkdir(join(tmp.path, dir));
  });

  afterAll(async () => {
    // Nix makes store paths read-only; make them writable so that they can be removed.
    spawnSync('chmod', ['-R', 'u+w', tmp.path]);
    await tmp.cleanup();
  });

  const stores = (): Store[] => {
    const chroot = join(tmp.path, 'chroot');
    const envStore = join(tmp.path, 'env');
    const hostDirs = ['/bin', '/usr', '/lib', '/lib64', '/lib32', '/libx32'].filter((d) =>
      existsSync(d),
    );
    return [
      {
        label: 'chroot store (--store DIR)',
        storeArgs: ['--store', chroot],
        env: offlineEnv(tmp.path),
        storeDir: '/nix/store',
        root: chroot,
      },
      {
        label: 'store directory of its own (NIX_STORE_DIR)',
        storeArgs: [],
        env: offlineEnv(tmp.path, {
          NIX_STORE_DIR: join(envStore, 'store'),
          NIX_STATE_DIR: join(envStore, 'var'),
          NIX_LOG_DIR: join(envStore, 'log'),
        }),
        storeDir: join(envStore, 'store'),
        root: undefined,
      },
    ].map((s) =>
      s.root === undefined
        ? s
        : {
            ...s,
            storeArgs: [...s.storeArgs, '--option', 'extra-sandbox-paths', hostDirs.join(' ')],
          },
    );
  };

  for (const which of [0, 1]) {
    describe(which === 0 ? 'chroot store (--store DIR)' : 'store directory of its own', () => {
      let store: Store;
      const built = new Map<Attr, string>();

      beforeAll(async () => {
        store = stores()[which]!;
        const outs = await nixBuild(store, file, ATTRS);
        expect(outs).toHaveLength(ATTRS.length);
        ATTRS.forEach((a, i) => built.set(a, outs[i]!));
      });

      const ours = async (roots: string[]) =>
        (await computeClosure(roots, { storeDir: store.storeDir, root: store.root })).paths;

      it('every single root', async () => {
        for (const attr of ATTRS) {
          const path = built.get(attr)!;
          const expected = (await nixStoreQR(store, [path])).trim().split('\n');
          expect(await ours([path]), attr).toEqual(expected);
        }
      });

      it('found what the derivations were built to show', async () => {
        const top = await nixStoreQR(store, [built.get('top')!]);
        // Sanity of the oracle itself: the references we meant are really there for Nix too.
        for (const attr of ATTRS.filter((a) => a !== 'lonely')) {
          expect(top, attr).toContain(built.get(attr)!);
        }
        expect(top).not.toContain(built.get('lonely')!);
        expect(await ours([built.get('lonely')!])).toEqual([built.get('lonely')!]);
      });

      it('several roots at once, and paths inside store paths', async () => {
        const roots = [built.get('via-chunk')!, built.get('lonely')!, built.get('via-link')!];
        const expected = (await nixStoreQR(store, roots)).trim().split('\n');
        expect(await ours(roots)).toEqual(expected);
        const inside = [`${built.get('top')!}/bin/run`, `${built.get('via-deep')!}/a/b`];
        const expectedInside = (
          await nixStoreQR(store, [built.get('top')!, built.get('via-deep')!])
        )
          .trim()
          .split('\n');
        expect(await ours(inside)).toEqual(expectedInside);
      });

      it('tsquashfs closure prints exactly what nix-store -qR prints', async () => {
        const top = built.get('top')!;
        const c = capture();
        const argv = [top, '--store-dir', store.storeDir];
        if (store.root !== undefined) argv.push('--root', store.root);
        expect(await runClosure(argv, c.ctx)).toBe(0);
        expect(c.out()).toBe(await nixStoreQR(store, [top]));
      });

      if (which === 1) {
        it('tsquashfs closure follows a result symlink', async () => {
          const link = join(tmp.path, 'result-diamond');
          await nixBuild(store, file, ['diamond'], link);
          const c = capture();
          expect(await runClosure([link, '--store-dir', store.storeDir], c.ctx)).toBe(0);
          expect(c.out()).toBe(await nixStoreQR(store, [built.get('diamond')!]));
        });
      }
    });
  }
});
