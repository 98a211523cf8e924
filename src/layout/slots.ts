/**
 * A fixed number of slots for async work: `run` waits for a free one, first come first served.
 * The scanner bounds with it how many directories it lists at once across the whole tree (each
 * listing holds a descriptor of its directory).
 */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  private closedWith: { reason: unknown } | null = null;

  constructor(count: number) {
    this.free = count;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      if (this.closedWith) throw this.closedWith.reason;
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  /** Work that has not started yet fails with `reason` instead (the work already running ends). */
  close(reason: unknown): void {
    this.closedWith ??= { reason };
  }
}
