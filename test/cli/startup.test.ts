/**
 * What a command loads at start is time on every run: on this 2-core VM, loading libdeflate's
 * WebAssembly glue took about 12 ms, node:crypto 7 ms and node:worker_threads 5 ms, of a 0.2 s
 * uncompressed run. An image that compresses nothing needs none of them; a gzip image needs
 * libdeflate and the worker pool, but still not node:crypto (only the engine self-tests hash).
 * A tree without xattrs does not load fs-xattr (11 ms), not even for its root, which no
 * directory listing covers. Nor does it load node:zlib, or Node's streams (through node:net for
 * a piped stderr, or node:stream/promises), 1-2 ms each, when it prints nothing.
 * Runs the built CLI (the test command builds it first), as a user's shell does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runChecked, type TempDir } from '../helpers/fs-util.js';
import { requireOracle } from '../helpers/oracles.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/tsquashfs.js');
const PROBE = join(ROOT, 'test/helpers/report-loaded.mjs');

interface Loaded {
  packages: string[];
  builtins: string[];
}

let tmp: TempDir;
beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/bundle/main.cjs'))) {
    throw new Error('dist/ is not built: run `npm run build` (npm test does it first)');
  }
  tmp = await makeTempDir('startup');
  await mkdir(join(tmp.path, 'src'));
  await writeFile(join(tmp.path, 'src', 'a.txt'), 'hello\n'.repeat(1000));
  // More than the pool compresses inline (one 128 KiB block) before it starts its workers.
  await writeFile(join(tmp.path, 'src', 'b.txt'), 'hello again\n'.repeat(40_000));
});
afterAll(async () => {
  await tmp?.cleanup();
});

function loadedBy(args: string[], src = join(tmp.path, 'src')): Loaded {
  const r = spawnSync(
    process.execPath,
    ['--import', PROBE, CLI, 'mk', src, join(tmp.path, 'out.img'), ...args],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  expect(r.status, r.stderr).toBe(0);
  const line = r.stderr.split('\n').find((l) => l.startsWith('loaded '));
  expect(line, r.stderr).toBeDefined();
  return JSON.parse(line!.slice('loaded '.length)) as Loaded;
}

describe('what mk loads', () => {
  it('an uncompressed image loads no compressor package, no node:crypto and no worker threads', () => {
    const loaded = loadedBy(['-noI', '-noD', '-noF', '-noX', '-noappend', '-quiet']);
    expect(loaded.packages).not.toContain('libdeflate');
    expect(loaded.packages).not.toContain('lzma-native');
    expect(loaded.builtins).not.toContain('crypto');
    expect(loaded.builtins).not.toContain('worker_threads');
    expect(loaded.packages).not.toContain('fs-xattr');
    expect(loaded.builtins).not.toContain('zlib');
    expect(loaded.builtins).not.toContain('stream');
    expect(loaded.builtins).not.toContain('net');
  });

  it('a gzip image loads libdeflate and the worker pool, and still not node:crypto', () => {
    const loaded = loadedBy(['-noappend', '-quiet']);
    expect(loaded.packages).toContain('libdeflate');
    expect(loaded.builtins).toContain('worker_threads');
    expect(loaded.builtins).not.toContain('crypto');
  });
});

describe("the bundle's code cache", () => {
  const LOADER = join(ROOT, 'bin/load-cli.js');
  /** Runs `script` (CommonJS, with `loadCli` in scope) in a Node started as the command starts. */
  const run = (script: string) =>
    spawnSync(
      process.execPath,
      ['-e', `const { loadCli } = require(${JSON.stringify(LOADER)});\n${script}`],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );

  it('is accepted by V8 in a Node started without flags, as the command starts it', () => {
    const r = run('console.log(loadCli().cache)');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('accepted');
  });

  it("when missing or not V8's, the bundle is compiled from source and runs the same", async () => {
    const garbage = join(tmp.path, 'garbage.cache');
    await writeFile(garbage, Buffer.alloc(4096, 7));
    for (const [path, want] of [
      [join(tmp.path, 'no-such.cache'), 'missing'],
      [garbage, 'rejected'],
    ]) {
      const r = run(
        `const cli = loadCli(${JSON.stringify(path)});\n` +
          `cli.main(['--version']).then((code) => console.log(cli.cache, code));`,
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^tsquashfs \\d+\\.\\d+\\.\\d+.*\n${want} 0\n$`));
    }
  });
});

describe('the installed command', () => {
  // Node reads NODE_EXTRA_CA_CERTS at start (about 40 ms on a host whose variable names the
  // system's bundle); the command's shell line drops it, since tsquashfs opens no TLS connection.
  const env = { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' };

  it('run by its #! line, starts Node without NODE_EXTRA_CA_CERTS', () => {
    const direct = spawnSync(CLI, ['--version'], { encoding: 'utf8', env });
    expect(direct.status, direct.stderr).toBe(0);
    expect(direct.stdout).toMatch(/^tsquashfs \d+\.\d+\.\d+/);
    expect(direct.stderr).toBe('');
  });

  it('run by node, is the same program, and Node does read the variable', () => {
    const viaNode = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8', env });
    expect(viaNode.status, viaNode.stderr).toBe(0);
    expect(viaNode.stdout).toBe(spawnSync(CLI, ['--version'], { encoding: 'utf8', env }).stdout);
    expect(viaNode.stderr).toContain('/nonexistent/ca.pem');
  });
});

requireOracle(
  'setfattr',
  'getfattr',
  'unsquashfs',
)('what mk loads for xattrs', () => {
  it('a tree with an xattr loads fs-xattr, and the image has the xattr', async () => {
    const src = join(tmp.path, 'with-xattr');
    await mkdir(src);
    await writeFile(join(src, 'f'), 'x');
    await runChecked('setfattr', ['-n', 'user.tsquashfs.test', '-v', 'v', join(src, 'f')]);
    expect(loadedBy(['-noappend', '-quiet'], src).packages).toContain('fs-xattr');
    const out = join(tmp.path, 'extracted');
    await runChecked('unsquashfs', ['-d', out, '-xattrs', join(tmp.path, 'out.img')]);
    const dumped = await runChecked('getfattr', ['-d', join(out, 'f')]);
    expect(dumped.stdout.toString()).toContain('user.tsquashfs.test="v"');
  });
});
