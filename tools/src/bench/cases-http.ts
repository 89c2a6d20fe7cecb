// The cost to a service: a loopback HTTP server (node:http, requests that await twice) under a load generator in
// another process (64 keep-alive connections). The main figure is the server's CPU time per request (user + system,
// process.cpuUsage): what bounds a CPU-bound server's throughput and, unlike wall time, hardly moved by other work
// on a shared machine; wall time per request (1 / throughput) is reported too.
// set() per request is measured in one server process alternating phases (none, set, set, none, ...), so the two
// share JIT state and heap. The per-request wrappers (http-shared.ts Wrapper: run(), AsyncLocalStorage.run(),
// run()'s hooks alone) install hooks for good, so each gets server processes of its own, in ABBA order with servers
// that wrap nothing (`none`, the baseline of every wrapper row).
import { type ChildProcess, fork } from 'node:child_process';
import type { LoadConfig, LoadProgress } from '../http/load.js';
import { PATHS, type Phase, ROUTES, type ServerCheck, type ServerKind, type Wrapper } from './http-shared.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

const CONCURRENCY = 64;

export function message<T>(child: ChildProcess, type: string): Promise<T> {
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

export function forkScript(script: string, args: string[]): ChildProcess {
  return fork(new URL(script, import.meta.url), args, { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

/** Requests the load generator (../http/load.ts) completed in `ms`, and the time it took. */
export async function load(port: number, ms: number): Promise<{ requests: number; ms: number }> {
  const config: LoadConfig = {
    port,
    concurrency: CONCURRENCY,
    durationS: ms / 1000,
    maxRequests: ms * 1000,
    seed: 1,
    paths: PATHS,
  };
  const gen = forkScript('../http/load.js', [JSON.stringify(config)]);
  const result = await message<LoadProgress>(gen, 'done');
  if (result.errors > 0) throw new Error(`load generator: ${result.errors} requests failed`);
  return { requests: result.done, ms: result.ms ?? ms };
}

/** Sums over the measured loads of one kind of work. */
export class Totals {
  requests = 0;
  ms = 0;
  cpuUs = 0;
  served = 0;
  /** Server CPU µs per request. */
  cpu(): number {
    return this.cpuUs / this.served;
  }
  /** Wall µs per request: 1 / throughput. */
  wall(): number {
    return (this.ms * 1000) / this.requests;
  }
}

/** Starts a server, warms it up, runs one measured load per entry of `phases` (adding to `totals`), stops it. */
async function serve(kind: ServerKind, phases: Phase[], totals: Totals[], warmMs: number, ms: number): Promise<void> {
  const server = forkScript('./http-server.js', [kind]);
  try {
    const { port } = await message<{ port: number }>(server, 'listening');
    for (const phase of new Set(phases)) {
      server.send({ type: 'mark', phase });
      await message(server, 'marked');
      await load(port, warmMs);
    }
    for (const [i, phase] of phases.entries()) {
      server.send({ type: 'mark', phase });
      await message(server, 'marked');
      const measured = await load(port, ms);
      server.send({ type: 'usage' });
      const usage = await message<{ cpuUs: number; requests: number }>(server, 'usage');
      const t = totals[i] as Totals;
      t.requests += measured.requests;
      t.ms += measured.ms;
      t.cpuUs += usage.cpuUs;
      t.served += usage.requests;
    }
    if (kind === 'tld' || kind === 'run') {
      server.send({ type: 'check' });
      const { check } = await message<{ check: ServerCheck }>(server, 'check');
      // BPF must see a request's values in the main thread's page: the last request's (set), or those of a run()
      // the server enters to answer the check (run).
      if (!Object.values(ROUTES).includes(check.route ?? '') || check.reqId === null) {
        throw new Error(
          `http ${kind}: BPF read route ${check.route}, req_id ${check.reqId} after ${check.requests} requests`,
        );
      }
    }
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    if (server.connected) server.send({ type: 'stop' });
    else server.kill();
    await exited;
  }
}

async function measure(options: TrialOptions): Promise<Measurement[]> {
  const ms = options.quick ? 100 : Math.max(500, options.timeMs * 5);
  const warmMs = options.quick ? 50 : 500;
  const none = new Totals();
  const set = new Totals();
  const pairs = options.quick ? 1 : 3;
  const phases: Phase[] = [];
  for (let i = 0; i < pairs; i++)
    phases.push(...(i % 2 === 0 ? (['none', 'set'] as const) : (['set', 'none'] as const)));
  await serve(
    'tld',
    phases,
    phases.map((p) => (p === 'none' ? none : set)),
    warmMs,
    ms,
  );

  const setWhat = 'req_id.set() + route.set() per request';
  const out: Measurement[] = [
    {
      name: 'http baseline',
      unit: 'µs CPU/request',
      value: none.cpu(),
      baseline: null,
      description: `server CPU, task local data open but unused, ${CONCURRENCY} connections`,
    },
    {
      name: 'http set per request',
      unit: 'µs CPU/request',
      value: set.cpu(),
      baseline: 'http baseline',
      description: `server CPU, ${setWhat}`,
    },
    {
      name: 'http wall baseline',
      unit: 'µs/request',
      value: none.wall(),
      baseline: null,
      description: '1 / throughput, task local data unused',
    },
    {
      name: 'http wall set per request',
      unit: 'µs/request',
      value: set.wall(),
      baseline: 'http wall baseline',
      description: `1 / throughput, ${setWhat}`,
    },
  ];
  // Servers that wrap each request, each against servers that wrap nothing, in ABBA order.
  const plain = new Totals();
  const wrapped = new Map(WRAPPED.map((w) => [w.wrapper, new Totals()]));
  const order: Wrapper[] = [
    'none',
    ...WRAPPED.map((w) => w.wrapper),
    ...WRAPPED.map((w) => w.wrapper).reverse(),
    'none',
  ];
  for (const kind of options.quick ? order.slice(0, WRAPPED.length + 1) : order) {
    await serve(kind, ['none'], [kind === 'none' ? plain : (wrapped.get(kind) as Totals)], warmMs, ms * pairs);
  }
  out.push({
    name: 'http no tld process',
    unit: 'µs CPU/request',
    value: plain.cpu(),
    baseline: null,
    description: 'server CPU, a process without task local data',
  });
  for (const w of WRAPPED) {
    out.push({
      name: w.name,
      unit: 'µs CPU/request',
      value: (wrapped.get(w.wrapper) as Totals).cpu(),
      baseline: 'http no tld process',
      description: `server CPU, ${w.what}`,
    });
  }
  return out;
}

/** The per-request wrappers measured against `none`, with their rows' stable names. */
const WRAPPED: readonly { readonly wrapper: Exclude<Wrapper, 'none'>; readonly name: string; readonly what: string }[] =
  [
    { wrapper: 'run', name: 'http run per request, page', what: 'tld.run({ req_id, route }, handler) per request' },
    {
      wrapper: 'als',
      name: 'http als per request, no tld process',
      what: 'AsyncLocalStorage.run({ req_id, route }, handler) per request, no task local data',
    },
    {
      wrapper: 'hooks',
      name: 'http run hooks only',
      what: 'no task local data per request; run() called once at start-up, so its hooks run',
    },
  ];

export const CASES: BenchCase[] = [
  {
    id: 'http',
    description: `loopback node:http server, ${CONCURRENCY} connections: set(), run() and AsyncLocalStorage per request vs not`,
    run: measure,
  },
];
