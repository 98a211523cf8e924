/**
 * Reusable read buffers for host files. A fresh buffer per read cost more than the read itself:
 * a large allocation is new memory, and its first touch is a page fault per 4 KiB. On
 * binaries-120M that was most of the hashing time and of the main thread's wait for reads
 * (reading a corpus into fresh 1 MiB buffers: 350 ms; into one reused buffer: 37 ms).
 *
 * Buffers come in power-of-two sizes from MIN_POOLED to the largest read; a read smaller than
 * MIN_POOLED gets a plain allocation (small ones come from Node's own slab). A buffer is only
 * reused after whoever read into it has given it back with `give()`, which a consumer does only
 * once nothing refers to the chunk any more (see FileSource.recycle); a chunk never given back is
 * simply collected. New memory is carved out of slabs advised for huge pages (shared-slabs.ts),
 * up to `maxBytes`, which is kept for reuse; beyond that a buffer is memory of its own, and at
 * most `maxBytes` of free buffers are kept.
 *
 * The memory is shared (SharedArrayBuffer), so a compression worker can read a block of it in
 * place: a block of a plain buffer had to be copied on the main thread before it could be sent
 * (on binaries-120M at gzip 128K, about a quarter of the main thread's time).
 */

import { SharedSlabs } from '../squashfs/io/shared-slabs.js';

/**
 * Smallest read served from the pool: Node's allocUnsafe serves reads below 4 KiB from its own
 * slab, and each larger one was a new ArrayBuffer (on small-20000 about 230 ms of the main thread,
 * plus the collector's work, while pooled they cost nothing).
 */
export const MIN_POOLED = 4 << 10;

/**
 * Smallest size class carved out of slabs. Smaller buffers are memory of their own, as before the
 * slabs: their first touch is a few pages, and on small-20000 (20 000 reads, mostly under 16 KiB)
 * carving them was slower (1.56 s against 1.67 s, 11 alternating runs) for no fault saved.
 */
export const MIN_SLAB_CLASS = 64 << 10;

/** Free memory of one size class: parallel lists of buffers and offsets, so no view is made. */
interface FreeList {
  memory: SharedArrayBuffer[];
  offsets: number[];
}

export class ReadBufferPool {
  /** Free memory by size class. */
  private readonly free = new Map<number, FreeList>();
  private freeBytes = 0;
  /**
   * Memory handed out and not yet given back: the buffers of its own (offset 0), and the
   * offsets lent from each slab, with their size classes. give() accepts only these, once.
   */
  private readonly lentOwn = new WeakSet<SharedArrayBuffer>();
  private readonly lentFromSlab = new WeakMap<SharedArrayBuffer, Map<number, number>>();
  /** Where new memory of MIN_SLAB_CLASS or more comes from first, up to `maxBytes`. */
  private readonly slabs: SharedSlabs;

  constructor(private readonly maxBytes: number) {
    this.slabs = new SharedSlabs(maxBytes);
  }

  /** A buffer of exactly `length` bytes (its contents are garbage). */
  take(length: number): Buffer {
    if (length < MIN_POOLED) return Buffer.allocUnsafe(length);
    const size = sizeClass(length);
    const list = this.free.get(size);
    let memory: SharedArrayBuffer;
    let offset = 0;
    if (list && list.memory.length > 0) {
      memory = list.memory.pop()!;
      offset = list.offsets.pop()!;
      this.freeBytes -= size;
    } else {
      const carved = size >= MIN_SLAB_CLASS ? this.slabs.carve(size) : null;
      if (carved) {
        memory = carved.buffer as SharedArrayBuffer;
        offset = carved.byteOffset;
      } else {
        memory = new SharedArrayBuffer(size);
      }
    }
    if (memory.byteLength === size) {
      this.lentOwn.add(memory);
    } else {
      let offsets = this.lentFromSlab.get(memory);
      if (!offsets) this.lentFromSlab.set(memory, (offsets = new Map()));
      offsets.set(offset, size);
    }
    return Buffer.from(memory, offset, length);
  }

  /**
   * Gives back the memory of a chunk made from take() (a view from its start); anything else is
   * ignored.
   */
  give(chunk: Uint8Array): void {
    const memory = chunk.buffer;
    if (!(memory instanceof SharedArrayBuffer)) return;
    let size: number;
    if (this.lentOwn.has(memory)) {
      this.lentOwn.delete(memory);
      size = memory.byteLength;
      // Memory of its own beyond the budget goes to the collector.
      if (this.freeBytes + size > this.maxBytes) return;
    } else {
      // Slab memory is always kept: it cannot go back to the system on its own, and the slabs
      // hold at most maxBytes.
      const offsets = this.lentFromSlab.get(memory);
      const lent = offsets?.get(chunk.byteOffset);
      if (lent === undefined) return;
      offsets!.delete(chunk.byteOffset);
      size = lent;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = { memory: [], offsets: [] }));
    list.memory.push(memory);
    list.offsets.push(memory.byteLength === size ? 0 : chunk.byteOffset);
    this.freeBytes += size;
  }

  /** Bytes held in free buffers (for tests). */
  get idleBytes(): number {
    return this.freeBytes;
  }
}

function sizeClass(length: number): number {
  let size = MIN_POOLED;
  while (size < length) size *= 2;
  return size;
}
