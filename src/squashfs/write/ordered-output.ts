/**
 * Writes blocks to the sink in the order they were queued, whatever order their compression
 * finishes in, and keeps at most `limit` of them in flight. This is what makes the image
 * independent of the worker count: positions and size words are only taken when a block is
 * actually appended, in queue order.
 *
 * An entry is either a block (a promise of its stored bytes) or a marker that only observes the
 * sink position at its turn (where a file's blocks start, or that a file is done).
 */
import type { Sink } from '../io/sink.js';

export interface Stored {
  bytes: Uint8Array;
  compressed: boolean;
}

interface Entry {
  bytes: Promise<Stored> | null;
  /** Called with the position the entry was written at and what was written (null: marker). */
  written: (position: number, stored: Stored | null) => void;
  done: boolean;
}

export interface Ticket {
  readonly done: boolean;
}

export class OrderedOutput {
  private readonly queue: Entry[] = [];
  private head = 0;

  constructor(
    private readonly sink: Sink,
    private readonly limit: number,
  ) {}

  /** Queues a block; waits while `limit` blocks are already in flight. */
  async block(bytes: Promise<Stored>, written: Entry['written']): Promise<Ticket> {
    // A rejected block is reported when its turn comes, not as an unhandled rejection now.
    bytes.catch(() => undefined);
    const entry: Entry = { bytes, written, done: false };
    this.queue.push(entry);
    while (this.queue.length - this.head > this.limit) await this.writeHead();
    return entry;
  }

  /** Queues a marker, observed when everything queued before it has been written. */
  marker(written: (position: number) => void): Ticket {
    const entry: Entry = { bytes: null, written: (p) => written(p), done: false };
    this.queue.push(entry);
    return entry;
  }

  /** Writes everything queued up to and including `ticket`. */
  async settle(ticket: Ticket): Promise<void> {
    while (!ticket.done) await this.writeHead();
  }

  /** Writes everything queued. */
  async drain(): Promise<void> {
    while (this.head < this.queue.length) await this.writeHead();
  }

  private async writeHead(): Promise<void> {
    const entry = this.queue[this.head]!;
    const position = this.sink.position;
    const stored = entry.bytes ? await entry.bytes : null;
    if (stored) await this.sink.append(stored.bytes);
    entry.done = true;
    const written = entry.written;
    // The entry lives on as a ticket (a file keeps its own for duplicate checks): drop what it
    // holds, or every file's callback, and all that it closes over, would stay in memory.
    entry.written = noop;
    entry.bytes = null;
    this.queue[this.head++] = undefined as unknown as Entry;
    // Drop written entries now and then so the queue does not grow with the image.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    written(position, stored);
  }
}

function noop(): void {}
