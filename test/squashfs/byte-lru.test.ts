/** The byte-bounded LRU behind the data writer's duplicate-check caches. */
import { describe, expect, it } from 'vitest';
import { ByteLru } from '../../src/squashfs/write/byte-lru.js';

const bytes = (n: number) => new Uint8Array(n);

describe('ByteLru', () => {
  it('drops the least recently used entries once the total passes the budget', () => {
    const lru = new ByteLru<string>(10);
    lru.set('a', bytes(4));
    lru.set('b', bytes(4));
    expect(lru.get('a')?.length).toBe(4); // a is now the most recent
    lru.set('c', bytes(4)); // 12 > 10: b goes, not a
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')?.length).toBe(4);
    expect(lru.get('c')?.length).toBe(4);
  });

  it('counts a replaced entry once, and never keeps an entry larger than the budget', () => {
    const lru = new ByteLru<string>(10);
    lru.set('a', bytes(6));
    lru.set('a', bytes(6)); // replaced, not 12 bytes
    expect(lru.get('a')?.length).toBe(6);
    lru.set('big', bytes(11));
    expect(lru.get('big')).toBeUndefined();
  });
});
