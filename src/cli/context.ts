/**
 * What a command needs from the outside world, passed in rather than taken from `process` so that
 * tests can run commands against in-memory streams and a chosen environment.
 */

/** The part of a stream the CLI writes to; `isTTY` and `columns` decide whether a progress bar shows. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliContext {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  /** The package version, for `--version` and `mk -version`. */
  version: string;
}

/** One subcommand. Each lives in its own file and is listed (with its summary) in commands.ts. */
export interface CliCommand {
  name: string;
  /** Returns the exit code; throws SquashfsError for anything the user must fix. */
  run(argv: string[], ctx: CliContext): Promise<number>;
}
