import { systemErrorReason } from '../util/system-error.js';

/**
 * One error type for everything squashfs-related. `code` is stable and machine-readable; `path`
 * and `offset` say where the problem is (a source path for the writer, a byte offset for the
 * reader). The CLI prints `message` and exits non-zero; it never shows a stack for these.
 */
export type SquashfsErrorCode =
  | 'CORRUPT'
  | 'OUT_OF_BOUNDS'
  | 'UNSUPPORTED'
  | 'LIMIT'
  | 'INVALID_ARGUMENT'
  | 'IO'
  | 'CHANGED_DURING_READ';

export class SquashfsError extends Error {
  readonly code: SquashfsErrorCode;
  readonly path: string | undefined;
  readonly offset: number | undefined;

  constructor(
    code: SquashfsErrorCode,
    message: string,
    where: { path?: string; offset?: number; cause?: unknown } = {},
  ) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'SquashfsError';
    this.code = code;
    this.path = where.path;
    this.offset = where.offset;
  }
}

/** Turns a Node system error into a one-line SquashfsError that names the path. */
export function ioError(err: unknown, path: string, doing: string): SquashfsError {
  const reason = systemErrorReason(err);
  return new SquashfsError('IO', `cannot ${doing} ${path}: ${reason}`, { path, cause: err });
}
