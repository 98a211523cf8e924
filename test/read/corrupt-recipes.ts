/**
 * The recipes of the broken-image corpus in fixtures/corrupt/: each takes the mksquashfs-made
 * fixture fixtures/images/mks-gzip.sqfs and breaks one thing. A file is named after the error
 * code reading it must give, then what was broken: `CODE--what.sqfs`.
 *
 *   npx tsx test/read/corrupt-recipes.ts      rewrites fixtures/corrupt/ from the recipes
 *
 * test/read/corrupt-corpus.test.ts checks that every committed file still equals its recipe's
 * output and fails with its code.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSuperblock } from '../../src/squashfs/format/superblock.js';

const here = dirname(fileURLToPath(import.meta.url));
export const CORRUPT_DIR = join(here, '../../fixtures/corrupt');
export const BASE_IMAGE = join(here, '../../fixtures/images/mks-gzip.sqfs');

export interface Recipe {
  /** `CODE--what`: the file name without .sqfs. */
  name: string;
  make(base: Buffer): Buffer;
}

/** A copy of `base` with `edit` applied. */
function edited(edit: (b: Buffer, sb: ReturnType<typeof decodeSuperblock>) => void) {
  return (base: Buffer) => {
    const b = Buffer.from(base);
    edit(b, decodeSuperblock(base.subarray(0, 96)));
    return b;
  };
}

export const RECIPES: Recipe[] = [
  { name: 'CORRUPT--bad-magic', make: edited((b) => b.writeUInt32LE(0, 0)) },
  {
    name: 'OUT_OF_BOUNDS--truncated-superblock',
    make: (base) => Buffer.from(base.subarray(0, 50)),
  },
  {
    name: 'OUT_OF_BOUNDS--truncated-half',
    make: (base) => Buffer.from(base.subarray(0, Math.floor(base.length / 2))),
  },
  { name: 'UNSUPPORTED--version-3-0', make: edited((b) => b.writeUInt16LE(3, 0x1c)) },
  { name: 'UNSUPPORTED--lzma-compressor', make: edited((b) => b.writeUInt16LE(2, 0x14)) },
  { name: 'CORRUPT--unknown-compressor-9', make: edited((b) => b.writeUInt16LE(9, 0x14)) },
  { name: 'CORRUPT--block-size-3000', make: edited((b) => b.writeUInt32LE(3000, 0x0c)) },
  { name: 'CORRUPT--block-log-mismatch', make: edited((b) => b.writeUInt16LE(13, 0x16)) },
  {
    name: 'OUT_OF_BOUNDS--bytes-used-past-end',
    make: edited((b) => b.writeUInt32LE(b.length + 1, 0x28)),
  },
  {
    name: 'CORRUPT--inode-table-zero-header',
    make: edited((b, sb) => b.writeUInt16LE(0, sb.inodeTableStart)),
  },
  {
    name: 'CORRUPT--directory-table-oversized-header',
    make: edited((b, sb) => b.writeUInt16LE(0x2001, sb.directoryTableStart)),
  },
  {
    name: 'CORRUPT--first-data-block-garbage',
    make: edited((b) => b.fill(0xff, 96 + 2, 96 + 66)),
  },
  {
    name: 'CORRUPT--id-table-past-end',
    make: edited((b) => b.writeUInt32LE(b.length + 4096, 0x30)),
  },
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const base = readFileSync(BASE_IMAGE);
  mkdirSync(CORRUPT_DIR, { recursive: true });
  for (const f of readdirSync(CORRUPT_DIR)) if (f.endsWith('.sqfs')) rmSync(join(CORRUPT_DIR, f));
  for (const r of RECIPES) writeFileSync(join(CORRUPT_DIR, `${r.name}.sqfs`), r.make(base));
  console.log(`wrote ${RECIPES.length} images to ${CORRUPT_DIR}`);
}
