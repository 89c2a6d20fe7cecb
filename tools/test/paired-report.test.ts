// How rows measured in pairs of phases are reported: the ratio is the median of every pair's ratio (not the
// ratio of the trials' values), with a bootstrap interval over trials and pairs, the pairs' quartiles and count.
import { describe, expect, it } from 'vitest';
import { aggregate, pairedLines } from '../src/bench/report.js';
import { medianInterval, quantile } from '../src/bench/stats.js';
import type { Measurement, TrialResult } from '../src/bench/types.js';

function trial(pairRatios: number[] | undefined, value = 2, base = 1): TrialResult {
  const measurements: Measurement[] = [
    { name: 'base', unit: 'µs', value: base, baseline: null, description: '' },
    {
      name: 'cand',
      unit: 'µs',
      value,
      baseline: 'base',
      description: '',
      ...(pairRatios === undefined ? {} : { pairRatios }),
    },
  ];
  return { id: 'case', measurements };
}

describe('quantile', () => {
  it('interpolates between ranks', () => {
    expect(quantile([4, 1, 3, 2], 0)).toBe(1);
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75);
    expect(quantile([4, 1, 3, 2], 0.5)).toBeCloseTo(2.5);
    expect(quantile([4, 1, 3, 2], 1)).toBe(4);
  });
});

describe('medianInterval', () => {
  it('is a point when every pair agrees, and holds the median otherwise', () => {
    expect(medianInterval([[1, 1, 1]])).toEqual([1, 1]);
    const groups = [
      [0.95, 1.0, 1.05, 0.98],
      [1.02, 0.97, 1.01, 1.04],
    ];
    const [low, high] = medianInterval(groups);
    expect(low).toBeLessThan(1.0);
    expect(high).toBeGreaterThan(1.0);
    expect(low).toBeGreaterThanOrEqual(0.95);
    expect(high).toBeLessThanOrEqual(1.05);
    expect(medianInterval(groups)).toEqual([low, high]); // seeded: the same every run
  });

  it('widens when the trials disagree, although the pairs within each agree', () => {
    // Pooled, these 60 values look like a tight cluster at 1.0 (two thirds of them); as three trials, one in three
    // says 1.1, and a resample of trials often has two of those.
    const fill = (x: number): number[] => Array<number>(20).fill(x);
    const agreeing = [fill(1.0), fill(1.0), fill(1.001)];
    const disagreeing = [fill(1.0), fill(1.0), fill(1.1)];
    const width = ([low, high]: [number, number]): number => high - low;
    expect(width(medianInterval(disagreeing))).toBeGreaterThan(0.09);
    expect(width(medianInterval(agreeing))).toBeLessThan(0.002);
  });
});

describe('aggregate', () => {
  it("takes a paired row's ratio from its pairs, pooled over trials", () => {
    // Trial values say 2×; the pairs say about 1.1×: the pairs win.
    const rows = aggregate([trial([1.0, 1.1, 1.2]), trial([1.1, 1.1, 1.3])]);
    const cand = rows.find((r) => r.name === 'cand');
    expect(cand?.ratio).toBeCloseTo(1.1);
    expect(cand?.pairs).toBe(6);
    expect(cand?.ratioMin).toBeCloseTo(1.1); // per trial: the median of its pairs
    expect(cand?.ratioMax).toBeCloseTo(1.1);
    expect(cand?.ratioQ1).toBeCloseTo(1.1);
    expect(cand?.ratioQ3).toBeCloseTo(1.175);
    expect(cand?.ratioCiLow).toBeLessThanOrEqual(1.1);
    expect(cand?.ratioCiHigh).toBeGreaterThanOrEqual(1.1);
  });

  it('keeps value ÷ baseline per trial for rows without pairs', () => {
    const cand = aggregate([trial(undefined, 2), trial(undefined, 3)]).find((r) => r.name === 'cand');
    expect(cand?.ratio).toBeCloseTo(2.5);
    expect(cand?.pairs).toBeNull();
    expect(cand?.ratioCiLow).toBeNull();
  });

  it('prints each paired ratio with its interval and pair count', () => {
    const lines = pairedLines(aggregate([trial([1.0, 1.1, 1.2])])).join('\n');
    expect(lines).toContain('`cand` ÷ `base`: 1.100×');
    expect(lines).toContain('3 pairs in 1 trial(s)');
    expect(lines).toMatch(/95% CI 1\.0\d\d–1\.\d\d\d/);
    expect(pairedLines(aggregate([trial(undefined)]))).toEqual([]);
  });
});
