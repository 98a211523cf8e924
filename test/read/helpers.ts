/**
 * Helpers of the reader tests: read a whole image through the reader (the "everything" a user
 * can ask for), and build small images in memory with our writer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { openImage } from '../../src/squashfs/read/image.js';
import type { DirNode } from '../../src/squashfs/tree.js';
import type { WriteOptions } from '../../src/squashfs/write/options.js';
import { writeImage } from '../../src/squashfs/write/image-writer.js';
import { makeTempDir } from '../helpers/fs-util.js';

/** Walks, looks up, reads and lists everything; returns a count of entries and bytes. */
export async function readEverything(
  image: string | Uint8Array,
): Promise<{ entries: number; bytes: number }> {
  const img = await openImage(image);
  let entries = 0;
  let bytes = 0;
  try {
    for await (const { path, inode } of img.walk()) {
      entries++;
      await img.owner(inode);
      await img.xattrs(inode);
      // Lookups of a sample of paths (each one walks its directory's runs).
      if (path.length > 0 && entries % 37 === 1) await img.lookup(path);
      if (inode.kind === 'file')
        for await (const chunk of img.readFile(inode)) bytes += chunk.length;
      if (inode.kind === 'symlink') bytes += img.readlink(inode).length;
    }
  } finally {
    await img.close();
  }
  return { entries, bytes };
}

/** Writes `root` with our writer and returns the image bytes. */
export async function imageBytes(root: DirNode, options: WriteOptions = {}): Promise<Buffer> {
  const tmp = await makeTempDir('read-img');
  try {
    const path = join(tmp.path, 'image.sqfs');
    await writeImage(root, path, options);
    return await readFile(path);
  } finally {
    await tmp.cleanup();
  }
}

/** Asserts that `promise` rejects with a SquashfsError (never a RangeError or TypeError). */
export async function expectSquashfsError(
  promise: Promise<unknown>,
  code?: string,
): Promise<SquashfsError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a SquashfsError').toBeInstanceOf(SquashfsError);
  if (code !== undefined) expect((caught as SquashfsError).code).toBe(code);
  return caught as SquashfsError;
}
