/**
 * The warnings of one scan, held until it ends and then given in path order. Directories are
 * listed several at a time, so the order in which their entries are met depends on the threads;
 * the warnings about them must not (the same tree gives the same messages in the same order).
 */

/**
 * A warning about `path` (none: about the scan as a whole). Of the warnings with one `once` key,
 * only the first in path order is given (one message per dropped xattr name, not one per file).
 */
export type Warn = (message: string, about?: { path: Buffer; once?: string }) => void;

interface Held {
  path: Buffer;
  message: string;
  once: string | undefined;
}

const NO_PATH = Buffer.alloc(0);

export class ScanWarnings {
  private readonly held: Held[] = [];

  readonly add: Warn = (message, about) => {
    this.held.push({ path: about?.path ?? NO_PATH, message, once: about?.once });
  };

  /**
   * Gives every held warning to `emit`: those about no path first, then by path bytes; the
   * sort is stable, so warnings about one path keep the order they were made in.
   */
  flush(emit: (message: string) => void): void {
    const sorted = this.held.splice(0).sort((a, b) => Buffer.compare(a.path, b.path));
    const given = new Set<string>();
    for (const w of sorted) {
      if (w.once !== undefined) {
        if (given.has(w.once)) continue;
        given.add(w.once);
      }
      emit(w.message);
    }
  }
}
