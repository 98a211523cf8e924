/**
 * Tests of the oracle harness itself, run on images made by mksquashfs: if the helpers cannot
 * see mksquashfs's own images as equal to their sources, or cannot see a difference when there
 * is one, they prove nothing about our writer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  rm,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  buildEdgeTree,
  TREE_NAMES,
  TREE_NEEDS,
  type EdgeTree,
  type TreeName,
} from '../helpers/edge-trees.js';
import { makeTempDir, runChecked, type TempDir } from '../helpers/fs-util.js';
import {
  decodeListedDevice,
  findUnsquashfsProblems,
  isFullyReleased,
  mksquashfs,
  mountSource,
  oracleStatus,
  parsePermissions,
  rdsquashfsStat,
  requireOracle,
  sqfsdiff,
  unsquashfsExtract,
  unsquashfsList,
  withKernelMount,
  type OracleName,
} from '../helpers/oracles.js';
import { compareListing, compareTrees, walkTree } from '../helpers/tree-compare.js';

const ALL_TOOLS: OracleName[] = [
  'mksquashfs',
  'unsquashfs',
  'sqfsdiff',
  'rdsquashfs',
  'getfattr',
  'mount',
  'root',
];

// ---------------------------------------------------------------------------------------------
// Pure parsing, no tools needed
// ---------------------------------------------------------------------------------------------

requireOracle()('harness parsing', () => {
  it('reads permission strings including setuid, setgid and sticky', () => {
    expect(parsePermissions('rwxr-xr-x')).toBe(0o755);
    expect(parsePermissions('rwsr-sr-t')).toBe(0o7755);
    expect(parsePermissions('rwSr-Sr-T')).toBe(0o7644);
    expect(parsePermissions('---------')).toBe(0);
  });

  it('undoes unsquashfs 4.5.1 printing device minors above 255 wrongly', () => {
    expect(decodeListedDevice(4355, 44)).toEqual({ major: 259, minor: 300 });
    expect(decodeListedDevice(8, 1)).toEqual({ major: 8, minor: 1 });
    expect(decodeListedDevice(-1, 255)).toEqual({ major: 4095, minor: 1048575 });
  });

  it('treats any line a clean extraction does not print as a problem', () => {
    const clean = [
      'Parallel unsquashfs: Using 2 processors',
      '7 inodes (1 blocks) to write',
      '',
      'created 3 files',
      'created 2 directories',
      'created 1 symlink',
      'created 0 sockets',
      'created 1 hardlink',
    ].join('\n');
    expect(findUnsquashfsProblems(clean)).toEqual([]);
    const warning =
      "write_xattr: failed to write xattr trusted.x for file a/b because you're not superuser!";
    expect(findUnsquashfsProblems(`${clean}\n${warning}\n`)).toEqual([warning]);
  });
});

// ---------------------------------------------------------------------------------------------
// Every edge tree through mksquashfs: listing, extraction, kernel mount and sqfsdiff agree
// ---------------------------------------------------------------------------------------------

/**
 * Where mksquashfs 4.5.1 itself does not reproduce the source, as compareTrees words it. Anything
 * else is a harness bug. A symlink with two names becomes two symlink inodes: mksquashfs does
 * not keep symlinks hard-linked (unsquashfs -pf shows both as "S", never "L").
 */
const MKSQUASHFS_DEVIATIONS: Partial<Record<TreeName, string[]>> = {
  links: [
    'sym/hardlinked-symlink: hard links expected {sym/hardlinked-symlink, sym/hardlinked-symlink-2}, actual {sym/hardlinked-symlink}',
  ],
};

