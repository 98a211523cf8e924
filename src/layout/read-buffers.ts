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
 * simply collected. At most `maxBytes` of free buffers are kept.
 *
 * The memory is shared (SharedArrayBuffer), so a compression worker can read a block of it in
 * place: a block of a plain buffer had to be copied on the main thread before it could be sent
 * (on binaries-120M at gzip 128K, about a quarter of the main thread's time).
 */

/**
 * Smallest read served from the pool: Node's allocUnsafe serves reads below 4 KiB from its own
 * slab, and each larger one was a new ArrayBuffer (on small-20000 about 230 ms of the main thread,
 * plus the collector's work, while pooled they cost nothing).
 */
export const MIN_POOLED = 4 << 10;

export class ReadBufferPool {
  /** Free buffers by size. */
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  private freeBytes = 0;
  /** Buffers handed out and not yet given back: give() accepts only these, once. */
  private readonly lent = new WeakSet<SharedArrayBuffer>();

  constructor(private readonly maxBytes: number) {}

  /** A buffer of exactly `length` bytes (its contents are garbage). */
  take(length: number): Buffer {
    if (length < MIN_POOLED) return Buffer.allocUnsafe(length);
    const size = sizeClass(length);
    let memory = this.free.get(size)?.pop();
    if (memory) this.freeBytes -= size;
    else memory = new SharedArrayBuffer(size);
    this.lent.add(memory);
    return Buffer.from(memory, 0, length);
  }

  /** Gives back the memory of a chunk made from take(); anything else is ignored. */
  give(chunk: Uint8Array): void {
    const memory = chunk.buffer;
    if (!(memory instanceof SharedArrayBuffer) || !this.lent.has(memory)) return;
    this.lent.delete(memory);
    if (this.freeBytes + memory.byteLength > this.maxBytes) return;
    let list = this.free.get(memory.byteLength);
    if (!list) this.free.set(memory.byteLength, (list = []));
    list.push(memory);
    this.freeBytes += memory.byteLength;
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
