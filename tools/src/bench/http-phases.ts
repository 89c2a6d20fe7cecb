// Drives the one bench HTTP server (http-server.ts): starts it (on any Node.js binary), hands it a schedule of
// phases, runs the load generator for exactly as many requests (plus a tail that keeps the last phase loaded),
// and collects what the server measured per phase. Shared by every HTTP case.
import { type ChildProcess, fork } from 'node:child_process';
import type { LoadConfig } from '../http/load.js';
import { startLoad } from '../http/start-load.js';
import { median } from './stats.js';
import type { Measurement } from './types.js';
import {
  PATHS,
  type PhaseResult,
  type PhaseSpec,
  type ServerCheck,
  type ServerConfig,
  type Wrapper,
} from './http-shared.js';

export const CONCURRENCY = 64;

/**
 * CPUs to pin to, from TLD_BENCH_CPUS="server,load" (e.g. "1,0"): `taskset -c` for the server and the load
 * generator. Unset: the scheduler places them.
 */
function pinnedCpus(): { server?: number; load?: number } {
  const spec = process.env['TLD_BENCH_CPUS'];
  if (spec === undefined || spec === '') return {};
  const [server, load] = spec.split(',').map(Number);
  if (server === undefined || load === undefined || !Number.isInteger(server) || !Number.isInteger(load)) {
    throw new Error(`TLD_BENCH_CPUS=${spec}: want two CPU numbers, server first, like "1,0"`);
  }
  return { server, load };
}

/** The next IPC message of `type` from `child`; rejects if the child fails or exits first. */
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

