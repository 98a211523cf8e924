/**
 * `tsquashfs portable`: argument parsing, --config with nixpkgs' keys, errors as one-line
 * messages with exit 1, and (once src/closure exists) a whole build from the command line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import {
  formatPortableSummary,
  parsePortableArgs,
  parseSymlinkArg,
} from '../../src/cli/portable.js';
import { portableOptionsFromJson } from '../../src/layout/portable-config.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { makeFakeStore, type FakeStore } from './portable-fake-store.js';

function memory(isTTY = false) {
  const chunks: string[] = [];
  return { chunks, isTTY, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

async function cli(argv: string[]) {
  const stdout = memory();
  const stderr = memory();
  const code = await runCli(['portable', ...argv], {
    stdout,
    stderr,
    env: {},
    version: 'test',
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

let tmp: TempDir;
let store: FakeStore;

beforeAll(async () => {
  tmp = await makeTempDir('portable-cli');
  store = makeFakeStore(tmp.path);
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('portable arguments', () => {
  it('parses every flag, repeated lists and --flag=value', () => {
    const args = parsePortableArgs([
      '--pname',
      'demo',
      '--version=1.0',
      '--unit',
      '/s/a-demo.service',
      '--unit',
      '/s/b-demo.socket',
      '--content',
      '/s/c',
      '--symlink',
      '/s/d/etc/ssl:/etc/ssl',
      '--description',
      'A demo',
      '--homepage',
      'https://x',
      '--compression',
      'xz -Xbcj x86',
      '--block-size',
      '256K',
      '--store-dir',
      '/s',
      '-o',
      'out',
      '--no-progress',
    ]);
    expect(args.options).toEqual({
      pname: 'demo',
      version: '1.0',
      units: ['/s/a-demo.service', '/s/b-demo.socket'],
      contents: ['/s/c'],
      symlinks: [{ object: '/s/d/etc/ssl', symlink: '/etc/ssl' }],
      description: 'A demo',
      homepage: 'https://x',
      compression: 'xz -Xbcj x86',
      blockSize: '256K',
      storeDir: '/s',
      outDir: 'out',
    });
    expect(args.progress).toBe('never');
    expect(parsePortableArgs(['--config', 'c.json']).config).toBe('c.json');
  });

  it('splits OBJECT:LINK before the absolute link', () => {
    expect(parseSymlinkArg('/nix/store/x-bash/bin/bash:/bin/sh')).toEqual({
      object: '/nix/store/x-bash/bin/bash',
      symlink: '/bin/sh',
    });
    expect(() => parseSymlinkArg('/nix/store/x:bin/sh')).toThrow(/OBJECT:LINK/);
  });

  it('maps nixpkgs keys from a config file, paths relative to the file', () => {
    const file = path.join('/cfg', 'portable.json');
    expect(
      portableOptionsFromJson(
        {
          pname: 'demo',
          version: '1',
          units: ['store/a-demo.service'],
          contents: ['/abs/c'],
          symlinks: [{ object: 'store/d', symlink: '/bin/sh' }],
          'squash-compression': 'gzip',
          'squash-block-size': '128K',
          storeDir: 'store',
        },
        file,
      ),
    ).toEqual({
      pname: 'demo',
      version: '1',
      units: ['/cfg/store/a-demo.service'],
      contents: ['/abs/c'],
      symlinks: [{ object: '/cfg/store/d', symlink: '/bin/sh' }],
      compression: 'gzip',
      blockSize: '128K',
      storeDir: '/cfg/store',
    });
    expect(() => portableOptionsFromJson({ pname: 'x', typo: 1 }, file)).toThrow(
      /unknown key "typo"/,
    );
    expect(() => portableOptionsFromJson({ 'squashfs-tools': 'x' }, file)).toThrow(
      /does not apply/,
    );
    expect(() =>
      portableOptionsFromJson({ compression: 'xz', 'squash-compression': 'xz' }, file),
    ).toThrow(/given twice/);
  });

  it('prints help, and one-line errors with exit 1', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--symlink OBJECT:LINK/);
    const missing = await cli(['--pname', 'demo']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^tsquashfs: portable: missing --version/);
    const bad = await cli([
      '--pname',
      'my_app',
      '--version',
      '1',
      '--unit',
      store.paths.service,
      '--store-dir',
      store.storeDir,
      '-o',
      path.join(tmp.path, 'never'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^tsquashfs: pname "my_app" may contain only/);
    expect(fs.existsSync(path.join(tmp.path, 'never'))).toBe(false);
    const config = path.join(tmp.path, 'broken.json');
    fs.writeFileSync(config, '{ "pname": ');
    const broken = await cli(['--config', config]);
    expect(broken.stderr).toMatch(/broken\.json: not valid JSON/);
  });

  it('summarises a report', () => {
    const text = formatPortableSummary({
      imagePath: '/out/demo_1.0.raw',
      storePaths: ['/nix/store/a-x', '/nix/store/b-y'],
      fileCount: 12,
      bytesBefore: 2 * 1024 * 1024,
      bytesAfter: 512 * 1024,
      duplicateFiles: 1,
      seconds: 0.25,
    });
    expect(text).toContain('Portable service image: /out/demo_1.0.raw\n');
    expect(text).toContain('store paths: 2\n    /nix/store/a-x\n    /nix/store/b-y\n');
    expect(text).toContain('2.0 MiB of file data -> 512.0 KiB image (25.0%)');
  });
});

const closureModule = fileURLToPath(new URL('../../src/closure/index.ts', import.meta.url));
const haveClosure = fs.existsSync(closureModule);
if (!haveClosure)
  console.warn('[portable-cli] skipping the end-to-end run: src/closure not there yet');

describe.skipIf(!haveClosure)('tsquashfs portable end to end', () => {
  it('builds the image from a config file and says where it is', async () => {
    const config = path.join(tmp.path, 'demo.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        pname: 'demo',
        version: '2.0',
        units: [store.paths.service],
        description: 'A demo',
        symlinks: [{ object: `${store.paths.hello}/bin/hello`, symlink: '/bin/hello' }],
        contents: [store.paths.extra],
        'squash-compression': 'gzip',
        'squash-block-size': '128K',
        storeDir: store.storeDir,
        outDir: 'out',
      }),
    );
    const r = await cli(['--config', config]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const image = path.join(tmp.path, 'out', 'demo_2.0.raw');
    expect(r.stdout).toContain(`Portable service image: ${image}\n`);
    expect(r.stdout).toContain(store.paths.hello);
    expect(fs.statSync(image).size % 4096).toBe(0);
  });
});
