/**
 * A file with the size of an earlier one may be its duplicate, so its blocks are held, copied out
 * of the source's chunks, until its hash is known. The copies go into reused buffers (fresh
 * memory per copy cost a page fault per 4 KiB), and a buffer is reused only once nothing refers
 * to it: the block has been written through a sink that copies, or dropped with a duplicate.
 */
import { describe, expect, it } from 'vitest';
import type { Compressor } from '../../src/squashfs/compress/compressor.js';
import type { BlockCompressor, CompressedBlock } from '../../src/squashfs/compress/pool.js';
import { DATA_SIZE_MASK } from '../../src/squashfs/format/constants.js';
import { MemorySink, type Sink } from '../../src/squashfs/io/sink.js';
import { bytesSource } from '../../src/squashfs/tree.js';
import { DataWriter } from '../../src/squashfs/write/data-writer.js';
import { noise } from '../helpers/compress-samples.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';

const BLOCK = 4096;
const SIZE = 4 * BLOCK;
const FILES = 40;

/**
 * Stores every block "compressed" as a copy of itself (read back through IDENTITY), and records
 * the memory of each block it was given.
 */
class RecordingCompressor implements BlockCompressor {
  /** Where each block given was in memory: its buffer and offset (spares share slabs). */
  private readonly starts = new Map<ArrayBufferLike, Set<number>>();
  blocks = 0;
  record(block: Uint8Array): void {
    let offsets = this.starts.get(block.buffer);
    if (!offsets) this.starts.set(block.buffer, (offsets = new Set()));
    offsets.add(block.byteOffset);
    this.blocks++;
  }
  /** How many different places in memory the blocks were at. */
  get memories(): number {
    return [...this.starts.values()].reduce((n, offsets) => n + offsets.size, 0);
  }
  async compress(block: Uint8Array): Promise<CompressedBlock> {
    this.record(block);
    return { bytes: block.slice(), compressed: true };
  }
  async close(): Promise<void> {}
}
const IDENTITY = { decompress: (block: Uint8Array) => block.slice() } as unknown as Compressor;

/** Same-size files, every third a copy of the one before it; all read back from the sink. */
async function writeCandidates(sink: Sink, compressor: RecordingCompressor) {
  const w = await DataWriter.create(
    sink,
    dataWriterOptions({ dataCompressor: compressor, decompressor: IDENTITY, inFlight: 4 }),
  );
  const contents: Uint8Array[] = [];
  const rows: number[] = [];
  for (let i = 0; i < FILES; i++) {
    const bytes = i % 3 === 2 ? contents[i - 1]!.slice() : noise(SIZE, i + 1);
    contents.push(bytes);
    // A view into a larger chunk, as a host file's read buffer is: not the writer's to keep.
    rows.push(await w.writeFile(bytesSource(bytes), () => {}));
  }
  await w.finish();
  await sink.commit();
  return { w, contents, rows };
}

async function readFile(sink: Sink, w: DataWriter, row: number): Promise<Uint8Array> {
  const data = w.files.get(row);
  const parts: Uint8Array[] = [];
  let at = data.blocksStart;
  for (const word of data.blockSizes) {
    const n = word & DATA_SIZE_MASK;
    parts.push(IDENTITY.decompress(await sink.readAt(at, n), BLOCK));
    at += n;
  }
  return Buffer.concat(parts);
}

describe('held copies of a candidate', () => {
  it('reuse a few buffers, and every file reads back as written', async () => {
    const sink = new MemorySink();
    const compressor = new RecordingCompressor();
    const { w, contents, rows } = await writeCandidates(sink, compressor);
    expect(w.stats.duplicateFiles).toBe(Math.floor(FILES / 3));
    // Files 1, 3, 4, 6, ... (not duplicates) are held and then written: 4 blocks each.
    const written = FILES - w.stats.duplicateFiles;
    expect(compressor.blocks).toBe(written * 4);
    // The first file's 4 blocks are views of its own bytes; every held copy after that comes
    // from the spares, of which only the blocks in flight (4) and one file's held blocks (4)
    // are taken at once. With a fresh buffer per copy this was one place per held block (104).
    expect(compressor.memories).toBeLessThanOrEqual(4 + 4 + 4 + 1);
    for (let i = 0; i < FILES; i++) {
      expect(Buffer.compare(await readFile(sink, w, rows[i]!), contents[i]!)).toBe(0);
    }
  });

  it('are not reused while a sink that keeps references may hold one', async () => {
    // No appendCopies: the sink keeps the views it is given, and reads back from them. Blocks
    // come back uncompressed, so what it keeps is the held buffer itself, which must then never
    // be written into again.
    const kept: Uint8Array[] = [];
    let position = 0;
    const all = () => Buffer.concat(kept);
    const sink: Sink = {
      get position() {
        return position;
      },
      async append(b) {
        kept.push(b);
        position += b.length;
      },
      readAt: async (p, n) => all().subarray(p, p + n),
      rewind: async () => {
        throw new Error('not expected');
      },
      patch: async () => {},
      commit: async () => {},
      abort: async () => {},
    };
    const raw = new RecordingCompressor();
    raw.compress = async (block) => {
      raw.record(block);
      return { bytes: block, compressed: false };
    };
    const { w, contents, rows } = await writeCandidates(sink, raw);
    // The first file: 4 views of its own bytes; every held block after it: memory of its own.
    expect(raw.memories).toBe(4 + (FILES - w.stats.duplicateFiles - 1) * 4);
    for (let i = 0; i < FILES; i++) {
      expect(Buffer.compare(await readFile(sink, w, rows[i]!), contents[i]!)).toBe(0);
    }
  });
});
