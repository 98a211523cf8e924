/**
 * A possible duplicate from a source that can be read again (FileSource.repeatable, as host files
 * are) is not held in memory while its hash is computed: the writer reads it a second time to
 * compare it with the earlier file, or to store it. The image must be the one the held-copies path
 * writes, byte for byte; a file that changed between the two reads must fail the write; and a
 * duplicate larger than the hold limit must still never be compressed.
 */
import { describe, expect, it } from 'vitest';
import type { Compressor } from '../../src/squashfs/compress/compressor.js';
import type { BlockCompressor, CompressedBlock } from '../../src/squashfs/compress/pool.js';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import type { FileSource } from '../../src/squashfs/tree.js';
import { DataWriter, HOLD_LIMIT } from '../../src/squashfs/write/data-writer.js';
import { distinct } from '../helpers/compress-samples.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';
import { finishPastGate, gatedCompressor, settledAs } from '../helpers/gated-compressor.js';

/**
 * A source over `versions[k]` at its k-th read (the last one after that), in chunks of `chunk`
 * bytes (so that blocks straddle chunks), counting its reads.
 */
function counted(
  versions: Uint8Array[],
  repeatable: boolean,
  chunk = 3000,
): FileSource & { reads: number } {
  const s = {
    size: versions[0]!.length,
    description: 'counted source',
    repeatable,
    reads: 0,
    async *read() {
      const bytes = versions[Math.min(s.reads, versions.length - 1)]!;
      s.reads++;
      for (let at = 0; at < bytes.length; at += chunk) {
        await Promise.resolve();
        yield bytes.slice(at, at + chunk);
      }
    },
  };
  return s;
}

/** Counts the blocks it is given, storing them raw. */
function countingCompressor(): BlockCompressor & { blocks: number } {
  const c = {
    blocks: 0,
    compress(block: Uint8Array): Promise<CompressedBlock> {
      c.blocks++;
      return Promise.resolve({ bytes: block.slice(), compressed: false });
    },
    async close() {},
  };
  return c;
}

/** Writes `contents` in order and returns the sink's bytes and the file table. */
async function write(contents: Uint8Array[], repeatable: boolean, blockSize = 4096, raw = false) {
  const sink = new MemorySink();
  const compressor = countingCompressor();
  const w = await DataWriter.create(
    sink,
    dataWriterOptions({
      blockSize,
      dataCompressor: raw ? null : compressor,
      fragmentCompressor: raw ? null : compressor,
    }),
  );
  const sources = contents.map((c) => counted([c], repeatable));
  for (const s of sources) await w.writeFile(s, () => {});
  await w.finish();
  await sink.commit();
  return {
    bytes: sink.result!,
    rows: contents.map((_, i) => w.files.get(i)),
    reads: sources.map((s) => s.reads),
    compressed: compressor.blocks,
    duplicates: w.stats.duplicateFiles,
  };
}

