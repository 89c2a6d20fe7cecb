// Thread registration: µs from a fresh worker's TaskLocalData.open() to its first set(), split by the time the
// thread spent in each kind of system call (tld_trace_* in tld_bench.bpf.o, attached to sys_enter/sys_exit), with
// 1, 4, 16 and 64 workers registering at once; and key creation for 1 to 63 keys. The main thread opens first, so
// workers pay what a worker of a running service pays (the metadata page and key "req_id" exist).
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { type BenchPrograms, type TraceResult, loadBenchPrograms } from '@tld/testkit';
import { TaskLocalData } from '@tld/userspace';
import type { RegistrationWorkerData } from './registration-worker.js';
import type { BenchCase, Measurement } from './types.js';
import { median } from './stats.js';
import { withTld } from './pair.js';

interface WorkerRun {
  readonly startUs: number;
  readonly us: number;
  /** The same worker registering a second time (after close()), its code warm. */
  readonly warmUs: number;
  readonly trace: TraceResult;
}

const WORKER_URL = new URL('./registration-worker.js', import.meta.url);

/** Starts `count` workers, releases them together once all are ready, and collects what each measured. */
async function registerAtOnce(
  programs: BenchPrograms,
  fds: { begin: number; end: number },
  count: number,
): Promise<WorkerRun[]> {
  const gate = new SharedArrayBuffer(4);
  const workerData: RegistrationWorkerData = {
    mapFd: programs.mapFd,
    traceBeginFd: fds.begin,
    traceEndFd: fds.end,
    gate,
  };
  const runs = Array.from({ length: count }, () => {
    const started = performance.now();
    const worker = new Worker(WORKER_URL, { workerData });
    let startUs = 0;
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', () => {
        startUs = (performance.now() - started) * 1000;
        resolve();
      });
    });
    const done = new Promise<WorkerRun>((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (m: { type: string; us: number; warmUs: number; trace: TraceResult }) => {
        if (m.type === 'done') resolve({ startUs, us: m.us, warmUs: m.warmUs, trace: m.trace });
      });
      worker.once('exit', (code) => reject(new Error(`registration worker exited with ${code} before reporting`)));
    });
    return { ready, done };
  });
  await Promise.all(runs.map((r) => r.ready));
  const flag = new Int32Array(gate);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  return Promise.all(runs.map((r) => r.done));
}

const us = (ns: number): number => ns / 1000;
/** µs the worker spent in system calls of any kind while it registered. */
const kernelUs = (r: WorkerRun): number => us(Object.values(r.trace.ns).reduce((a, b) => a + b, 0));

