/**
 * Writes blocks to the sink in the order they were queued, whatever order their compression
 * finishes in, and keeps at most `limit` of them in flight. This is what makes the image
 * independent of the worker count: positions and size words are only taken when a block is
 * actually appended, in queue order.
 *
 * An entry is either a block (a promise of its stored bytes) or a marker that only observes the
 * sink position at its turn (where a file's blocks start, or that a file is done).
 *
 * Each entry is known afterwards by its sequence number (its place in the queue), not by an
 * object: a writer that remembers "this file is done once entry N is written" for every file of a
 * million-file tree then keeps one number per file, and the entries themselves are dropped.
 */
import type { Sink } from '../io/sink.js';

export interface Stored {
  bytes: Uint8Array;
  compressed: boolean;
  /**
   * The writer will not change `bytes` until the sink's whenWritten() says it has written them,
   * so a sink may write them from where they are (appendLent) instead of copying.
   */
  lendable?: boolean;
}

interface Entry {
  bytes: Promise<Stored> | null;
  /** Called with the position the entry was written at and what was written (null: marker). */
  written: (position: number, stored: Stored | null) => void;
}

/** The sequence number of a queued entry: 0 for the first, then 1, 2, ... */
export type Ticket = number;

export class OrderedOutput {
  private readonly queue: (Entry | undefined)[] = [];
  private head = 0;
  /** Entries written so far; entry `t` has been written once `t < written`. */
  private written = 0;

  constructor(
    private readonly sink: Sink,
    private readonly limit: number,
  ) {}

  /** Queues a block; waits while `limit` blocks are already in flight. */
  async block(bytes: Promise<Stored>, written: Entry['written']): Promise<Ticket> {
    // A rejected block is reported when its turn comes, not as an unhandled rejection now.
    bytes.catch(() => undefined);
    const ticket = this.queue.push({ bytes, written }) - this.head - 1 + this.written;
    while (this.queue.length - this.head > this.limit) await this.writeHead();
    return ticket;
  }

  /** Queues a marker, observed when everything queued before it has been written. */
  marker(written: (position: number) => void): Ticket {
    return this.queue.push({ bytes: null, written }) - this.head - 1 + this.written;
  }

  /** Whether the entry `ticket` has been written. */
  isWritten(ticket: Ticket): boolean {
    return ticket < this.written;
  }

  /** Writes everything queued up to and including `ticket`. */
  async settle(ticket: Ticket): Promise<void> {
    while (!this.isWritten(ticket)) await this.writeHead();
  }

  /** Writes everything queued. */
  async drain(): Promise<void> {
    while (this.head < this.queue.length) await this.writeHead();
  }

  private async writeHead(): Promise<void> {
    const entry = this.queue[this.head]!;
    const position = this.sink.position;
    const stored = entry.bytes ? await entry.bytes : null;
    if (stored?.lendable && this.sink.appendLent) await this.sink.appendLent(stored.bytes);
    else if (stored) await this.sink.append(stored.bytes);
    this.written++;
    this.queue[this.head++] = undefined;
    // Drop written entries now and then so the queue does not grow with the image.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    entry.written(position, stored);
  }
}
