// What `tld profile` costs the service it profiles: the loopback HTTP server of cases-http.ts (set() per request)
// under the same load, its CPU per request with the profiler sampling at 99 Hz on every CPU (CPU-clock perf events,
// user and kernel stacks, the route read by name at each sample: what `tld profile` attaches) ÷ without, phases
// alternating in one server process.
import { loadReader, unpin } from '@tld/bpf-programs';
import { loadProfiler } from '@tld/profiler';
import { Totals, forkScript, load, message } from './cases-http.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

async function measure(options: TrialOptions): Promise<Measurement[]> {
  const ms = options.quick ? 100 : Math.max(1000, options.timeMs * 10);
  const warmMs = options.quick ? 50 : 1500; // the first phase must not pay for JIT warm-up
  const pin = `/sys/fs/bpf/tld-bench-profile-${process.pid}`;
  // The server's map, pinned so the profiler (here) reads what the server (a child) publishes.
  const owner = loadReader({ map: { pinPath: pin } });
  const server = forkScript('./http-server.js', ['tld', pin]);
  const off = new Totals();
  const on = new Totals();
  let samples = 0;
  try {
    const { port } = await message<{ port: number }>(server, 'listening');
    const profiler = loadProfiler({
      labels: [{ name: 'route', size: 32 }],
      requestKey: 'req_id',
      pids: [server.pid!],
      map: { pinPath: pin },
      stacks: true,
      sampleHz: 99,
    });
    try {
      server.send({ type: 'mark', phase: 'set' });
      await message(server, 'marked');
      await load(port, warmMs);
      const pairs = options.quick ? 1 : 4;
      for (let i = 0; i < 2 * pairs; i++) {
        const profiled = i % 4 === 1 || i % 4 === 2; // off, on, on, off, ...
        if (profiled) profiler.attachSampler();
        server.send({ type: 'mark', phase: 'set' });
        await message(server, 'marked');
        const measured = await load(port, ms);
        server.send({ type: 'usage' });
        const usage = await message<{ cpuUs: number; requests: number }>(server, 'usage');
        if (profiled) profiler.detach();
        const t = profiled ? on : off;
        t.requests += measured.requests;
        t.ms += measured.ms;
        t.cpuUs += usage.cpuUs;
        t.served += usage.requests;
      }
      samples = profiler.read().buckets.reduce((a, b) => a + b.samples, 0);
    } finally {
      profiler.close();
    }
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    if (server.connected) server.send({ type: 'stop' });
    else server.kill();
    await exited;
    owner.close();
    unpin(pin);
  }
  if (samples === 0) throw new Error('profile overhead: the profiler took no sample of the server');
  return [
    {
      name: 'profile off',
      unit: 'µs CPU/request',
      value: off.cpu(),
      baseline: null,
      description: 'server CPU, set() per request, not profiled',
    },
    {
      name: 'profile overhead',
      unit: 'µs CPU/request',
      value: on.cpu(),
      baseline: 'profile off',
      description: 'server CPU, set() per request, while tld profile samples it at 99 Hz per CPU with stacks',
    },
  ];
}

export const CASES: BenchCase[] = [
  {
    id: 'profile',
    description:
      'loopback node:http server with set() per request: CPU per request while tld profile samples it at 99 Hz vs not',
    run: measure,
  },
];
