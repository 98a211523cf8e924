/**
 * How the data writer confirms a duplicate of a small (all-fragment) file: it must not wait for
 * the earlier file's turn in the output, and it must not read back and decompress the same
 * fragment block again for every further copy of a popular content.
 */
import { describe, expect, it } from 'vitest';
import type { Compressor } from '../../src/squashfs/compress/compressor.js';
import type { BlockCompressor, CompressedBlock } from '../../src/squashfs/compress/pool.js';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { bytesSource, type FileSource } from '../../src/squashfs/tree.js';
import { DataWriter, FRAGMENT_CACHE_BYTES } from '../../src/squashfs/write/data-writer.js';
import { distinct } from '../helpers/compress-samples.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';
import { finishPastGate, gatedCompressor, settledAs } from '../helpers/gated-compressor.js';

const MiB = 1 << 20;

/** A MemorySink that counts read-backs. */
class CountingSink extends MemorySink {
  reads = 0;
  bytesRead = 0;
  override async readAt(position: number, length: number): Promise<Uint8Array> {
    this.reads++;
    this.bytesRead += length;
    return super.readAt(position, length);
  }
}

const options = dataWriterOptions;

describe('confirming a duplicate of a small file', () => {
  it('does not wait for blocks queued before the earlier copy (regression: settle() stalled the pipeline)', async () => {
    const gate = gatedCompressor();
    const sink = new MemorySink();
    const w = await DataWriter.create(
      sink,
      options({ dataCompressor: gate, fragmentCompressor: gate }),
    );
    // A large file whose blocks stay in compression, then a small file and a copy of it.
    const large = w.writeFile(bytesSource(distinct(3 * 4096, 1)), () => {});
    await large;
    expect(gate.pending()).toBe(3);
    const small = distinct(1000, 2);
    const first = await w.writeFile(bytesSource(small), () => {});
    const copy = w.writeFile(bytesSource(small.slice()), () => {});
    const outcome = await settledAs(copy, 'confirmed');
    expect(outcome).toBe('confirmed');
    expect(gate.pending()).toBe(3); // nothing had to be written to confirm it
    expect(w.stats.duplicateFiles).toBe(1);
    expect(w.files.fragment.get(await copy)).toBe(w.files.fragment.get(first));
    expect(w.files.fragmentOffset.get(await copy)).toBe(w.files.fragmentOffset.get(first));
    await finishPastGate(w, gate);
  });

  it('takes an all-zero small file for a duplicate without waiting for the output (regression: each one drained the compression queue)', async () => {
    const gate = gatedCompressor();
    const sink = new MemorySink();
    const w = await DataWriter.create(
      sink,
      options({ dataCompressor: gate, fragmentCompressor: gate }),
    );
    // mksquashfs's rule: a zero-filled small file is a duplicate of the last one stored only once
    // a fragment of its size has been stored. A small file of that size, a large file whose
    // blocks stay in compression, a zero-filled small file placed after them, then another.
    await w.writeFile(bytesSource(distinct(1000, 3)), () => {});
    await w.writeFile(bytesSource(distinct(3 * 4096, 4)), () => {});
    const first = await w.writeFile(bytesSource(new Uint8Array(1000)), () => {});
    expect(gate.pending()).toBe(3);
    const copy = w.writeFile(bytesSource(new Uint8Array(1000)), () => {});
    const outcome = await settledAs(copy, 'shared');
    expect(outcome).toBe('shared');
    expect(gate.pending()).toBe(3);
    expect(w.stats.duplicateFiles).toBe(1);
    await finishPastGate(w, gate);
    // Its blocksStart is the first one's, set once the output reached it: after the large file.
    expect(w.files.blocksStart.get(first)).toBe(3 * 4096);
    expect(w.files.blocksStart.get(await copy)).toBe(3 * 4096);
  });

  it('reads a fragment block back once for many copies of a content whose block had left the cache', async () => {
    const sink = new CountingSink();
    const w = await cachingWriter(sink);
    // 20 originals, each alone in its 1 MiB fragment block.
    const originals = Array.from({ length: 20 }, (_, i) => distinct(900 * 1024, 100 + i));
    for (const o of originals) await w.writeFile(bytesSource(o), () => {});
    // Other small files, two to a block, push every original's block out of the cache.
    await writeOthers(w, FRAGMENT_CACHE_BYTES + 8 * MiB, 1000);
    const before = sink.reads;
    for (const o of originals) await w.writeFile(bytesSource(o.slice()), () => {});
    const firstRound = sink.reads - before;
    for (const o of originals) await w.writeFile(bytesSource(o.slice()), () => {});
    const secondRound = sink.reads - before - firstRound;
    expect(w.stats.duplicateFiles).toBe(40);
    expect(firstRound).toBe(20); // each original's fragment block, once
    // The 20 blocks read back (20 MiB) stay in the cache: none is read again.
    expect(20 * MiB).toBeLessThan(FRAGMENT_CACHE_BYTES);
    expect(secondRound).toBe(0);
    await w.finish();
  });

  it('keeps a tail that had a duplicate after its block has left the cache', async () => {
    const sink = new CountingSink();
    const w = await cachingWriter(sink);
    const popular = distinct(3000, 7);
    await w.writeFile(bytesSource(popular), () => {});
    await w.writeFile(bytesSource(popular.slice()), () => {}); // confirmed from the open block
    await writeOthers(w, FRAGMENT_CACHE_BYTES + 8 * MiB, 5000);
    const before = sink.reads;
    await w.writeFile(bytesSource(popular.slice()), () => {});
    expect(w.stats.duplicateFiles).toBe(2);
    expect(sink.reads - before).toBe(0);
    // A content without an earlier duplicate is confirmed by reading its block back.
    const lonely = distinct(3000, 8);
    const sink2 = new CountingSink();
    const w2 = await cachingWriter(sink2);
    await w2.writeFile(bytesSource(lonely), () => {});
    await writeOthers(w2, FRAGMENT_CACHE_BYTES + 8 * MiB, 9000);
    const before2 = sink2.reads;
    await w2.writeFile(bytesSource(lonely.slice()), () => {});
    expect(w2.stats.duplicateFiles).toBe(1);
    expect(sink2.reads - before2).toBe(1);
    await w.finish();
    await w2.finish();
  });
});

