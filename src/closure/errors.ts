/**
 * The one error type of src/closure. `code` is stable and machine-readable; `path` names the
 * store path, file or line the problem is about, and the message always names it too, so that
 * the CLI can print the message alone. Codes never start with "ERR_": the CLI treats an error
 * with such a code as a bug in our use of Node, and any other coded error as the user's to fix.
 */
import { systemErrorReason } from '../util/system-error.js';
export type ClosureErrorCode =
  /** The path is not below the store directory at all. */
  | 'NOT_A_STORE_PATH'
  /** The hash part is not 32 nix-base32 characters. */
  | 'BAD_HASH'
  /** The name part breaks Nix's rules (characters, leading '.', length). */
  | 'BAD_NAME'
  /** The store directory option itself is unusable. */
  | 'BAD_STORE_DIR'
  /** A well-formed store path that does not exist on disk. */
  | 'NOT_FOUND'
  /** A file type that cannot be in a store (device, fifo, socket). */
  | 'UNSUPPORTED_FILE'
  /** A closureInfo directory or path list that cannot be used. */
  | 'BAD_PATH_LIST'
  /** Reading the store failed (permissions, I/O). */
  | 'IO';

export class ClosureError extends Error {
  readonly code: ClosureErrorCode;
  readonly path: string | undefined;

  constructor(
    code: ClosureErrorCode,
    message: string,
    where: { path?: string; cause?: unknown } = {},
  ) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'ClosureError';
    this.code = code;
    this.path = where.path;
  }
}

/** Turns a Node system error into a one-line ClosureError that names the path. */
export function closureIoError(err: unknown, path: string, doing: string): ClosureError {
  const e = err as NodeJS.ErrnoException;
  const reason = systemErrorReason(err);
  const code = e?.code === 'ENOENT' ? 'NOT_FOUND' : 'IO';
  return new ClosureError(code, `cannot ${doing} ${path}: ${reason}`, { path, cause: err });
}
