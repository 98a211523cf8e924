/**
 * A pool of worker threads that compress blocks, so that every core compresses while the main
 * thread reads, hashes and writes. Each worker builds its own compressor from the same
 * `CompressionOptions` (compressors are deterministic functions of their options and input), so
 * which worker compresses a block never changes the bytes; the caller writes results in the order
 * it submitted them.
 *
 * A block is transferred to the worker, not copied; when compression does not shrink it the
 * worker sends the same buffer back, so the caller can store it raw.
 *
 * With `workers: 0` blocks are compressed on the calling thread (no threads are started): for
 * hosts that cannot start workers, and as the reference the threaded path must equal.
 */
import { availableParallelism } from 'node:os';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { SquashfsError } from '../errors.js';
import type { BlockKind, CompressionOptions, Compressor } from './compressor.js';
import { createCompressor } from './index.js';
import { isShared, PlainInput } from './plain-input.js';
import {
  CLOSE,
  type CompressReply,
  type CompressRequest,
  type WorkerSetup,
} from './worker-protocol.js';

/** The result of one block: the compressed bytes, or the input itself when it did not shrink. */
export interface CompressedBlock {
  bytes: Uint8Array;
  compressed: boolean;
}

export interface BlockCompressor {
  /**
   * Compresses `block`. With `giveUp`, the caller hands the block over: its memory may be moved
   * to another thread (and the caller's view detached). Without it, a block in shared memory (a
   * read buffer) is read where it is, so the caller must leave it unchanged until the promise
   * has settled; any other block is copied first, so memory the caller does not own is never
   * touched. An incompressible block comes back as the caller's own `block`.
   */
  compress(block: Uint8Array, kind: BlockKind, giveUp?: boolean): Promise<CompressedBlock>;
  /** Stops the workers; pending calls reject. Safe to call more than once. */
  close(): Promise<void>;
}

/** The default worker count: one per core the process may use. */
export function defaultWorkerCount(): number {
  return availableParallelism();
}

export function createBlockCompressor(
  options: CompressionOptions,
  blockSize: number,
  workers: number,
): BlockCompressor {
  if (!Number.isInteger(workers) || workers < 0) {
    throw new SquashfsError(
      'INVALID_ARGUMENT',
      `worker count must be a whole number 0 or more, got ${workers}`,
    );
  }
  return workers === 0
    ? new InlineCompressor(createCompressor(options, blockSize))
    : new WorkerPool({ options, blockSize }, workers);
}

class InlineCompressor implements BlockCompressor {
  private readonly plain = new PlainInput();
  constructor(private readonly compressor: Compressor) {}

  async compress(block: Uint8Array, kind: BlockKind): Promise<CompressedBlock> {
    const out = this.compressor.compress(this.plain.of(block), kind);
    return out ? { bytes: out, compressed: true } : { bytes: block, compressed: false };
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve: (r: CompressedBlock) => void;
  reject: (e: Error) => void;
  /** The caller's block, which an incompressible shared block comes back as. */
  block: Uint8Array;
}

/** A block waiting on the calling thread for a worker with room. */
interface Waiting extends Pending {
  request: CompressRequest;
}

interface PoolWorker {
  thread: Worker;
  pending: Map<number, Pending & { sentAt: number }>;
  exited: boolean;
  /** When its last reply came (performance.now()), to tell its compress time from queueing. */
  lastReplyAt: number;
}

/**
 * Bytes compressed on the calling thread before any thread is started: a small image is done
 * before a thread would have loaded its compressor (tens of milliseconds each, far more under a
 * TypeScript loader), and the bytes are the same either way. Kept to one default block, so a
 * large image loses almost nothing to it.
 */
const INLINE_BYTES = 128 << 10;

/**
 * Blocks handed to one worker at a time. The rest wait in one queue here and go to whichever
 * worker finishes first: a worker handed its share up front can sit idle while another still has
 * slow blocks queued, and the in-order writer waits on those (most of all at the end of the
 * input). So a worker gets one block at a time when blocks are slow to compress (xz: hundreds of
 * milliseconds per MiB), and two when they are fast (gzip at 128 KiB: a few milliseconds), so
 * that it does not wait for the calling thread between two blocks. Scheduling never changes the
 * bytes: the caller writes results in submission order.
 */
const SLOW_BLOCK_MS = 5;

class WorkerPool implements BlockCompressor {
  private readonly workers: PoolWorker[] = [];
  /** Blocks not yet handed to a worker, in submission order. */
  private readonly waiting: Waiting[] = [];
  private waitingHead = 0;
  /** Running mean of the time a worker spends on one block, in ms (for the backlog rule). */
  private blockMs = 0;
  private nextId = 0;
  private failure: Error | null = null;
  private inline: InlineCompressor | null = null;
  private inlineBytes = 0;
  /** Set by close(): from then on every thread stays ref'd until it has exited. */
  private closing = false;

  constructor(
    private readonly setup: WorkerSetup,
    private readonly count: number,
  ) {}

