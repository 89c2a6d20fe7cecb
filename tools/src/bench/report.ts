// Turning trials into bench-results.json rows, and the rows into a Markdown table with the machine they ran on.
import { cpus, loadavg, release } from 'node:os';
import { readFileSync } from 'node:fs';
import type { ResultRow, TrialResult } from './types.js';
import { maxOf, median, minOf } from './stats.js';

/** One row per reported measurement name, in the order first measured. Ratios pair values of the same trial. */
export function aggregate(trials: readonly TrialResult[]): ResultRow[] {
  const rows = new Map<
    string,
    { case: string; unit: string; baseline: string | null; description: string; values: number[]; ratios: number[] }
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
        };
        rows.set(m.name, row);
      }
      row.values.push(m.value);
      if (m.baseline !== null) {
        const base = byName.get(m.baseline);
        if (!base) throw new Error(`${m.name}: its baseline ${m.baseline} was not measured in the same trial`);
        row.ratios.push(m.value / base.value);
      }
    }
  }
  return [...rows].map(([name, r]) => ({
    name,
    unit: r.unit,
    median: median(r.values),
    min: minOf(r.values),
    max: maxOf(r.values),
    baseline: r.baseline,
    ratio: r.ratios.length ? median(r.ratios) : null,
    ratioMin: r.ratios.length ? minOf(r.ratios) : null,
    ratioMax: r.ratios.length ? maxOf(r.ratios) : null,
    trials: r.values.length,
    case: r.case,
    description: r.description,
  }));
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
  ].join('\n');
}
