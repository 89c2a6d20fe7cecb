// What the demo found: per route, the CPU time the app measured in its handlers against what the BPF programs
// charged; shares, the tolerance check, the table, the terminal bar chart and the JSON.
import type { RouteProfileReading, RouteTotal } from '@tld/profiler';
import type { RouteCount } from './server.js';
import { ROUTES } from './workload.js';

/** The names under which buckets without a route are reported. */
export const BUCKET_NAMES: Readonly<Record<Exclude<RouteTotal['state'], 'route'>, string>> = Object.freeze({
  idle: '(between requests)',
  none: '(no route)',
  unreadable: '(unreadable)',
});

export interface Row {
  readonly route: string;
  readonly kind: RouteTotal['state'];
  readonly requests: number;
  /** CPU the app measured: its handlers for a route, its background thread for '(no route)'; else null. */
  readonly appCpuMs: number | null;
  readonly bpfCpuMs: number;
  readonly samples: number;
  /** Fractions of 1 of the routes' total; null for buckets without a route. */
  readonly appShare: number | null;
  readonly bpfShare: number | null;
  readonly sampleShare: number | null;
}

export interface Report {
  readonly ok: boolean;
  readonly durationS: number;
  readonly tolerancePp: number;
  readonly rows: readonly Row[];
  /** One line per reason the run is not ok. */
  readonly failures: readonly string[];
  readonly unstampedPieces: number;
}

export interface ReportInput {
  readonly app: ReadonlyMap<string, RouteCount>;
  readonly backgroundCpuNs: number;
  readonly bpf: RouteProfileReading;
  readonly durationS: number;
  readonly tolerancePp: number;
}

const ms = (ns: number): number => ns / 1e6;
const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;

function order(route: string): number {
  const i = ROUTES.findIndex((r) => r.route === route);
  return i === -1 ? ROUTES.length : i;
}

