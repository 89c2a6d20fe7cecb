// The results chart: each measurement's ratio to its baseline, one bar per measurement on a log scale, rendered to
// SVG by Vega-Lite and Vega in this process (renderer 'none', no browser, no network).
import { View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import type { Machine } from './report.js';
import { fmt } from './report.js';
import type { ResultRow } from './types.js';

const GROUPS: Readonly<Record<string, string>> = {
  'ns/op': 'JavaScript set() and alternatives',
  'ns/read': 'BPF reads in the kernel',
  µs: 'registration and key creation',
  'µs/request': 'HTTP service',
  'µs CPU/request': 'HTTP service',
};

export async function renderChart(rows: readonly ResultRow[], m: Machine): Promise<string> {
  const values = rows
    .filter((r) => r.ratio !== null)
    .map((r) => ({
      name: r.name,
      group: GROUPS[r.unit] ?? r.unit,
      ratio: r.ratio,
      one: 1,
      // Labels start right of the larger of 1 and the ratio, so they never cross the line at 1×.
      at: Math.max(1, r.ratio as number) * 1.15,
      label: `${fmt(r.ratio as number)}× ${r.baseline} · ${fmt(r.median)} ${r.unit}`,
    }));
  const x = {
    type: 'quantitative',
    scale: { type: 'log' },
    title: 'ratio to baseline (log scale; 1 = as fast as the baseline)',
  } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Task local data: each measurement against its baseline (same process, median of trials)',
      subtitle: `${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}`,
    },
    width: 360,
    data: { values },
    encoding: { y: { field: 'name', type: 'nominal', sort: null, title: null } },
    layer: [
      // A line from 1× to the ratio and a dot at the ratio: bars cannot start at 0 on a log scale.
      {
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: {
          x: { field: 'one', ...x },
          x2: { field: 'ratio' },
          color: { field: 'group', type: 'nominal', title: null },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 40 },
        encoding: { x: { field: 'ratio', ...x }, color: { field: 'group', type: 'nominal' } },
      },
      {
        mark: { type: 'text', align: 'left', fontSize: 10 },
        encoding: { x: { field: 'at', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
    config: {
      view: { stroke: null },
      axis: { labelLimit: 260 },
      legend: { orient: 'top', labelLimit: 300, columns: 2 },
    },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
