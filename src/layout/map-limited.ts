/**
 * Maps over items with at most `limit` calls in flight, results in input order. The scanner
 * uses it so that one directory's lstat/readlink/xattr calls overlap on libuv's thread pool
 * without opening thousands of descriptors at once.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  // Each worker takes the next index synchronously, so no index is taken twice.
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (err) {
        next = items.length; // the call fails as a whole: let the other workers stop early
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
