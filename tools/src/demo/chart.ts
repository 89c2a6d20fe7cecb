// The chart a person looks at after the run: the three shares of every route as grouped bars, rendered to SVG
// with vega-lite + vega, headless (no browser, no canvas: vega's SVG renderer writes markup directly).
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { Report } from './report.js';

const MEASURES = [
  'app: handlers timed themselves',
  'BPF: on-CPU time (sched_switch, sys_enter)',
  'BPF: perf_event samples',
];

/** Renders the report's route shares as an SVG document. */
export async function renderSvg(report: Report, subtitle: string): Promise<string> {
  const values = report.rows
    .filter((r) => r.kind === 'route')
    .flatMap((r) =>
      [r.appShare, r.bpfShare, r.sampleShare].map((share, i) => ({ route: r.route, measure: MEASURES[i], share })),
    );
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'CPU share by route: what the app measured vs what BPF saw in the kernel', subtitle },
    width: { step: 36 },
    height: 260,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'route', type: 'nominal', sort: null, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'measure', sort: MEASURES },
      y: { field: 'share', type: 'quantitative', title: "share of the routes' CPU time", axis: { format: '.0%' } },
      color: {
        field: 'measure',
        sort: MEASURES,
        title: null,
        scale: { domain: MEASURES, range: ['#4c78a8', '#f58518', '#54a24b'] },
        legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 },
      },
    },
    config: { font: 'sans-serif' },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes the chart to `path`. */
export async function writeChart(report: Report, subtitle: string, path: string): Promise<void> {
  writeFileSync(path, await renderSvg(report, subtitle));
}
