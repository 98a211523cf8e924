/**
 * The closure really runs: a unit whose ExecStart is a static busybox from the image's own store
 * (referenced through a second store path, so closure scanning must find it) is packed with
 * `tsquashfs portable`, the image is loop-mounted read-only by the kernel, and the ExecStart
 * command line read from the image's unit file runs under chroot.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';
import { inCI, makeTempDir, run, type TempDir } from '../helpers/fs-util.js';
import { findExecutable, requireOracle, withKernelMount } from '../helpers/oracles.js';
import { canonicalise, fakeHash } from './portable-fake-store.js';

const BUSYBOX = '/bin/busybox'; // Debian's busybox-static: a statically linked binary
const quiet: CliContext = {
  stdout: { write: () => true },
  stderr: { write: () => true, isTTY: false },
  env: {},
  version: 'test',
};

// busybox-static gives the static binary. In CI (.ci/run installs it) its absence fails the
// test; elsewhere the test is skipped with this printed reason.
const hasBusybox = findExecutable('busybox') !== undefined;
if (!hasBusybox && !inCI()) {
  console.warn(
    '[portable-chroot] SKIPPED: busybox-static is not installed (apt-get install busybox-static)',
  );
}

requireOracle('root', 'mount')(
  'a portable image runs its ExecStart from its own store under chroot',
  () => {
    let tmp: TempDir;
    let image: string;
    const bb = `${fakeHash('busybox')}-busybox-static`;
    const script = `${fakeHash('hello-script')}-hello`;
    const unit = `${fakeHash('hello-unit')}-hello.service`;
    beforeAll(async () => {
      if (!hasBusybox) return;
      tmp = await makeTempDir('portable-chroot');
      const store = join(tmp.path, 'store');
      await mkdir(join(store, bb, 'bin'), { recursive: true });
      await copyFile(BUSYBOX, join(store, bb, 'bin', 'busybox'));
      await mkdir(join(store, script, 'bin'), { recursive: true });
      await writeFile(
        join(store, script, 'bin', 'hello'),
        `#!/nix/store/${bb}/bin/busybox sh\necho "hello from $(/nix/store/${bb}/bin/busybox cat /etc/os-release | /nix/store/${bb}/bin/busybox grep ^PORTABLE_ID)"\n`,
        { mode: 0o555 },
      );
      await writeFile(
        join(store, unit),
        `[Unit]\nDescription=hello\n\n[Service]\nType=oneshot\nExecStart=/nix/store/${script}/bin/hello\n`,
      );
      for (const p of [bb, script, unit]) canonicalise(join(store, p));
      const code = await runCli(
        [
          'portable',
          '--pname',
          'hello',
          '--version',
          '1',
          '--unit',
          join(store, unit),
          '--store-dir',
          store,
          '-o',
          tmp.path,
        ],
        quiet,
      );
      expect(code).toBe(0);
      image = join(tmp.path, 'hello_1.raw');
    });
    afterAll(async () => tmp?.cleanup());

    it.runIf(hasBusybox || inCI())('runs the unit command inside the mounted image', async () => {
      if (!hasBusybox)
        throw new Error('busybox-static is not installed (apt-get install busybox-static)');
      await withKernelMount(image, async (mnt) => {
        const unitText = await readFile(join(mnt, 'etc/systemd/system/hello.service'), 'utf8');
        const execStart = /^ExecStart=(.+)$/m.exec(unitText)![1]!.trim();
        const result = await run('chroot', [mnt, ...execStart.split(/\s+/)]);
        expect(result.stderr.toString()).toBe('');
        expect(result.code).toBe(0);
        expect(result.stdout.toString()).toBe('hello from PORTABLE_ID=hello\n');
      });
    });
  },
);
