/**
 * Every invalid input to buildPortableService gets a clear SquashfsError before anything is
 * written: no image, no temporary file, not even the output directory, and the closure is never
 * computed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPortableService } from '../../src/layout/portable.js';
import {
  parseCompression,
  type PortableServiceOptions,
} from '../../src/layout/portable-options.js';
import {
  isValidUnitName,
  matchesPrefix,
  unitNameProblem,
} from '../../src/layout/portable-names.js';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { fakeHash, makeFakeStore, type FakeStore } from './portable-fake-store.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let tmp: TempDir;
let store: FakeStore;
let outDir: string;

beforeAll(async () => {
  tmp = await makeTempDir('portable-val');
  fs.chmodSync(tmp.path, 0o755); // so that `nobody` can reach the store in the permission test
  store = makeFakeStore(tmp.path);
  outDir = path.join(tmp.path, 'out');
});

afterAll(async () => {
  await tmp?.cleanup();
});

function base(): PortableServiceOptions {
  return {
    pname: 'demo',
    version: '1.0',
    units: [store.paths.service],
    storeDir: store.storeDir,
    outDir,
  };
}

/** Builds with `changes` applied and expects a SquashfsError matching `message`, nothing written. */
async function rejects(changes: Partial<PortableServiceOptions>, message: RegExp): Promise<void> {
  const before = store.calls.length;
  const err = await buildPortableService(
    { ...base(), ...changes },
    { computeClosure: store.closure },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SquashfsError);
  expect((err as Error).message).toMatch(message);
  expect(fs.existsSync(outDir), 'output directory created').toBe(false);
  expect(store.calls.length, 'closure computed').toBe(before);
}

describe('portable-service validation: names', () => {
  it('refuses pnames portablectl cannot take from the image name', async () => {
    await rejects({ pname: 'my_app' }, /pname "my_app" may contain only ASCII letters, digits/);
    await rejects({ pname: 'dém' }, /pname "dém" may contain only/);
    await rejects({ pname: '' }, /pname is empty/);
    await rejects({ pname: '.demo' }, /must not start with '\.'/);
  });

  it('refuses versions that make no file name', async () => {
    await rejects({ version: '1/2' }, /version "1\/2" must not contain '\/'/);
    await rejects({ version: '' }, /version is empty/);
    await rejects({ version: 'a\nb' }, /control characters/);
    await rejects({ version: 'x'.repeat(300) }, /image name demo_x+\.raw is 309 bytes long/);
  });

  it('refuses units without the prefix, with an ignored suffix, or with a bad name', async () => {
    const other = path.join(store.paths.hello, 'lib/systemd/system/demo-extra.timer');
    await rejects(
      { pname: 'hello' },
      /unit demo\.service does not start with the service name "hello"/,
    );
    await rejects({ pname: 'dem' }, /does not start with the service name "dem" followed by/);
    await rejects(
      { units: [path.join(store.paths.hello, 'bin/hello')] },
      /unit hello does not end in a suffix portablectl attaches/,
    );
    await rejects(
      { units: [store.paths.service, other, store.paths.service] },
      /would both be \/etc\/systemd\/system\/demo\.service/,
    );
    await rejects({ units: [] }, /units is empty/);
  });

  it('knows systemd unit-name rules', () => {
    expect(unitNameProblem('demo.mount', 'demo')).toMatch(
      /\.service \.socket \.target \.timer \.path/,
    );
    expect(unitNameProblem('demo.slice', 'demo')).toMatch(/does not end in a suffix/);
    expect(unitNameProblem('demo@.service', 'demo')).toBeUndefined();
    expect(unitNameProblem('demo@inst.socket', 'demo')).toBeUndefined();
    expect(unitNameProblem('demo-web.timer', 'demo')).toBeUndefined();
    expect(unitNameProblem('demo.x.path', 'demo')).toBeUndefined();
    expect(unitNameProblem('demoweb.service', 'demo')).toMatch(/does not start with/);
    expect(unitNameProblem('demo web.service', 'demo')).toMatch(/not a valid systemd unit name/);
    expect(isValidUnitName('@demo.service')).toBe(false);
    expect(isValidUnitName('.service')).toBe(false);
    expect(isValidUnitName(`${'a'.repeat(248)}.service`)).toBe(false); // 256 bytes
    expect(isValidUnitName(`${'a'.repeat(247)}.service`)).toBe(true);
    expect(matchesPrefix('demo', 'demo')).toBe(true);
  });
});

