/**
 * systemd's own view of our image: `systemd-dissect IMAGE` (Debian package systemd-container)
 * must find the os-release we wrote and mark the image usable as a portable service. It loop-
 * mounts the image, so it needs root. Missing tool or privileges: the suite fails in CI and is
 * skipped with a printed reason elsewhere.
 *
 * The text output is checked, not --json: systemd 252's JSON reports usePortableService false
 * for images its text output marks "✓ portable service".
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPortableService, type PortableServiceReport } from '../../src/layout/portable.js';
import { buildPortableTree } from '../../src/layout/portable-layout.js';
import {
  resolvePortableOptions,
  type PortableServiceOptions,
} from '../../src/layout/portable-options.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import { inCI, makeTempDir, run, type TempDir } from '../helpers/fs-util.js';
import { findExecutable } from '../helpers/oracles.js';
import { makeFakeStore } from './portable-fake-store.js';

function missingReason(): string | undefined {
  if (findExecutable('systemd-dissect') === undefined) {
    return 'systemd-dissect not found (Debian package systemd-container)';
  }
  if (process.getuid?.() !== 0) return 'systemd-dissect needs root to loop-mount the image';
  return undefined;
}

const reason = missingReason();
if (reason !== undefined && !inCI()) console.warn(`[portable-dissect] SKIPPING: ${reason}`);

describe.skipIf(reason !== undefined && !inCI())('systemd-dissect on a portable image', () => {
  let tmp: TempDir;
  let report: PortableServiceReport;
  let output: string;
  let options: PortableServiceOptions;

  beforeAll(async () => {
    if (reason !== undefined) throw new Error(`missing in CI: ${reason}`);
    tmp = await makeTempDir('portable-dissect');
    const store = makeFakeStore(tmp.path);
    options = {
      pname: 'demo',
      version: '1.0',
      units: [store.paths.service],
      description: 'A "demo" service',
      homepage: 'https://example.org/demo',
      symlinks: [{ object: path.join(store.paths.cacert, 'etc/ssl'), symlink: '/etc/ssl' }],
      storeDir: store.storeDir,
      outDir: tmp.path,
    };
    report = await buildPortableService(options, { computeClosure: store.closure });
    const dissect = findExecutable('systemd-dissect')!;
    const result = await run(dissect, ['--no-pager', report.imagePath]);
    output = `${result.stdout.toString()}${result.stderr.toString()}`;
    if (result.code !== 0) throw new Error(`systemd-dissect failed (${result.code}):\n${output}`);
  });

  it('would not, without PORTABLE_PREFIXES (the nixpkgs os-release)', async () => {
    const resolved = await resolvePortableOptions({
      ...options,
      outDir: path.join(tmp.path, 'np'),
    });
    resolved.osRelease = resolved.osRelease.replace(/^PORTABLE_PREFIXES=.*\n/m, '');
    const image = path.join(tmp.path, 'np.raw');
    await writeImage(buildPortableTree(resolved, []), image, { rootMode: 0o755 });
    const result = await run(findExecutable('systemd-dissect')!, ['--no-pager', image]);
    const text = result.stdout.toString();
    expect(text).toMatch(/PORTABLE_ID=demo/);
    expect(text).toMatch(/✗ portable service/);
  });

  afterAll(async () => {
    await tmp?.cleanup();
  });

  it('marks the image usable as a portable service', () => {
    expect(output).toMatch(/✓ portable service/);
    expect(output).toMatch(/squashfs/);
  });

  it('shows the os-release values, unquoted as systemd parsed them', () => {
    const lines = output.split('\n').map((l) => l.replace(/^.*?(OS Release:)?\s+/, '').trim());
    for (const expected of [
      'PORTABLE_ID=demo',
      'PORTABLE_PREFIXES=demo',
      'PORTABLE_PRETTY_NAME=A "demo" service',
      'HOME_URL=https://example.org/demo',
      'ID=nixos',
      'PRETTY_NAME=NixOS',
      'BUILD_ID=rolling',
    ]) {
      expect(lines, output).toContain(expected);
    }
  });
});
