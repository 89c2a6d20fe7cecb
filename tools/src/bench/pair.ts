// In-process comparisons: a candidate and its baseline doing the same work, timed interleaved in one process (ABBA
// order, so a drift in machine speed hits both alike), each call a loop of `n` operations.
import { type Reader, loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import type { BenchCase, Measurement, TrialOptions } from './types.js';
import { median } from './stats.js';

/** Runs `n` operations and returns something derived from the last, so V8 cannot drop the work. */
export type Loop = (n: number) => unknown;

/** A candidate/baseline pair over one TaskLocalData (the shape of the case modules before the TypeScript rewrite). */
export interface Pair {
  readonly baseline: Loop;
  readonly candidate: Loop;
  /** Throws when the candidate's work is not what BPF sees. */
  readonly check?: () => void;
  readonly close?: () => void;
}

export interface TldEnv {
  readonly tld: TaskLocalData;
  readonly reader: Reader;
}

/**
 * A case comparing two loops in one process. `candidate` and `baseline` describe them; `baselineName` is the
 * baseline's measurement name and `reportBaseline` false when another case reports that name.
 */
export interface PairCase {
  readonly id: string;
  readonly candidate: string;
  readonly baseline: string;
  readonly baselineName?: string;
  readonly reportBaseline?: boolean;
  readonly unit?: string;
  setup(env: TldEnv): Pair;
}

// Everything a measured loop returns is folded in here (a module variable V8 cannot prove dead), so its work is
// observable.
let sink = 0;
function fold(result: unknown): number {
  if (typeof result === 'bigint') return Number(result & 0xffffn);
  if (typeof result === 'number') return result | 0;
  return result === undefined ? 0 : 1;
}

/** Nanoseconds `n` operations of `fn` take. */
function time(fn: Loop, n: number): number {
  const t0 = process.hrtime.bigint();
  const result = fn(n);
  const t1 = process.hrtime.bigint();
  sink = (sink + fold(result)) | 0;
  return Number(t1 - t0);
}

/** Operations of `fn` that take about targetNs, found by doubling until a run lasts a tenth of that. */
function calibrate(fn: Loop, targetNs: number): number {
  let n = 16;
  for (;;) {
    const ns = time(fn, n);
    if (ns >= targetNs / 10) return Math.max(1, Math.round((n * targetNs) / ns));
    n *= 2;
  }
}

/** ns per operation of baseline and candidate: medians of `rounds` interleaved measurements after a warm-up. */
export function comparePair(pair: Pair, options: TrialOptions): { baselineNs: number; candidateNs: number } {
  const targetNs = options.timeMs * 1e6;
  // Warm-up: calibration runs each side through V8's tiers, then one full-length run each with the final count.
  let nBase = calibrate(pair.baseline, targetNs);
  let nCand = calibrate(pair.candidate, targetNs);
  nBase = Math.max(1, Math.round((nBase * targetNs) / time(pair.baseline, nBase)));
  nCand = Math.max(1, Math.round((nCand * targetNs) / time(pair.candidate, nCand)));
  const base: number[] = [];
  const cand: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    if (r % 2 === 0) {
      base.push(time(pair.baseline, nBase) / nBase);
      cand.push(time(pair.candidate, nCand) / nCand);
    } else {
      cand.push(time(pair.candidate, nCand) / nCand);
      base.push(time(pair.baseline, nBase) / nBase);
    }
  }
  return { baselineNs: median(base), candidateNs: median(cand) };
}

/** Opens a private tld_data_map and this thread's TaskLocalData, runs `fn`, closes both. */
export async function withTld<T>(fn: (env: TldEnv) => T | Promise<T>): Promise<T> {
  const reader = loadReader({ map: 'private' });
  try {
    const tld = TaskLocalData.open({ mapFd: reader.mapFd });
    try {
      return await fn({ tld, reader });
    } finally {
      tld.close();
    }
  } finally {
    reader.close();
  }
}

/** A BenchCase from a PairCase: the candidate's measurement and (unless reported elsewhere) the baseline's. */
export function pairCase(c: PairCase): BenchCase {
  const baselineName = c.baselineName ?? c.baseline;
  const unit = c.unit ?? 'ns/op';
  return {
    id: c.id,
    description: `${c.candidate} vs ${c.baseline}`,
    run: (options) =>
      withTld((env) => {
        const pair = c.setup(env);
        try {
          const { baselineNs, candidateNs } = comparePair(pair, options);
          pair.check?.();
          const out: Measurement[] = [
            { name: c.id, unit, value: candidateNs, baseline: baselineName, description: c.candidate },
            {
              name: baselineName,
              unit,
              value: baselineNs,
              baseline: null,
              description: c.baseline,
              report: c.reportBaseline ?? true,
            },
          ];
          return out;
        } finally {
          pair.close?.();
        }
      }),
  };
}

/** Whether a case module's export is a PairCase (has setup) rather than a BenchCase (has run). */
export function isPairCase(value: unknown): value is PairCase {
  return typeof value === 'object' && value !== null && typeof (value as PairCase).setup === 'function';
}
