/**
 * The body of one compression worker thread (see pool.ts): builds the compressor from the
 * options it was started with and answers one message per block, in the order received.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BlockKind, CompressionOptions } from './compressor.js';
import { createCompressor } from './index.js';

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
  bytes?: Uint8Array;
  compressed?: boolean;
  error?: string;
}

const port = parentPort;
if (port) {
  const setup = workerData as WorkerSetup;
  const compressor = createCompressor(setup.options, setup.blockSize);
  port.on('message', ({ id, kind, block }: CompressRequest) => {
    let reply: CompressReply;
    try {
      const out = compressor.compress(block, kind);
      reply = out ? { id, bytes: out, compressed: true } : { id, bytes: block, compressed: false };
    } catch (err) {
      reply = { id, error: (err as Error).message };
    }
    const bytes = reply.bytes;
    const transfer =
      bytes && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? [bytes.buffer as ArrayBuffer]
        : [];
    port.postMessage(reply, transfer);
  });
}
