/**
 * The read-ahead in front of the writer: it must hand over exactly the bytes of a sequential
 * read, report a failing source when the writer reaches it (with that source's own error), keep
 * to its file and byte budgets, and close every source it opened.
 */
import { describe, expect, it } from 'vitest';
import type { FileSource } from '../../src/squashfs/tree.js';
import { Prefetcher } from '../../src/squashfs/write/prefetch.js';

interface Probe {
  open: number;
  maxOpen: number;
  closed: number;
}

/** A source that yields `size` bytes in chunks of `chunk`, tracking how many are open. */
function source(id: number, size: number, chunk: number, probe: Probe, failAt = -1): FileSource {
  return {
    size,
    description: `source ${id}`,
    async *read() {
      probe.open++;
      probe.maxOpen = Math.max(probe.maxOpen, probe.open);
      try {
        for (let at = 0; at < size; at += chunk) {
          await new Promise((r) => setImmediate(r));
          if (failAt >= 0 && at >= failAt) throw new Error(`source ${id} failed at ${at}`);
          const n = Math.min(chunk, size - at);
          const bytes = new Uint8Array(n);
          for (let i = 0; i < n; i++) bytes[i] = (id * 31 + at + i) & 0xff;
          yield bytes;
        }
      } finally {
        probe.open--;
        probe.closed++;
      }
    },
  };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const c of chunks) out.push(...c);
  return out;
}

