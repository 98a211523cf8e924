/**
 * The shape of bench/results/bench.json (`schema: "tsquashfs-bench/1"`). Times are seconds, sizes
 * and RSS are bytes. Every raw run is kept; medians and ratios are derived from them.
 */
import type { Corpus } from './corpora.js';
import type { Measurement } from './measure.js';
import type { ScaleResult } from './scale-report.js';

export interface BenchResults {
  schema: 'tsquashfs-bench/1';
  /** ISO date of the start of the run. */
  date: string;
  /** Wall time of the whole run so far (corpus building included). */
  durationSeconds: number;
  machine: {
    cores: number;
    cpuModel: string;
    memoryBytes: number;
    os: string;
    node: string;
    /** os.loadavg() (1, 5, 15 minutes) at the start and at the end: other load skews the times. */
    loadAverageStart: number[];
    loadAverageEnd: number[];
  };
  /** First line of each tool's version output (null: not installed). */
  tools: Record<string, string | null>;
  options: {
    reps: number;
    /** Repetitions of a cell whose first runs all took under fastCellSeconds (absent: reps). */
    fastReps?: number;
    fastCellSeconds?: number;
    quick: boolean;
    corpora: string[];
    settings: string[];
    tools: string[];
  };
  corpora: Corpus[];
  settings: {
    id: string;
    description: string;
    mksquashfs: string[];
    gensquashfs: string[] | null;
  }[];
  /** One entry per child run, in the order they ran. */
  runs: RunRecord[];
  /** One entry per corpus × setting × tool: medians over the repetitions. */
  cells: Cell[];
  /** tsquashfs (all cores) against each other tool, per corpus × setting: subject / peer. */
  ratios: Ratio[];
  targets: TargetCheck[];
  scale: ScaleResult | null;
}

export interface RunRecord extends Measurement {
  corpus: string;
  setting: string;
  tool: string;
  /** 0-based repetition. */
  rep: number;
  imageBytes: number;
  /** sha256 of the image, to see which tools wrote identical bytes. */
  sha256: string;
}

export interface Medians {
  wallSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  imageBytes: number;
}

export interface Cell {
  corpus: string;
  setting: string;
  tool: string;
  /** The command line (with the corpus and image paths), or null when unsupported. */
  argv: string[] | null;
  unsupported: string | null;
  runs: number;
  median: Medians | null;
  /** True when every run of this tool wrote the same bytes as mksquashfs-p1's first run. */
  identicalToMksquashfs: boolean | null;
}

export interface Ratio {
  corpus: string;
  setting: string;
  subject: string;
  peer: string;
  wall: number;
  cpu: number;
  rss: number;
  size: number;
}

export interface TargetCheck {
  id: string;
  description: string;
  corpus: string;
  setting: string;
  /** The measured value (a ratio, or bytes for RSS targets). */
  value: number;
  /** The limit and the direction: pass when value <= limit ('max') or >= limit ('min'). */
  limit: number;
  kind: 'max' | 'min';
  pass: boolean;
  /** How the value was computed, e.g. "tsquashfs-p2 wall / mksquashfs-p2 wall". */
  detail: string;
}
