/**
 * SharedSlabs: carved views never overlap, stop at the budget, and (with the addon, where the
 * kernel offers transparent huge pages on request) the slabs are backed by huge pages once
 * touched, as the kernel's own accounting in /proc/self/smaps shows.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../src/squashfs/compress/native.js';
import { BlockBuffers, SharedSlabs } from '../../src/squashfs/io/shared-slabs.js';
import { requireFeature } from '../helpers/oracles.js';

const MiB = 1 << 20;

describe('SharedSlabs', () => {
  it('carves views that do not overlap, and nothing past its budget', () => {
    const slabs = new SharedSlabs(5 * MiB, 2 * MiB);
    const views = [MiB, MiB / 2, MiB, MiB, MiB].map((n) => slabs.carve(n)!);
    for (const v of views) expect(v.buffer).toBeInstanceOf(SharedArrayBuffer);
    views.forEach((v, i) => v.fill(i + 1));
    views.forEach((v, i) => expect(v.every((x) => x === i + 1)).toBe(true));
    // 1 + 0.5 in the first slab; the next 1 MiB does not fit there and starts a second.
    expect(views[1]!.buffer).toBe(views[0]!.buffer);
    expect(views[2]!.buffer).not.toBe(views[0]!.buffer);
    expect(slabs.carved).toBe(4.5 * MiB);
    expect(slabs.carve(MiB)).toBeNull(); // 5.5 MiB > 5
    expect(slabs.carve(MiB / 2)).not.toBeNull();
    expect(new SharedSlabs(64 * MiB, 2 * MiB).carve(3 * MiB)).toBeNull(); // larger than a slab
  });
});

describe('BlockBuffers', () => {
  it('reuses what is given back, keeps slab memory always and its own only up to ownSpares', () => {
    const b = new BlockBuffers(MiB, 2 * MiB, 1);
    const [x, y, own1, own2] = [b.take(), b.take(), b.take(), b.take()];
    expect(x.buffer).toBe(y.buffer); // carved from one slab
    expect(x.byteOffset).not.toBe(y.byteOffset);
    expect(own1.buffer.byteLength).toBe(MiB); // the slab budget is spent
    for (const v of [x, y, own1, own2]) b.give(v.subarray(0, 10));
    const again = [b.take(), b.take(), b.take(), b.take()];
    const same = (p: Uint8Array, q: Uint8Array) =>
      p.buffer === q.buffer && p.byteOffset === q.byteOffset && p.length === MiB;
    // Both slab buffers and one of its own come back (whole); the fourth is new memory.
    expect(again.filter((v) => [x, y, own1].some((o) => same(v, o)))).toHaveLength(3);
    expect(again.some((v) => same(v, own2))).toBe(false);
  });
});

const advise = (loadNative() as { adviseHugePages?: (b: Uint8Array) => number } | null)
  ?.adviseHugePages;
const thpPath = '/sys/kernel/mm/transparent_hugepage/enabled';
const thpMode = existsSync(thpPath) ? /\[(\w+)\]/.exec(readFileSync(thpPath, 'utf8'))?.[1] : null;
const describeAdvised = requireFeature(
  'the native addon and transparent huge pages on request',
  typeof advise === 'function' && (thpMode === 'madvise' || thpMode === 'always'),
  advise ? `transparent huge pages are "${thpMode ?? 'not offered'}"` : 'the addon is not built',
);

/** The process's anonymous memory backed by huge pages, in kB, as the kernel counts it. */
function anonHugeKb(): number {
  const smaps = readFileSync('/proc/self/smaps_rollup', 'utf8');
  return Number(/^AnonHugePages:\s+(\d+) kB/m.exec(smaps)?.[1] ?? 0);
}

describeAdvised('huge pages for slabs', () => {
  it('advises the 2 MiB-aligned part of a buffer, and a touched slab is backed by huge pages', () => {
    expect(advise!(new Uint8Array(MiB))).toBe(0); // no aligned 2 MiB inside
    expect(advise!(new Uint8Array(new SharedArrayBuffer(8 * MiB)))).toBeGreaterThanOrEqual(6 * MiB);
    const before = anonHugeKb();
    const slabs = new SharedSlabs(32 * MiB, 32 * MiB);
    const view = slabs.carve(32 * MiB)!;
    view.fill(1);
    // At least part of it: the kernel falls back to small pages where it finds no free 2 MiB.
    expect(anonHugeKb() - before).toBeGreaterThanOrEqual(2048);
  });
});
