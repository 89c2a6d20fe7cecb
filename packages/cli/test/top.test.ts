// tld top against the burn service (test/fixtures/burn-service.mjs): --json prints one document per refresh with
// the routes, their CPU, requests and the share nobody claimed; in a terminal (tmux) the screen shows the routes and refreshes.
import { execFileSync, spawnSync } from 'node:child_process';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BurnService, burnServicePath, binPath, run, startBurnService } from './helpers.js';

const bpf = bpfSupport();

interface TopDocument {
  ok: boolean;
  time: string;
  by: string[];
  request: string | null;
  totalCpuMs: number;
  rows: { labels: Record<string, string>; cpuMs: number; share: number; requests?: number; samples: number }[];
}

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

/** Polls `fn` every 100 ms until it returns a value, at most `tries` times (no timing assertion: a bound). */
async function until<T>(fn: () => T | undefined, tries = 150): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the condition never held');
}

describe.skipIf(!bpf.supported)('tld top', () => {
  const pin = uniquePinPath('top');
  let service: BurnService;

  beforeAll(async () => {
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
    service = await startBurnService(burnServicePath, pin, 'run');
  });
  afterAll(async () => {
    await service?.stop();
    run(['map', 'rm', '--pin', pin]);
  });

  it('--json: one document per refresh, the routes with CPU, share, requests and samples, and between requests', () => {
    const result = run(['top', '--pin', pin, '--by', 'route,tenant', '--interval', '1', '--count', '2', '--json']);
    expect(result.status).toBe(0);
    const docs = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TopDocument);
    expect(docs).toHaveLength(2);
    expect(docs[0]!.time < docs[1]!.time).toBe(true);
    for (const doc of docs) {
      expect(doc).toMatchObject({ ok: true, by: ['route', 'tenant'], request: 'req_id' });
      const row = (route: string) => doc.rows.find((r) => r.labels['route'] === route);
      expect(row('/heavy')?.labels['tenant']).toBe('acme');
      expect(row('/medium')?.labels['tenant']).toBe('globex');
      for (const route of ['/heavy', '/medium', '/light']) {
        expect(row(route)?.cpuMs).toBeGreaterThan(0);
        expect(row(route)?.requests).toBeGreaterThan(0);
      }
      expect(row('(between requests)')?.requests).toBe(0);
      // 6 : 3 : 1 units of CPU per request
      expect(row('/heavy')!.cpuMs).toBeGreaterThan(row('/medium')!.cpuMs);
      expect(row('/medium')!.cpuMs).toBeGreaterThan(row('/light')!.cpuMs);
      const shares = doc.rows.reduce((a, r) => a + r.share, 0);
      expect(shares).toBeGreaterThan(99.5);
      expect(shares).toBeLessThan(100.5);
    }
  });

  it('--pid limits it to one process; --request none counts no requests and has no between-requests row', () => {
    const result = run([
      'top',
      '--pin',
      pin,
      '--pid',
      String(service.pid),
      '--request',
      'none',
      '--interval',
      '0.5',
      '--count',
      '1',
      '--json',
    ]);
    expect(result.status).toBe(0);
    const doc = JSON.parse(result.stdout) as TopDocument;
    expect(doc.request).toBeNull();
    expect(doc.rows.every((r) => r.requests === undefined)).toBe(true);
    expect(doc.rows.some((r) => r.labels['route'] === '(between requests)')).toBe(false);
    expect(doc.rows.some((r) => r.labels['route'] === '/heavy')).toBe(true);
  });

  it('refuses a key no registered thread publishes, naming tld dump', () => {
    const result = run(['top', '--pin', pin, '--by', 'nope', '--count', '1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /no registered thread .* has a key named 'nope'.*tld dump.*\[ERR_TLD_PROFILE_NO_KEY\]/,
    );
    expect(run(['top', '--pin', pin, '--interval', '0']).status).toBe(2);
  });

  it('in a terminal: shows the routes and refreshes', async () => {
    const session = `tld-top-${process.pid}`;
    const available = spawnSync('tmux', ['-V']).status === 0;
    expect(available, 'tmux is needed for this test (tools/setup installs it)').toBe(true);
    tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '140',
      '-y',
      '30',
      `${process.execPath} ${binPath} top --pin ${pin} --by route,tenant --interval 0.5`,
    );
    try {
      const screen = (): string => tmux('capture-pane', '-p', '-t', session);
      const stamp = (text: string): string | undefined => /every 0\.5 s - (\S+)/.exec(text)?.[1];
      const first = await until(() => {
        const s = screen();
        return s.includes('/heavy') && s.includes('/light') && stamp(s) ? s : undefined;
      });
      expect(first).toMatch(/ROUTE\s+TENANT\s+CPU ms\s+SHARE\s+REQUESTS\s+SAMPLES/);
      expect(first).toMatch(/\/heavy\s+acme\s+\d+\.\d\s+\d+\.\d%/);
      expect(first).toContain('(between requests)');
      // The screen is redrawn, not appended to: one title line, and a later one has a later time.
      expect(first.match(/tld top -/g)).toHaveLength(1);
      const later = await until(() => {
        const s = screen();
        const t = stamp(s);
        return t && t > stamp(first)! ? s : undefined;
      });
      expect(later.match(/tld top -/g)).toHaveLength(1);
      expect(later).toContain('/medium');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });
});
