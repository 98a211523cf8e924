/**
 * A map of byte arrays bounded by their total length: the least recently used entries go first
 * once the total passes the budget. The data writer keeps its duplicate-check caches in these.
 */
export class ByteLru<K> {
  private readonly entries = new Map<K, Uint8Array>();
  private bytes = 0;

  /** `onEvict` is told of each entry pushed out by the budget (not of one replaced by `set`). */
  constructor(
    private readonly budget: number,
    private readonly onEvict?: (key: K, value: Uint8Array) => void,
  ) {}

  /** The bytes under `key`, now the most recently used; undefined if absent. */
  get(key: K): Uint8Array | undefined {
    const value = this.entries.get(key);
    if (value) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: Uint8Array): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.length;
    }
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [oldest, v] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(oldest);
      this.bytes -= v.length;
      this.onEvict?.(oldest, v);
    }
  }
}
