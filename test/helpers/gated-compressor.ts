/** A block compressor for tests that control when blocks finish, and a race against a timeout. */
import type { BlockCompressor, CompressedBlock } from '../../src/squashfs/compress/pool.js';

/** A compressor whose blocks (stored raw) finish only when the test calls release(). */
export function gatedCompressor(): BlockCompressor & { release(): void; pending(): number } {
  const waiting: (() => void)[] = [];
  return {
    compress(block: Uint8Array): Promise<CompressedBlock> {
      return new Promise((resolve) =>
        waiting.push(() => resolve({ bytes: block, compressed: false })),
      );
    },
    async close() {},
    release() {
      for (const go of waiting.splice(0)) go();
    },
    pending: () => waiting.length,
  };
}

/** `label` if `work` settles within `ms`, else 'waiting'. */
export function settledAs(work: Promise<unknown>, label: string, ms = 200): Promise<string> {
  return Promise.race([
    work.then(() => label),
    new Promise<string>((resolve) => setTimeout(() => resolve('waiting'), ms)),
  ]);
}

/** Lets every block through, including those that `finish()` queues, and waits for the end. */
export async function finishPastGate(
  writer: { finish(): Promise<void> },
  gate: { release(): void },
): Promise<void> {
  gate.release();
  const done = writer.finish();
  gate.release();
  await done;
}
