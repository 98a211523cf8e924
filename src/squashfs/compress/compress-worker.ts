/**
 * The body of one compression worker thread (see pool.ts): builds the compressor from the
 * options it was started with and answers one message per block, in the order received.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createCompressor } from './index.js';
import { isShared, PlainInput } from './plain-input.js';
import {
  CLOSE,
  type CompressReply,
  type CompressRequest,
  type WorkerSetup,
} from './worker-protocol.js';

const port = parentPort;
if (port) {
  const setup = workerData as WorkerSetup;
  const compressor = createCompressor(setup.options, setup.blockSize);
  const plain = new PlainInput();
  port.on('message', (message: CompressRequest | typeof CLOSE) => {
    if (message === CLOSE) {
      port.close();
      return;
    }
    const { id, kind, block } = message;
    let reply: CompressReply;
    try {
      const out = compressor.compress(plain.of(block), kind);
      // An incompressible block in shared memory is already the caller's: nothing to send back.
      reply = out
        ? { id, bytes: out, compressed: true }
        : { id, bytes: isShared(block) ? undefined : block, compressed: false };
    } catch (err) {
      reply = { id, error: (err as Error).message };
    }
    const bytes = reply.bytes;
    const transfer =
      bytes &&
      !isShared(bytes) &&
      bytes.byteOffset === 0 &&
      bytes.byteLength === bytes.buffer.byteLength
        ? [bytes.buffer as ArrayBuffer]
        : [];
    port.postMessage(reply, transfer);
  });
}
