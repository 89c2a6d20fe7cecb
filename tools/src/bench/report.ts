// Turning trials into bench-results.json rows, and the rows into a Markdown table with the machine they ran on.
import { cpus, loadavg, release } from 'node:os';
import { readFileSync } from 'node:fs';
import type { ResultRow, TrialResult } from './types.js';
import { maxOf, median, medianInterval, minOf, quantile } from './stats.js';

/** One row per reported measurement name, in the order first measured. Ratios pair values of the same trial. */
export function aggregate(trials: readonly TrialResult[]): ResultRow[] {
  const rows = new Map<
    string,
    {
      case: string;
      unit: string;
      baseline: string | null;
      description: string;
      values: number[];
      ratios: number[];
      /** Per trial, the pairs' ratios (rows measured in pairs of phases). */
      pairs: (readonly number[])[];
    }
  >();
  for (const trial of trials) {
    const byName = new Map(trial.measurements.map((m) => [m.name, m]));
    for (const m of trial.measurements) {
      if (m.report === false) continue;
      let row = rows.get(m.name);
      if (!row) {
        row = {
          case: trial.id,
          unit: m.unit,
          baseline: m.baseline,
          description: m.description,
          values: [],
          ratios: [],
          pairs: [],
        };
        rows.set(m.name, row);
      }
      row.values.push(m.value);
      if (m.baseline !== null) {
        const base = byName.get(m.baseline);
        if (!base) throw new Error(`${m.name}: its baseline ${m.baseline} was not measured in the same trial`);
        if (m.pairRatios !== undefined && m.pairRatios.length > 0) {
          row.pairs.push(m.pairRatios);
          row.ratios.push(median(m.pairRatios));
        } else {
          row.ratios.push(m.value / base.value);
        }
      }
    }
  }
  return [...rows].map(([name, r]) => {
    const pooled = r.pairs.flat();
    const interval = pooled.length ? medianInterval(r.pairs) : null;
    return {
      name,
      unit: r.unit,
      median: median(r.values),
      min: minOf(r.values),
      max: maxOf(r.values),
      baseline: r.baseline,
      ratio: pooled.length ? median(pooled) : r.ratios.length ? median(r.ratios) : null,
      ratioMin: r.ratios.length ? minOf(r.ratios) : null,
      ratioMax: r.ratios.length ? maxOf(r.ratios) : null,
      pairs: pooled.length || null,
      ratioCiLow: interval?.[0] ?? null,
      ratioCiHigh: interval?.[1] ?? null,
      ratioQ1: pooled.length ? quantile(pooled, 0.25) : null,
      ratioQ3: pooled.length ? quantile(pooled, 0.75) : null,
      trials: r.values.length,
      case: r.case,
      description: r.description,
    };
  });
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly kernel: string;
  readonly node: string;
  /** 1-minute load average when the run ended: other work on the machine skews the numbers. */
  readonly loadAverage: number;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model.trim() ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':')[1]?.trim() ?? cpu;
  } catch {
    // not Linux: os.cpus() said it
  }
  return { cpu, cores: cpus().length, kernel: release(), node: process.version, loadAverage: loadavg()[0] ?? 0 };
}

/** A number with three significant digits, as in the table. */
export function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function markdownTable(rows: readonly ResultRow[], m: Machine, trials: number): string {
  const table = [
    ['measurement', 'median', 'min–max', 'unit', 'baseline', 'ratio (min–max)'],
    ...rows.map((r) => [
      `\`${r.name}\``,
      fmt(r.median),
      `${fmt(r.min)}–${fmt(r.max)}`,
      r.unit,
      r.baseline === null ? '' : `\`${r.baseline}\``,
      r.ratio === null ? '' : `${fmt(r.ratio)}× (${fmt(r.ratioMin as number)}–${fmt(r.ratioMax as number)})`,
    ]),
  ];
  const widths = (table[0] as string[]).map((_, i) => Math.max(...table.map((row) => (row[i] as string).length)));
  const right = new Set([1, 2, 5]);
  const line = (row: string[]): string =>
    `| ${row.map((c, i) => (right.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  const [head, ...body] = table as [string[], ...string[][]];
  return [
    line(head),
    rule,
    ...body.map(line),
    '',
    `Median over ${trials} trial(s), each a fresh process; ratio = value / baseline measured in the same trial ` +
      '(median of the per-trial ratios, min–max in brackets).',
    `${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}, load average ${m.loadAverage.toFixed(2)} at the end.`,
    ...pairedLines(rows),
  ].join('\n');
}

/** Three decimals: the paired ratios are read to a percent or better. */
const ratio3 = (x: number | null): string => (x ?? NaN).toFixed(3);

/** The rows measured in pairs of phases, each ratio with its interval, spread and number of pairs. */
export function pairedLines(rows: readonly ResultRow[]): string[] {
  const paired = rows.filter((r) => r.pairs !== null);
  if (paired.length === 0) return [];
  return [
    '',
    'Measured in pairs of alternating phases in one server process (order drawn per pair); ratio = median of the ' +
      "pairs' ratios over all trials, 95% CI by bootstrap over trials and pairs, IQR of single pairs:",
    '',
    ...paired.map(
      (r) =>
        `- \`${r.name}\` ÷ \`${r.baseline}\`: ${ratio3(r.ratio)}× (95% CI ${ratio3(r.ratioCiLow)}–${ratio3(r.ratioCiHigh)}; ` +
        `IQR ${ratio3(r.ratioQ1)}–${ratio3(r.ratioQ3)}; ${r.pairs} pairs in ${r.trials} trial(s)) [${r.unit}]`,
    ),
  ];
}
