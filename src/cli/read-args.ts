/**
 * Shared pieces of the reading commands (ls, cat, extract): a tiny argument parser for their
 * few flags, and raw-byte output (names and file contents need not be UTF-8, so they are written
 * as bytes, with back-pressure when the stream is a real Node stream).
 */
import { SquashfsError } from '../squashfs/errors.js';
import type { OutputStream } from './context.js';

export interface ParsedArgs {
  positional: string[];
  flags: Set<string>;
  help: boolean;
}

/** Splits argv into positionals and known flags; an unknown flag is a usage error. */
export function parseArgs(argv: string[], known: readonly string[], usage: string): ParsedArgs {
  const positional: string[] = [];
  const flags = new Set<string>();
  let help = false;
  let onlyPositional = false;
  for (const arg of argv) {
    if (onlyPositional || !arg.startsWith('-') || arg === '-') positional.push(arg);
    else if (arg === '--') onlyPositional = true;
    else if (arg === '-h' || arg === '--help') help = true;
    else if (known.includes(arg)) flags.add(arg);
    else throw new SquashfsError('INVALID_ARGUMENT', `unknown option ${arg}\n${usage}`);
  }
  return { positional, flags, help };
}

export function usageError(usage: string): SquashfsError {
  return new SquashfsError('INVALID_ARGUMENT', usage);
}

interface ByteStream {
  write(chunk: Uint8Array): boolean | unknown;
  once?(event: 'drain', listener: () => void): unknown;
}

/** Writes raw bytes; waits for 'drain' when a Node stream asks for it. */
export async function writeBytes(out: OutputStream, bytes: Uint8Array): Promise<void> {
  const stream = out as unknown as ByteStream;
  const ok = stream.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (ok === false && typeof stream.once === 'function') {
    await new Promise<void>((resolve) => stream.once!('drain', resolve));
  }
}

/** Collects output into chunks of about 64 KiB before writing them. */
export class BufferedOutput {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly out: OutputStream) {}
  async push(bytes: Uint8Array | string): Promise<void> {
    const b = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= 65536) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const all = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    await writeBytes(this.out, all);
  }
}
