/**
 * `tsquashfs ls -l` against `unsquashfs -lln -UTC` on the same images: the same lines, once the
 * root name is normalised ("squashfs-root" there, "/" here). Device lines are compared only for
 * minors up to 255, where unsquashfs 4.5.1 prints the numbers right.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { buildEdgeTree, TREE_NEEDS, type EdgeTree, type TreeName } from '../helpers/edge-trees.js';
import { makeTempDir, runChecked, type TempDir } from '../helpers/fs-util.js';
import { mksquashfs, requireOracle } from '../helpers/oracles.js';

async function ourLines(args: string[]): Promise<string[]> {
  const chunks: Buffer[] = [];
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => chunks.push(Buffer.from(c)) },
    stderr: { write: (s: string) => void chunks.push(Buffer.from(`STDERR ${s}`)) },
    env: {},
    version: 'test',
  });
  expect(code).toBe(0);
  return Buffer.concat(chunks)
    .toString('latin1')
    .split('\n')
    .filter((l) => l !== '');
}

const DEVICE_LINE = /^[cb]/;

for (const treeName of ['basic', 'links', 'names', 'special', 'big-dir'] as TreeName[]) {
  requireOracle(
    'mksquashfs',
    'unsquashfs',
    ...TREE_NEEDS[treeName],
  )(`ls -l vs unsquashfs -lln: ${treeName}`, () => {
    let tree: EdgeTree;
    let work: TempDir;
    beforeAll(async () => {
      tree = await buildEdgeTree(treeName, { entries: 2000 });
      work = await makeTempDir(`ls-${treeName}`);
    });
    afterAll(async () => {
      await tree?.cleanup();
      await work?.cleanup();
    });

    it('the same lines', async () => {
      const image = join(work.path, 'image.sqfs');
      await mksquashfs([tree.dir], image, ['-quiet']);
      const theirs = (await runChecked('unsquashfs', ['-lln', '-UTC', image])).stdout
        .toString('latin1')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.replace(/ squashfs-root(\/|$)/, ' /'));
      const ours = await ourLines(['ls', '-l', image]);
      expect(ours.length).toBe(theirs.length);
      const pathOf = (line: string) => line.replace(/^.*? \d\d:\d\d (\/.*?)( -> .*)?$/s, '$1');
      for (let i = 0; i < theirs.length; i++) {
        // unsquashfs 4.5.1 misprints minors above 255; the path must still match.
        if (DEVICE_LINE.test(theirs[i]!) && ours[i] !== theirs[i]) {
          expect(pathOf(ours[i]!)).toBe(pathOf(theirs[i]!));
          continue;
        }
        expect(ours[i]).toBe(theirs[i]);
      }
      // Without -l: the paths only.
      const paths = await ourLines(['ls', image]);
      expect(paths).toEqual(ours.map(pathOf));
    });
  });
}
