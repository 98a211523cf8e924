/**
 * The reader against unsquashfs: for every edge-case tree, an image made by mksquashfs and one made
 * by our writer (`tsquashfs mk`) are read with our reader; every path, type, mode, owner, mtime,
 * content, symlink target, device number and xattr must equal what `unsquashfs` extracts from
 * the same image. Then our own `extract` must reproduce the source tree (compareTrees).
 */
import { readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { decodeRdev, type DeviceInode } from '../../src/squashfs/format/inode.js';
import { openImage } from '../../src/squashfs/read/image.js';
import { buildEdgeTree, TREE_NAMES, TREE_NEEDS, type EdgeTree } from '../helpers/edge-trees.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { mksquashfs, requireOracle, unsquashfsExtract } from '../helpers/oracles.js';
import { compareTrees, readXattrs, splitDev, walkTree } from '../helpers/tree-compare.js';

const KIND: Record<string, string> = {
  1: 'dir',
  2: 'file',
  3: 'symlink',
  4: 'blockdev',
  5: 'chardev',
  6: 'fifo',
  7: 'socket',
};

/** Compares what the reader sees in `image` with unsquashfs's extraction of it in `extracted`. */
async function compareReaderWith(image: string, extracted: string): Promise<string[]> {
  const diffs: string[] = [];
  const onDisk = walkTree(extracted);
  const xattrs = await readXattrs(extracted, ['user.', 'trusted.', 'security.']);
  const seen = new Set<string>();
  const img = await openImage(image);
  try {
    for await (const { path, inode } of img.walk()) {
      const key = Buffer.from(path).toString('latin1');
      seen.add(key);
      const disk = onDisk.get(key);
      const say = (what: string) => diffs.push(`${key || '/'}: ${what}`);
      if (disk === undefined) {
        say('read by us, not extracted by unsquashfs');
        continue;
      }
      const basic = inode.type > 7 ? inode.type - 7 : inode.type;
      if (KIND[basic] !== disk.kind) say(`kind ${KIND[basic]} vs ${disk.kind}`);
      if ((Number(disk.st.mode) & 0o7777) !== inode.mode)
        say(`mode ${inode.mode.toString(8)} vs ${(Number(disk.st.mode) & 0o7777).toString(8)}`);
      const { uid, gid } = await img.owner(inode);
      if (BigInt(uid) !== disk.st.uid || BigInt(gid) !== disk.st.gid)
        say(`owner ${uid}:${gid} vs ${disk.st.uid}:${disk.st.gid}`);
      if (key !== '' && BigInt(inode.mtime) !== disk.st.mtimeNs / 1_000_000_000n)
        say(`mtime ${inode.mtime} vs ${disk.st.mtimeNs}`);
      if (inode.kind === 'file') {
        const parts: Uint8Array[] = [];
        let size = 0;
        for await (const c of img.readFile(inode)) {
          parts.push(c);
          size += c.length;
        }
        if (BigInt(size) !== disk.st.size) say(`size ${size} vs ${disk.st.size}`);
        else if (Buffer.compare(Buffer.concat(parts), readFileSync(disk.abs)) !== 0)
          say('contents differ');
      }
      if (
        inode.kind === 'symlink' &&
        Buffer.compare(
          Buffer.from(img.readlink(inode)),
          readlinkSync(disk.abs, { encoding: 'buffer' }),
        ) !== 0
      )
        say('symlink target differs');
      if (inode.kind === 'device') {
        const ours = decodeRdev((inode as DeviceInode).rdev);
        const theirs = splitDev(disk.st.rdev);
        if (ours.major !== theirs.major || ours.minor !== theirs.minor)
          say(`device ${ours.major}:${ours.minor} vs ${theirs.major}:${theirs.minor}`);
      }
      const ourX = new Map(
        (await img.xattrs(inode)).map((x) => [x.name, Buffer.from(x.value).toString('hex')]),
      );
      const theirX = xattrs.get(key) ?? new Map<string, string>();
      for (const name of new Set([...ourX.keys(), ...theirX.keys()])) {
        if (ourX.get(name) !== theirX.get(name))
          say(`xattr ${name}: ${ourX.get(name)} vs ${theirX.get(name)}`);
      }
    }
  } finally {
    await img.close();
  }
  for (const key of onDisk.keys())
    if (!seen.has(key)) diffs.push(`${key}: extracted by unsquashfs, not read by us`);
  return diffs;
}

const READ_TREES = TREE_NAMES.filter((t) => t !== 'sparse-huge');

for (const treeName of READ_TREES) {
  const suite = requireOracle('mksquashfs', 'unsquashfs', 'getfattr', ...TREE_NEEDS[treeName]);
  suite(`reader vs unsquashfs: ${treeName} tree`, () => {
    let tree: EdgeTree;
    let work: TempDir;
    beforeAll(async () => {
      tree = await buildEdgeTree(treeName, { entries: 3000 });
      work = await makeTempDir(`reader-${treeName}`);
    });
    afterAll(async () => {
      await tree?.cleanup();
      await work?.cleanup();
    });

    const makers: { label: string; make: (image: string) => Promise<void> }[] = [
      {
        label: 'mksquashfs gzip',
        make: async (image) => void (await mksquashfs([tree.dir], image, ['-quiet'])),
      },
      {
        label: 'mksquashfs xz 4K -noI',
        make: async (image) =>
          void (await mksquashfs([tree.dir], image, ['-quiet', '-comp', 'xz', '-b', '4K', '-noI'])),
      },
      {
        label: 'tsquashfs mk xz',
        make: async (image) => {
          expect(await main(['mk', tree.dir, image, '-noappend', '-quiet', '-comp', 'xz'])).toBe(0);
        },
      },
      {
        label: 'tsquashfs mk uncompressed 4K',
        make: async (image) => {
          expect(
            await main([
              'mk',
              tree.dir,
              image,
              '-noappend',
              '-quiet',
              '-noI',
              '-noD',
              '-noF',
              '-noX',
              '-b',
              '4K',
            ]),
          ).toBe(0);
        },
      },
    ];
    for (const maker of makers) {
      it(`${maker.label}: the reader sees what unsquashfs extracts; our extract equals the source`, async () => {
        const id = maker.label.replace(/[^a-z0-9]+/gi, '-');
        const image = join(work.path, `${id}.sqfs`);
        const theirs = join(work.path, `${id}-unsquashfs`);
        const ours = join(work.path, `${id}-ours`);
        await maker.make(image);
        await unsquashfsExtract(image, theirs);
        expect(await compareReaderWith(image, theirs)).toEqual([]);

        const warnings: string[] = [];
        const stderr = { write: (s: string) => warnings.push(s) };
        const code = await (
          await import('../../src/cli/main.js')
        ).runCli(['extract', image, ours], {
          stdout: { write: () => true },
          stderr,
          env: {},
          version: 'test',
        });
        expect(code, warnings.join('')).toBe(0);
        // Sockets cannot be made without bind(); everything else must be there.
        const diffs = (await compareTrees(tree.dir, ours)).filter(
          (d) =>
            !/^ipc\/socket: missing/.test(d) &&
            // mksquashfs 4.5.1 stores hard-linked symlinks as separate inodes (format page §15).
            !(
              maker.label.startsWith('mksquashfs') && /^sym\/hardlinked-symlink: hard links/.test(d)
            ),
        );
        expect(diffs).toEqual([]);
        expect(warnings.filter((w) => !w.includes('socket not created'))).toEqual([]);
        if (treeName === 'special')
          expect(lstatSync(join(ours, 'ipc', 'fifo')).isFIFO()).toBe(true);
      });
    }
  });
}