describe('Prefetcher', () => {
  it('hands over exactly the bytes of a sequential read, within its file budget', async () => {
    const probe: Probe = { open: 0, maxOpen: 0, closed: 0 };
    const sizes = Array.from({ length: 120 }, (_, i) => (i * 7919) % 5000);
    const sources = sizes.map((s, i) => source(i, s, 1 + (i % 700), probe));
    const expected = await Promise.all(
      sizes.map((s, i) => collect(source(i, s, 997, { open: 0, maxOpen: 0, closed: 0 }).read())),
    );
    probe.maxOpen = 0;
    const ahead = new Prefetcher(sources.length, (i) => sources[i]!, 20_000, 8);
    for (let i = 0; i < sources.length; i++) {
      expect(await collect(ahead.read()), `source ${i}`).toEqual(expected[i]);
    }
    await ahead.close();
    expect(probe.maxOpen).toBeLessThanOrEqual(8);
    expect(probe.maxOpen).toBeGreaterThan(1); // it did read ahead
    expect(probe.open).toBe(0);
    expect(probe.closed).toBe(sources.length);
  });

  it('reports a failing source when the writer reaches it, with its own error', async () => {
    const probe: Probe = { open: 0, maxOpen: 0, closed: 0 };
    const sources = [
      source(0, 3000, 1000, probe),
      source(1, 3000, 1000, probe, 1000),
      source(2, 3000, 1000, probe),
      source(3, 3000, 1000, probe),
    ];
    const ahead = new Prefetcher(sources.length, (i) => sources[i]!, 1 << 20, 4);
    expect((await collect(ahead.read())).length).toBe(3000);
    // Source 1 has already failed in the background by now; the error comes with its read.
    await new Promise((r) => setTimeout(r, 20));
    await expect(collect(ahead.read())).rejects.toThrow('source 1 failed at 1000');
    // The writer gives up: everything opened ahead is closed.
    await ahead.close();
    expect(probe.open).toBe(0);
  });

  it('reads a source that can be read whole ahead too, and hands it over as an array', async () => {
    const started: number[] = [];
    const whole = (id: number, size: number, fail = false): FileSource => ({
      size,
      description: `whole ${id}`,
      read: () => {
        throw new Error('read() must not be called for a source read whole');
      },
      readWhole: () => {
        started.push(id);
        const bytes = new Uint8Array(size).fill(id);
        return new Promise((resolve, reject) =>
          setImmediate(() => (fail ? reject(new Error(`whole ${id} failed`)) : resolve(bytes))),
        );
      },
    });
    const probe: Probe = { open: 0, maxOpen: 0, closed: 0 };
    // Whole sources (one empty, one failing) mixed with iterated ones.
    const sources = [
      whole(0, 100),
      source(1, 3000, 1000, probe),
      whole(2, 0),
      whole(3, 50, true),
      whole(4, 70),
    ];
    const ahead = new Prefetcher(sources.length, (i) => sources[i]!, 1 << 20, 8);
    const first = ahead.next();
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual([new Uint8Array(100).fill(0)]);
    // It read ahead: every whole source was started before the writer reached it.
    expect(started).toEqual([0, 2, 3, 4]);
    const second = ahead.next();
    expect(second).not.toBeInstanceOf(Promise);
    expect((await collect(second as AsyncIterable<Uint8Array>)).length).toBe(3000);
    expect(await ahead.next()).toEqual([]);
    await expect(ahead.next()).rejects.toThrow('whole 3 failed');
    expect(await ahead.next()).toEqual([new Uint8Array(70).fill(4)]);
    await ahead.close();
    expect(probe.open).toBe(0);
  });

  it('hands over a source whose bytes were at hand at once without a promise', async () => {
    const started: number[] = [];
    const atOnce = (id: number, size: number): FileSource => ({
      size,
      description: `at once ${id}`,
      read: () => {
        throw new Error('read() must not be called for a source read whole');
      },
      readWhole: () => {
        started.push(id);
        return new Uint8Array(size).fill(id + 1);
      },
    });
    const failing: FileSource = {
      size: 10,
      description: 'failing',
      read: () => {
        throw new Error('read() must not be called for a source read whole');
      },
      readWhole: () => Promise.reject(new Error('failing failed')),
    };
    const sources = [atOnce(0, 300), atOnce(1, 0), failing, atOnce(3, 400), atOnce(4, 500)];
    // Room for 400 bytes ahead: source 4 waits until the writer has taken source 3.
    const ahead = new Prefetcher(sources.length, (i) => sources[i]!, 400, 8);
    const first = ahead.next();
    expect(first).toEqual([new Uint8Array(300).fill(1)]);
    expect(started).toEqual([0, 1, 3]);
    expect(ahead.next()).toEqual([]);
    await expect(ahead.next()).rejects.toThrow('failing failed');
    expect(ahead.next()).toEqual([new Uint8Array(400).fill(4)]);
    expect(started).toEqual([0, 1, 3, 4]);
    expect(ahead.next()).toEqual([new Uint8Array(500).fill(5)]);
    await ahead.close();
  });

  it('hands over a source read on another thread without a promise, and collects every such read', async () => {
    const started: number[] = [];
    const waited: number[] = [];
    const pending = (id: number, size: number, fail = false): FileSource => ({
      size,
      description: `pending ${id}`,
      read: () => {
        throw new Error('read() must not be called for a source read whole');
      },
      readWhole: () => {
        started.push(id);
        return {
          wait: () => {
            waited.push(id);
            if (fail) throw new Error(`pending ${id} failed`);
            return new Uint8Array(size).fill(id + 1);
          },
        };
      },
    });
    const sources = [pending(0, 300), pending(1, 0), pending(2, 10, true), pending(3, 400)];
    sources.push(pending(4, 500), pending(5, 600));
    // Room for 400 bytes ahead, counted by the sizes the reads will bring.
    const ahead = new Prefetcher(sources.length, (i) => sources[i]!, 400, 8);
    expect(ahead.next()).toEqual([new Uint8Array(300).fill(1)]);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(ahead.next()).toEqual([]);
    // The failure is the writer's when it reaches that source, as for a promise.
    await expect(ahead.next()).rejects.toThrow('pending 2 failed');
    expect(ahead.next()).toEqual([new Uint8Array(400).fill(4)]);
    expect(waited).toEqual([0, 1, 2, 3]);
    // The writer stops here: close() still collects the read started ahead (source 4).
    expect(started).toEqual([0, 1, 2, 3, 4]);
    await ahead.close();
    expect(waited).toEqual([0, 1, 2, 3, 4]);
  });

  it('closes a source the writer stopped reading early', async () => {
    const probe: Probe = { open: 0, maxOpen: 0, closed: 0 };
    const ahead = new Prefetcher(1, () => source(0, 10_000, 100, probe), 1 << 20, 4);
    const chunks = ahead.read();
    expect((await chunks.next()).done).toBe(false);
    await chunks.return(undefined); // what a for-await loop's break does
    await ahead.close();
    expect(probe.open).toBe(0);
    expect(probe.closed).toBe(1);
  });
});
