// The demo's first step (--basic; the profiling demo is test/demo.test.ts), run as a user runs it: as a child
// process, against the real kernel. (The tld command line is @tld/cli's, tested in packages/cli.)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bpfSupport } from '@tld/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// Skips only when the kernel lacks a feature; under TLD_REQUIRE_BPF=1 bpfSupport() throws instead.
const bpf = bpfSupport();

const demo = fileURLToPath(new URL('../dist/demo/main.js', import.meta.url));
const pin = `/sys/fs/bpf/tld-test-cli-${process.pid}`;

afterEach(() => {
  spawnSync('rm', ['-f', pin]);
});

describe.skipIf(!bpf.supported)('demo --basic', () => {
  it('shows every thread its own values through BPF, and a thread that never opened as absent', () => {
    const run = spawnSync(process.execPath, [demo, '--basic', '--private', '--json'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    /** @typedef {{ thread: string, tid: number, registered: boolean, reqId?: string, route?: string }} Row */
    /** @type {unknown} */
    const parsed = JSON.parse(run.stdout);
    const { ok, rows, reqIdUpdates } = /** @type {{ ok: boolean, rows: Row[], reqIdUpdates: string[] }} */ (parsed);
    expect(ok).toBe(true);
    expect(rows.map((r) => [r.thread, r.registered, r.reqId, r.route])).toEqual([
      ['main', true, '1001', '/users/:id'],
      ['worker 1', true, '2001', '/orders/:id'],
      ['worker 2', true, '3001', '/carts/:id/items'],
      ['worker 3', true, '4001', '/health'],
      ['worker 4', false, undefined, undefined],
    ]);
    expect(new Set(rows.map((r) => r.tid)).size).toBe(5);
    expect(reqIdUpdates).toEqual(['1002', '1003', '1004', '1005', '1006']);
  });

  it('leaves no pin behind when it created the shared one', () => {
    const run = spawnSync(process.execPath, [demo, '--basic', '--pin', pin], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('BPF read exactly what every thread wrote.');
    expect(existsSync(pin)).toBe(false);
  });
});
