// The one loopback HTTP server of the benchmarks (cases-http.ts, cases-context.ts, cases-profile.ts). Each request
// awaits twice before it answers, under one of the process's wrappers (http-wrappers.ts). The server itself
// switches wrappers by counting requests through a schedule of phases (http-shared.ts PhaseSpec), so a phase
// boundary costs no message and every phase of a kind serves the same number of requests; CPU time and wall time
// are read only at the boundaries.
// Usage (forked by http-phases.ts, with an IPC channel): node http-server.js '<ServerConfig as JSON>'
import { decodeString, decodeU64 } from '@tld/protocol';
import { loadReader, threadCpuTimeNs } from '@tld/bpf-programs';
import { loadContextReader } from '@tld/testkit';
import { TaskLocalData } from '@tld/userspace';
import { listenLoopback } from '../http/listen.js';
import type { PhaseResult, PhaseSpec, ServerCheck, ServerConfig, Wrapper } from './http-shared.js';
import { ROUTES } from './http-shared.js';
import { type Handle, setUpWrappers } from './http-wrappers.js';

const config = JSON.parse(process.argv[2] ?? 'null') as ServerConfig | null;
if (config === null || !process.send) throw new Error("usage: http-server.js '<ServerConfig JSON>' (forked)");

/** What BPF reads on this thread now: req_id and route, by the mechanism's reader. */
type Read = () => ServerCheck['seen'];
const map = config.pin === undefined ? ('private' as const) : { pinPath: config.pin };
let tld: TaskLocalData | undefined;
let read: Read = () => ({ reqId: null, route: null });
let closeReader = (): void => undefined;
if (config.tld === 'page') {
  const reader = loadReader({ map });
  tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'page' });
  read = () => {
    const { values } = reader.read(['req_id', 'route']);
    const reqId = values['req_id'];
    const route = values['route'];
    return { reqId: reqId ? String(decodeU64(reqId)) : null, route: route ? decodeString(route) : null };
  };
  closeReader = () => reader.close();
} else if (config.tld === 'walk') {
  // The walk's reader (tld_get_context_data()), so the check sees what a run publishes by the walk.
  const reader = loadContextReader({ map });
  tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'walk' });
  if (tld.asyncContext !== 'walk') throw new Error(`http server: run() uses ${tld.asyncContext}, not the walk`);
  read = () => {
    const seen = reader.read();
    return { reqId: seen.req_id === undefined ? null : String(seen.req_id), route: seen.route ?? null };
  };
  closeReader = () => reader.close();
}
const handles = setUpWrappers(config.wrappers, tld);
const handleOf = (wrapper: Wrapper): Handle => {
  const handle = handles.get(wrapper);
  if (handle === undefined)
    throw new Error(`http server: wrapper ${wrapper} is not one of ${config.wrappers.join(', ')}`);
  return handle;
};

const routeOf = (url: string | undefined): string => ROUTES[(url ?? '/').split('/')[1] ?? ''] ?? '/';

/** Where the server is in its schedule; between schedules it keeps the last phase's wrapper. */
let handle: Handle = handleOf(config.wrappers[0] ?? 'none');
let schedule: readonly PhaseSpec[] = [];
let phase = 0;
let counted = 0;
const results: PhaseResult[] = [];
let mark = { cpuUs: 0, threadNs: 0, wallMs: 0 };

function markNow(): void {
  const cpu = process.cpuUsage();
  mark = { cpuUs: cpu.user + cpu.system, threadNs: threadCpuTimeNs(), wallMs: performance.now() };
}

function enterPhase(index: number): void {
  phase = index;
  counted = 0;
  const spec = schedule[index];
  if (spec === undefined) return;
  handle = handleOf(spec.wrapper);
  if (spec.warmup === 0) markNow();
}

/** Counts one arriving request against the schedule: marks the end of the warm-up, ends the phase. */
function tick(): void {
  const spec = schedule[phase];
  if (spec === undefined) return;
  counted++;
  if (counted === spec.warmup) markNow();
  if (counted < spec.warmup + spec.requests) return;
  const cpu = process.cpuUsage();
  results.push({
    wrapper: spec.wrapper,
    requests: spec.requests,
    cpuUs: cpu.user + cpu.system - mark.cpuUs,
    threadCpuUs: (threadCpuTimeNs() - mark.threadNs) / 1000,
    wallUs: (performance.now() - mark.wallMs) * 1000,
  });
  enterPhase(phase + 1);
}

async function answer(res: { end(body: string): void }): Promise<void> {
  await Promise.resolve(); // stands for the awaits of real work (a cache, a database)
  await Promise.resolve();
  res.end('ok');
}

let requests = 0;
const server = await listenLoopback((req, res) => {
  requests++;
  const current = handle; // this request is the phase's, even when it ends the phase
  tick();
  current({ req_id: BigInt(requests), route: routeOf(req.url) }, () => answer(res));
});
process.send({ type: 'listening', port: server.port, asyncContext: tld?.asyncContext ?? null });

/** One more request's values under `wrapper`, and what BPF reads while its handler runs. */
function check(wrapper: Wrapper): Promise<ServerCheck> {
  const values = { req_id: BigInt(requests + 1), route: routeOf('/users/1') };
  return new Promise((resolve) => {
    handleOf(wrapper)(values, () => {
      resolve({ wrapper, sent: { reqId: String(values.req_id), route: values.route }, seen: read() });
      return Promise.resolve();
    });
  });
}

process.on('message', (m: { type: string; phases?: PhaseSpec[]; wrapper?: Wrapper }) => {
  if (m.type === 'schedule') {
    schedule = m.phases ?? [];
    results.length = 0;
    enterPhase(0);
    process.send?.({ type: 'scheduled' });
  } else if (m.type === 'report') {
    process.send?.({ type: 'report', results });
  } else if (m.type === 'check') {
    void check(m.wrapper ?? 'none').then((result) => process.send?.({ type: 'check', check: result }));
  } else if (m.type === 'stop') {
    void server.close().then(() => {
      tld?.close();
      closeReader();
      process.disconnect();
    });
  }
});