describe('portable-service validation: symlinks', () => {
  const object = () => path.join(store.paths.cacert, 'etc/ssl');
  const link = (symlink: string, obj = object()) => ({ symlinks: [{ object: obj, symlink }] });

  it('refuses paths that are relative, not normalised or escape the root', async () => {
    await rejects(link('etc/ssl'), /symlink "etc\/ssl" is not an absolute path/);
    await rejects(link('/etc/../../ssl'), /not a normalised path .* may escape the root/);
    await rejects(link('/etc//ssl'), /not a normalised path/);
    await rejects(link('/etc/ssl/'), /not a normalised path/);
    await rejects(link('/'), /would replace the root directory/);
  });

  it('refuses collisions with the scaffold, the store and each other', async () => {
    await rejects(link('/etc/os-release'), /collides with the scaffold file \/etc\/os-release/);
    await rejects(link('/etc/machine-id/x'), /collides with the scaffold file \/etc\/machine-id/);
    await rejects(link('/etc/systemd/system/demo.service'), /collides with the scaffold file/);
    await rejects(link('/etc'), /would replace the scaffold directory \/etc/);
    await rejects(link('/proc'), /would replace the scaffold directory \/proc/);
    await rejects(link('/proc/x'), /inside \/proc, which systemd mounts over/);
    await rejects(link('/var/tmp/x'), /inside \/var\/tmp/);
    await rejects(link('/nix/store/x'), /inside \/nix, which holds the store/);
    await rejects(
      {
        symlinks: [
          { object: object(), symlink: '/etc/ssl' },
          { object: object(), symlink: '/etc/ssl/certs' },
        ],
      },
      /symlink \/etc\/ssl\/certs collides with the symlink \/etc\/ssl/,
    );
  });

  it('refuses objects that are missing or outside the store', async () => {
    await rejects(
      link('/etc/ssl', '/etc/ssl'),
      /symlink object \/etc\/ssl \(for \/etc\/ssl\) is not in the store/,
    );
    await rejects(link('/etc/ssl', 'relative/path'), /must be an absolute, normalised path/);
    await rejects(
      link('/etc/ssl', path.join(store.paths.cacert, 'nope')),
      /symlinks\[0\]\.object .*nope does not exist/,
    );
  });
});