export function buildReport(input: ReportInput): Report {
  const { app, bpf, tolerancePp } = input;
  const byRoute = new Map(bpf.totals.filter((t) => t.state === 'route').map((t) => [t.route, t]));
  const routes = [...new Set([...app.keys(), ...byRoute.keys()])].sort(
    (a, b) => order(a) - order(b) || a.localeCompare(b),
  );
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  const appTotal = sum(routes.map((r) => app.get(r)?.cpuNs ?? 0));
  const bpfTotal = sum(routes.map((r) => byRoute.get(r)?.cpuNs ?? 0));
  const sampleTotal = sum(routes.map((r) => byRoute.get(r)?.samples ?? 0));
  const share = (part: number, total: number): number => (total > 0 ? part / total : 0);

  const rows: Row[] = routes.map((route) => {
    const a = app.get(route);
    const b = byRoute.get(route);
    return {
      route,
      kind: 'route',
      requests: a?.requests ?? 0,
      appCpuMs: ms(a?.cpuNs ?? 0),
      bpfCpuMs: ms(b?.cpuNs ?? 0),
      samples: b?.samples ?? 0,
      appShare: share(a?.cpuNs ?? 0, appTotal),
      bpfShare: share(b?.cpuNs ?? 0, bpfTotal),
      sampleShare: share(b?.samples ?? 0, sampleTotal),
    };
  });
  for (const state of ['idle', 'none', 'unreadable'] as const) {
    const t = bpf.totals.find((x) => x.state === state);
    if (!t && state === 'unreadable') continue;
    rows.push({
      route: BUCKET_NAMES[state],
      kind: state,
      requests: 0,
      appCpuMs: state === 'none' ? ms(input.backgroundCpuNs) : null,
      bpfCpuMs: ms(t?.cpuNs ?? 0),
      samples: t?.samples ?? 0,
      appShare: null,
      bpfShare: null,
      sampleShare: null,
    });
  }

  const failures: string[] = [];
  if (appTotal === 0) failures.push('the server answered no request: nothing to compare');
  else if (bpfTotal === 0) failures.push('BPF charged no CPU time to any route: the programs did not see the routes');
  else if (sampleTotal === 0) failures.push('no CPU-clock sample found a thread serving a route');
  for (const row of rows) {
    if (row.kind !== 'route' || appTotal === 0 || bpfTotal === 0) continue;
    const p = row.appShare ?? 0;
    const apart = Math.abs((row.bpfShare ?? 0) - p) * 100;
    if (apart > tolerancePp) {
      failures.push(
        `${row.route}: BPF share ${pct(row.bpfShare ?? 0)} vs app share ${pct(p)} ` +
          `(${apart.toFixed(1)} percentage points apart, tolerance ${tolerancePp})`,
      );
    }
    // Samples estimate the share with binomial noise: allow the tolerance or 4 standard errors, whichever is wider.
    const noisePp = sampleTotal > 0 ? 400 * Math.sqrt((p * (1 - p)) / sampleTotal) : 0;
    const sampleApart = Math.abs((row.sampleShare ?? 0) - p) * 100;
    if (sampleTotal > 0 && sampleApart > Math.max(tolerancePp, noisePp)) {
      failures.push(
        `${row.route}: sample share ${pct(row.sampleShare ?? 0)} vs app share ${pct(p)} ` +
          `(${sampleApart.toFixed(1)} points apart; ${sampleTotal} samples allow ${Math.max(tolerancePp, noisePp).toFixed(1)})`,
      );
    }
  }
  if (bpf.droppedFull > 0) failures.push(`${bpf.droppedFull} charges were dropped: the per-route map was full`);
  return {
    ok: failures.length === 0,
    durationS: input.durationS,
    tolerancePp,
    rows,
    failures,
    unstampedPieces: bpf.unstampedPieces,
  };
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

/** The --json document: exactly { ok, durationS, routes: [{ route, requests, appCpuMs, bpfCpuMs, samples, appShare, bpfShare }] }. */
export function toJson(report: Report): unknown {
  return {
    ok: report.ok,
    durationS: round(report.durationS, 3),
    routes: report.rows.map((r) => ({
      route: r.route,
      requests: r.requests,
      appCpuMs: r.appCpuMs === null ? null : round(r.appCpuMs, 3),
      bpfCpuMs: round(r.bpfCpuMs, 3),
      samples: r.samples,
      appShare: r.appShare === null ? null : round(r.appShare, 5),
      bpfShare: r.bpfShare === null ? null : round(r.bpfShare, 5),
    })),
  };
}

/** The table: one line per route, then the buckets without a route. */
export function renderTable(report: Report): string {
  const header = [
    'route',
    'requests',
    'app CPU ms',
    'BPF CPU ms',
    'samples',
    'app share',
    'BPF share',
    'sample share',
    'difference',
  ];
  const cells = report.rows.map((r) => [
    r.route,
    r.kind === 'route' ? String(r.requests) : '',
    r.appCpuMs === null ? '' : r.appCpuMs.toFixed(1),
    r.bpfCpuMs.toFixed(1),
    String(r.samples),
    r.appShare === null ? '' : pct(r.appShare),
    r.bpfShare === null ? '' : pct(r.bpfShare),
    r.sampleShare === null ? '' : pct(r.sampleShare),
    r.appShare === null || r.bpfShare === null
      ? ''
      : `${((r.bpfShare - r.appShare) * 100).toFixed(1).replace(/^(?!-)/, '+')} pp`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (row: string[]): string =>
    '  ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const firstBucket = report.rows.findIndex((r) => r.kind !== 'route');
  const lines = [line(header), ...cells.map(line)];
  if (firstBucket >= 0) lines.splice(firstBucket + 1, 0, '  ' + '-'.repeat(widths.reduce((a, b) => a + b + 2, -2)));
  return lines.join('\n');
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

function bar(fraction: number, width: number): string {
  const eighths = Math.round(Math.max(0, fraction) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + (EIGHTHS[eighths % 8] ?? '');
}

/** A bar chart of the three shares of every route, the longest bar `width` columns. */
export function renderBars(report: Report, width = 40): string {
  const routes = report.rows.filter((r) => r.kind === 'route');
  const largest = Math.max(0.01, ...routes.flatMap((r) => [r.appShare ?? 0, r.bpfShare ?? 0, r.sampleShare ?? 0]));
  const name = Math.max(...routes.map((r) => r.route.length));
  const lines: string[] = [];
  for (const r of routes) {
    const measures: Array<[string, number]> = [
      ['app', r.appShare ?? 0],
      ['BPF', r.bpfShare ?? 0],
      ['samples', r.sampleShare ?? 0],
    ];
    measures.forEach(([label, value], i) => {
      const scaled = bar(value / largest, width);
      lines.push(
        `  ${(i === 0 ? r.route : '').padEnd(name)}  ${label.padEnd(7)} ${scaled.padEnd(width)} ${pct(value)}`,
      );
    });
  }
  return lines.join('\n');
}
