/**
 * Stored raw, a possible duplicate's blocks are held as views of the source's chunks, not copied,
 * and those chunks go back to the source (FileSource.recycle) only once the blocks are written or
 * the file turns out to be a duplicate. A source here poisons a chunk the moment it gets it back
 * and reuses it for its next read, so a chunk given back too early shows in the image; and every
 * chunk must be given back in the end.
 */
import { describe, expect, it } from 'vitest';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import type { FileSource } from '../../src/squashfs/tree.js';
import { DataWriter, HOLD_LIMIT } from '../../src/squashfs/write/data-writer.js';
import { distinct } from '../helpers/compress-samples.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';

const BLOCK = 4096;
const CHUNK = 2 * BLOCK;

/** Chunks handed out and not yet given back, over all sources of one write. */
interface Lending {
  free: Uint8Array[];
  out: Set<Uint8Array>;
}

/** A source over `bytes` in chunks of CHUNK, from buffers `lending` reuses once given back. */
function recycling(bytes: Uint8Array, lending: Lending | null): FileSource {
  return {
    size: bytes.length,
    description: 'recycling source',
    repeatable: true,
    async *read() {
      for (let at = 0; at < bytes.length; at += CHUNK) {
        await Promise.resolve();
        const part = bytes.subarray(at, at + CHUNK);
        if (!lending) {
          yield part.slice();
          continue;
        }
        const buffer = lending.free.pop() ?? new Uint8Array(CHUNK);
        buffer.set(part);
        const chunk = buffer.subarray(0, part.length);
        lending.out.add(buffer);
        yield chunk;
      }
    },
    recycle: lending
      ? (chunk: Uint8Array) => {
          const lent = [...lending.out].find((b) => b.buffer === chunk.buffer);
          if (!lent) throw new Error('a chunk given back twice, or never lent');
          lending.out.delete(lent);
          lent.fill(0xee);
          lending.free.push(lent);
        }
      : undefined,
  };
}

async function writeRaw(contents: Uint8Array[], lending: Lending | null) {
  const sink = new MemorySink();
  const w = await DataWriter.create(
    sink,
    dataWriterOptions({ blockSize: BLOCK, dataCompressor: null, fragmentCompressor: null }),
  );
  for (const c of contents) await w.writeFile(recycling(c, lending), () => {});
  await w.finish();
  await sink.commit();
  return { bytes: Buffer.from(sink.result!), duplicates: w.stats.duplicateFiles };
}

describe('held blocks of a raw candidate', () => {
  it('are views of chunks given back only once written or dropped', async () => {
    // Same size: an original, one that differs in its last block (held, then written), a copy
    // of the first (held, then dropped), and a third kind; all with a tail.
    const a = distinct(7 * BLOCK + 100, 1);
    const b = a.slice();
    b[6 * BLOCK + 1]! ^= 1;
    const c = distinct(a.length, 2);
    const contents = [a, b, a.slice(), c];
    const lending: Lending = { free: [], out: new Set() };
    const recycled = await writeRaw(contents, lending);
    const plain = await writeRaw(contents, null);
    expect(recycled.duplicates).toBe(1);
    expect(recycled.bytes.equals(plain.bytes)).toBe(true);
    expect(lending.out.size).toBe(0);
  });

  it('past the hold limit are written, and the chunks held until then are given back', async () => {
    const big = distinct(HOLD_LIMIT + 3 * CHUNK + 10, 3);
    const other = distinct(big.length, 4);
    const lending: Lending = { free: [], out: new Set() };
    const recycled = await writeRaw([big, other, big.slice()], lending);
    const plain = await writeRaw([big, other, big.slice()], null);
    expect(recycled.duplicates).toBe(1);
    expect(recycled.bytes.equals(plain.bytes)).toBe(true);
    expect(lending.out.size).toBe(0);
  });
});
