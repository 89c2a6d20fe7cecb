// The tld CLI and the demo's first step (--basic; the profiling demo is test/demo.test.ts), run as a user runs them: as child processes, against the real kernel.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bpfSupport } from '@tld/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// Skips only when the kernel lacks a feature; under TLD_REQUIRE_BPF=1 bpfSupport() throws instead.
const bpf = bpfSupport();

const tldBin = fileURLToPath(new URL('../bin/tld.mjs', import.meta.url));
const demo = fileURLToPath(new URL('../dist/demo/main.js', import.meta.url));
const pin = `/sys/fs/bpf/tld-test-cli-${process.pid}`;

function tld(...args) {
  const run = spawnSync(process.execPath, [tldBin, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

afterEach(() => {
  spawnSync('rm', ['-f', pin]);
});

describe.skipIf(!bpf.supported)('tld map', () => {
  it('creates a 0600 pin, keeps it on a second create, checks it, and removes it', () => {
    const created = tld('map', 'create', '--pin', pin, '--json');
    expect(created.status).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ ok: true, pin, created: true, mode: '0600' });
    expect(statSync(pin).mode & 0o777).toBe(0o600);

    const again = JSON.parse(tld('map', 'create', '--pin', pin, '--json').stdout);
    expect(again).toMatchObject({ ok: true, created: false });

    const checked = JSON.parse(tld('map', 'check', '--pin', pin, '--json').stdout);
    expect(checked).toMatchObject({ ok: true, valueSize: 16, mode: '0600', looseMode: false });
    expect(checked.mapId).toBeGreaterThan(0);

    expect(tld('map', 'remove', '--pin', pin).status).toBe(0);
    expect(existsSync(pin)).toBe(false);
  });

  it('reports a loose pin mode with the fix', () => {
    tld('map', 'create', '--pin', pin);
    execFileSync('chmod', ['644', pin]);
    const checked = tld('map', 'check', '--pin', pin);
    expect(checked.status).toBe(0);
    expect(checked.stdout).toContain(`chmod 600 ${pin}`);
    expect(checked.stderr).toContain('TLD_LOOSE_PIN_MODE');
  });

  it('fails with the error code when nothing is pinned', () => {
    const checked = tld('map', 'check', '--pin', pin, '--json');
    expect(checked.status).toBe(1);
    expect(JSON.parse(checked.stdout)).toMatchObject({ ok: false, code: 'ERR_TLD_NO_MAP' });
    const removed = tld('map', 'remove', '--pin', pin);
    expect(removed.status).toBe(1);
    expect(removed.stderr).toContain('ERR_TLD_NO_MAP');
  });

  it('rejects usage errors with exit status 2 and prints help on --help', () => {
    expect(tld('map', 'frob').status).toBe(2);
    expect(tld('map', 'check', '--pin', '/tmp/not-bpffs').status).toBe(2);
    expect(tld('--bogus').status).toBe(2);
    const help = tld('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('map create');
  });
});

describe.skipIf(!bpf.supported)('demo --basic', () => {
  it('shows every thread its own values through BPF, and a thread that never opened as absent', () => {
    const run = spawnSync(process.execPath, [demo, '--basic', '--private', '--json'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { ok, rows, reqIdUpdates } = JSON.parse(run.stdout);
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
