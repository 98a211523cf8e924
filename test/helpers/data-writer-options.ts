/** DataWriter options for unit tests: 4 KiB blocks, nothing compressed, duplicates found. */
import { NoneCompressor } from '../../src/squashfs/compress/none.js';
import type { DataWriterOptions } from '../../src/squashfs/write/data-writer.js';

export function dataWriterOptions(over: Partial<DataWriterOptions> = {}): DataWriterOptions {
  return {
    blockSize: 4096,
    dataCompressor: null,
    fragmentCompressor: null,
    decompressor: new NoneCompressor(),
    fragments: 'small',
    duplicates: true,
    sparse: true,
    inFlight: 64,
    ...over,
  };
}
