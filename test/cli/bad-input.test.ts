/**
 * Bad input, end to end through `tsquashfs mk` and the library: every case gives one clear line
 * naming the path, a non-zero exit, no stack trace, and no image (nor temp file) at the output.
 */
import { chmod, mkdir, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';
import { scanSources } from '../../src/layout/host-scan.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import { makeTempDir, run, type TempDir } from '../helpers/fs-util.js';
import { requireOracle, unsquashfsList } from '../helpers/oracles.js';

function capture() {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    env: {},
    version: 'test',
  };
  return { ctx, out: () => out, err: () => err };
}

let dir: TempDir;
beforeEach(async () => {
  dir = await makeTempDir('bad-input');
  await mkdir(join(dir.path, 'src'));
  await writeFile(join(dir.path, 'src', 'a.txt'), 'alpha\n');
});
afterEach(async () => dir.cleanup());

describe('bad input', () => {
  const isRoot = process.getuid?.() === 0;

  it.runIf(isRoot && typeof process.seteuid === 'function')(
    'an unreadable source file: one line naming it, exit 1, no image',
    async () => {
      const secret = join(dir.path, 'src', 'secret.bin');
      await writeFile(secret, 'top secret');
      await chmod(secret, 0o000);
      await chmod(dir.path, 0o777);
      await chmod(join(dir.path, 'src'), 0o755);
      const c = capture();
      process.seteuid!(65534);
      let code: number;
      try {
        code = await runCli(
          ['mk', join(dir.path, 'src'), join(dir.path, 'out.sqfs'), '-quiet'],
          c.ctx,
        );
      } finally {
        process.seteuid!(0);
      }
      expect(code).toBe(1);
      expect(c.err()).toBe(`tsquashfs: cannot read ${secret}: permission denied\n`);
      expect((await readdir(dir.path)).sort()).toEqual(['src']);
    },
  );

  it('a file that vanishes between the scan and the write: the error names it, no image', async () => {
    const victim = join(dir.path, 'src', 'vanishing.txt');
    await writeFile(victim, 'now you see me');
    const root = await scanSources([join(dir.path, 'src')]);
    await unlink(victim);
    const out = join(dir.path, 'out.sqfs');
    await expect(writeImage(root, out)).rejects.toThrow(
      `cannot read ${victim}: no such file or directory`,
    );
    expect((await readdir(dir.path)).sort()).toEqual(['src']);
  });

  it('a source that does not exist', async () => {
    const c = capture();
    const missing = join(dir.path, 'nope');
    expect(await runCli(['mk', missing, join(dir.path, 'out.sqfs')], c.ctx)).toBe(1);
    expect(c.err()).toBe(`tsquashfs: cannot read source ${missing}: no such file or directory\n`);
    await expect(stat(join(dir.path, 'out.sqfs'))).rejects.toThrow();
  });

  it('an output directory that does not exist', async () => {
    const c = capture();
    const out = join(dir.path, 'no', 'such', 'dir', 'out.sqfs');
    expect(await runCli(['mk', join(dir.path, 'src'), out, '-quiet'], c.ctx)).toBe(1);
    expect(c.err()).toMatch(
      new RegExp(`^tsquashfs: cannot create image ${out}: no such file or directory\\n$`),
    );
  });
});

requireOracle('unsquashfs')('output path inside the source', () => {
  it('the image does not contain itself (mksquashfs skips it too)', async () => {
    const src = join(dir.path, 'src');
    const image = join(src, 'image.sqfs');
    const c = capture();
    expect(await runCli(['mk', src, image, '-quiet'], c.ctx)).toBe(0);
    const names = (await unsquashfsList(image)).map((e) => e.path);
    expect(names).toEqual(['', 'a.txt']);
  });
});

requireOracle('root', 'mount')('a full disk', () => {
  let mnt: string;
  beforeEach(async () => {
    mnt = join(dir.path, 'tiny');
    await mkdir(mnt);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
  });
  afterEach(async () => {
    await run('umount', [mnt]);
    await rm(mnt, { recursive: true, force: true });
  });

  it('says "no space left on device", exits 1 and leaves nothing on the full filesystem', async () => {
    const random = Buffer.alloc(2 << 20);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    await writeFile(join(dir.path, 'src', 'big.bin'), random);
    const c = capture();
    const out = join(mnt, 'out.sqfs');
    expect(await runCli(['mk', join(dir.path, 'src'), out, '-quiet', '-noD'], c.ctx)).toBe(1);
    expect(c.err()).toMatch(
      new RegExp(`^tsquashfs: cannot write image ${out}: no space left on device\\n$`),
    );
    expect(await readdir(mnt)).toEqual([]);
  });
});
