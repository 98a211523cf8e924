/**
 * The reader against unsquashfs: for every edge-case tree, an image made by mksquashfs and one made
 * by our writer (`tsquashfs mk`) are read with our reader; every path, type, mode, owner, mtime,
 * content, symlink target, device number and xattr must equal what `unsquashfs` extracts from
 * the same image. Then our own `extract` must reproduce the source tree (compareTrees).
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { buildEdgeTree, TREE_NAMES, TREE_NEEDS, type EdgeTree } from '../helpers/edge-trees.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { mksquashfs, requireOracle, unsquashfsExtract } from '../helpers/oracles.js';
import { compareTrees } from '../helpers/tree-compare.js';
import { compareReaderWith } from './compare-reader.js';

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