describe('portable-service validation: store paths and files', () => {
  it('refuses units, contents and objects outside the store or missing', async () => {
    const outside = path.join(tmp.path, 'demo.service');
    fs.writeFileSync(outside, '[Service]\n');
    await rejects({ units: [outside] }, /unit .*demo\.service is not in the store/);
    await rejects({ contents: ['/etc'] }, /contents\[0\] \/etc is not in the store/);
    const missing = path.join(store.storeDir, `${fakeHash('missing')}-missing`);
    await rejects({ contents: [missing] }, /contents\[0\] .*-missing does not exist/);
    const missingUnit = path.join(store.storeDir, `${fakeHash('gone')}-demo.socket`);
    await rejects({ units: [missingUnit] }, /unit .*-demo\.socket does not exist/);
    await rejects({ units: [store.paths.hello] }, /does not end in a suffix/);
    // A file name that is not `<hash>-<name>` is not a store path.
    await rejects(
      { contents: [path.join(store.storeDir, 'not-a-store-path')] },
      /is not in the store/,
    );
  });

  it('refuses a unit that is a directory', async () => {
    const dir = path.join(store.storeDir, `${fakeHash('dir-unit')}-demo-dir.service`);
    fs.mkdirSync(dir, { recursive: true });
    try {
      await rejects({ units: [dir] }, /unit .*demo-dir\.service is not a regular file/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('refuses a unit that refers to a store path the store does not have', async () => {
    const unit = path.join(store.storeDir, `${fakeHash('dangling')}-demo-dangling.service`);
    const gone = `/nix/store/${fakeHash('not-there')}-not-there/bin/x`;
    fs.writeFileSync(unit, `[Service]\nExecStart=${gone}\n`);
    try {
      await rejects(
        { units: [unit] },
        new RegExp(
          `demo-dangling\\.service .* refers to a store path with hash ${fakeHash('not-there')}, which is not in the store`,
        ),
      );
    } finally {
      fs.rmSync(unit);
    }
  });

  it('refuses bad compression and block sizes', async () => {
    await rejects({ compression: 'zstd' }, /compressor zstd is not supported yet/);
    await rejects({ compression: 'xz -Xdict-size 3%' }, /compression "xz -Xdict-size 3%"/);
    await rejects({ compression: 'xz -noappend' }, /only a compressor and its -X options/);
    await rejects(
      { compression: 'gzip -Xdict-size 100%' },
      /unrecognised compressor option -Xdict-size/,
    );
    await rejects({ blockSize: '3M' }, /blockSize "3M"/);
    await rejects({ blockSize: 'big' }, /blockSize "big"/);
  });

  it('parses nixpkgs compression strings', () => {
    expect(parseCompression('xz -Xdict-size 100%', '1M')).toEqual({
      compression: { name: 'xz', dictSize: 1 << 20, bcj: [] },
      blockSize: 1 << 20,
    });
    expect(parseCompression('xz -Xbcj x86 -Xdict-size 50%', 262144).compression).toEqual({
      name: 'xz',
      dictSize: 131072,
      bcj: ['x86'],
    });
    expect(parseCompression('gzip -Xcompression-level 6', '128K').compression).toMatchObject({
      name: 'gzip',
      level: 6,
    });
  });

  it('refuses wrongly typed options (from JSON or JavaScript)', async () => {
    await rejects({ pname: 5 as unknown as string }, /pname must be a string, got number 5/);
    await rejects({ units: 'x' as unknown as string[] }, /units must be a list/);
    await rejects(
      { symlinks: [{ object: 'x' }] as unknown as PortableServiceOptions['symlinks'] },
      /symlinks\[0\]\.symlink must be a string/,
    );
    await rejects(
      { description: 'two\nlines' },
      /PORTABLE_PRETTY_NAME value .* control characters/,
    );
  });

  it('refuses an output path that is a directory', async () => {
    const dirOut = path.join(tmp.path, 'dir-out');
    fs.mkdirSync(path.join(dirOut, 'demo_1.0.raw'), { recursive: true });
    const err = await buildPortableService(
      { ...base(), outDir: dirOut },
      { computeClosure: store.closure },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/demo_1\.0\.raw exists and is not a regular file/);
    expect(fs.readdirSync(dirOut)).toEqual(['demo_1.0.raw']);
  });

  it('accepts a store file dated before 1970: every time is clamped to 0 anyway', async () => {
    const old = path.join(store.paths.extra, 'shared.txt');
    fs.utimesSync(old, -100, -100);
    try {
      const report = await buildPortableService(
        { ...base(), outDir: path.join(tmp.path, 'old-out'), contents: [store.paths.extra] },
        { computeClosure: store.closure },
      );
      expect(report.storePaths).toContain(store.paths.extra);
    } finally {
      fs.lutimesSync(old, 1, 1);
    }
  });

  it.skipIf(isRoot && typeof process.seteuid !== 'function')(
    'reports an unreadable store file with its path',
    async () => {
      const secret = path.join(store.paths.libc, 'lib/libc.so.6');
      fs.chmodSync(secret, 0o000);
      const unreadableOut = path.join(tmp.path, 'unreadable-out');
      try {
        const attempt = () =>
          buildPortableService(
            { ...base(), outDir: unreadableOut },
            { computeClosure: store.closure },
          ).catch((e: unknown) => e);
        let err: unknown;
        if (isRoot) {
          process.seteuid!(NOBODY);
          try {
            err = await attempt();
          } finally {
            process.seteuid!(0);
          }
        } else {
          err = await attempt();
        }
        expect(err).toBeInstanceOf(SquashfsError);
        expect((err as Error).message).toBe(`cannot read ${secret}: permission denied`);
        expect(fs.existsSync(path.join(unreadableOut, 'demo_1.0.raw'))).toBe(false);
      } finally {
        fs.chmodSync(secret, 0o444);
      }
    },
  );
});
