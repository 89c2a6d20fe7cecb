// Async context, per request and per hop: AsyncLocalStorage.run() alone (what every tracing user pays) against
// tld.run() by the async-context walk, in the bench HTTP server (http-server.ts; server CPU per request, 64
// keep-alive connections, pairs of phases of a fixed request count in one server process, order drawn per pair),
// and the cost of an `await` outside and inside a run.
// Measured on a Node.js with AsyncContextFrame: this one, else Node.js 24 from .cache/node (the description says).
import {
  alternate,
  cpuPerRequest,
  forkScript,
  message,
  pairedRows,
  phaseSize,
  threadCpuPerRequest,
  withServer,
} from './http-phases.js';
import { contextNode } from './context-node.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

async function hops(bin: string, options: TrialOptions): Promise<{ outsideNs: number; insideNs: number }> {
  const child = forkScript('./context-hops.js', [String(options.timeMs), String(options.rounds)], bin);
  return message<{ outsideNs: number; insideNs: number }>(child, 'result');
}

async function measure(options: TrialOptions): Promise<Measurement[]> {
  const node = contextNode();
  // Said once per trial on the runner's output, and in every row's description.
  if (node.note) process.stderr.write(`async context case: ${node.note}\n`);
  const on = `Node ${node.version}`;
  // The Node.js measured shows in the table's unit column, since it may not be the runner's.
  const cpu = `µs CPU/request, ${on}`;
  const perHop = `ns/hop, ${on}`;
  const pairs = options.quick ? 2 : 24;
  const http = await withServer({ tld: 'walk', wrappers: ['als', 'run'] }, node.bin, async (server) => {
    const measured = await alternate(server, 'als', 'run', pairs, phaseSize(options));
    // BPF's walk must find the run's values from inside a request.
    await server.expectPublished('run', 'http run, walk');
    return measured;
  });
  const hop = await hops(node.bin, options);
  const als = `AsyncLocalStorage.run(store, handler) per request, ${on}`;
  const run = `tld.run({ req_id, route }, handler) by the walk, ${on}`;
  return [
    ...pairedRows(
      http,
      cpuPerRequest,
      { name: 'http als per request', unit: cpu, description: `server CPU, ${als}` },
      { name: 'http run per request', unit: cpu, description: `server CPU, ${run}` },
    ),
    // The main thread alone: what serving requests costs, without GC and compiler threads working beside it.
    ...pairedRows(
      http,
      threadCpuPerRequest,
      { name: 'http als per request, main thread', unit: cpu, description: `server main-thread CPU, ${als}` },
      { name: 'http run per request, main thread', unit: cpu, description: `server main-thread CPU, ${run}` },
    ),
    {
      name: 'await hop',
      unit: perHop,
      value: hop.outsideNs,
      baseline: null,
      description: `await of a resolved promise, outside any run, ${on}`,
    },
    {
      name: 'await hop inside run',
      unit: perHop,
      value: hop.insideNs,
      baseline: 'await hop',
      description: `the same inside tld.run() by the walk, ${on}`,
    },
  ];
}

export const CASES: BenchCase[] = [
  {
    id: 'context',
    description:
      'async context by the walk: AsyncLocalStorage.run vs tld.run per HTTP request, await hops inside a run',
    run: measure,
  },
];
