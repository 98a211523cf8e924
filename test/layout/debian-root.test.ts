/**
 * The cached Debian root's bookkeeping, without debootstrap: which apt mirror it is fetched
 * from, and when a cached root is trusted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../helpers/fs-util.js';
import {
  cachedRootProblem,
  DEBIAN_ROOT_RECIPE,
  mirrorFromDeb822,
  mirrorFromOneLine,
} from './debian-root.js';

describe('the mirror apt uses', () => {
  it('is the bookworm stanza of a deb822 file, not -security and not a deb-src one', () => {
    const text = [
      'Types: deb-src',
      'URIs: http://src.example/debian',
      'Suites: bookworm',
      '',
      'Types: deb',
      'URIs: http://security.example/debian-security',
      'Suites: bookworm-security',
      '',
      'Types: deb',
      '# a comment',
      'URIs: http://mirror.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
    ].join('\n');
    expect(mirrorFromDeb822(text)).toBe('http://mirror.example/debian');
  });

  it('skips disabled stanzas and other suites', () => {
    const text = [
      'Types: deb',
      'URIs: http://off.example/debian',
      'Suites: bookworm',
      'Enabled: no',
      '',
      'Types: deb',
      'URIs: http://trixie.example/debian',
      'Suites: trixie',
    ].join('\n');
    expect(mirrorFromDeb822(text)).toBeUndefined();
  });

  it('reads one-line sources, with options', () => {
    const text = [
      '# deb http://commented.example/debian bookworm main',
      'deb https://packages.example/apt cloud-sdk-bookworm main',
      'deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main',
    ].join('\n');
    expect(mirrorFromOneLine(text)).toBe('http://mirror.example/debian/');
  });
});

describe('a cached root', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('debian-root');
  });
  afterAll(async () => tmp?.cleanup());

  function fakeRoot(name: string, recipe: unknown, files: string[]): string {
    const root = join(tmp.path, name);
    for (const f of files) {
      mkdirSync(join(root, f, '..'), { recursive: true });
      writeFileSync(join(root, f), '');
    }
    mkdirSync(root, { recursive: true });
    if (recipe !== undefined) {
      writeFileSync(join(root, '.tsquashfs-root.json'), JSON.stringify({ recipe }));
    }
    return root;
  }
  const complete = ['lib/systemd/systemd', 'usr/bin/portablectl', 'lib/systemd/systemd-portabled'];

  it('is used when its stamp has this recipe and the tools are there', () => {
    expect(cachedRootProblem(fakeRoot('good', DEBIAN_ROOT_RECIPE, complete))).toBeUndefined();
  });

  it('is rebuilt without a stamp (an interrupted build), or with another recipe', () => {
    expect(cachedRootProblem(fakeRoot('nostamp', undefined, complete))).toMatch(/no valid stamp/);
    const older = { ...DEBIAN_ROOT_RECIPE, revision: 0 };
    expect(cachedRootProblem(fakeRoot('old', older, complete))).toMatch(/stamp recipe/);
  });

  it('is rebuilt when a tool the boot needs is missing', () => {
    const root = fakeRoot('broken', DEBIAN_ROOT_RECIPE, complete.slice(0, 1));
    expect(cachedRootProblem(root)).toMatch(/lacks usr\/bin\/portablectl/);
  });
});
