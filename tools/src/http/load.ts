// The one load generator of the demo and the benchmarks: a separate process, so its CPU is not the server's (the
// profiler and the benchmark look only at the server's). `concurrency` keep-alive clients each send one request
// after another — to `paths` in turn when given, else to the demo's weighted-random routes — until the time or the
// request budget is spent, whichever comes first. Loopback only. Progress goes to the parent over IPC every
// 200 ms, then one `done` with the elapsed time. Usage (forked): node load.js '<LoadConfig as JSON>'
import { Agent, get } from 'node:http';
import { ROUTES, TENANTS, pathFor } from '../demo/workload.js';

export interface LoadConfig {
  readonly port: number;
  readonly durationS: number;
  readonly maxRequests: number;
  readonly concurrency: number;
  readonly seed: number;
  /** Fixed paths, taken in turn by each client (the benchmark's); default: the demo's weighted routes. */
  readonly paths?: readonly string[];
}

export interface LoadProgress {
  readonly type: 'progress' | 'done';
  readonly done: number;
  readonly errors: number;
  /** Milliseconds since the first request (`done` only). */
  readonly ms?: number;
}

const send = process.send?.bind(process);
if (!send) throw new Error('load.js runs as a child process with an IPC channel (child_process.fork)');
const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;

const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency });
const t0 = performance.now();
const deadline = Date.now() + config.durationS * 1000;
const totalWeight = ROUTES.reduce((sum, r) => sum + r.weight, 0);
let seed = config.seed >>> 0;
let issued = 0;
let done = 0;
let errors = 0;
let stopped = false;

/** A small deterministic generator (xorshift32), so every run asks for the same sequence. */
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}

function nextPath(): string {
  let r = random() * totalWeight;
  const spec = ROUTES.find((s) => (r -= s.weight) < 0) ?? ROUTES[0];
  if (spec === undefined) throw new Error('the load generator has no routes');
  const tenant = TENANTS[Math.floor(random() * TENANTS.length)] ?? 'acme';
  return `${pathFor(spec.route, Math.floor(random() * 1000))}?tenant=${tenant}`;
}

function request(path: string): Promise<void> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port: config.port, path, agent }, (res) => {
      res.resume();
      res.once('end', () => {
        if (res.statusCode === 200) done++;
        else errors++;
        resolve();
      });
    }).once('error', () => {
      errors++;
      resolve();
    });
  });
}

async function client(_: unknown, i: number): Promise<void> {
  const fixed = config.paths;
  while (!stopped && Date.now() < deadline && issued < config.maxRequests) {
    issued++;
    await request(fixed?.length ? (fixed[(issued + i) % fixed.length] as string) : nextPath());
  }
}

process.once('disconnect', () => {
  stopped = true; // the demo went away: stop asking
});
// Ctrl-C in a terminal reaches the whole process group: the demo decides, and stops this process itself.
process.on('SIGINT', () => {});
const timer = setInterval(() => send({ type: 'progress', done, errors } satisfies LoadProgress), 200);
await Promise.all(Array.from({ length: config.concurrency }, client));
clearInterval(timer);
agent.destroy();
if (process.connected) {
  send({ type: 'done', done, errors, ms: performance.now() - t0 } satisfies LoadProgress, () => process.disconnect());
}
