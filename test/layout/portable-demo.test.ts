/**
 * The bundled demo (`npm start`) builds, holds exactly the closure of its unit and symlink
 * (the unrelated store path stays out), and unsquashfs reads it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import { requireOracle, unsquashfsList } from '../helpers/oracles.js';

const quiet: CliContext = {
  stdout: { write: () => true },
  stderr: { write: () => true, isTTY: false },
  env: {},
  version: 'test',
};

requireOracle('unsquashfs')('the bundled demo portable service', () => {
  let out: TempDir;
  beforeAll(async () => {
    out = await makeTempDir('demo');
  });
  afterAll(async () => out?.cleanup());

  it('builds demo_1.0.raw with the closure of its unit and nothing else from the store', async () => {
    expect(
      await runCli(['portable', '--config', 'fixtures/demo/demo.json', '-o', out.path], quiet),
    ).toBe(0);
    const paths = (await unsquashfsList(join(out.path, 'demo_1.0.raw'))).map((e) => e.path);
    const store = paths.filter((p) => /^nix\/store\/[^/]+$/.test(p));
    expect(store).toEqual([
      'nix/store/1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r6s-demo-1.0',
      'nix/store/3b2c3d4f5g6h7i8j9k0l1m2n3p4q5r6s-demo-config',
    ]);
    expect(paths).toContain('etc/systemd/system/demo.service');
    expect(paths).toContain('bin/demo');
    expect(paths).toContain('etc/os-release');
  });
});
