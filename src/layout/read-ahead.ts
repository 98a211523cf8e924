/**
 * Bytes that host files may read ahead of what the writer has asked for, shared by all the files
 * of a scan. A large file reads its next chunks in the threadpool while the writer works on the
 * current one (HostFileSource.chunks); the writer's own read-ahead (Prefetcher) already keeps
 * several files open, so without a shared bound each of them would add its own chunks to the
 * memory in use.
 */
export class ReadAheadBudget {
  constructor(private free: number) {}

  /** Takes `bytes` of the budget if it has them. */
  take(bytes: number): boolean {
    if (bytes > this.free) return false;
    this.free -= bytes;
    return true;
  }

  give(bytes: number): void {
    this.free += bytes;
  }

  /** What is left (for tests). */
  get available(): number {
    return this.free;
  }
}
