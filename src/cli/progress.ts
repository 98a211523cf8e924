/**
 * A one-line progress bar, `[=====>    ] 123/456 27%`, redrawn in place with '\r'. Redraws are
 * limited to about ten a second: the writer reports per block, and writing to a terminal that
 * often would cost more than the compression on small files.
 */
import type { WriteProgress } from '../squashfs/write/options.js';
import type { OutputStream } from './context.js';

const MIN_BAR_WIDTH = 10;
const DEFAULT_COLUMNS = 80;

/** Fraction done: by bytes when there are any (that is what takes time), else by files. */
export function progressFraction(p: WriteProgress): number {
  if (p.bytesTotal > 0) return Math.min(1, p.bytesRead / p.bytesTotal);
  if (p.filesTotal > 0) return Math.min(1, p.filesDone / p.filesTotal);
  return 1;
}

/** The bar line for a terminal `columns` wide; one short of it, so the cursor never wraps. */
export function renderProgress(p: WriteProgress, columns = DEFAULT_COLUMNS): string {
  const fraction = progressFraction(p);
  const suffix = ` ${p.filesDone}/${p.filesTotal} ${Math.floor(fraction * 100)}%`;
  const width = Math.max(MIN_BAR_WIDTH, columns - 1 - suffix.length - 2);
  const filled = Math.floor(fraction * width);
  const bar =
    filled >= width ? '='.repeat(width) : '='.repeat(filled) + '>' + ' '.repeat(width - filled - 1);
  return `[${bar}]${suffix}`;
}

export class ProgressBar {
  private lastDraw = -Infinity;
  private lastLength = 0;
  private latest: WriteProgress | undefined;

  constructor(
    private readonly out: OutputStream,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = 100,
  ) {}

  update(progress: WriteProgress): void {
    this.latest = progress;
    const t = this.now();
    if (t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.draw(progress);
  }

  /** Ends the line: on success with the final state drawn, so the bar shows where it finished. */
  finish(succeeded: boolean): void {
    if (succeeded && this.latest !== undefined) this.draw(this.latest);
    if (this.lastLength > 0) this.out.write('\n');
    this.lastLength = 0;
  }

  private draw(progress: WriteProgress): void {
    const line = renderProgress(progress, this.out.columns ?? DEFAULT_COLUMNS);
    // Pad over a longer previous line (the terminal may have been narrowed).
    this.out.write(`\r${line.padEnd(this.lastLength)}`);
    this.lastLength = line.length;
  }
}
