/**
 * Decoding the compressor-options payload (format page §3) for display: each field with its
 * value and meaning. When the block is absent the compressor's defaults apply, and they are
 * listed as such. Decoding never throws: a payload of the wrong length is described, not trusted.
 */
import { COMPRESSION_NAMES } from '../format/constants.js';

export interface OptionField {
  name: string;
  value: number | string;
  meaning: string;
}

export interface CompressorOptionsInfo {
  /** Compressor name from the superblock ("gzip", "xz", ... or "id N"). */
  compressor: string;
  /** Whether the image stores an options block (superblock flag 0x0400). */
  present: boolean;
  /** The payload as lowercase hex, or null when absent. */
  payloadHex: string | null;
  /** Decoded fields, or the defaults in force when the block is absent. */
  fields: OptionField[];
  /** Anything odd about the payload (wrong length, unknown bits). */
  problems: string[];
}

const GZIP_STRATEGIES: [number, string][] = [
  [0x01, 'default'],
  [0x02, 'filtered'],
  [0x04, 'huffman_only'],
  [0x08, 'run_length_encoded'],
  [0x10, 'fixed'],
];
const XZ_FILTERS: [number, string][] = [
  [0x01, 'x86'],
  [0x02, 'powerpc'],
  [0x04, 'ia64'],
  [0x08, 'arm'],
  [0x10, 'armthumb'],
  [0x20, 'sparc'],
  [0x40, 'arm64'],
  [0x80, 'riscv'],
];
const LZO_ALGORITHMS = ['lzo1x_1', 'lzo1x_1_11', 'lzo1x_1_12', 'lzo1x_1_15', 'lzo1x_999'];

function bitNames(mask: number, table: [number, string][]): { names: string[]; unknown: number } {
  const names: string[] = [];
  let known = 0;
  for (const [bit, name] of table) {
    known |= bit;
    if ((mask & bit) !== 0) names.push(name);
  }
  return { names, unknown: mask & ~known };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Describes the options of compressor `id` (superblock 0x14); `payload` null = no block. */
export function describeCompressorOptions(
  id: number,
  payload: Uint8Array | null,
  blockSize: number,
): CompressorOptionsInfo {
  const compressor = COMPRESSION_NAMES[id] ?? `id ${id}`;
  const info: CompressorOptionsInfo = {
    compressor,
    present: payload !== null,
    payloadHex: payload === null ? null : hex(payload),
    fields: [],
    problems: [],
  };
  const field = (name: string, value: number | string, meaning: string) =>
    info.fields.push({ name, value, meaning });
  if (payload === null) {
    switch (compressor) {
      case 'gzip':
        field('compression_level', 9, 'default (no options block)');
        field('window_size', 15, 'default (no options block)');
        field('strategy', 'default', 'default (no options block)');
        break;
      case 'xz':
        field('dictionary_size', blockSize, 'default: the block size (no options block)');
        field('filters', 'none', 'default: LZMA2 only (no options block)');
        break;
      case 'zstd':
        field('compression_level', 15, 'default (no options block)');
        break;
      case 'lzo':
        field('algorithm', 'lzo1x_999', 'default (no options block)');
        field('compression_level', 8, 'default (no options block)');
        break;
      case 'lz4':
        info.problems.push('lz4 images must have an options block (the kernel refuses to mount)');
        break;
    }
    return info;
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const expect = (n: number): boolean => {
    if (payload.length === n) return true;
    info.problems.push(`${compressor} options are ${n} bytes, this block has ${payload.length}`);
    return payload.length > n;
  };
  switch (compressor) {
    case 'gzip': {
      if (!expect(8)) break;
      const level = view.getUint32(0, true);
      const window = view.getUint16(4, true);
      const mask = view.getUint16(6, true);
      field('compression_level', level, level >= 1 && level <= 9 ? 'deflate level' : 'invalid');
      field('window_size', window, window >= 8 && window <= 15 ? 'log2 window' : 'invalid');
      const { names, unknown } = bitNames(mask, GZIP_STRATEGIES);
      field(
        'strategy',
        mask,
        (names.length > 0 ? names.join(',') : 'default') +
          (unknown !== 0 ? ` + unknown bits 0x${unknown.toString(16)}` : ''),
      );
      break;
    }
    case 'xz': {
      if (!expect(8)) break;
      const dict = view.getUint32(0, true);
      const mask = view.getUint32(4, true);
      const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
      const ok = pow2(dict) || (dict % 3 === 0 && pow2(dict / 3));
      field('dictionary_size', dict, ok ? 'bytes' : 'invalid: not 2^n or 3*2^n');
      const { names, unknown } = bitNames(mask, XZ_FILTERS);
      field(
        'filters',
        mask,
        (names.length > 0 ? `BCJ ${names.join(',')}` : 'none') +
          (unknown !== 0 ? ` + unknown bits 0x${unknown.toString(16)}` : ''),
      );
      break;
    }
    case 'lz4': {
      if (!expect(8)) break;
      const version = view.getUint32(0, true);
      const flags = view.getUint32(4, true);
      field('version', version, version === 1 ? 'legacy lz4 format' : 'invalid: must be 1');
      field('flags', flags, (flags & 1) !== 0 ? 'HC' : 'none');
      break;
    }
    case 'zstd': {
      if (!expect(4)) break;
      field('compression_level', view.getUint32(0, true), 'zstd level');
      break;
    }
    case 'lzo': {
      if (!expect(8)) break;
      const algorithm = view.getUint32(0, true);
      field('algorithm', algorithm, LZO_ALGORITHMS[algorithm] ?? 'invalid');
      field('compression_level', view.getUint32(4, true), 'used by lzo1x_999 only');
      break;
    }
    default:
      info.problems.push(`${compressor} never has an options block`);
  }
  return info;
}