  private start(setup: WorkerSetup): PoolWorker {
    const thread = startWorker(setup);
    const w: PoolWorker = { thread, pending: new Map(), exited: false, lastReplyAt: 0 };
    // An idle worker must not keep the process alive (a caller that forgets close()).
    thread.unref();
    thread.on('message', (reply: CompressReply) => {
      const p = w.pending.get(reply.id);
      if (!p) return;
      w.pending.delete(reply.id);
      const now = performance.now();
      // It started on this block when it was sent, or when it finished the previous one.
      this.blockMs = 0.8 * this.blockMs + 0.2 * (now - Math.max(p.sentAt, w.lastReplyAt));
      w.lastReplyAt = now;
      if (reply.error !== undefined) p.reject(new SquashfsError('IO', reply.error));
      else p.resolve({ bytes: reply.bytes ?? p.block, compressed: reply.compressed! });
      this.dispatch();
      if (w.pending.size === 0 && !this.closing) thread.unref();
    });
    const fail = (err: Error) => {
      this.failure ??= new SquashfsError('IO', `compression worker failed: ${err.message}`, {
        cause: err,
      });
      for (const p of w.pending.values()) p.reject(this.failure);
      w.pending.clear();
      // Nothing waiting can be trusted to a pool that lost a thread.
      for (const q of this.waiting.splice(this.waitingHead)) q.reject(this.failure);
      this.waiting.length = 0;
      this.waitingHead = 0;
    };
    thread.on('error', fail);
    thread.on('exit', (code) => {
      w.exited = true;
      // A thread that ends before close() asked it to, busy or idle, fails the pool: blocks
      // handed to it later would never come back, and the write would wait for ever.
      if (!this.closing || w.pending.size > 0) fail(new Error(`exited with code ${code}`));
    });
    return w;
  }

  compress(block: Uint8Array, kind: BlockKind, giveUp = false): Promise<CompressedBlock> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) {
      return Promise.reject(new SquashfsError('IO', 'the compression pool was closed'));
    }
    if (this.workers.length === 0 && this.inlineBytes + block.length <= INLINE_BYTES) {
      this.inlineBytes += block.length;
      this.inline ??= new InlineCompressor(
        createCompressor(this.setup.options, this.setup.blockSize),
      );
      return this.inline.compress(block, kind);
    }
    if (this.workers.length === 0) {
      for (let i = 0; i < this.count; i++) this.workers.push(this.start(this.setup));
    }
    const id = this.nextId++;
    // Shared memory is sent as it is (the worker reads it in place); the rest is moved or copied.
    const sent = isShared(block) ? block : giveUp ? ownBuffer(block) : new Uint8Array(block);
    return new Promise<CompressedBlock>((resolve, reject) => {
      this.waiting.push({ request: { id, kind, block: sent }, resolve, reject, block });
      this.dispatch();
    });
  }

  /** Hands waiting blocks, oldest first, to the least busy workers that have room. */
  private dispatch(): void {
    // After close() there are no workers: a late reply must not hand out anything more.
    while (this.waitingHead < this.waiting.length && !this.failure && !this.closing) {
      // The least busy worker; ties go to the first, so scheduling is simple and fair.
      let w = this.workers[0]!;
      for (const other of this.workers) if (other.pending.size < w.pending.size) w = other;
      if (w.exited || w.pending.size >= (this.blockMs > SLOW_BLOCK_MS ? 1 : 2)) return;
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as Waiting;
      if (this.waitingHead === this.waiting.length) {
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      w.pending.set(next.request.id, { ...next, sentAt: performance.now() });
      if (w.pending.size === 1) w.thread.ref();
      const sent = next.request.block;
      w.thread.postMessage(next.request, isShared(sent) ? [] : [sent.buffer as ArrayBuffer]);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const closed = new SquashfsError('IO', 'the compression pool was closed');
    for (const q of this.waiting.splice(this.waitingHead)) q.reject(closed);
    this.waiting.length = 0;
    this.waitingHead = 0;
    const threads = this.workers
      .splice(0)
      .filter((w) => !w.exited)
      .map((w) => w.thread);
    // Asked to finish rather than terminated: a thread stopped in the middle of native code
    // (lzma-native) can abort the whole process.
    await Promise.all(
      threads.map((t) => {
        const exited = once(t, 'exit');
        // An idle worker is unref'd; waiting for its exit must keep the process alive.
        t.ref();
        t.postMessage(CLOSE);
        return exited;
      }),
    );
  }
}

/**
 * A block that can be transferred: a view over the whole of a plain ArrayBuffer. Anything else
 * (a slice of a larger buffer, a Node pooled Buffer, shared memory) is copied first.
 */
function ownBuffer(block: Uint8Array): Uint8Array {
  const whole =
    block.byteOffset === 0 &&
    block.byteLength === block.buffer.byteLength &&
    block.buffer instanceof ArrayBuffer;
  // Not block.slice(): on a Node Buffer that is a view of the same memory, whose transfer would
  // detach the caller's whole buffer.
  return whole ? block : new Uint8Array(block);
}

/**
 * Starts compress-worker next to this module. Under a TypeScript loader (tests, tsx) the module
 * is a .ts file, and a worker does not inherit the loader, so it registers tsx first.
 */
const require = createRequire(import.meta.url);
let workerThreads: typeof import('node:worker_threads') | undefined;

function startWorker(setup: WorkerSetup): Worker {
  // Loaded with the first pool: an image that compresses nothing never needs it (about 4.5 ms
  // to load in a fresh process).
  workerThreads ??= require('node:worker_threads') as typeof import('node:worker_threads');
  const { Worker } = workerThreads;
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./compress-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(url, { workerData: setup });
  const boot =
    `import('tsx/esm/api').then((api) => { api.register(); ` +
    `return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: setup });
}
