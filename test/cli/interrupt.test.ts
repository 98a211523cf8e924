/**
 * An interrupted write leaves nothing behind: not at the output path, and no temporary file
 * beside it. Checked through the library (AbortSignal) and through a real SIGINT to the CLI.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { bytesSource, tree } from '../../src/squashfs/tree.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';

let dir: TempDir;
beforeEach(async () => {
  dir = await makeTempDir('interrupt');
});
afterEach(async () => dir.cleanup());

it('aborting through the signal rejects with its reason and removes the temporary file', async () => {
  const controller = new AbortController();
  const root = tree.dir({ a: tree.file(bytesSource(new Uint8Array(4 << 20))), b: tree.file('b') });
  const out = join(dir.path, 'out.sqfs');
  const write = writeImage(root, out, {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.bytesRead > 0) controller.abort(new Error('stop here'));
    },
  });
  await expect(write).rejects.toThrow('stop here');
  expect(await readdir(dir.path)).toEqual([]);
});

it('SIGINT to tsquashfs mk: one line, exit 1, no image and no temporary file', async () => {
  const src = join(dir.path, 'src');
  const random = Buffer.alloc(16 << 20);
  randomFillSync(random);
  await mkdir(src);
  await writeFile(join(src, 'random.bin'), random);
  const out = join(dir.path, 'out', 'image.sqfs');
  await mkdir(join(dir.path, 'out'));
  // xz on 16 MiB of random data takes seconds: long enough to interrupt mid-write.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/run-cli.ts', 'mk', src, out, '-comp', 'xz', '-quiet'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Wait until the temporary file exists, i.e. the write has begun.
  for (let i = 0; i < 200 && (await readdir(join(dir.path, 'out'))).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect((await readdir(join(dir.path, 'out'))).length).toBe(1);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(1);
  expect(stderr).toBe('tsquashfs: interrupted by SIGINT; no image was written\n');
  expect(await readdir(join(dir.path, 'out'))).toEqual([]);
}, 60_000);
