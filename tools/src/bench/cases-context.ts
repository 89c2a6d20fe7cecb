// Async context, per request and per hop: AsyncLocalStorage.run() alone (what every tracing user pays) against
// tld.run() by the async-context walk, in a loopback HTTP server (server CPU per request, 64 keep-alive
// connections, phases alternating in one server process), and the cost of an `await` outside and inside a run.
// Measured on a Node.js with AsyncContextFrame: this one, else Node.js 24 from .cache/node (the description says).
import { type ChildProcess, fork } from 'node:child_process';
import type { LoadConfig, LoadProgress } from '../http/load.js';
import { contextNode } from './context-node.js';
import { PATHS } from './http-shared.js';
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

function forkOn(bin: string | undefined, script: string, args: string[]): ChildProcess {
  return fork(new URL(script, import.meta.url), args, {
    ...(bin === undefined ? {} : { execPath: bin }),
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** Requests the one load generator (../http/load.ts) completed in `ms`. */
async function load(port: number, ms: number): Promise<{ requests: number }> {
  const config: LoadConfig = {
    port,
    concurrency: CONCURRENCY,
    durationS: ms / 1000,
    maxRequests: ms * 1000,
    seed: 1,
    paths: PATHS,
  };
  const gen = forkOn(undefined, '../http/load.js', [JSON.stringify(config)]);
  const result = await message<LoadProgress>(gen, 'done');
  if (result.errors > 0) throw new Error(`load generator: ${result.errors} requests failed`);
  return { requests: result.done };
}

async function httpCpu(bin: string, options: TrialOptions): Promise<{ als: number; run: number }> {
  // Short phases, many of them (ABBA): on a shared machine the load drifts within seconds, and both phases should
  // see the same drift.
  const ms = options.quick ? 100 : Math.max(300, options.timeMs * 2);
  const warmMs = options.quick ? 50 : 500;
  const pairs = options.quick ? 1 : 8;
  const phases: Array<'als' | 'run'> = [];
  for (let i = 0; i < pairs; i++) phases.push(...(i % 2 === 0 ? (['als', 'run'] as const) : (['run', 'als'] as const)));
  const server = forkOn(bin, './context-server.js', []);
  // CPU µs per request of each measured phase; the figure is the least disturbed phase of each kind (the other
  // work on a shared machine only ever adds CPU time per request: cache misses, frequency, hyperthread siblings).
  const perPhase: Record<'als' | 'run', number[]> = { als: [], run: [] };
  try {
    const { port, asyncContext } = await message<{ port: number; asyncContext: string }>(server, 'listening');
    if (asyncContext !== 'walk') throw new Error(`context server: run() uses ${asyncContext}, not the walk`);
    for (const phase of ['als', 'run'] as const) {
      server.send({ type: 'mark', phase });
      await message(server, 'marked');
      await load(port, warmMs);
    }
    for (const phase of phases) {
      server.send({ type: 'mark', phase });
      await message(server, 'marked');
      await load(port, ms);
      server.send({ type: 'usage' });
      const usage = await message<{ cpuUs: number; requests: number }>(server, 'usage');
      perPhase[phase].push(usage.cpuUs / usage.requests);
    }
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    if (server.connected) server.send({ type: 'stop' });
    else server.kill();
    await exited;
  }
  return { als: Math.min(...perPhase.als), run: Math.min(...perPhase.run) };
}

async function hops(bin: string, options: TrialOptions): Promise<{ outsideNs: number; insideNs: number }> {
  const child = forkOn(bin, './context-hops.js', [String(options.timeMs), String(options.rounds)]);
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
  const http = await httpCpu(node.bin, options);
  const hop = await hops(node.bin, options);
  return [
    {
      name: 'http als per request',
      unit: cpu,
      value: http.als,
      baseline: null,
      description: `server CPU, AsyncLocalStorage.run(store, handler) per request, ${on}`,
    },
    {
      name: 'http run per request',
      unit: cpu,
      value: http.run,
      baseline: 'http als per request',
      description: `server CPU, tld.run({ req_id, route }, handler) by the walk, ${on}`,
    },
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
