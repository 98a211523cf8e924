/**
 * Little-endian byte helpers. squashfs has no alignment, so everything goes through DataView.
 * u64 fields are handled as JS numbers split into two u32 halves; values above 2^53 cannot occur
 * in an image we write and are reported as corrupt when read.
 */
import { SquashfsError } from '../errors.js';

const TWO_32 = 0x1_0000_0000;

export function setU64(view: DataView, offset: number, value: number): void {
  if (value === -1) {
    view.setUint32(offset, 0xffffffff, true);
    view.setUint32(offset + 4, 0xffffffff, true);
    return;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`u64 value out of range: ${value}`);
  }
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

/** Reads a u64; all-ones reads as -1 ("absent"); anything else beyond 2^53 is corrupt. */
export function getU64(view: DataView, offset: number): number {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  if (lo === 0xffffffff && hi === 0xffffffff) return -1;
  if (hi >= 0x200000) {
    throw new SquashfsError('CORRUPT', `64-bit value too large at byte ${offset}`, { offset });
  }
  return hi * TWO_32 + lo;
}

/** An append-only byte buffer that grows by doubling; used to build records and listings. */
export class ByteBuilder {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(extra: number): number {
    const need = this.length + extra;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length = need;
    return at;
  }

  // Each writer reserves first and only then touches this.view/this.buf: reserve() may replace
  // them, and `this.view.setX(this.reserve(n), ...)` would write into the old, dropped buffer.
  u8(v: number): this {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
    return this;
  }
  i16(v: number): this {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
    return this;
  }
  u32(v: number): this {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  u64(v: number): this {
    const at = this.reserve(8);
    setU64(this.view, at, v);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** Overwrites a u32 already written (e.g. a run header's count). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  /** A view of the bytes so far; valid until the next append. */
  peek(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  /** A copy of the bytes so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
  reset(): void {
    this.length = 0;
  }
}

/** Bounds-checked little-endian reader over a byte array; never trusts lengths from the data. */
export class ByteReader {
  readonly view: DataView;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    /** Added to `pos` in error messages so they name the image offset where possible. */
    readonly baseOffset = 0,
    readonly what = 'record',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new SquashfsError(
        'OUT_OF_BOUNDS',
        `${this.what} truncated: need ${n} bytes at ${this.baseOffset + this.pos}, ` +
          `have ${this.bytes.length - this.pos}`,
        { offset: this.baseOffset + this.pos },
      );
    }
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = getU64(this.view, this.pos);
    this.pos += 8;
    return v;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
}
