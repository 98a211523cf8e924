/**
 * Reads files ahead of the writer, so that waiting for the disk overlaps with hashing, packing
 * and compressing instead of adding to it (mksquashfs has a reader thread for the same reason).
 *
 * Sources are taken strictly in order; each one's `read()` is still called once and its chunks
 * are consumed in order, so the bytes the writer sees are exactly those of a plain sequential
 * read. What changes is only when the reads happen: up to `maxFiles` sources are open at once and
 * at most about `maxBytes` of their chunks wait in memory.
 */
import type { FileSource } from '../tree.js';

interface Slot {
  iterator: AsyncIterator<Uint8Array>;
  chunks: Uint8Array[];
  /** The source has yielded its last chunk. */
  ended: boolean;
  /** A failed read, thrown when the writer reaches this source. */
  failure: { error: unknown } | null;
  /** The read in progress, if any. */
  pulling: Promise<void> | null;
  /** Bytes the source has yet to yield, as announced by its size. */
  remaining: number;
}

/** Largest chunk a pull is assumed to bring, for the memory budget. */
const CHUNK_ESTIMATE = 1 << 20;

export class Prefetcher {
  /** The sources opened and not yet read to the end by the writer (at most maxFiles + 1). */
  private readonly slots = new Map<number, Slot>();
  /** Index of the source the writer reads now (or will read next). */
  private current = 0;
  private buffered = 0;
  private inFlight = 0;

  /**
   * Sources are named by index (0 … count - 1) and fetched with `sourceAt` when opened, so the
   * caller need not build an array of a million sources.
   */
  constructor(
    private readonly count: number,
    private readonly sourceAt: (index: number) => FileSource,
    private readonly maxBytes: number,
    private readonly maxFiles: number,
  ) {}

  /** The chunks of the next source in order. Call once per source, in order. */
  async *read(): AsyncGenerator<Uint8Array> {
    const index = this.current;
    const slot = this.slot(index);
    try {
      for (;;) {
        this.fill();
        const chunk = slot.chunks.shift();
        if (chunk) {
          this.buffered -= chunk.length;
          yield chunk;
          continue;
        }
        if (slot.failure) throw slot.failure.error;
        if (slot.ended) return;
        if (!slot.pulling) this.pull(slot);
        await slot.pulling;
      }
    } finally {
      // Chunks a caller did not take (it stopped early) no longer count against the budget.
      for (const c of slot.chunks.splice(0)) this.buffered -= c.length;
      this.slots.delete(index);
      this.current = index + 1;
      if (!slot.ended) await slot.iterator.return?.();
    }
  }

  /** Ends every source that was opened ahead and not read (after a failure, say). */
  async close(): Promise<void> {
    const open = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(
      open.map(async (s) => {
        await s.pulling;
        if (!s.ended) await s.iterator.return?.();
      }),
    );
  }

  private slot(index: number): Slot {
    let slot = this.slots.get(index);
    if (!slot) {
      const source = this.sourceAt(index);
      slot = {
        iterator: source.read()[Symbol.asyncIterator](),
        chunks: [],
        ended: false,
        failure: null,
        pulling: null,
        remaining: source.size,
      };
      this.slots.set(index, slot);
    }
    return slot;
  }

  /** Starts reads ahead, in source order, while the budget allows. */
  private fill(): void {
    const last = Math.min(this.count, this.current + this.maxFiles);
    for (let i = this.current; i < last; i++) {
      if (this.buffered + this.inFlight >= this.maxBytes) return;
      const slot = this.slot(i);
      if (!slot.pulling && !slot.ended && !slot.failure) this.pull(slot);
    }
  }

  private pull(slot: Slot): void {
    // One byte past the announced size, as a source reads to notice a file that grew.
    const expected = Math.min(CHUNK_ESTIMATE, slot.remaining + 1);
    this.inFlight += expected;
    slot.pulling = slot.iterator.next().then(
      (r) => {
        this.inFlight -= expected;
        slot.pulling = null;
        if (r.done) {
          slot.ended = true;
          return;
        }
        slot.chunks.push(r.value);
        slot.remaining -= r.value.length;
        this.buffered += r.value.length;
      },
      (error: unknown) => {
        this.inFlight -= expected;
        slot.pulling = null;
        slot.failure = { error };
      },
    );
  }
}
