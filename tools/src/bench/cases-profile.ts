// What `tld profile` costs the service it profiles: the bench HTTP server (http-server.ts, set() per request)
// under the same load, its CPU per request with the profiler sampling at 99 Hz on every CPU (CPU-clock perf events,
// user and kernel stacks, the route read by name at each sample: what `tld profile` attaches) ÷ without, pairs of
// phases of a fixed request count in one server process, order drawn per pair.
import { loadReader, unpin } from '@tld/bpf-programs';
import { type Profiler, loadProfiler } from '@tld/profiler';
import { BenchServer, type PhasePair, type PhaseSize, cpuPerRequest, pairedRows, phaseSize } from './http-phases.js';
import type { PhaseResult } from './http-shared.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

/** One phase of set() per request, with the profiler sampling the server or not. */
async function phase(
  server: BenchServer,
  size: PhaseSize,
  profiler: Profiler,
  profiled: boolean,
): Promise<PhaseResult> {
  if (profiled) profiler.attachSampler();
  try {
    return (await server.run([{ wrapper: 'set', ...size }]))[0] as PhaseResult;
  } finally {
    if (profiled) profiler.detach();
  }
}

async function measure(options: TrialOptions): Promise<Measurement[]> {
  const size = phaseSize(options);
  const pin = `/sys/fs/bpf/tld-bench-profile-${process.pid}`;
  // The server's map, pinned so the profiler (here) reads what the server (a child) publishes.
  const owner = loadReader({ map: { pinPath: pin } });
  const pairs: PhasePair[] = [];
  let samples = 0;
  try {
    const server = await BenchServer.start({ tld: 'page', wrappers: ['set'], pin });
    try {
      const profiler = loadProfiler({
        labels: [{ name: 'route', size: 32 }],
        requestKey: 'req_id',
        pids: [server.pid],
        map: { pinPath: pin },
        stacks: true,
        sampleHz: 99,
      });
      try {
        // The first phase must not pay for JIT warm-up. Each phase is a load of its own (the profiler attaches
        // between loads), in pairs whose order is drawn.
        await server.run([{ wrapper: 'set', warmup: size.warmup * 6, requests: size.requests }]);
        for (let i = 0; i < (options.quick ? 1 : 6); i++) {
          const onFirst = Math.random() < 0.5;
          const first = await phase(server, size, profiler, onFirst);
          const second = await phase(server, size, profiler, !onFirst);
          pairs.push(onFirst ? { baseline: second, candidate: first } : { baseline: first, candidate: second });
        }
        samples = profiler.read().buckets.reduce((a, b) => a + b.samples, 0);
      } finally {
        profiler.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    owner.close();
    unpin(pin);
  }
  if (samples === 0) throw new Error('profile overhead: the profiler took no sample of the server');
  return pairedRows(
    pairs,
    cpuPerRequest,
    { name: 'profile off', unit: 'µs CPU/request', description: 'server CPU, set() per request, not profiled' },
    {
      name: 'profile overhead',
      unit: 'µs CPU/request',
      description: 'server CPU, set() per request, while tld profile samples it at 99 Hz per CPU with stacks',
    },
  );
}

export const CASES: BenchCase[] = [
  {
    id: 'profile',
    description:
      'loopback node:http server with set() per request: CPU per request while tld profile samples it at 99 Hz vs not',
    run: measure,
  },
];
