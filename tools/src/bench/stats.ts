// Small statistics over trials and samples.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function minOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => Math.min(a, b), Infinity);
}

export function maxOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => Math.max(a, b), -Infinity);
}

/** The q-quantile (0..1) of xs, interpolating linearly between the two nearest ranks. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new RangeError('quantile of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, s.length - 1);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (at - lo);
}

/**
 * A seeded linear congruential generator (Numerical Recipes' constants): the same data gives the same interval on
 * every run. Only its high bits are used (floor(x * n)), which are the good ones.
 */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

/**
 * 95% confidence interval of the median of every value of `groups` (a group: the pairs of one trial), by a
 * two-level bootstrap: draw as many groups as there are, with replacement, then within each drawn group as many
 * values as it has. Values of one trial share its process and its stretch of machine load, so resampling them
 * alone would claim more certainty than the trials give.
 */
export function medianInterval(groups: readonly (readonly number[])[], resamples = 2000): [number, number] {
  const nonEmpty = groups.filter((g) => g.length > 0);
  if (nonEmpty.length === 0) throw new RangeError('interval of nothing');
  const random = seeded(0x7d1);
  const pick = (n: number): number => Math.floor(random() * n);
  const medians: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const pooled: number[] = [];
    for (let g = 0; g < nonEmpty.length; g++) {
      const group = nonEmpty[pick(nonEmpty.length)] as readonly number[];
      for (let i = 0; i < group.length; i++) pooled.push(group[pick(group.length)] as number);
    }
    medians.push(median(pooled));
  }
  return [quantile(medians, 0.025), quantile(medians, 0.975)];
}
