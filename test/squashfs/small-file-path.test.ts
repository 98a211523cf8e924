/**
 * The data writer's path for small files read at once (DataWriter.write with the bytes in an
 * array) skips the general one's async machinery. It must store every file exactly as the
 * general path does (a source read through an async iterable always takes that one), and it must
 * not cost a promise when the open fragment block has room, which is what it is for.
 */
import { describe, expect, it } from 'vitest';
import { createBlockCompressor } from '../../src/squashfs/compress/pool.js';
import { createCompressor } from '../../src/squashfs/compress/index.js';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import type { FileSource } from '../../src/squashfs/tree.js';
import { DataWriter, type DataWriterOptions } from '../../src/squashfs/write/data-writer.js';
import { distinct } from '../helpers/compress-samples.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';

const BLOCK = 4096;

/** Contents that exercise every branch: unique, repeated, zeros, empty, tiny, block-sized, larger. */
function contents(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) out.push(distinct(100 + ((i * 397) % 3900), i + 1));
  out.push(out[3]!.slice(), out[3]!.slice(), out[10]!.slice()); // small duplicates
  out.push(new Uint8Array(700), new Uint8Array(700), new Uint8Array(100)); // zeros
  out.push(new Uint8Array(0), Uint8Array.of(7), distinct(BLOCK - 1, 99)); // edges of "small"
  out.push(distinct(BLOCK, 100), distinct(3 * BLOCK + 5, 101), out[20]!.slice());
  out.push(out[61]!.slice()); // a copy of a copy
  return out;
}

function source(bytes: Uint8Array): FileSource {
  return {
    size: bytes.length,
    description: 'test data',
    async *read() {
      yield bytes;
    },
  };
}

interface Written {
  image: Uint8Array;
  rows: number[][];
  fragments: unknown;
  stats: unknown;
}

async function writeAll(fast: boolean, over: Partial<DataWriterOptions>): Promise<Written> {
  const sink = new MemorySink();
  const w = await DataWriter.create(sink, dataWriterOptions(over));
  const rows: number[] = [];
  for (const bytes of contents()) {
    const copy = bytes.slice(); // a writer may keep a view of what it was given
    rows.push(
      fast
        ? await w.write(source(copy), () => {}, [copy])
        : await w.writeFile(source(copy), () => {}, source(copy).read()),
    );
  }
  await w.finish();
  const f = w.files;
  return {
    image: await sink.readAt(0, sink.position),
    rows: rows.map((r) => [
      f.fileSize.get(r),
      f.fragment.get(r),
      f.fragmentOffset.get(r),
      f.blocksStart.get(r),
      f.blockCount.get(r),
      f.sparse.get(r),
      ...Array.from({ length: f.blockCount.get(r) }, (_, i) => f.sizeWord(r, i)),
    ]),
    fragments: w.fragmentTable,
    stats: w.stats,
  };
}

describe('the small-file path', () => {
  const gzip = { name: 'gzip' } as const;
  const settings: [string, () => Partial<DataWriterOptions>][] = [
    ['uncompressed', () => ({})],
    [
      'gzip, inline',
      () => {
        const pool = createBlockCompressor(gzip, BLOCK, 0);
        return {
          dataCompressor: pool,
          fragmentCompressor: pool,
          decompressor: createCompressor(gzip, BLOCK),
        };
      },
    ],
    ['without duplicate detection', () => ({ duplicates: false })],
    ['with -always-use-fragments', () => ({ fragments: 'always' })],
    ['without sparse blocks', () => ({ sparse: false })],
    ['with one block in flight', () => ({ inFlight: 1 })],
  ];
  for (const [name, over] of settings) {
    it(`stores every file as the general path does: ${name}`, async () => {
      const fast = await writeAll(true, over());
      const general = await writeAll(false, over());
      expect(fast.rows).toEqual(general.rows);
      expect(fast.fragments).toEqual(general.fragments);
      expect(fast.stats).toEqual(general.stats);
      expect(Buffer.compare(fast.image, general.image)).toBe(0);
    });
  }

  it('returns the row itself, not a promise, while the open fragment block has room', async () => {
    const w = await DataWriter.create(new MemorySink(), dataWriterOptions());
    const a = distinct(1000, 1);
    const b = distinct(1000, 2);
    const first = w.write(source(a), () => {}, [a]);
    const second = w.write(source(b), () => {}, [b]);
    expect([first, second]).toEqual([0, 1]);
    // The next does not fit in the block (3 000 of 4 096 bytes): the full block is queued first.
    const c = distinct(3000, 3);
    const third = w.write(source(c), () => {}, [c]);
    expect(third).toBeInstanceOf(Promise);
    expect(await third).toBe(2);
    expect(w.files.fragment.get(2)).toBe(1);
    expect(w.files.fragmentOffset.get(2)).toBe(0);
    await w.finish();
  });
});
