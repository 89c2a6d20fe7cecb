// `pnpm demo` run as a user runs it: a child process against the real kernel. A short run must attribute every
// route within the tolerance and report the thread that never sets a route as "(no route)"; the JSON has its exact
// shape; bad arguments are a usage error; Ctrl-C mid-run leaves nothing attached or pinned.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../src/demo/workload.js';

const bpf = bpfSupport();
const demo = fileURLToPath(new URL('../dist/demo/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tld-demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface JsonRoute {
  route: string;
  requests: number;
  appCpuMs: number | null;
  bpfCpuMs: number;
  samples: number;
  appShare: number | null;
  bpfShare: number | null;
}

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [demo, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function exists(kind: 'link' | 'prog', id: number): boolean {
  try {
    execFileSync('bpftool', [kind, 'show', 'id', String(id)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether the kernel released the object: the last reference of an exited process can be dropped late. */
async function released(kind: 'link' | 'prog', id: number): Promise<boolean> {
  for (let tries = 0; tries < 40 && exists(kind, id); tries++) await new Promise((r) => setTimeout(r, 50));
  return !exists(kind, id);
}

/** Resolves with the demo's stdout up to the first line matching `pattern`. */
function until(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (pattern.test(out)) resolve(out);
    });
    child.once('exit', (code) => reject(new Error(`demo exited (${code}) before ${pattern}: ${out}`)));
  });
}

describe.skipIf(!bpf.supported)('pnpm demo: CPU time by route', () => {
  it('a 3 s run attributes every route within 5 points and reports the never-registered thread as (no route)', () => {
    const svg = join(dir, 'routes.svg');
    const r = run('--duration', '3', '--json', '--svg', svg);
    expect(r.stderr).not.toMatch(/FAIL|error/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; durationS: number; routes: JsonRoute[] };

    // The exact shape of --json.
    expect(Object.keys(out).sort()).toEqual(['durationS', 'mode', 'ok', 'routes']);
    expect(out.ok).toBe(true);
    expect(out.durationS).toBeGreaterThan(2);
    for (const row of out.routes) {
      expect(Object.keys(row)).toEqual([
        'route',
        'requests',
        'appCpuMs',
        'bpfCpuMs',
        'samples',
        'appShare',
        'bpfShare',
      ]);
    }
    expect(out.routes.map((r) => r.route)).toEqual([...ROUTES.map((r) => r.route), '(between requests)', '(no route)']);

    const routes = out.routes.filter((r) => r.appShare !== null);
    expect(routes).toHaveLength(ROUTES.length);
    for (const row of routes) {
      expect(row.requests).toBeGreaterThan(0);
      expect(row.bpfCpuMs).toBeGreaterThan(0);
      expect(Math.abs((row.bpfShare ?? 0) - (row.appShare ?? 0))).toBeLessThanOrEqual(0.05);
    }
    expect(routes.reduce((s, r) => s + (r.appShare ?? 0), 0)).toBeCloseTo(1, 3);
    expect(routes.reduce((s, r) => s + (r.bpfShare ?? 0), 0)).toBeCloseTo(1, 3);

    // The background thread never opens TaskLocalData: BPF reports its CPU as "(no route)", no route gets it.
    const none = out.routes.find((r) => r.route === '(no route)');
    expect(none?.appShare).toBeNull();
    expect(none?.appCpuMs).toBeGreaterThan(0);
    expect(none?.bpfCpuMs).toBeGreaterThan(0.8 * (none?.appCpuMs ?? 0));
    const between = out.routes.find((r) => r.route === '(between requests)');
    expect(between).toMatchObject({ requests: 0, appCpuMs: null, appShare: null, bpfShare: null });

    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*\/checkout[\s\S]*<\/svg>$/);
  });

  it('Ctrl-C mid-run exits 130 and leaves no link, no program and no pin behind', async () => {
    const pin = uniquePinPath('demo');
    const child = spawn(process.execPath, [demo, '--duration', '60', '--pin', pin, '--svg', join(dir, 'x.svg')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const out = await until(child, /^3\. Load:/m);
    const ids = (pattern: RegExp): number[] =>
      [...out.matchAll(pattern)].flatMap((m) => (m[1] ?? '').split(', ').map(Number));
    const links = ids(/links? ([\d, ]+), prog/g);
    const progs = ids(/prog (\d+)/g);
    expect(links).toHaveLength(2 + Number(/on (\d+) CPUs/.exec(out)?.[1]));
    expect(new Set(progs).size).toBe(3);
    for (const id of links) expect(exists('link', id)).toBe(true);
    expect(existsSync(pin)).toBe(true);

    child.kill('SIGINT');
    expect(await exited).toBe(130);
    for (const id of links) expect(await released('link', id)).toBe(true);
    for (const id of progs) expect(await released('prog', id)).toBe(true);
    expect(existsSync(pin)).toBe(false);
  });

  it('--mode async runs every request in TaskLocalData.run()', () => {
    const r = run('--mode', 'async', '--duration', '3', '--json', '--svg', join(dir, 'async.svg'));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout) as unknown).toMatchObject({ ok: true, mode: 'async' });
    expect(['walk', 'page', null]).toContain((JSON.parse(r.stdout) as { asyncContext?: string | null }).asyncContext);
  });
});

/** The Node.js binary of major version `major` that tools/setup installs under .cache/node; throws without it. */
function nodeBinary(major: number): string {
  const base = fileURLToPath(new URL('../../.cache/node', import.meta.url));
  const version = existsSync(base) ? readdirSync(base).find((v) => v.startsWith(`v${major}.`)) : undefined;
  const bin = version && join(base, version, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
  if (!bin || !existsSync(bin)) throw new Error(`no Node.js ${major} under ${base}: run tools/setup`);
  return bin;
}

describe.skipIf(!bpf.supported)('pnpm demo --mode async on Node 24', () => {
  it('run() takes the async-context walk where @tld/userspace has it, and every route stays within 5 points', () => {
    const r = spawnSync(
      nodeBinary(24),
      [demo, '--mode', 'async', '--duration', '4', '--json', '--svg', join(dir, 'async24.svg')],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.stderr).not.toContain('Error');
    const out = JSON.parse(r.stdout) as { ok: boolean; mode: string; asyncContext: string | null; routes: JsonRoute[] };
    if (out.asyncContext !== null) expect(out.asyncContext).toBe('walk');
    expect(out.mode).toBe('async');
    for (const row of out.routes.filter((x) => x.appShare !== null)) {
      expect(Math.abs((row.bpfShare ?? 0) - (row.appShare ?? 0)), row.route).toBeLessThanOrEqual(0.05);
    }
    expect(out.ok).toBe(true);
    expect(r.status).toBe(0);
  });
});

describe('pnpm demo: the command line', () => {
  it.each([
    [['--duration', 'abc'], '--duration must be a number'],
    [['--duration', '0'], '--duration must be a number from 0.5'],
    [['--tolerance', '-1'], '--tolerance'],
    [['--mode', 'fibers'], '--mode must be threads or async'],
    [['--workers', '2.5'], '--workers must be an integer'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--basic', '--duration', '3'], '--duration applies to the profiling demo'],
    [['--private', '--pin', '/sys/fs/bpf/x'], 'not both'],
    [['--pin', '/tmp/x'], '--pin must be a path under /sys/fs/bpf/'],
    [['extra'], 'positional'],
  ])('%j is a usage error: exit 2, the reason and the usage, no stack trace', (args, reason) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(reason);
    expect(r.stderr).toContain('Usage: pnpm demo');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('--help describes the routes and the options', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const { route } of ROUTES) expect(r.stdout).toContain(route);
    expect(r.stdout).toContain('--tolerance');
  });
});