for (const name of TREE_NAMES) {
  requireOracle(...ALL_TOOLS, ...TREE_NEEDS[name])(`mksquashfs image of the ${name} tree`, () => {
    let tree: EdgeTree;
    let work: TempDir;
    let image: string;

    beforeAll(async () => {
      tree = await buildEdgeTree(name as TreeName);
      work = await makeTempDir(`harness-${name}`);
      image = join(work.path, 'mk.sqfs');
      await mksquashfs([tree.dir], image, ['-quiet']);
    });
    afterAll(async () => {
      await tree?.cleanup();
      await work?.cleanup();
    });

    it('unsquashfs -lln lists every entry as it is in the source', async () => {
      const listing = await unsquashfsList(image);
      expect(listing.length).toBe(walkTree(tree.dir).size);
      expect(compareListing(listing, tree.dir)).toEqual([]);
    });

    it('unsquashfs extracts it cleanly and the extraction equals the source', async () => {
      const dest = join(work.path, 'extracted');
      await unsquashfsExtract(image, dest);
      const diffs = await compareTrees(tree.dir, dest, { hugeFileRegions: tree.hugeFileRegions });
      expect(diffs).toEqual(MKSQUASHFS_DEVIATIONS[name] ?? []);
      await rm(dest, { recursive: true, force: true });
    });

    it('the kernel mounts it and the mounted tree equals the source', async () => {
      const diffs = await withKernelMount(image, (mnt) =>
        compareTrees(tree.dir, mnt, { hugeFileRegions: tree.hugeFileRegions }),
      );
      expect(diffs).toEqual(MKSQUASHFS_DEVIATIONS[name] ?? []);
    });

    it('sqfsdiff finds the image equal to itself', async () => {
      const result = await sqfsdiff(image, image, { superBlock: true });
      expect(result).toEqual({ same: true, exitCode: 0, output: '' });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Each helper can fail: a modified copy of a tree shows its differences
// ---------------------------------------------------------------------------------------------

requireOracle(
  ...ALL_TOOLS,
  'mknod',
  'xattrs',
)('the helpers see differences', () => {
  let tree: EdgeTree;
  let work: TempDir;
  let copy: string;
  let original: string;
  let modified: string;

  // One change per kind of difference compareTrees knows, with the words it must report.
  const expectedReports: [string, RegExp][] = [
    ['contents', /^modes\/setuid: contents differ at byte 3$/],
    ['mode', /^modes\/odd-0421: mode expected 00421, actual 00422$/],
    ['uid', /^times\/epoch-0: uid expected 0, actual 4321$/],
    ['mtime', /^times\/max-u32: mtime expected 4294967295, actual 4294967294$/],
    [
      'symlink target',
      /^times\/symlink-max-u32: symlink target expected "max-u32", actual "epoch-0"$/,
    ],
    ['device', /^dev\/char-259-300: device expected 259:300, actual 259:301$/],
    [
      'hard link',
      /^ipc\/fifo: hard links expected \{ipc\/fifo, ipc\/fifo-hardlink\}, actual \{ipc\/fifo\}$/,
    ],
    ['missing', /^modes\/setgid: missing \(expected a file\)$/],
    ['extra', /^modes\/extra: unexpected file$/],
    ['type', /^ipc\/socket: type expected socket, actual file$/],
    ['xattr', /^modes\/all-bits: unexpected xattr user\.added$/],
  ];

  beforeAll(async () => {
    tree = await buildEdgeTree('special');
    work = await makeTempDir('harness-negative');
    copy = join(work.path, 'copy');
    // cp -a keeps hard links, devices, sockets, owners, modes, times and xattrs.
    await runChecked('cp', ['-a', tree.dir, copy]);
    await mutate(copy);
    original = join(work.path, 'original.sqfs');
    modified = join(work.path, 'modified.sqfs');
    await mksquashfs([tree.dir], original, ['-quiet']);
    await mksquashfs([copy], modified, ['-quiet']);
  });
  afterAll(async () => {
    await tree?.cleanup();
    await work?.cleanup();
  });

  async function mutate(dir: string): Promise<void> {
    const p = (rel: string) => join(dir, rel);
    const fh = await open(p('modes/setuid'), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 3);
    await fh.close();
    await chmod(p('modes/odd-0421'), 0o422);
    spawnSync('chown', ['4321', p('times/epoch-0')]);
    await utimes(p('times/max-u32'), 2 ** 32 - 2, 2 ** 32 - 2);
    await unlink(p('times/symlink-max-u32'));
    await symlink('epoch-0', p('times/symlink-max-u32'));
    spawnSync('touch', ['-h', '-d', `@${2 ** 32 - 1}`, p('times/symlink-max-u32')]);
    await unlink(p('dev/char-259-300'));
    spawnSync('mknod', ['-m', '644', p('dev/char-259-300'), 'c', '259', '301']);
    await unlink(p('ipc/fifo-hardlink'));
    spawnSync('mkfifo', ['-m', '644', p('ipc/fifo-hardlink')]);
    await unlink(p('modes/setgid'));
    await writeFile(p('modes/extra'), 'extra\n');
    await unlink(p('ipc/socket'));
    await writeFile(p('ipc/socket'), '');
    await chmod(p('ipc/socket'), 0o755);
    spawnSync('setfattr', ['-n', 'user.added', '-v', '1', p('modes/all-bits')]);
    // Restore what the edits disturbed besides the intended change: file times and dir times,
    // so each difference shows up exactly once.
    await copyTimes(tree.dir, dir, [
      'modes/setuid',
      'ipc/fifo-hardlink',
      'dev/char-259-300',
      'ipc/socket',
      'modes',
      'ipc',
      'dev',
      'times',
    ]);
  }

  async function copyTimes(from: string, to: string, rels: string[]): Promise<void> {
    for (const rel of rels) {
      const r = spawnSync('touch', ['-h', '-r', join(from, rel), join(to, rel)]);
      if (r.status !== 0) throw new Error(`touch -r ${rel} failed`);
    }
  }

  it('compareTrees reports each kind of change in words', async () => {
    const diffs = await compareTrees(tree.dir, copy);
    for (const [what, pattern] of expectedReports) {
      expect(
        diffs.some((d) => pattern.test(d)),
        `${what}: ${pattern} in\n${diffs.join('\n')}`,
      ).toBe(true);
    }
    // modes/extra is new, so the "modes" dir time stays as copied: nothing else differs.
    expect(diffs.length).toBe(expectedReports.length);
  });

  it('ignoreRootMeta hides the metadata of the root directory and nothing else', async () => {
    const other = join(work.path, 'root-differs');
    await runChecked('cp', ['-a', tree.dir, other]);
    await chmod(other, 0o700);
    expect(await compareTrees(tree.dir, other)).toEqual(['/: mode expected 00755, actual 00700']);
    expect(await compareTrees(tree.dir, other, { ignoreRootMeta: true })).toEqual([]);
    await chmod(join(other, 'modes'), 0o700);
    expect(await compareTrees(tree.dir, other, { ignoreRootMeta: true })).toEqual([
      'modes: mode expected 00755, actual 00700',
    ]);
  });

  it('compareTrees sees the changes through unsquashfs extraction and the kernel mount', async () => {
    const dest = join(work.path, 'extracted');
    await unsquashfsExtract(modified, dest);
    const extracted = await compareTrees(tree.dir, dest);
    const mounted = await withKernelMount(modified, (mnt) => compareTrees(tree.dir, mnt));
    for (const diffs of [extracted, mounted]) {
      for (const [what, pattern] of expectedReports) {
        expect(
          diffs.some((d) => pattern.test(d)),
          `${what}: ${pattern} in\n${diffs.join('\n')}`,
        ).toBe(true);
      }
    }
  });

  it('unsquashfsList shows the changed mode and the changed link target', async () => {
    const before = await unsquashfsList(original);
    const after = await unsquashfsList(modified);
    const find = (list: typeof before, path: string) => list.find((e) => e.path === path);
    expect(find(before, 'modes/odd-0421')?.mode).toBe(0o421);
    expect(find(after, 'modes/odd-0421')?.mode).toBe(0o422);
    expect(find(after, 'times/symlink-max-u32')?.target?.toString()).toBe('epoch-0');
    expect(find(after, 'dev/char-259-300')).toMatchObject({ major: 259, minor: 301 });
    expect(compareListing(after, tree.dir).length).toBeGreaterThan(0);
  });

  it('sqfsdiff reports the differences', async () => {
    const result = await sqfsdiff(original, modified);
    expect(result.same).toBe(false);
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(/different permissions/);
    expect(result.output).toMatch(/different ownership/);
    expect(result.output).toMatch(/different timestamp/);
    expect(result.output).toMatch(/different device number/);
  });

  it('sqfsdiff: a link target change alone exits 0, and the wrapper still says different', async () => {
    const a = join(work.path, 'sym-a');
    const b = join(work.path, 'sym-b');
    for (const [dir, target] of [
      [a, 'one'],
      [b, 'two'],
    ] as const) {
      await runChecked('mkdir', [dir]);
      await symlink(target, join(dir, 'link'));
      for (const path of [join(dir, 'link'), dir]) spawnSync('touch', ['-h', '-d', '@1000', path]);
      await mksquashfs([dir], `${dir}.sqfs`, ['-quiet']);
    }
    const result = await sqfsdiff(`${a}.sqfs`, `${b}.sqfs`);
    expect(result.output).toMatch(/different link target/);
    expect(result.exitCode).toBe(0); // sqfsdiff 1.2.0's quirk, which the wrapper covers
    expect(result.same).toBe(false);
  });

  it('sqfsdiff -I sees inode numbers change when entries are added', async () => {
    const plus = join(work.path, 'plus');
    await runChecked('cp', ['-a', tree.dir, plus]);
    // A name sorting first shifts every later inode number; keep the dir time as it was.
    await writeFile(join(plus, '0-first'), '');
    spawnSync('touch', ['-h', '-r', tree.dir, plus]);
    spawnSync('touch', ['-h', '-d', '@1700000000', join(plus, '0-first')]);
    await mksquashfs([plus], `${plus}.sqfs`, ['-quiet']);
    const withInodes = await sqfsdiff(original, `${plus}.sqfs`);
    expect(withInodes.output).toMatch(/different inode number/);
  });

  it('unsquashfsExtract throws on a corrupted image and refuses an existing destination', async () => {
    const corrupt = join(work.path, 'corrupt.sqfs');
    await copyFile(original, corrupt);
    // Garbage right after the 96-byte superblock, where the first blocks start.
    const fh = await open(corrupt, 'r+');
    await fh.write(Buffer.alloc(512, 0xa5), 0, 512, 96);
    await fh.close();
    await expect(unsquashfsExtract(corrupt, join(work.path, 'from-corrupt'))).rejects.toThrow(
      /not clean/,
    );
    await expect(unsquashfsExtract(original, work.path)).rejects.toThrow(/already exists/);
  });

  it('withKernelMount unmounts and frees the loop device even when the callback throws', async () => {
    let seen = '';
    await expect(
      withKernelMount(original, async (mnt) => {
        seen = mnt;
        expect(await mountSource(mnt)).toMatch(/^\/dev\/loop\d+$/);
        throw new Error('callback failed');
      }),
    ).rejects.toThrow('callback failed');
    expect(await isFullyReleased(seen, original)).toBe(true);
    expect(existsSync(seen)).toBe(false);
  });

  it('withKernelMount rejects an image that is not squashfs', async () => {
    const junk = join(work.path, 'junk.sqfs');
    await writeFile(junk, Buffer.alloc(8192, 0x42));
    // A private temp root (this file's tests run one at a time) shows whether the mountpoint
    // directory is left behind.
    const privateRoot = join(work.path, 'private-tmp');
    await mkdir(privateRoot);
    const saved = process.env.TSQUASHFS_TEST_TMPDIR;
    process.env.TSQUASHFS_TEST_TMPDIR = privateRoot;
    try {
      await expect(withKernelMount(junk, () => undefined)).rejects.toThrow(/mount/);
    } finally {
      if (saved === undefined) delete process.env.TSQUASHFS_TEST_TMPDIR;
      else process.env.TSQUASHFS_TEST_TMPDIR = saved;
    }
    expect(await readdir(privateRoot)).toEqual([]);
    expect((await runChecked('losetup', ['-j', junk])).stdout.toString()).toBe('');
  });

  it('mksquashfs throws for a missing source', async () => {
    await expect(
      mksquashfs([join(work.path, 'no-such-dir')], join(work.path, 'x.sqfs')),
    ).rejects.toThrow(/mksquashfs/);
  });

  it('rdsquashfs tells inode types apart', async () => {
    expect((await rdsquashfsStat(original, '/ipc/fifo')).inodeType).toBe('named pipe');
    expect((await rdsquashfsStat(original, '/modes/setuid')).inodeType).toBe('file');
    expect((await rdsquashfsStat(original, '/dev/block-8-1')).inodeType).toBe('block device');
    // Both names of the hard-linked fifo are one inode.
    const [a, b] = await Promise.all(
      ['/ipc/fifo', '/ipc/fifo-hardlink'].map((p) => rdsquashfsStat(original, p)),
    );
    expect(a!.inodeNumber).toBe(b!.inodeNumber);
    await expect(rdsquashfsStat(original, '/no/such/path')).rejects.toThrow(/rdsquashfs/);
  });
});

// ---------------------------------------------------------------------------------------------
// Huge files are compared by sampling; the samples do see a change past 4 GiB
// ---------------------------------------------------------------------------------------------

requireOracle()('sampling huge files', () => {
  let tree: EdgeTree;
  let work: TempDir;

  beforeAll(async () => {
    tree = await buildEdgeTree('sparse-huge');
    work = await makeTempDir('harness-huge');
  });
  afterAll(async () => {
    await tree?.cleanup();
    await work?.cleanup();
  });

  it('a byte changed just past 4 GiB and a truncated copy are both reported', async () => {
    const copy = join(work.path, 'copy');
    await runChecked('cp', ['-a', '--sparse=always', tree.dir, copy]);
    expect(await compareTrees(tree.dir, copy, { hugeFileRegions: tree.hugeFileRegions })).toEqual(
      [],
    );

    const huge = join(copy, 'huge.bin');
    const fh = await open(huge, 'r+');
    await fh.write(Buffer.from([0x5a]), 0, 1, 4 * 1024 ** 3 + 100);
    await fh.close();
    spawnSync('touch', ['-r', join(tree.dir, 'huge.bin'), huge]);
    expect(await compareTrees(tree.dir, copy, { hugeFileRegions: tree.hugeFileRegions })).toEqual([
      `huge.bin: contents differ at byte ${4 * 1024 ** 3 + 100}`,
    ]);

    await truncate(huge, 4 * 1024 ** 3);
    spawnSync('touch', ['-r', join(tree.dir, 'huge.bin'), huge]);
    const diffs = await compareTrees(tree.dir, copy);
    expect(diffs).toHaveLength(1);
    expect(diffs[0]).toMatch(/^huge\.bin: size expected \d+, actual 4294967296$/);
  });
});

// The oracle versions are printed once, so a failing run shows what judged it.
requireOracle()('oracle versions', () => {
  it('are reported', () => {
    const lines = (
      ['unsquashfs', 'mksquashfs', 'sqfsdiff', 'rdsquashfs', 'getfattr', 'mount'] as const
    ).map((n) => {
      const s = oracleStatus(n);
      return `${n}: ${s.available ? `available${s.version ? ` ${s.version}` : ''}` : `MISSING (${s.reason})`}`;
    });
    console.log(`[oracles]\n  ${lines.join('\n  ')}`);
    expect(lines).toHaveLength(6);
  });
});
