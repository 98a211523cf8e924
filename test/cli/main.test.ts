import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import {
  mkdtemp,
  mkdir,
  open,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
  readdir,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageVersion, reportError, runCli } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';
import { SquashfsError } from '../../src/squashfs/errors.js';

interface Captured {
  ctx: CliContext;
  out: () => string;
  err: () => string;
}

function capture(env: NodeJS.ProcessEnv = {}): Captured {
  let out = '';
  let err = '';
  return {
    ctx: {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s), isTTY: false },
      env,
      version: '9.9.9',
    },
    out: () => out,
    err: () => err,
  };
}

describe('tsquashfs dispatch', () => {
  it('prints the usage and exits 2 without a command', async () => {
    const c = capture();
    expect(await runCli([], c.ctx)).toBe(2);
    expect(c.err()).toMatch(/^usage: tsquashfs \{mk\|ls\|cat\|extract/);
  });

  it('prints the help on --help, -h and help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const c = capture();
      expect(await runCli(argv, c.ctx)).toBe(0);
      expect(c.out()).toMatch(/^Usage: tsquashfs COMMAND/);
    }
  });

  it('help COMMAND is COMMAND --help', async () => {
    const c = capture();
    expect(await runCli(['help', 'mk'], c.ctx)).toBe(0);
    expect(c.out()).toMatch(/^Usage: tsquashfs mk SOURCE\.\.\. IMAGE/);
  });

  it('prints the version', async () => {
    const c = capture();
    expect(await runCli(['--version'], c.ctx)).toBe(0);
    expect(c.out()).toBe('tsquashfs 9.9.9\n');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(packageVersion()).toBe(pkg.version);
  });

  it('rejects an unknown command or option with exit 2', async () => {
    for (const [arg, what] of [
      ['frobnicate', 'command'],
      ['--frob', 'option'],
    ]) {
      const c = capture();
      expect(await runCli([arg!], c.ctx)).toBe(2);
      expect(c.err()).toContain(`tsquashfs: unknown ${what} "${arg}"\nusage:`);
    }
  });

  it('turns argument errors into one line and exit 1', async () => {
    const c = capture();
    expect(await runCli(['mk', 'src', 'img', '-b', '3000'], c.ctx)).toBe(1);
    expect(c.err()).toBe(
      'tsquashfs: -b: block size 3000 is not a power of two between 4K and 1M\n',
    );
  });
});

describe('reportError', () => {
  it('prints user errors as one line with exit 1', () => {
    const c = capture();
    expect(reportError(new SquashfsError('IO', 'cannot read x:\nno such file'), c.ctx)).toBe(1);
    expect(c.err()).toBe('tsquashfs: cannot read x: no such file\n');
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), {
      code: 'ENOENT',
    });
    const d = capture();
    expect(reportError(enoent, d.ctx)).toBe(1);
    expect(d.err()).toBe("tsquashfs: ENOENT: no such file or directory, open 'x'\n");
  });

  it('prints bugs with their stack and exit 70', () => {
    for (const bug of [
      new TypeError('x is undefined'),
      Object.assign(new Error('bad argument'), { code: 'ERR_INVALID_ARG_TYPE' }),
      'a thrown string',
    ]) {
      const c = capture();
      expect(reportError(bug, c.ctx)).toBe(70);
      expect(c.err()).toMatch(/^tsquashfs: internal error \(please report it\):\n/);
      if (bug instanceof Error) expect(c.err()).toContain('main.test.ts');
    }
  });
});

