/**
 * What the verifier reports: a list of problems, each with a stable rule id, a severity, the
 * absolute byte offset it concerns (null when no single byte does), the structure it was found in
 * and a message. Errors break a format rule (the kernel or unsquashfs would refuse or misread the
 * image); warnings are legal but not what mksquashfs writes.
 *
 * The collector stops the run (with one final warning) after `maxProblems`, so that a badly broken
 * image cannot produce an unbounded report.
 */

export type Severity = 'error' | 'warning';

export interface Problem {
  /** Stable id, e.g. 'dir.sorted', 'table.id.placement'. */
  rule: string;
  severity: Severity;
  /** Absolute byte offset in the image, or null. */
  offset: number | null;
  /** The structure, e.g. 'inode 42 (/usr/bin/x)', 'directory table block at 12345'. */
  structure: string;
  message: string;
}

/** Thrown by the collector when the problem limit is reached; caught by verifyImage. */
export class ProblemLimitReached extends Error {}

export class ProblemList {
  readonly problems: Problem[] = [];

  constructor(private readonly maxProblems: number) {}

  error(rule: string, offset: number | null, structure: string, message: string): void {
    this.add({ rule, severity: 'error', offset, structure, message });
  }

  warn(rule: string, offset: number | null, structure: string, message: string): void {
    this.add({ rule, severity: 'warning', offset, structure, message });
  }

  private add(problem: Problem): void {
    if (this.problems.length >= this.maxProblems) {
      this.problems.push({
        rule: 'verify.limit',
        severity: 'warning',
        offset: null,
        structure: 'verifier',
        message: `stopped after ${this.maxProblems} problems; later problems are not reported`,
      });
      throw new ProblemLimitReached();
    }
    this.problems.push(problem);
  }

  get errorCount(): number {
    return this.problems.filter((p) => p.severity === 'error').length;
  }
}
