// The results chart: each measurement's ratio to its baseline, one bar per measurement on a log scale, rendered to
// SVG by Vega-Lite and Vega in this process (renderer 'none', no browser, no network).
import { View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import type { Machine } from './report.js';
import { fmt } from './report.js';
import type { ResultRow } from './types.js';

export async function renderChart(rows: readonly ResultRow[], m: Machine): Promise<string> {
  const values = rows
    .filter((r) => r.ratio !== null)
    .map((r) => ({
      name: r.name,
      group: r.case,
      ratio: r.ratio,
      label: `${fmt(r.ratio as number)}× of ${r.baseline} (${fmt(r.median)} ${r.unit})`,
    }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Task local data: each measurement against its baseline (same process, median of trials)',
      subtitle: `${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}`,
    },
    width: 420,
    data: { values },
    encoding: {
      y: { field: 'name', type: 'nominal', sort: null, title: null },
    },
    layer: [
      {
        mark: { type: 'bar', height: { band: 0.7 } },
        encoding: {
          x: { field: 'ratio', type: 'quantitative', scale: { type: 'log', domainMin: 0.1 }, title: 'ratio to baseline (log)' },
          color: { field: 'group', type: 'nominal', title: 'case' },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 },
        encoding: { x: { field: 'ratio', type: 'quantitative' }, text: { field: 'label' } },
      },
      { mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { x: { datum: 1 } } },
    ],
    config: { view: { stroke: null }, axis: { labelLimit: 260 } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