describe('tsquashfs mk', () => {
  let dir: string;
  let src: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsquashfs-cli-'));
    src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'hello\n');
    await writeFile(join(src, 'sub', 'b.bin'), Buffer.alloc(200_000, 7));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes an image and prints the summary', async () => {
    const image = join(dir, 'out.sqfs');
    const c = capture();
    expect(await runCli(['mk', src, image, '-comp', 'gzip', '-b', '4K'], c.ctx)).toBe(0);
    const bytes = await readFile(image);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('hsqs');
    expect(bytes.readUInt32LE(12)).toBe(4096); // superblock block_size
    expect(c.out()).toContain(`Creating 4.0 filesystem on ${image}, block size 4096.\n`);
    expect(c.out()).toMatch(/\nNumber of files 2\n/);
    expect(c.err()).toBe(''); // stderr is not a TTY: no progress bar
  });

  it('prints nothing with -quiet, and a bar with -progress', async () => {
    const image = join(dir, 'out.sqfs');
    const c = capture();
    expect(await runCli(['mk', src, image, '-quiet', '-progress'], c.ctx)).toBe(0);
    expect(c.out()).toBe('');
    expect(c.err()).toBe('');
    const d = capture();
    expect(await runCli(['mk', src, image, '-noappend', '-progress'], d.ctx)).toBe(0);
    expect(d.err()).toMatch(/\r\[=+\] \d+\/\d+ 100%\n$/);
  });

  it('fsyncs the image and its directory with -durable, and nothing without it', async () => {
    // Every FileHandle shares one prototype: count the fsyncs made through any of them.
    const probe = await open(src);
    const proto = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
    await probe.close();
    const synced: string[] = [];
    const sync = vi.spyOn(proto, 'sync').mockImplementation(async function (this: { fd: number }) {
      synced.push(await readlink(`/proc/self/fd/${this.fd}`));
    });
    try {
      const image = join(dir, 'out.sqfs');
      expect(await runCli(['mk', src, image, '-quiet'], capture().ctx)).toBe(0);
      expect(synced).toEqual([]);
      expect(
        await runCli(['mk', src, image, '-quiet', '-noappend', '-durable'], capture().ctx),
      ).toBe(0);
      expect(synced).toHaveLength(2);
      expect(synced[0]).toMatch(/\/\.out\.sqfs\.tsquashfs-[0-9a-f-]+\.tmp$/);
      expect(synced[1]).toBe(dir);
    } finally {
      sync.mockRestore();
    }
  });

  it('refuses to append to an existing image without -noappend, and replaces it with it', async () => {
    const image = join(dir, 'out.sqfs');
    await writeFile(image, 'not an image');
    const c = capture();
    expect(await runCli(['mk', src, image], c.ctx)).toBe(1);
    expect(c.err()).toBe(
      `tsquashfs: ${image} exists: appending to an existing image is not supported; ` +
        'use -noappend to overwrite\n',
    );
    expect(await readFile(image, 'utf8')).toBe('not an image');
    expect(await runCli(['mk', src, image, '-noappend', '-quiet'], capture().ctx)).toBe(0);
    expect((await readFile(image)).subarray(0, 4).toString('latin1')).toBe('hsqs');
  });

  it('refuses an IMAGE that is a directory', async () => {
    const c = capture();
    expect(await runCli(['mk', src, dir, '-noappend'], c.ctx)).toBe(1);
    expect(c.err()).toBe(`tsquashfs: ${dir} is a directory: IMAGE must name a file\n`);
  });

  it('skips an IMAGE inside the source, as mksquashfs', async () => {
    const image = join(src, 'self.sqfs');
    const c = capture();
    expect(await runCli(['mk', src, image], c.ctx)).toBe(0);
    expect(c.out()).toMatch(/\nNumber of files 2\n/);
  });

  it('fails with one line and leaves no image when a source is missing', async () => {
    const image = join(dir, 'out.sqfs');
    const c = capture();
    expect(await runCli(['mk', join(dir, 'nosuch'), image, '-quiet'], c.ctx)).toBe(1);
    expect(c.err()).toMatch(/^tsquashfs: .*nosuch.*\n$/);
    await expect(stat(image)).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['src']);
  });

  it('honours -e exclusions and SOURCE_DATE_EPOCH', async () => {
    const image = join(dir, 'out.sqfs');
    const c = capture({ SOURCE_DATE_EPOCH: '1234' });
    expect(await runCli(['mk', src, image, '-e', 'sub'], c.ctx)).toBe(0);
    expect(c.out()).toMatch(/\nNumber of files 1\n/);
    expect((await readFile(image)).readUInt32LE(8)).toBe(1234); // superblock mkfs_time
  });
});
