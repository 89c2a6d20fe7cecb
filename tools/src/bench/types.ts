// The shapes shared by the benchmark runner, the trial process and the case modules.

/** How long and how often a trial measures. */
export interface TrialOptions {
  /** Tiny mode for the end-to-end test: few iterations, short runs. Numbers mean nothing then. */
  readonly quick: boolean;
  /** Length of one in-process measurement in milliseconds. */
  readonly timeMs: number;
  /** Interleaved baseline/candidate measurements per trial (in-process cases). */
  readonly rounds: number;
}

/** One number one trial measured. */
export interface Measurement {
  /** Stable name (bench-results.json `name`): tools compare runs by it. */
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  /** Name of the measurement this one is compared with; it must be measured in the same trial. */
  readonly baseline: string | null;
  /** What was measured, for the table. */
  readonly description: string;
  /**
   * false: measured only as another measurement's baseline within this trial (its own row comes from another
   * case), so it is not reported under this name.
   */
  readonly report?: boolean;
  /**
   * Measured in pairs of phases with its baseline: each pair's value ÷ the baseline's. The row's ratio is then the
   * median over every pair of every trial, with a confidence interval (report.ts).
   */
  readonly pairRatios?: readonly number[];
}

/** A benchmark case: each trial runs it in a fresh process (trial.ts). */
export interface BenchCase {
  /** Unique id; `--filter` matches it and the description. */
  readonly id: string;
  readonly description: string;
  run(options: TrialOptions): Promise<Measurement[]> | Measurement[];
}

/** What a trial process sends back. */
export interface TrialResult {
  readonly id: string;
  readonly measurements: Measurement[];
}

/** A row of bench-results.json. */
export interface ResultRow {
  readonly name: string;
  readonly unit: string;
  /** Median over trials. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly baseline: string | null;
  /**
   * Median over trials of value / baseline value (each pair from one trial); for rows measured in pairs of
   * phases, the median of every pair's ratio. null without a baseline.
   */
  readonly ratio: number | null;
  readonly ratioMin: number | null;
  readonly ratioMax: number | null;
  /** Rows measured in pairs of phases (Measurement.pairRatios): how many pairs, over all trials; else null. */
  readonly pairs: number | null;
  /** 95% bootstrap confidence interval of `ratio` (trials resampled, then pairs within them); null without pairs. */
  readonly ratioCiLow: number | null;
  readonly ratioCiHigh: number | null;
  /** Quartiles of the single pairs' ratios (their spread, not the median's); null without pairs. */
  readonly ratioQ1: number | null;
  readonly ratioQ3: number | null;
  readonly trials: number;
  /** The case that measured it. */
  readonly case: string;
  readonly description: string;
}
