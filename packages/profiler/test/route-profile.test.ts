// The route profile (tld_profiler.bpf.c labelled by route, request key req_id) against the real scheduler: the on-CPU consumer charges each piece
// of this thread's CPU time (a piece ends at a syscall or a switch-out) to the route published when it ends,
// between-requests pieces to "idle", and a thread that never registered to "none"; the perf_event consumer
// samples the same buckets; closing detaches everything. (How the charges add up under a real server's load is
// tools/test/demo.test.ts's subject.)
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { gettid, onlineCpus, threadCpuTimeNs } from '@tld/bpf-programs';
import { ROUTE_KEY_BYTES, type RouteProfile, type RouteTotal, loadRouteProfile } from '../src/index.js';
import { bpfSupport } from '@tld/testkit';

const support = bpfSupport();

/** CPU work without a syscall: `n` rounds of a hash. */
function spin(n: number): number {
  let h = 0;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ i, 16777619);
  return h;
}

/** Rounds of spin() per millisecond of this thread's CPU time. */
function roundsPerMs(): number {
  const start = threadCpuTimeNs();
  spin(20_000_000);
  return 20_000_000 / ((threadCpuTimeNs() - start) / 1e6);
}

/** Blocks this thread for `ms` (futex: the thread is switched out). */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function exists(kind: 'link' | 'prog', id: number): boolean {
  try {
    execFileSync('bpftool', [kind, 'show', 'id', String(id)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether the kernel has released the link or program: the last reference can be dropped from deferred work. */
function released(kind: 'link' | 'prog', id: number): boolean {
  for (let tries = 0; tries < 40 && exists(kind, id); tries++) block(50);
  return !exists(kind, id);
}

function bucket(totals: readonly RouteTotal[], state: RouteTotal['state'], route = ''): RouteTotal {
  const found = totals.find((t) => t.state === state && t.route === route);
  if (!found) throw new Error(`no bucket ${state} ${route} in ${JSON.stringify(totals)}`);
  return found;
}

describe.skipIf(!support.supported)('route profiler', () => {
  let profile: RouteProfile | undefined;
  let tld: TaskLocalData | undefined;
  afterEach(() => {
    tld?.close();
    profile?.close();
    tld = undefined;
    profile = undefined;
  });

  it('charges each piece to the route published when it ends, idle pieces to idle, an unregistered thread to none', async () => {
    profile = loadRouteProfile({ tgid: process.pid });
    tld = TaskLocalData.open({ mapFd: profile.mapFd });
    const route = tld.string('route', ROUTE_KEY_BYTES);
    const reqId = tld.u64('req_id');
    const perMs = roundsPerMs();
    profile.attach();

    const unregistered = new Worker(new URL('./workers/burn-worker.mjs', import.meta.url), {
      workerData: { cpuMs: 150 },
    });
    const background = new Promise<{ cpuNs: number }>((resolve, reject) => {
      unregistered.once('message', resolve).once('error', reject);
    });
    // Requests back to back, as a busy server thread serves them. The app's clock reads sit outside the published
    // window; inside, the only syscall is the one a server makes to answer (gettid() stands for the write), so
    // that is where BPF sees a request end (or at a preemption, which charges the request too).
    const app = { '/heavy': 0, '/light': 0 };
    for (let i = 1; i <= 120; i++) {
      const name = i % 3 === 0 ? '/light' : '/heavy';
      const start = threadCpuTimeNs();
      route.set(name);
      reqId.set(BigInt(i)); // last: a non-zero req_id tells BPF the route is complete
      spin((name === '/heavy' ? 4 : 2) * perMs);
      gettid();
      reqId.set(0n); // first: BPF sees the thread between requests from here on
      route.set('');
      app[name] += threadCpuTimeNs() - start;
      spin(0.3 * perMs);
      if (i % 10 === 0) block(1); // now and then the thread waits between requests
    }
    const { cpuNs: unregisteredNs } = await background;
    profile.detach();
    const { totals, droppedFull } = profile.read();

    expect(droppedFull).toBe(0);
    const heavy = bucket(totals, 'route', '/heavy');
    const light = bucket(totals, 'route', '/light');
    expect(
      totals
        .filter((t) => t.state === 'route')
        .map((t) => t.route)
        .sort(),
    ).toEqual(['/heavy', '/light']);
    const appShare = app['/heavy'] / (app['/heavy'] + app['/light']);
    const bpfShare = heavy.cpuNs / (heavy.cpuNs + light.cpuNs);
    expect(Math.abs(bpfShare - appShare)).toBeLessThan(0.05);
    expect(heavy.cpuNs / app['/heavy']).toBeGreaterThan(0.9);
    expect(heavy.cpuNs / app['/heavy']).toBeLessThan(1.1);
    // The samples find /heavy (about 4/5 of the CPU) more often than /light.
    expect(heavy.samples).toBeGreaterThan(light.samples);
    expect(bucket(totals, 'idle').cpuNs).toBeGreaterThan(0);
    // The worker never registered: its CPU is "none", not a route's.
    expect(bucket(totals, 'none').cpuNs).toBeGreaterThan(0.8 * unregisteredNs);
  });

  it('attaches sched_switch, sys_enter and one perf_event link per online CPU; close() detaches them all', () => {
    profile = loadRouteProfile({ tgid: process.pid });
    profile.attach();
    const links = [...profile.links];
    expect(links).toHaveLength(2 + onlineCpus().length);
    for (const link of links) expect(exists('link', link.id)).toBe(true);
    const progIds = [...new Set(links.map((l) => l.progId))];
    expect(progIds).toHaveLength(3);
    profile.close();
    profile = undefined;
    for (const link of links) {
      expect(link.destroyed).toBe(true);
      expect(released('link', link.id)).toBe(true);
    }
    for (const id of progIds) expect(released('prog', id)).toBe(true);
  });

  it('refuses bad options before loading anything', () => {
    expect(() => loadRouteProfile({ tgid: 0 })).toThrow(TypeError);
    expect(() => loadRouteProfile({ tgid: process.pid, sampleHz: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_BAD_FREQUENCY' }),
    );
  });
});