async function measureRegistration(quick: boolean): Promise<Measurement[]> {
  const programs = loadBenchPrograms();
  try {
    programs.attachTrace();
    const fds = programs.traceFds; // fds are process-wide: workers run the programs on their own threads
    const main = TaskLocalData.open({ mapFd: programs.mapFd });
    try {
      main.u64('req_id').set(0n);
      const singles: WorkerRun[] = [];
      for (let i = 0; i < (quick ? 1 : 5); i++) singles.push(...(await registerAtOnce(programs, fds, 1)));
      const pick = (f: (r: WorkerRun) => number): number => median(singles.map(f));
      const out: Measurement[] = [
        {
          name: 'worker start',
          unit: 'µs',
          value: pick((r) => r.startUs),
          baseline: null,
          description: 'new Worker() until its first message (imports loaded)',
        },
        {
          name: 'registration',
          unit: 'µs',
          value: pick((r) => r.us),
          baseline: 'worker start',
          description: "a fresh worker's open() to its first set()",
        },
        {
          name: 'registration pidfd',
          unit: 'µs',
          value: pick((r) => us(r.trace.ns.PIDFD_OPEN)),
          baseline: 'registration',
          description: 'in pidfd_open (register, verify uptr)',
        },
        {
          name: 'registration map update',
          unit: 'µs',
          value: pick((r) => us(r.trace.ns.MAP_UPDATE)),
          baseline: 'registration',
          description: 'in BPF_MAP_UPDATE_ELEM (pins both pages)',
        },
        {
          name: 'registration pages',
          unit: 'µs',
          value: pick((r) => us(r.trace.ns.MMAP)),
          baseline: 'registration',
          description: "in mmap of the thread's data page",
        },
        {
          name: 'registration other syscalls',
          unit: 'µs',
          value: pick((r) => us(r.trace.ns.BPF_OTHER + r.trace.ns.OTHER)),
          baseline: 'registration',
          description: 'in other bpf() commands (map info, lookup), close, dup',
        },
        {
          name: 'registration warm',
          unit: 'µs',
          value: pick((r) => r.warmUs),
          baseline: 'registration',
          description: 'the same worker again after close(): its JavaScript already compiled',
        },
        {
          name: 'registration user space',
          unit: 'µs',
          value: pick((r) => r.us - kernelUs(r)),
          baseline: 'registration',
          description: 'the rest: JavaScript, N-API, page faults of the new page',
        },
      ];
      for (const count of quick ? [4] : [4, 16, 64]) {
        const runs = await registerAtOnce(programs, fds, count);
        out.push({
          name: `registration ${count} workers`,
          unit: 'µs',
          value: median(runs.map((r) => r.us)),
          baseline: 'registration',
          description: `median per worker, ${count} registering at once`,
        });
        out.push({
          name: `registration ${count} workers in kernel`,
          unit: 'µs',
          value: median(runs.map(kernelUs)),
          baseline: 'registration',
          description: `median per worker of the wall time between entering and leaving its system calls (waits included), ${count} at once`,
        });
        // Nearly all of the above, when it is large: mmap/munmap wait for the process's mmap lock, which the other
        // new workers' V8 heaps take for writing (see tools/README.md).
        out.push({
          name: `registration ${count} workers in mmap`,
          unit: 'µs',
          value: median(runs.map((r) => us(r.trace.ns.MMAP))),
          baseline: `registration ${count} workers in kernel`,
          description: `median per worker of the wall time in mmap/munmap, ${count} at once`,
        });
      }
      return out;
    } finally {
      main.close();
    }
  } finally {
    programs.close();
  }
}

function measureKeyCreation(): Promise<Measurement[]> {
  return withTld(({ tld }) => {
    const created: number[] = [];
    for (let i = 0; i < 63; i++) {
      const t0 = performance.now();
      tld.u64(`key_${i}`);
      created.push((performance.now() - t0) * 1000);
    }
    // Getting a key that exists: the Map lookup every later tld.u64(name) does (timed after a warm-up pass).
    const names = created.map((_, i) => `key_${i}`);
    const lookups = 63 * 200;
    let lookupUs = 0;
    for (let pass = 0; pass < 2; pass++) {
      const t0 = performance.now();
      for (let i = 0; i < lookups; i++) tld.u64(names[i % 63] as string);
      lookupUs = ((performance.now() - t0) * 1000) / lookups;
    }
    const at = (n: number): number => created[n - 1] as number;
    return [
      {
        name: 'key lookup',
        unit: 'µs',
        value: lookupUs,
        baseline: null,
        description: 'tld.u64(name) of an existing key',
      },
      {
        name: 'key creation',
        unit: 'µs',
        value: median(created),
        baseline: 'key lookup',
        description: 'median per key, creating 63 keys',
      },
      {
        name: 'key creation 1',
        unit: 'µs',
        value: at(1),
        baseline: 'key creation',
        description: 'the first key of the process',
      },
      {
        name: 'key creation 16',
        unit: 'µs',
        value: at(16),
        baseline: 'key creation',
        description: 'the 16th key (scans 15 slots)',
      },
      {
        name: 'key creation 63',
        unit: 'µs',
        value: at(63),
        baseline: 'key creation',
        description: 'the 63rd key (scans 62 slots)',
      },
    ];
  });
}

export const CASES: BenchCase[] = [
  {
    id: 'registration',
    description: "fresh workers' open() to first set(), by system call, 1-64 at once",
    run: (options) => measureRegistration(options.quick),
  },
  { id: 'key creation', description: 'creating keys 1 to 63', run: () => measureKeyCreation() },
];
