// The cost to a service: a loopback HTTP server (node:http, one fresh process per measurement, requests that await
// twice) under a load generator in another process (64 keep-alive connections), with no task local data, with
// req_id and route set per request, and, where TaskLocalData has run() (feature-detected), with tld.run() per
// request. The figure is wall time per request (1 / throughput); modes alternate (none, set, run, run, set, none)
// so a drift in machine speed hits every mode alike.
import { type ChildProcess, fork } from 'node:child_process';
import { TaskLocalData } from '@tld/userspace';
import { ROUTES, type ServerCheck, type ServerMode } from './http-shared.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

const CONCURRENCY = 64;

function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited with ${code} before '${type}'`)));
  });
}

function forkScript(script: string, args: string[]): ChildProcess {
  return fork(new URL(script, import.meta.url), args, { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

/** Requests the load generator completed in `ms`, and the time it took. */
async function load(port: number, ms: number): Promise<{ requests: number; ms: number }> {
  const gen = forkScript('./http-load.js', [String(port), String(CONCURRENCY), String(ms), String(ms * 1000)]);
  const result = await message<{ requests: number; failed: number; ms: number }>(gen, 'result');
  if (result.failed > 0) throw new Error(`load generator: ${result.failed} requests failed`);
  return result;
}

async function serve(mode: ServerMode, warmMs: number, ms: number): Promise<{ requests: number; ms: number }> {
  const server = forkScript('./http-server.js', [mode]);
  try {
    const { port } = await message<{ port: number }>(server, 'listening');
    await load(port, warmMs);
    const measured = await load(port, ms);
    if (mode !== 'none') {
      server.send({ type: 'check' });
      const { check } = await message<{ check: ServerCheck }>(server, 'check');
      // The last request's values are still in the main thread's page: BPF must see one of the routes.
      if (!Object.values(ROUTES).includes(check.route ?? '') || check.reqId === null) {
        throw new Error(`http ${mode}: BPF read route ${check.route}, req_id ${check.reqId} after ${check.requests} requests`);
      }
    }
    return measured;
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    if (server.connected) server.send({ type: 'stop' });
    else server.kill();
    await exited;
  }
}

async function measure(options: TrialOptions): Promise<Measurement[]> {
  const hasRun = typeof (TaskLocalData.prototype as unknown as { run?: unknown }).run === 'function';
  const modes: ServerMode[] = hasRun ? ['none', 'set', 'run'] : ['none', 'set'];
  const ms = options.quick ? 150 : Math.max(1000, options.timeMs * 10);
  const warmMs = options.quick ? 50 : 500;
  const totals = new Map<ServerMode, { requests: number; ms: number }>(modes.map((m) => [m, { requests: 0, ms: 0 }]));
  for (const order of [modes, [...modes].reverse()]) {
    for (const mode of order) {
      const r = await serve(mode, warmMs, ms);
      const t = totals.get(mode) as { requests: number; ms: number };
      t.requests += r.requests;
      t.ms += r.ms;
    }
  }
  const usPerRequest = (mode: ServerMode): number => {
    const t = totals.get(mode) as { requests: number; ms: number };
    return (t.ms * 1000) / t.requests;
  };
  const out: Measurement[] = [
    { name: 'http baseline', unit: 'µs/request', value: usPerRequest('none'), baseline: null, description: `no task local data, ${CONCURRENCY} connections` },
    { name: 'http set per request', unit: 'µs/request', value: usPerRequest('set'), baseline: 'http baseline', description: 'req_id.set() + route.set() per request' },
  ];
  if (hasRun) {
    out.push({ name: 'http run per request', unit: 'µs/request', value: usPerRequest('run'), baseline: 'http baseline', description: 'tld.run({ req_id, route }, handler) per request' });
  }
  return out;
}

export const CASES: BenchCase[] = [
  {
    id: 'http',
    description: `loopback node:http server, ${CONCURRENCY} connections: no TLD vs set() per request (and run() if present)`,
    run: measure,
  },
];
