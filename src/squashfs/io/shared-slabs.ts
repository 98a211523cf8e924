/**
 * Shared memory for the writer's reused buffers (read buffers, held copies), carved out of large
 * slabs that are advised for transparent huge pages before anything touches them.
 *
 * On this kind of VM a page fault costs about 12 us, so the first touch of fresh memory costs
 * about 3 ms per MiB; an uncompressed run of binaries-250M took 37 000 faults, most of them in
 * the read buffers and held copies (a SharedArrayBuffer of its own each, 4 KiB pages). A slab
 * advised with MADV_HUGEPAGE (the addon's adviseHugePages; THP in "madvise" mode, Debian's
 * default) faults 2 MiB at a time: a 64 MiB buffer was first touched in 12-125 ms instead of
 * 175-195 ms. Without the addon the slabs are plain shared memory and only the advice is lost.
 *
 * Carved memory is never given back to the system: its owner keeps it on free lists and reuses
 * it, so `maxBytes` bounds what a SharedSlabs ever holds.
 */
import { loadNative } from '../compress/native.js';

/** Slab size: a multiple of the 2 MiB huge page, and few allocations for the largest users. */
export const SLAB_BYTES = 16 << 20;

type Advise = (bytes: Uint8Array) => number;

export class SharedSlabs {
  private slab: SharedArrayBuffer | null = null;
  private used = 0;
  private carvedBytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly slabBytes = SLAB_BYTES,
  ) {}

  /** Bytes carved so far (for tests). */
  get carved(): number {
    return this.carvedBytes;
  }

  /**
   * `size` bytes of memory no one has had before, or null once `maxBytes` have been carved
   * (or for a size larger than a slab): the caller then allocates memory of its own.
   */
  carve(size: number): Uint8Array | null {
    if (size > this.slabBytes || this.carvedBytes + size > this.maxBytes) return null;
    if (!this.slab || this.used + size > this.slabBytes) {
      // The rest of the previous slab is left unused: never touched, it costs no memory.
      this.slab = new SharedArrayBuffer(this.slabBytes);
      this.used = 0;
      adviseHugePages()?.(new Uint8Array(this.slab));
    }
    const view = new Uint8Array(this.slab, this.used, size);
    this.used += size;
    this.carvedBytes += size;
    return view;
  }
}

let advise: Advise | null | undefined;
function adviseHugePages(): Advise | null {
  if (advise === undefined) {
    advise = (loadNative() as { adviseHugePages?: Advise } | null)?.adviseHugePages ?? null;
  }
  return advise;
}

/**
 * Reused buffers of one size: a spare if there is one, else memory carved out of slabs (up to
 * `slabBytes`), else a buffer of its own. Given back, slab memory is always kept (dropped, it
 * would be lost while its slab lives; the budget bounds it), a buffer of its own only while
 * fewer than `ownSpares` of those wait.
 */
export class BlockBuffers {
  private readonly spares: Uint8Array[] = [];
  private ownSpareCount = 0;
  private readonly slabs: SharedSlabs;

  constructor(
    private readonly size: number,
    slabBytes: number,
    private readonly ownSpares: number,
  ) {
    this.slabs = new SharedSlabs(slabBytes);
  }

  /** A buffer of `size` bytes (its contents are garbage), in shared memory. */
  take(): Uint8Array {
    const spare = this.spares.pop();
    if (spare) {
      if (spare.buffer.byteLength === this.size) this.ownSpareCount--;
      return spare;
    }
    return this.slabs.carve(this.size) ?? new Uint8Array(new SharedArrayBuffer(this.size));
  }

  /** Gives back a buffer from take(), or a view of one from its start. */
  give(bytes: Uint8Array): void {
    const own = bytes.buffer.byteLength === this.size;
    if (own && this.ownSpareCount >= this.ownSpares) return;
    if (own) this.ownSpareCount++;
    this.spares.push(new Uint8Array(bytes.buffer, bytes.byteOffset, this.size));
  }
}
