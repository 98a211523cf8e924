/**
 * The file sizes that occur more than once in a tree. A file can only duplicate a file of its own
 * size, so a file whose size is unique can neither be a duplicate nor have one, and the writer
 * need not hash it at all (mksquashfs, too, only checksums files whose size it has seen before).
 * On binaries-120M that is nearly every file: hashing was the largest cost left on the main
 * thread of an uncompressed image.
 *
 * Kept as a sorted array of the repeated sizes, searched by bisection: 8 bytes per file while it
 * is built, and 8 per repeated size after, where a Map of counts for a million-file tree would
 * cost tens of megabytes.
 */
export class RepeatedSizes {
  private constructor(private readonly sorted: Float64Array) {}

  /** From the sizes of `count` files, `sizeAt(0)` … `sizeAt(count - 1)`. */
  static of(count: number, sizeAt: (index: number) => number): RepeatedSizes {
    const all = new Float64Array(count);
    for (let i = 0; i < count; i++) all[i] = sizeAt(i);
    all.sort();
    // A size repeats where a run of equal sizes has a second element.
    const secondOfRun = (i: number) => all[i] === all[i - 1] && (i < 2 || all[i - 2] !== all[i]);
    let repeated = 0;
    for (let i = 1; i < count; i++) if (secondOfRun(i)) repeated++;
    const sorted = new Float64Array(repeated);
    for (let i = 1, at = 0; i < count; i++) if (secondOfRun(i)) sorted[at++] = all[i]!;
    return new RepeatedSizes(sorted);
  }

  /** Whether more than one file has this size. */
  has(size: number): boolean {
    const a = this.sorted;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < size) lo = mid + 1;
      else hi = mid;
    }
    return lo < a.length && a[lo] === size;
  }

  /** How many distinct sizes repeat (for tests). */
  get count(): number {
    return this.sorted.length;
  }
}