describe('a possible duplicate that can be read again', () => {
  // Same size: a copy, a file that differs in one byte of its second block, a copy with a zero
  // block in the middle, and one with a sparse tail; a small file and its copy.
  const a = distinct(5 * 4096 + 777, 1);
  const b = a.slice();
  b[4096 + 5]! ^= 1;
  const z = a.slice();
  z.fill(0, 2 * 4096, 3 * 4096);
  const contents = [a, a.slice(), b, z, z.slice(), distinct(900, 2), distinct(900, 2)];

  it('gives the image the held copies give, byte for byte, reading only the candidates again', async () => {
    const held = await write(contents, false);
    const reread = await write(contents, true);
    expect(Buffer.from(reread.bytes).equals(Buffer.from(held.bytes))).toBe(true);
    expect(reread.rows).toEqual(held.rows);
    expect(reread.duplicates).toBe(3);
    expect(reread.compressed).toBe(held.compressed);
    // A candidate with blocks is read twice (to compare, or to store), and a stored file once
    // more for each candidate compared with it, instead of its blocks being read back and
    // decompressed (a and z, by their copies); a small file has nothing but its tail, which is
    // still in memory, so once.
    expect(reread.reads).toEqual([2, 2, 2, 3, 2, 1, 1]);
    expect(held.reads).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it('is read once when blocks are stored raw: the copies cost less than a second read', async () => {
    const raw = await write(contents, true, 4096, true);
    expect(raw.reads).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(raw.duplicates).toBe(3);
    const held = await write(contents, false, 4096, true);
    expect(Buffer.from(raw.bytes).equals(Buffer.from(held.bytes))).toBe(true);
  });

  it('stored raw, a duplicate past the hold limit is written, compared and rewound over', async () => {
    const big = distinct(HOLD_LIMIT + 3 * 65536 + 10, 5);
    const once = await write([big], true, 65536, true);
    const twice = await write([big, big.slice()], true, 65536, true);
    expect(twice.duplicates).toBe(1);
    expect(twice.rows[1]!.blocksStart).toBe(twice.rows[0]!.blocksStart);
    expect(Buffer.from(twice.bytes).equals(Buffer.from(once.bytes))).toBe(true);
  });

  /** A writer that has stored `a`, whose blocks are compressed (so candidates are read twice). */
  async function writerWithA(): Promise<DataWriter> {
    const w = await DataWriter.create(
      new MemorySink(),
      dataWriterOptions({ dataCompressor: countingCompressor() }),
    );
    await w.writeFile(counted([a], true), () => {});
    return w;
  }

  it('fails the write, naming the file, if it changed between the two reads', async () => {
    const w = await writerWithA();
    const changedLater = a.slice();
    changedLater[3 * 4096]! ^= 0xff;
    const source = counted([a.slice(), changedLater], true);
    const err = await w.writeFile(source, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SquashfsError);
    expect((err as SquashfsError).code).toBe('CHANGED_DURING_READ');
    expect((err as SquashfsError).message).toContain('counted source');
  });

  it('fails too when a file that is not a duplicate changed before it was stored', async () => {
    const w = await writerWithA();
    const other = distinct(a.length, 3);
    const changedLater = other.slice();
    changedLater[10]! ^= 0xff;
    const err = await w
      .writeFile(counted([other, changedLater], true), () => {})
      .catch((e: unknown) => e);
    expect((err as SquashfsError).code).toBe('CHANGED_DURING_READ');
  });

  it('never compresses a duplicate, whatever its size (held copies stop at the hold limit)', async () => {
    const big = distinct(HOLD_LIMIT + 3 * 65536 + 10, 4);
    const reread = await write([big, big.slice()], true, 65536);
    const held = await write([big, big.slice()], false, 65536);
    const blocksOfOne = Math.ceil(big.length / 65536);
    expect(reread.duplicates).toBe(1);
    expect(reread.compressed).toBe(blocksOfOne);
    // Past the hold limit, the held path compresses the copy, then rewinds over it.
    expect(held.compressed).toBe(2 * blocksOfOne);
    expect(Buffer.from(reread.bytes).equals(Buffer.from(held.bytes))).toBe(true);
  });
});

describe('an earlier file that can be read again', () => {
  const a = distinct(5 * 4096 + 777, 21);
  const filler = distinct(3 * 4096, 22); // another size: stored first, so `a` is not at 0

  /** Blocks count as compressed but keep their bytes; decompressions are counted. */
  function pretend() {
    const counts = { decompressed: 0 };
    const compressor: BlockCompressor = {
      compress: (block: Uint8Array) => Promise.resolve({ bytes: block.slice(), compressed: true }),
      close: async () => {},
    };
    const decompressor = {
      decompress(block: Uint8Array) {
        counts.decompressed++;
        return block;
      },
    } as unknown as Compressor;
    return { counts, options: { dataCompressor: compressor, decompressor } };
  }

  it('is read again to confirm a copy, not read back and decompressed', async () => {
    const { counts, options } = pretend();
    const w = await DataWriter.create(new MemorySink(), dataWriterOptions(options));
    await w.writeFile(counted([filler], true), () => {});
    const original = counted([a], true);
    await w.writeFile(original, () => {});
    const copy = await w.writeFile(counted([a.slice()], true), () => {});
    await w.finish();
    expect(w.stats.duplicateFiles).toBe(1);
    expect(counts.decompressed).toBe(0);
    expect(original.reads).toBe(2);
    expect(w.files.get(copy)).toEqual(w.files.get(1));
  });

  it('that now reads otherwise is compared by its stored blocks, which decide', async () => {
    const { counts, options } = pretend();
    const w = await DataWriter.create(new MemorySink(), dataWriterOptions(options));
    const changed = a.slice();
    changed[4096 + 1]! ^= 0xff;
    const original = counted([a, changed], true); // changed on disk once stored
    await w.writeFile(original, () => {});
    const copy = await w.writeFile(counted([a.slice()], true), () => {});
    await w.finish();
    expect(original.reads).toBe(2);
    expect(counts.decompressed).toBeGreaterThan(0);
    expect(w.stats.duplicateFiles).toBe(1); // the copy equals what was stored
    expect(w.files.get(copy)).toEqual(w.files.get(0));
  });

  it('confirms a copy before its own blocks are written, and the copy still gets their position', async () => {
    const gate = gatedCompressor();
    const w = await DataWriter.create(
      new MemorySink(),
      dataWriterOptions({ dataCompressor: gate, inFlight: 64 }),
    );
    await w.writeFile(counted([filler], true), () => {});
    await w.writeFile(counted([a], true), () => {});
    expect(gate.pending()).toBe(3 + 6); // nothing of either is written yet
    const copy = w.writeFile(counted([a.slice()], true), () => {});
    const outcome = await settledAs(copy, 'confirmed');
    expect(outcome).toBe('confirmed');
    await finishPastGate(w, gate);
    expect(w.stats.duplicateFiles).toBe(1);
    expect(w.files.get(1).blocksStart).toBe(3 * 4096);
    expect(w.files.get(await copy)).toEqual(w.files.get(1));
  });
});
