import { describe, expect, it } from 'vitest';
import { ByteBuilder, ByteReader, getU64, setU64 } from '../../src/squashfs/io/bytes.js';

describe('ByteBuilder', () => {
  it('keeps every value when appends make it grow (regression: writes went to the old buffer)', () => {
    const b = new ByteBuilder(4);
    for (let i = 0; i < 1000; i++)
      b.u8(i & 0xff)
        .u16(i)
        .u32(i * 7)
        .u64(i * 2 ** 33)
        .bytes(new Uint8Array([i & 0xff, 1, 2]));
    const r = new ByteReader(b.toBytes());
    for (let i = 0; i < 1000; i++) {
      expect([r.u8(), r.u16(), r.u32(), r.u64(), ...r.take(3)]).toEqual([
        i & 0xff,
        i,
        i * 7,
        i * 2 ** 33,
        i & 0xff,
        1,
        2,
      ]);
    }
    expect(r.remaining).toBe(0);
  });

  it('encodes u64 as two little-endian halves and all-ones as -1', () => {
    const v = new DataView(new ArrayBuffer(8));
    setU64(v, 0, 2 ** 40 + 5);
    expect([...new Uint8Array(v.buffer)]).toEqual([5, 0, 0, 0, 0, 1, 0, 0]);
    expect(getU64(v, 0)).toBe(2 ** 40 + 5);
    setU64(v, 0, -1);
    expect(getU64(v, 0)).toBe(-1);
  });

  it('refuses to read past the end with an offset in the message', () => {
    const r = new ByteReader(new Uint8Array(3), 0, 1000, 'inode');
    expect(() => r.u32()).toThrow(/inode truncated: need 4 bytes at 1000/);
  });
});
