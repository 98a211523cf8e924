/**
 * A growable typed-array column: one number per row, stored flat. The writer keeps per-inode and
 * per-file state in columns like this instead of an object per row: a million-file tree then
 * costs a few bytes per field, outside the JS heap, where objects cost tens of bytes each plus the
 * garbage collector's headroom over them.
 */
type NumberArray = Uint16Array | Uint32Array | Int32Array | Float64Array;

export class Column<A extends NumberArray> {
  private values: A;
  private size = 0;

  constructor(
    private readonly make: (length: number) => A,
    /** Value of rows that were never set (growth by `resize`). */
    private readonly fill = 0,
    capacity = 1024,
  ) {
    this.values = make(Math.max(capacity, 1));
    if (fill !== 0) this.values.fill(fill);
  }

  get length(): number {
    return this.size;
  }

  get(row: number): number {
    if (row >= this.size || row < 0) throw new RangeError(`row ${row} of ${this.size}`);
    return this.values[row]!;
  }

  set(row: number, value: number): void {
    if (row >= this.size || row < 0) throw new RangeError(`row ${row} of ${this.size}`);
    this.values[row] = value;
  }

  /** Appends a row; returns its index. */
  push(value: number): number {
    this.reserve(this.size + 1);
    this.values[this.size] = value;
    return this.size++;
  }

  /** Sets the number of rows: new rows hold the fill value, dropped rows are forgotten. */
  resize(length: number): void {
    this.reserve(length);
    if (length < this.size) this.values.fill(this.fill as never, length, this.size);
    this.size = length;
  }

  /** Rows `from` to `to` (exclusive) as a view: valid until the column next grows. */
  view(from = 0, to = this.size): A {
    return this.values.subarray(from, to) as A;
  }

  private reserve(length: number): void {
    if (length <= this.values.length) return;
    let capacity = this.values.length * 2;
    while (capacity < length) capacity *= 2;
    const next = this.make(capacity);
    if (this.fill !== 0) next.fill(this.fill as never, this.size);
    next.set(this.values.subarray(0, this.size) as never);
    this.values = next;
  }
}

export const u16Column = (fill = 0) => new Column((n) => new Uint16Array(n), fill);
export const u32Column = (fill = 0) => new Column((n) => new Uint32Array(n), fill);
export const i32Column = (fill = 0) => new Column((n) => new Int32Array(n), fill);
export const f64Column = (fill = 0) => new Column((n) => new Float64Array(n), fill);
