import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClosureArgs, runClosure } from '../../src/cli/closure.js';
import type { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/main.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

const A = '1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = '2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

function capture(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    ctx: {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s), isTTY: false },
      env: {},
      version: 'test',
    },
    out: () => out,
    err: () => err,
  };
}

describe('tsquashfs closure', () => {
  let tmp: TempDir;
  let storeDir: string;
  beforeAll(async () => {
    tmp = await makeTempDir('closure-cli');
    storeDir = join(tmp.path, 'store');
    await mkdir(join(storeDir, `${A}-a`), { recursive: true });
    await mkdir(join(storeDir, `${B}-b`), { recursive: true });
    await writeFile(join(storeDir, `${A}-a`, 'f'), `${storeDir}/${B}-b\n`);
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  it('parses its options', () => {
    expect(parseClosureArgs(['p', '--store-dir', '/s', '--root=/r', '--', '--x'])).toEqual({
      paths: ['p', '--x'],
      storeDir: '/s',
      root: '/r',
      closureInfo: undefined,
      help: false,
    });
    expect(parseClosureArgs(['--closure-info', 'd', '-h']).closureInfo).toBe('d');
    expect(() => parseClosureArgs(['--bogus'])).toThrow(/unknown option --bogus/);
    expect(() => parseClosureArgs(['--store-dir'])).toThrow(/--store-dir needs a directory/);
    expect(() => parseClosureArgs(['--root='])).toThrow(/--root needs a directory/);
  });

  it('prints the closure, one path a line, dependencies first', async () => {
    const c = capture();
    expect(await runClosure([`${storeDir}/${A}-a/f`, '--store-dir', storeDir], c.ctx)).toBe(0);
    expect(c.out()).toBe(`${storeDir}/${B}-b\n${storeDir}/${A}-a\n`);
  });

  it('prints a closureInfo directory, checking the paths given', async () => {
    const info = join(tmp.path, 'info');
    await mkdir(info);
    await writeFile(join(info, 'store-paths'), `/nix/store/${A}-a\n/nix/store/${B}-b\n`);
    const c = capture();
    expect(await runClosure(['--closure-info', info, `/nix/store/${B}-b/x`], c.ctx)).toBe(0);
    expect(c.out()).toBe(`/nix/store/${A}-a\n/nix/store/${B}-b\n`);
    await expect(
      runClosure(['--closure-info', info, `/nix/store/${'3'.repeat(32)}-c`], capture().ctx),
    ).rejects.toThrow(/is not in the closure listed in/);
  });

  it('shows help, and reports errors as one line with exit 1 through the main entry', async () => {
    const h = capture();
    expect(await runCli(['closure', '--help'], h.ctx)).toBe(0);
    expect(h.out()).toMatch(/^usage: tsquashfs closure PATH\.\.\./);

    const c = capture();
    expect(await runCli(['closure', '/usr/bin/env'], c.ctx)).toBe(1);
    expect(c.err()).toBe('tsquashfs: not a store path: /usr/bin/env (not under /nix/store)\n');

    const none = capture();
    expect(await runCli(['closure'], none.ctx)).toBe(1);
    expect(none.err()).toMatch(/^tsquashfs: no PATH given usage: tsquashfs closure/);

    const missing = capture();
    const path = `${storeDir}/${'4'.repeat(32)}-gone`;
    expect(await runCli(['closure', path, `--store-dir=${storeDir}`], missing.ctx)).toBe(1);
    expect(missing.err()).toBe(`tsquashfs: no such store path: ${path}\n`);
  });
});
