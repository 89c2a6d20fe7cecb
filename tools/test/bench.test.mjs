// `pnpm bench` end to end in its tiny mode (--quick: 1 trial, short runs; the numbers mean nothing): every case
// runs in its fresh process and bench-results.json has a well-formed row for every stable name. No timing is
// asserted: benchmarks report, they do not fail CI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfSupport } from '@tld/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const bpf = bpfSupport();
const run = fileURLToPath(new URL('../dist/bench/run.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'tld-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The names tools compare runs by (tools/README.md): renaming one is a breaking change. */
const STABLE_NAMES = [
  'u64 set',
  'i64 set',
  'u32 set',
  'f64 set',
  'string set 16',
  'string set 32',
  'bytes set',
  'syscall per update',
  'async local storage',
  'bpf fixed-offset read',
  'bpf cached read',
  'bpf cold read 1',
  'bpf cold read 16',
  'bpf cold read 63',
  'bpf cached read 4 keys',
  'bpf cached read 16 keys',
  'bpf context read',
  'bpf user read',
  'registration',
  'registration pidfd',
  'registration map update',
  'registration pages',
  'registration 4 workers',
  'registration 4 workers in kernel',
  'registration 4 workers in mmap',
  'key creation',
  'http baseline',
  'http set per request',
  'otel span publish',
  'http als per request',
  'http run per request',
  'await hop',
  'await hop inside run',
  'http no tld process',
  'http run per request, page',
  'http als per request, no tld process',
  'http run hooks only',
  'await hop before run',
  'await hop inside run, page',
  'await hop outside run, page',
  'setImmediate hop',
  'setImmediate hop inside run',
  'setImmediate hop outside run',
  'store before run',
  'set before run',
  'store after run',
  'set outside run',
  'set inside run',
];

describe('pnpm bench --quick', () => {
  it('refuses fewer than 5 trials outside quick mode, with a usage error', () => {
    const r = spawnSync(process.execPath, [run, '--trials', '2'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--trials must be at least 5');
  });

  it.skipIf(!bpf.supported)('runs every case and writes a row for every stable name', () => {
    const r = spawnSync(process.execPath, [run, '--quick', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    /** @typedef {{ name: string, unit: string, median: number, min: number, max: number, baseline: string | null, ratio: number | null }} Row */
    /** @type {unknown} */
    const parsed = JSON.parse(readFileSync(join(out, 'bench-results.json'), 'utf8'));
    const rows = /** @type {Row[]} */ (parsed);
    expect(Array.isArray(rows)).toBe(true);
    const byName = new Map(rows.map((row) => [row.name, row]));
    expect(byName.size).toBe(rows.length); // names are unique
    for (const name of STABLE_NAMES) expect(byName.has(name), name).toBe(true);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(
        expect.arrayContaining(['name', 'unit', 'median', 'min', 'max', 'baseline', 'ratio']),
      );
      expect(typeof row.unit).toBe('string');
      expect(row.min).toBeGreaterThan(0);
      expect(row.min).toBeLessThanOrEqual(row.median);
      expect(row.median).toBeLessThanOrEqual(row.max);
      if (row.baseline === null) {
        expect(row.ratio).toBeNull();
      } else {
        expect(byName.has(row.baseline), `${row.name} → ${row.baseline}`).toBe(true);
        expect(row.ratio).toBeGreaterThan(0);
      }
    }
    // The HTTP rows that alternate phases in one server report their pairs: the median ratio within its interval.
    for (const name of ['http set per request', 'http run per request', 'profile overhead']) {
      const row = /** @type {Row & { pairs: number | null, ratioCiLow: number, ratioCiHigh: number }} */ (
        byName.get(name)
      );
      expect(row.pairs, name).toBeGreaterThanOrEqual(1);
      expect(row.ratioCiLow, name).toBeLessThanOrEqual(/** @type {number} */ (row.ratio));
      expect(row.ratio, name).toBeLessThanOrEqual(row.ratioCiHigh);
    }
    expect(r.stdout).toMatch(/`http run per request` ÷ `http als per request`: [\d.]+× \(95% CI [\d.]+–[\d.]+; IQR/);
    // The table and the chart come from the same rows.
    expect(r.stdout).toContain('`bpf cached read`');
    const svg = readFileSync(join(out, 'bench-results.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('bpf cached read 16 keys');
  });
});
