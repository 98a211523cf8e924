/** The messages between the compression pool (pool.ts) and its threads (compress-worker.ts). */
import type { BlockKind, CompressionOptions } from './compressor.js';

export interface WorkerSetup {
  options: CompressionOptions;
  blockSize: number;
}

export interface CompressRequest {
  id: number;
  kind: BlockKind;
  block: Uint8Array;
}

export interface CompressReply {
  id: number;
  /** Absent for an incompressible block sent in shared memory: the caller has it already. */
  bytes?: Uint8Array;
  compressed?: boolean;
  error?: string;
}

/** The message that asks a worker to finish: it closes its port and its thread ends. */
export const CLOSE = 'close';
