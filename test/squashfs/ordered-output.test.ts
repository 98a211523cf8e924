/** OrderedOutput: queue order on disk whatever order compression finishes in, and tickets. */
import { describe, expect, it } from 'vitest';
import { MemorySink } from '../../src/squashfs/io/sink.js';
import { OrderedOutput, type Stored } from '../../src/squashfs/write/ordered-output.js';

function later(bytes: number[], ms: number): Promise<Stored> {
  return new Promise((resolve) =>
    setTimeout(() => resolve({ bytes: Uint8Array.from(bytes), compressed: true }), ms),
  );
}

describe('OrderedOutput', () => {
  it('writes in queue order and numbers entries 0, 1, 2, ... across queue compaction', async () => {
    const sink = new MemorySink();
    const out = new OrderedOutput(sink, 2);
    const positions: number[] = [];
    const tickets: number[] = [];
    for (let i = 0; i < 1500; i++) {
      // Later blocks finish first: the sink must still see them in queue order.
      const t =
        i % 3 === 2
          ? out.marker((p) => positions.push(p))
          : await out.block(later([i & 0xff], i % 2 === 0 ? 1 : 0), (p) => positions.push(p));
      tickets.push(t);
    }
    expect(tickets).toEqual(tickets.map((_, i) => i));
    await out.drain();
    expect(positions).toEqual(positions.slice().sort((a, b) => a - b));
    expect(positions.length).toBe(1500);
    expect(sink.position).toBe(1000);
  });

  it('settles up to a ticket and reports which entries are written', async () => {
    const sink = new MemorySink();
    const out = new OrderedOutput(sink, 100);
    const a = await out.block(later([1, 2], 5), () => undefined);
    const m = out.marker(() => undefined);
    const b = await out.block(later([3], 1), () => undefined);
    expect(out.isWritten(a)).toBe(false);
    await out.settle(m);
    expect(out.isWritten(a)).toBe(true);
    expect(out.isWritten(m)).toBe(true);
    expect(out.isWritten(b)).toBe(false);
    expect(sink.position).toBe(2);
    await out.drain();
    expect(out.isWritten(b)).toBe(true);
    expect(sink.position).toBe(3);
  });
});
