/**
 * RepeatedSizes (which file sizes more than one file has) and the data writer's use of it: a
 * file of a size no other file has is not hashed, so it is never matched as a duplicate.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { bytesSource } from '../../src/squashfs/tree.js';
import { DataWriter } from '../../src/squashfs/write/data-writer.js';
import { RepeatedSizes } from '../../src/squashfs/write/repeated-sizes.js';
import { dataWriterOptions } from '../helpers/data-writer-options.js';

describe('RepeatedSizes', () => {
  it('has() is true exactly for the sizes that occur more than once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.nat(2 ** 40)), { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 14 }), { maxLength: 20 }),
        (sizes, probes) => {
          const counts = new Map<number, number>();
          for (const s of sizes) counts.set(s, (counts.get(s) ?? 0) + 1);
          const r = RepeatedSizes.of(sizes.length, (i) => sizes[i]!);
          for (const s of [...sizes, ...probes]) {
            expect(r.has(s)).toBe((counts.get(s) ?? 0) > 1);
          }
          expect(r.count).toBe([...counts.values()].filter((n) => n > 1).length);
        },
      ),
    );
  });

  it('counts a size once however often it repeats', () => {
    const sizes = [5, 5, 5, 5, 7, 1, 7, 9];
    const r = RepeatedSizes.of(sizes.length, (i) => sizes[i]!);
    expect(r.count).toBe(2);
    expect([1, 5, 7, 9, 0].map((s) => r.has(s))).toEqual([false, true, true, false, false]);
  });
});

describe('the data writer with repeatedSizes', () => {
  const content = new Uint8Array(5000).map((_, i) => (i * 31) & 0xff);
  const write = async (repeated: RepeatedSizes | undefined) => {
    const w = await DataWriter.create(
      new MemorySink(),
      dataWriterOptions({ repeatedSizes: repeated }),
    );
    await w.writeFile(bytesSource(content), () => {});
    await w.writeFile(bytesSource(content.slice()), () => {});
    await w.finish();
    return w.stats.duplicateFiles;
  };

  it('matches two equal files when their size is listed as repeated, and without the list', async () => {
    expect(await write(RepeatedSizes.of(2, () => content.length))).toBe(1);
    expect(await write(undefined)).toBe(1);
  });

  it('does not hash, and so does not match, files of a size listed as unique', async () => {
    // A list that lies (5000 is not in it) shows that the writer trusts it and hashes nothing.
    expect(await write(RepeatedSizes.of(2, (i) => 5000 + i))).toBe(0);
  });
});
