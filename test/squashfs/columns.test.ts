/** The typed-array structures the writer keeps per-inode and per-file state in. */
import { describe, expect, it } from 'vitest';
import { f64Column, i32Column, u32Column } from '../../src/squashfs/write/column.js';
import { NO_INDEX } from '../../src/squashfs/format/constants.js';
import { FileTable } from '../../src/squashfs/write/file-table.js';
import { HashIndex } from '../../src/squashfs/write/hash-index.js';
import { planTree } from '../../src/squashfs/write/planner.js';
import { tree } from '../../src/squashfs/tree.js';

describe('Column', () => {
  it('grows past its capacity and keeps every row', () => {
    const c = u32Column();
    for (let i = 0; i < 5000; i++) expect(c.push(i * 7)).toBe(i);
    expect(c.length).toBe(5000);
    for (let i = 0; i < 5000; i++) expect(c.get(i)).toBe(i * 7);
    expect([...c.view(10, 13)]).toEqual([70, 77, 84]);
  });

  it('holds values beyond 2^32 exactly in a float64 column (inode references)', () => {
    const c = f64Column();
    c.push(2 ** 47 + 12345);
    expect(c.get(0)).toBe(2 ** 47 + 12345);
  });

  it('gives new rows the fill value, also after shrinking and growing again', () => {
    const c = i32Column(-1);
    c.resize(3000);
    expect(c.get(2999)).toBe(-1);
    c.set(5, 42);
    c.set(2000, 7);
    c.resize(10);
    c.resize(3000);
    expect(c.get(5)).toBe(42);
    expect(c.get(2000)).toBe(-1);
  });

  it('refuses rows outside its length', () => {
    const c = u32Column();
    c.push(1);
    expect(() => c.get(1)).toThrow(RangeError);
    expect(() => c.set(-1, 0)).toThrow(RangeError);
  });
});

describe('HashIndex', () => {
  const rowsOf = (index: HashIndex, hi: number, lo: number) => {
    const rows: number[] = [];
    for (let r = index.firstRow(hi, lo); r !== -1; r = index.nextRow(r)) rows.push(r);
    return rows;
  };

  it('lists the rows of one hash in the order they were added, apart from other hashes', () => {
    const index = new HashIndex(4);
    // Hashes that differ only in the high or the low half land in separate lists.
    index.add(1, 2, 0);
    index.add(2, 1, 1);
    index.add(1, 2, 5);
    index.add(0xffffffff, 0xffffffff, 6);
    index.add(1, 2, 9);
    expect(rowsOf(index, 1, 2)).toEqual([0, 5, 9]);
    expect(rowsOf(index, 2, 1)).toEqual([1]);
    expect(rowsOf(index, 0xffffffff, 0xffffffff)).toEqual([6]);
    expect(rowsOf(index, 3, 3)).toEqual([]);
  });

  it('keeps every list through growth, with colliding slots', () => {
    const index = new HashIndex(1);
    const expected = new Map<number, number[]>();
    for (let row = 0; row < 20_000; row++) {
      // 3 000 distinct hashes whose low halves collide heavily.
      const h = row % 3000;
      index.add(h, (h & 7) << 16, row);
      expected.set(h, [...(expected.get(h) ?? []), row]);
    }
    for (const [h, rows] of expected) expect(rowsOf(index, h, (h & 7) << 16)).toEqual(rows);
  });

  it('refuses a row that is not after the rows added so far', () => {
    const index = new HashIndex();
    index.add(1, 1, 3);
    expect(() => index.add(2, 2, 3)).toThrow();
    expect(() => index.add(1, 1, 2)).toThrow();
  });
});

describe('FileTable', () => {
  it('keeps each row’s block list as its own range of size words', () => {
    const t = new FileTable();
    const a = t.add(300_000);
    for (let i = 0; i < 3; i++) expect(t.addBlock(a)).toBe(i);
    const b = t.add(10);
    t.fragment.set(b, 4);
    t.fragmentOffset.set(b, 100);
    t.setSizeWord(a, 2, 77);
    t.setSizeWord(a, 0, 0x1000000 | 5);
    expect([...t.get(a).blockSizes]).toEqual([0x1000000 | 5, 0, 77]);
    expect(t.get(b)).toMatchObject({ fileSize: 10, fragment: 4, fragmentOffset: 100 });
    expect(t.get(b).blockSizes.length).toBe(0);
    expect(t.get(a).fragment).toBe(NO_INDEX);
  });

  it('makes the last row a duplicate that shares the original’s blocks and fragment', () => {
    const t = new FileTable();
    const a = t.add(200_000);
    t.addBlock(a);
    t.setSizeWord(a, 0, 1234);
    t.blocksStart.set(a, 96);
    t.fragment.set(a, 2);
    t.fragmentOffset.set(a, 50);
    const d = t.add(200_000);
    t.addBlock(d);
    t.sparse.set(d, 8);
    t.shareWith(d, a);
    // The duplicate's own size word is gone: the next row's blocks start where a's ended.
    expect(t.sizeWords.length).toBe(1);
    expect(t.get(d)).toEqual({ ...t.get(a), sparse: 8 });
    expect(() => t.shareWith(a, d)).toThrow();
    expect(() => t.addBlock(a)).toThrow();
  });
});

describe('PlannedInodes (via planTree)', () => {
  // /a/x, /a/y (also named /b), /c: rows in mksquashfs's numbering order, root row 0.
  const shared = tree.file('same');
  const root = tree.dir({
    c: tree.symlink('a'),
    a: tree.dir({ y: shared, x: tree.file('x') }),
    b: shared,
  });
  const plan = planTree(root, {});
  const { inodes } = plan;
  const rowOf = (path: string) =>
    [...Array(inodes.count).keys()].find((r) => inodes.pathOf(r) === path)!;

  it('numbers the root last and every other row by its own index', () => {
    expect(inodes.count).toBe(5); // /b is /a/y's inode
    expect(inodes.number(0)).toBe(5);
    expect(inodes.pathOf(0)).toBe('/');
    expect([1, 2, 3, 4].map((r) => inodes.number(r))).toEqual([1, 2, 3, 4]);
    // a (1) is scanned right after it is numbered: its x (2) and y (3) come before b and c.
    expect(['/a', '/a/x', '/a/y', '/c'].map(rowOf)).toEqual([1, 2, 3, 4]);
    expect(inodes.nodes[3]).toBe(shared);
    expect(Array.from(plan.files)).toEqual([2, 3]);
  });

  it('records link counts, parents and the directory listing rows', () => {
    expect(inodes.nlink.get(0)).toBe(3); // 2 + one sub-directory
    expect(inodes.nlink.get(3)).toBe(2); // /a/y and /b
    expect(inodes.parentNumber(1)).toBe(5);
    expect(inodes.parentNumber(0)).toBe(6); // the root: inode count + 1
    expect(inodes.parent.get(3)).toBe(1);
    const top = inodes.dirs.get(0)!;
    expect(top.entries.map((e) => Buffer.from(e.name).toString())).toEqual(['a', 'b', 'c']);
    expect(Array.from(top.children)).toEqual([1, 3, 4]);
    expect(inodes.mode.get(4)).toBe(0o777);
  });
});
