/**
 * Same tree, same bytes: two copies of a tree whose files were created in opposite orders (so
 * readdir returns them differently) give identical images, and so does writing to a stream
 * instead of a path.
 */
import { createHash } from 'node:crypto';
import { lutimes, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';
import { scanSources } from '../../src/layout/host-scan.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import { makeTempDir, run, type TempDir } from '../helpers/fs-util.js';
import { requireOracle } from '../helpers/oracles.js';

const quiet: CliContext = {
  stdout: { write: () => true },
  stderr: { write: () => true, isTTY: false },
  env: {},
  version: 'test',
};
const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');

async function buildTree(root: string, order: 'forward' | 'reverse'): Promise<void> {
  const names = Array.from(
    { length: 200 },
    (_, i) => `file-${String((i * 7919) % 1000).padStart(4, '0')}`,
  );
  if (order === 'reverse') names.reverse();
  await mkdir(join(root, 'dir'), { recursive: true });
  for (const n of names) {
    await writeFile(join(root, 'dir', n), `${n}\n`.repeat(50));
    await utimes(join(root, 'dir', n), 1_600_000_000, 1_600_000_000);
  }
  await symlink('dir/file-0000', join(root, 'link'));
  // The link's own mtime (utimes would follow it): left at its creation time, the two trees'
  // links differed whenever a second began between them, and so did their images.
  await lutimes(join(root, 'link'), 1_600_000_000, 1_600_000_000);
  await utimes(join(root, 'dir'), 1_600_000_000, 1_600_000_000);
}

// ext4 lists a directory in hash order whatever the creation order; tmpfs lists it in creation
// order, so the two copies below really are read in different orders (root mounts the tmpfs).
requireOracle('root', 'mount')('determinism on host trees', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('determinism');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', tmp.path]);
    await buildTree(join(tmp.path, 'a'), 'forward');
    await buildTree(join(tmp.path, 'b'), 'reverse');
  });
  afterAll(async () => {
    await run('umount', [tmp.path]);
    await tmp?.cleanup();
  });

  it('the two copies are listed in different orders (precondition)', async () => {
    // The raw getdents order: Node's readdir sorts (libuv's scandir), `ls -U` does not.
    const rawOrder = async (d: string) =>
      (await run('ls', ['-U', join(tmp.path, d, 'dir')])).stdout
        .toString()
        .split('\n')
        .filter(Boolean);
    const a = await rawOrder('a');
    const b = await rawOrder('b');
    expect(a).not.toEqual(b);
    expect([...a].sort()).toEqual([...b].sort());
  });

  it('files created in a different order give the same image, twice over', async () => {
    const images = ['a', 'b', 'a'].map((src, i) => ({
      src: join(tmp.path, src),
      img: join(tmp.path, `img${i}.sqfs`),
    }));
    for (const { src, img } of images) {
      expect(await runCli(['mk', src, img, '-quiet', '-all-root', '-root-time', '0'], quiet)).toBe(
        0,
      );
    }
    const hashes = await Promise.all(images.map((i) => sha(i.img)));
    expect(new Set(hashes).size).toBe(1);
  });

  it('the native addon changes nothing: TSQUASHFS_NATIVE=0 gives the same image', async () => {
    // Without the addon, lstat, small-file reads and hashing all take Node's own paths.
    const src = join(tmp.path, 'b');
    const images = ['1', '0'].map((flag) => ({ flag, img: join(tmp.path, `native-${flag}.sqfs`) }));
    for (const { flag, img } of images) {
      const r = await run(
        process.execPath,
        ['--import', 'tsx', 'bench/run-cli.ts', 'mk', src, img, '-quiet'],
        { env: { ...process.env, TSQUASHFS_NATIVE: flag } },
      );
      expect(r.code, r.stderr.toString()).toBe(0);
    }
    const [withAddon, without] = await Promise.all(images.map((i) => sha(i.img)));
    expect(without).toBe(withAddon);
  });

  it('writing to a stream gives the same bytes as writing to a path', async () => {
    const root = await scanSources([join(tmp.path, 'a')]);
    const path = join(tmp.path, 'to-path.sqfs');
    await writeImage(root, path, { compression: { name: 'xz' } });
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await writeImage(await scanSources([join(tmp.path, 'a')]), stream, {
      compression: { name: 'xz' },
    });
    expect(Buffer.concat(chunks).equals(await readFile(path))).toBe(true);
  });
});
