/**
 * A multimap from 64-bit hashes to row numbers, in typed arrays: an open-addressing table of
 * (hash, first row, last row) slots and a `next` column chaining rows with the same hash in the
 * order they were added. The data writer finds duplicate candidates with it; a Map of bigint keys
 * to arrays cost about 150 bytes per stored file, this costs about 20.
 */
import { i32Column } from './column.js';

const EMPTY = -1;

export class HashIndex {
  private lo: Uint32Array;
  private hi: Uint32Array;
  private first: Int32Array;
  private last: Int32Array;
  private used = 0;
  private readonly chain = i32Column(EMPTY);

  constructor(capacity = 1024) {
    const slots = 1 << Math.ceil(Math.log2(Math.max(capacity * 2, 16)));
    this.lo = new Uint32Array(slots);
    this.hi = new Uint32Array(slots);
    this.first = new Int32Array(slots).fill(EMPTY);
    this.last = new Int32Array(slots).fill(EMPTY);
  }

  /**
   * Adds `row` under the hash (hi, lo), after the rows already there. Rows must be added in
   * increasing order (the chain of a list's last row is what links the next one).
   */
  add(hi: number, lo: number, row: number): void {
    if (row < this.chain.length) throw new Error(`row ${row} is not after the rows added so far`);
    if ((this.used + 1) * 2 > this.first.length) this.grow();
    const slot = this.slotOf(hi >>> 0, lo >>> 0);
    if (row >= this.chain.length) this.chain.resize(row + 1);
    if (this.first[slot] === EMPTY) {
      this.lo[slot] = lo;
      this.hi[slot] = hi;
      this.first[slot] = row;
      this.used++;
    } else {
      this.chain.set(this.last[slot]!, row);
    }
    this.last[slot] = row;
  }

  /** The first row added under the hash, or -1. */
  firstRow(hi: number, lo: number): number {
    return this.first[this.slotOf(hi >>> 0, lo >>> 0)]!;
  }

  /** The row added under the same hash after `row`, or -1. */
  nextRow(row: number): number {
    return row < this.chain.length ? this.chain.get(row) : EMPTY;
  }

  /** The slot holding the hash, or the empty slot where it would go (linear probing). */
  private slotOf(hi: number, lo: number): number {
    const mask = this.first.length - 1;
    // The hash is already well mixed: its low bits are as good an index as any.
    let slot = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask;
    while (this.first[slot] !== EMPTY && (this.lo[slot] !== lo || this.hi[slot] !== hi)) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  private grow(): void {
    const { lo, hi, first, last } = this;
    const slots = first.length * 2;
    this.lo = new Uint32Array(slots);
    this.hi = new Uint32Array(slots);
    this.first = new Int32Array(slots).fill(EMPTY);
    this.last = new Int32Array(slots).fill(EMPTY);
    for (let s = 0; s < first.length; s++) {
      if (first[s] === EMPTY) continue;
      const to = this.slotOf(hi[s]!, lo[s]!);
      this.lo[to] = lo[s]!;
      this.hi[to] = hi[s]!;
      this.first[to] = first[s]!;
      this.last[to] = last[s]!;
    }
  }
}