/** Forks one of the bench's scripts (relative to dist/bench/) on `bin` (default: this Node.js), maybe on a CPU. */
export function forkScript(script: string, args: string[], bin?: string, cpu?: number): ChildProcess {
  const node = bin ?? process.execPath;
  return fork(new URL(script, import.meta.url), args, {
    ...(cpu === undefined
      ? { execPath: node, execArgv: [] }
      : { execPath: 'taskset', execArgv: ['-c', `${cpu}`, node] }),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** A running bench server. */
export class BenchServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    /** How run() carries values in it ('page', 'walk'), null without task local data. */
    readonly asyncContext: string | null,
    private readonly loadCpu: number | undefined,
  ) {}

  /** Starts a server with `config` on `bin` (default this Node.js). */
  static async start(config: ServerConfig, bin?: string): Promise<BenchServer> {
    const cpus = pinnedCpus();
    const child = forkScript('./http-server.js', [JSON.stringify(config)], bin, cpus.server);
    try {
      const { port, asyncContext } = await message<{ port: number; asyncContext: string | null }>(child, 'listening');
      return new BenchServer(child, port, asyncContext, cpus.load);
    } catch (error) {
      child.kill();
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Runs `phases` under load; returns what the server measured in each, in order. */
  async run(phases: readonly PhaseSpec[]): Promise<PhaseResult[]> {
    this.child.send({ type: 'schedule', phases });
    await message(this.child, 'scheduled');
    const total = phases.reduce((sum, p) => sum + p.warmup + p.requests, 0);
    const config: LoadConfig = {
      port: this.port,
      concurrency: CONCURRENCY,
      // Bounds only: the request count ends the run (at 500 requests/s it would take this long).
      durationS: 30 + total / 500,
      maxRequests: total + 2 * CONCURRENCY,
      seed: 1,
      paths: PATHS,
    };
    const load = await startLoad(config, this.loadCpu === undefined ? {} : { cpu: this.loadCpu }).finished;
    if (load.errors > 0) throw new Error(`load generator: ${load.errors} requests failed`);
    this.child.send({ type: 'report' });
    const { results } = await message<{ results: PhaseResult[] }>(this.child, 'report');
    if (results.length !== phases.length) {
      throw new Error(`http server measured ${results.length} of ${phases.length} phases (${load.done} requests)`);
    }
    return results;
  }

  /** What BPF reads inside one more request under `wrapper`. */
  async check(wrapper: Wrapper): Promise<ServerCheck> {
    this.child.send({ type: 'check', wrapper });
    return (await message<{ check: ServerCheck }>(this.child, 'check')).check;
  }

  /** Throws unless BPF read the request's own req_id and route under `wrapper`. */
  async expectPublished(wrapper: Wrapper, what: string): Promise<void> {
    const { sent, seen } = await this.check(wrapper);
    if (seen.reqId !== sent.reqId || seen.route !== sent.route) {
      throw new Error(
        `${what}: BPF read req_id ${seen.reqId}, route ${seen.route}; the request had ${sent.reqId}, ${sent.route}`,
      );
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.child.send({ type: 'stop' });
    else this.child.kill();
    await exited;
  }
}

/** Starts a server, hands it to `fn`, stops it. */
export async function withServer<T>(
  config: ServerConfig,
  bin: string | undefined,
  fn: (server: BenchServer) => Promise<T>,
): Promise<T> {
  const server = await BenchServer.start(config, bin);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** How long phases are: requests per phase and warm-up requests before each. */
export interface PhaseSize {
  readonly warmup: number;
  readonly requests: number;
}

/** Phase sizes from the trial options: a phase of `--time` 200 ms is 2,000 requests (about 0.2–0.4 s here). */
export function phaseSize(options: { quick: boolean; timeMs: number }): PhaseSize {
  if (options.quick) return { warmup: 50, requests: 100 };
  const requests = Math.max(500, options.timeMs * 10);
  return { warmup: Math.round(requests / 4), requests };
}

/** Per pair of phases: the baseline's and the candidate's result. */
export interface PhasePair {
  readonly baseline: PhaseResult;
  readonly candidate: PhaseResult;
}

/**
 * `pairs` pairs of phases, baseline and candidate in an order drawn per pair (so neither is always first), after
 * one long warm-up phase of each (JIT, connections).
 */
export async function alternate(
  server: BenchServer,
  baseline: Wrapper,
  candidate: Wrapper,
  pairs: number,
  size: PhaseSize,
): Promise<PhasePair[]> {
  const warm = (wrapper: Wrapper): PhaseSpec => ({ wrapper, warmup: size.warmup * 4, requests: size.requests });
  const phases: PhaseSpec[] = [warm(baseline), warm(candidate)];
  const firsts: boolean[] = [];
  for (let i = 0; i < pairs; i++) {
    const baselineFirst = Math.random() < 0.5;
    firsts.push(baselineFirst);
    const order = baselineFirst ? [baseline, candidate] : [candidate, baseline];
    for (const wrapper of order) phases.push({ wrapper, ...size });
  }
  const results = (await server.run(phases)).slice(2);
  return firsts.map((baselineFirst, i) => {
    const a = results[2 * i] as PhaseResult;
    const b = results[2 * i + 1] as PhaseResult;
    return baselineFirst ? { baseline: a, candidate: b } : { baseline: b, candidate: a };
  });
}

/** Process CPU µs per request of a phase. */
export const cpuPerRequest = (r: PhaseResult): number => r.cpuUs / r.requests;
/** Main-thread CPU µs per request of a phase. */
export const threadCpuPerRequest = (r: PhaseResult): number => r.threadCpuUs / r.requests;
/** Wall µs per request of a phase: 1 / the server's throughput. */
export const wallPerRequest = (r: PhaseResult): number => r.wallUs / r.requests;

/** A row's name, unit and description (its value and baseline come from the pairs). */
export type RowText = Pick<Measurement, 'name' | 'unit' | 'description'> & Partial<Pick<Measurement, 'report'>>;

/**
 * The baseline's row and the candidate's from pairs of phases, by `metric` (per request): each the median over its
 * phases, the candidate with every pair's ratio.
 */
export function pairedRows(
  pairs: readonly PhasePair[],
  metric: (r: PhaseResult) => number,
  baseline: RowText,
  candidate: RowText,
): Measurement[] {
  return [
    { ...baseline, value: median(pairs.map((p) => metric(p.baseline))), baseline: null },
    {
      ...candidate,
      value: median(pairs.map((p) => metric(p.candidate))),
      baseline: baseline.name,
      pairRatios: pairs.map((p) => metric(p.candidate) / metric(p.baseline)),
    },
  ];
}
