/**
 * What the data writer leaves in its output queue per file. A marker (a closure and a queue
 * entry) waits there behind the blocks queued before it; on a tree of small files that was long
 * enough for two markers a file to reach V8's old generation, and the 1 000 000-file scale run
 * peaked at 1027 MiB RSS (776 MiB without them).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { bytesSource } from '../../src/squashfs/tree.js';
import { DataWriter } from '../../src/squashfs/write/data-writer.js';
import { OrderedOutput } from '../../src/squashfs/write/ordered-output.js';
import { distinct } from '../helpers/compress-samples.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('markers in the output queue', () => {
  it('a file with no blocks (fragment only, or empty) queues none, and keeps blocksStart 0', async () => {
    const markers = vi.spyOn(OrderedOutput.prototype, 'marker');
    const w = await DataWriter.create(new MemorySink(), dataWriterOptions());
    const rows: number[] = [];
    for (let i = 0; i < 500; i++)
      rows.push(await w.writeFile(bytesSource(distinct(700, i)), () => {}));
    rows.push(await w.writeFile(bytesSource(new Uint8Array(0)), () => {}));
    expect(markers).not.toHaveBeenCalled();
    await w.finish();
    for (const row of rows) expect(w.files.get(row).blocksStart).toBe(0);
  });

  it('a file with blocks still gets where they start, all-sparse ones included', async () => {
    const w = await DataWriter.create(new MemorySink(), dataWriterOptions());
    await w.writeFile(bytesSource(distinct(700, 1)), () => {}); // fragment only
    const withBlocks = await w.writeFile(bytesSource(distinct(2 * 4096 + 10, 2)), () => {});
    const sparse = await w.writeFile(bytesSource(new Uint8Array(3 * 4096)), () => {});
    const after = await w.writeFile(bytesSource(distinct(4096, 3)), () => {});
    await w.finish();
    expect(w.files.get(withBlocks).blocksStart).toBe(0);
    // Two blocks and a 10-byte last block stored raw (nothing compresses here), then nothing.
    expect(w.files.get(sparse).blocksStart).toBe(2 * 4096 + 10);
    expect(w.files.get(after).blocksStart).toBe(2 * 4096 + 10);
  });
});
