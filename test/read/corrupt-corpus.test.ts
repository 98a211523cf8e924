/**
 * The broken-image corpus (fixtures/corrupt/, made from an mksquashfs image by
 * test/read/corrupt-recipes.ts): each file fails with the error code its name starts with, as a
 * SquashfsError with a message, never a RangeError or a hang; verify reports an error in it; and
 * each still equals its recipe.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyImage } from '../../src/squashfs/read/verify.js';
import { BASE_IMAGE, CORRUPT_DIR, RECIPES } from './corrupt-recipes.js';
import { expectSquashfsError, readEverything } from './helpers.js';

const files = readdirSync(CORRUPT_DIR).filter((f) => f.endsWith('.sqfs'));

describe('fixtures/corrupt', () => {
  it('holds exactly the images its recipes make', () => {
    const base = readFileSync(BASE_IMAGE);
    expect(files.sort()).toEqual(RECIPES.map((r) => `${r.name}.sqfs`).sort());
    for (const r of RECIPES) {
      const committed = readFileSync(join(CORRUPT_DIR, `${r.name}.sqfs`));
      expect(committed.equals(r.make(base)), `${r.name}: regenerate with the recipes`).toBe(true);
    }
  });

  for (const file of files) {
    const code = file.split('--')[0]!;
    it(`${file} fails with ${code}`, async () => {
      const err = await expectSquashfsError(
        readEverything(readFileSync(join(CORRUPT_DIR, file))),
        code,
      );
      expect(err.message.length).toBeGreaterThan(10);
      // verify reports it too, as an error (and exits non-zero on it).
      const result = await verifyImage(readFileSync(join(CORRUPT_DIR, file)));
      expect(result.errors, 'verify errors').toBeGreaterThan(0);
    });
  }
});