describe('confirming a duplicate of a small file whose source can be read again', () => {
  /** An in-memory source that says it is repeatable, counts its reads, and can be changed. */
  function rereadableSource(bytes: Uint8Array): FileSource & { reads: number; bytes: Uint8Array } {
    return {
      size: bytes.length,
      description: 'rereadable',
      repeatable: true,
      reads: 0,
      bytes,
      async *read() {
        this.reads++;
        yield this.bytes;
      },
    };
  }

  it('reads the earlier file again instead of reading back its compressed fragment block', async () => {
    const sink = new CountingSink();
    const w = await cachingWriter(sink);
    const original = rereadableSource(distinct(3000, 11));
    await w.writeFile(original, () => {});
    await writeOthers(w, FRAGMENT_CACHE_BYTES + 8 * MiB, 11_000); // its block leaves the cache
    const before = sink.reads;
    const copy = await w.writeFile(bytesSource(original.bytes.slice()), () => {});
    expect(w.stats.duplicateFiles).toBe(1);
    expect(w.files.fragmentOffset.get(copy)).toBe(w.files.fragmentOffset.get(0));
    expect(sink.reads - before).toBe(0); // nothing read back from the image
    expect(original.reads).toBe(2);
    await w.finish();
  });

  it('uses the stored copy when the earlier file now reads otherwise', async () => {
    const sink = new CountingSink();
    const w = await cachingWriter(sink);
    const stored = distinct(3000, 12);
    const original = rereadableSource(stored.slice());
    await w.writeFile(original, () => {});
    await writeOthers(w, FRAGMENT_CACHE_BYTES + 8 * MiB, 12_000);
    original.bytes = distinct(3000, 13); // changed on disk after it was stored
    const before = sink.reads;
    const copy = await w.writeFile(bytesSource(stored.slice()), () => {});
    // Its stored bytes are what the image holds, and the copy equals them: still a duplicate,
    // confirmed against the block read back.
    expect(w.stats.duplicateFiles).toBe(1);
    expect(w.files.fragment.get(copy)).toBe(w.files.fragment.get(0));
    expect(sink.reads - before).toBe(1);
    expect(original.reads).toBe(2);
    await w.finish();
  });
});

describe('confirming a duplicate against a raw fragment block', () => {
  it('reads back only the earlier tail, and keeps no block', async () => {
    const sink = new CountingSink();
    const w = await DataWriter.create(sink, options({ blockSize: MiB, inFlight: 2 }));
    const lonely = distinct(3000, 8);
    await w.writeFile(bytesSource(lonely), () => {});
    await writeOthers(w, 4 * MiB, 9000);
    for (let copy = 1; copy <= 2; copy++) {
      const before = { reads: sink.reads, bytes: sink.bytesRead };
      await w.writeFile(bytesSource(lonely.slice()), () => {});
      expect(w.stats.duplicateFiles).toBe(copy);
      if (copy === 1) {
        expect(sink.reads - before.reads).toBe(1);
        expect(sink.bytesRead - before.bytes).toBe(3000); // the tail, not its 1 MiB block
      } else {
        expect(sink.reads - before.reads).toBe(0); // the confirmed tail is kept
      }
    }
    await w.finish();
  });
});

/** 1 MiB blocks, fragment blocks "compressed" (so cached), few blocks in flight. */
function cachingWriter(sink: CountingSink): Promise<DataWriter> {
  return DataWriter.create(
    sink,
    options({
      blockSize: MiB,
      fragmentCompressor: new PretendCompressor(),
      decompressor: KEEPS_BYTES,
      inFlight: 2,
    }),
  );
}

/**
 * Distinct small files of 512 KiB (two to a 1 MiB fragment block), `bytes` of them in all. To
 * push a block out of the cache, write the cache's size and a few blocks more: the last blocks
 * are still open or in flight, not yet in the cache.
 */
async function writeOthers(w: DataWriter, bytes: number, seed: number): Promise<void> {
  for (let i = 0; i * 512 * 1024 < bytes; i++) {
    await w.writeFile(bytesSource(distinct(512 * 1024, seed + i)), () => {});
  }
}

/**
 * A fragment "compressor" whose blocks count as compressed while keeping their bytes (read back
 * through KEEPS_BYTES): the writer caches fragment blocks only when they are compressed, as
 * a raw one is read back with one pread and nothing to decode.
 */
const KEEPS_BYTES = { decompress: (block: Uint8Array) => block } as unknown as Compressor;

class PretendCompressor implements BlockCompressor {
  async compress(block: Uint8Array): Promise<CompressedBlock> {
    return { bytes: block.slice(), compressed: true };
  }
  async close(): Promise<void> {}
}
