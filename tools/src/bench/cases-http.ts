// The cost to a service: the bench HTTP server (http-server.ts: node:http, requests that await twice) under the
// load generator in another process (64 keep-alive connections). The main figure is the server's CPU time per
// request (user + system, process.cpuUsage): what bounds a CPU-bound server's throughput and, unlike wall time,
// hardly moved by other work on a shared machine; wall time per request (1 / the server's throughput) is reported
// too.
// set() per request is measured in one server process alternating phases of a fixed request count (none, set in
// an order drawn per pair), so the two share JIT state and heap. The wrappers that install something for good
// (run() by the page mechanism, its hooks alone) and AsyncLocalStorage.run() without task local data get server
// processes of their own, in ABBA order with servers that wrap nothing (`none`, the baseline of those rows).
import {
  CONCURRENCY,
  type PhaseSize,
  alternate,
  cpuPerRequest,
  pairedRows,
  phaseSize,
  wallPerRequest,
  withServer,
} from './http-phases.js';
import type { ServerConfig, Wrapper } from './http-shared.js';
import { median } from './stats.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

/** Server CPU µs per request of each measured phase of a server that wraps every request in `config`'s wrapper. */
async function servePhases(config: ServerConfig, phases: number, size: PhaseSize): Promise<number[]> {
  const wrapper = config.wrappers[0] as Wrapper;
  return withServer(config, undefined, async (server) => {
    const warm = { wrapper, warmup: size.warmup * 4, requests: size.requests };
    const results = await server.run([warm, ...Array.from({ length: phases }, () => ({ wrapper, ...size }))]);
    if (wrapper === 'run') await server.expectPublished('run', 'http run, page');
    return results.slice(1).map(cpuPerRequest);
  });
}

async function measure(options: TrialOptions): Promise<Measurement[]> {
  const size = phaseSize(options);
  const pairs = options.quick ? 2 : 20;
  const setWhat = 'req_id.set() + route.set() per request';
  const out = await withServer({ tld: 'page', wrappers: ['none', 'set'] }, undefined, async (server) => {
    const measured = await alternate(server, 'none', 'set', pairs, size);
    // BPF must see a request's values in the main thread's page.
    await server.expectPublished('set', 'http set');
    return [
      ...pairedRows(
        measured,
        cpuPerRequest,
        {
          name: 'http baseline',
          unit: 'µs CPU/request',
          description: `server CPU, task local data open but unused, ${CONCURRENCY} connections`,
        },
        { name: 'http set per request', unit: 'µs CPU/request', description: `server CPU, ${setWhat}` },
      ),
      ...pairedRows(
        measured,
        wallPerRequest,
        { name: 'http wall baseline', unit: 'µs/request', description: '1 / throughput, task local data unused' },
        { name: 'http wall set per request', unit: 'µs/request', description: `1 / throughput, ${setWhat}` },
      ),
    ];
  });

  // Servers that wrap each request, each against servers that wrap nothing, in ABBA order.
  const perProcess = options.quick ? 1 : 6;
  const plain: number[] = [];
  const wrapped = new Map(WRAPPED.map((w) => [w.wrapper, [] as number[]]));
  const order: Wrapper[] = [
    'none',
    ...WRAPPED.map((w) => w.wrapper),
    ...WRAPPED.map((w) => w.wrapper).reverse(),
    'none',
  ];
  for (const wrapper of options.quick ? order.slice(0, WRAPPED.length + 1) : order) {
    const tld = WRAPPED.find((w) => w.wrapper === wrapper)?.tld ?? 'none';
    const cpu = await servePhases({ tld, wrappers: [wrapper] }, perProcess, size);
    (wrapper === 'none' ? plain : (wrapped.get(wrapper) as number[])).push(...cpu);
  }
  out.push({
    name: 'http no tld process',
    unit: 'µs CPU/request',
    value: median(plain),
    baseline: null,
    description: 'server CPU, a process without task local data',
  });
  for (const w of WRAPPED) {
    out.push({
      name: w.name,
      unit: 'µs CPU/request',
      value: median(wrapped.get(w.wrapper) as number[]),
      baseline: 'http no tld process',
      description: `server CPU, ${w.what}`,
    });
  }
  return out;
}

/** The wrappers measured in processes of their own against `none`, with their rows' stable names. */
const WRAPPED: readonly {
  readonly wrapper: Wrapper;
  readonly tld: 'none' | 'page';
  readonly name: string;
  readonly what: string;
}[] = [
  {
    wrapper: 'run',
    tld: 'page',
    name: 'http run per request, page',
    what: 'tld.run({ req_id, route }, handler) per request',
  },
  {
    wrapper: 'als',
    tld: 'none',
    name: 'http als per request, no tld process',
    what: 'AsyncLocalStorage.run({ req_id, route }, handler) per request, no task local data',
  },
  {
    wrapper: 'hooks',
    tld: 'page',
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
