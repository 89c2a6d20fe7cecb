// The walk's proof on real Node.js contexts: run() publishes `tld.walk` and keeps each run's values in a record;
// BPF follows the thread's current async context to it (tld_get_context_data() of tld.bpf.h) with no work done by
// the writer on a context switch. 128 interleaved tasks on the main thread and 32 on each of two worker threads,
// each in its own run(), hop through await, setTimeout, setImmediate, nextTick, fs/promises, a loopback socket and
// an EventEmitter (async-context-load.mjs). Three readers:
// - at every checkpoint, tld_read_context on the same thread (BPF_PROG_TEST_RUN) must read the values of the
//   context Node's own AsyncLocalStorage says is running, from the record where the run sets them;
// - a CPU-clock perf_event sampler reads whatever thread it interrupts: inside a task's busy window it must read
//   that task's values; anywhere else a consistent tuple (a task of that thread, or the thread's own values);
// - at each entry of epoll_wait (the event loop going idle between callbacks) the thread's own values.
// No reading may be wrong; the walk may give no value (a record being changed). A control corrupts the published
// facts and must read no value inside the runs.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData, asyncContextMechanism } from '@tld/userspace';
import { type ContextReader, type ContextSample, bpfSupport, loadContextReader } from '@tld/testkit';
import {
  type Keys, type SpinWindow, type WorkloadResult, createKeys, runWorkload, setValues, threadValues,
} from './async-context-load.mjs';
import { walkInUse } from './context-walk-facts.js';

const support = bpfSupport();
const MAIN_TASKS = 128;
const WORKER_TASKS = 32;
const SAMPLE_HZ = 1000;

function runWorker(data: Record<string, unknown>): Promise<WorkloadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./workers/async-context-worker.mjs', import.meta.url), { workerData: data });
    let report: { result: WorkloadResult } | undefined;
    worker.once('message', (m: { result: WorkloadResult }) => { report = m; });
    worker.once('error', reject);
    worker.once('exit', (code) => (report ? resolve(report.result) : reject(new Error(`worker exited with code ${code}`))));
  });
}

interface Verdicts {
  cpu: number;
  idle: number;
  inWindow: number;
  noValue: number;
  wrong: number;
  examples: string[];
}

/**
 * Judges each sample of a thread of `threads` (tid → thread index and task count): a wrong value is one that is
 * neither the thread's own values (all from the page) nor one task's tuple (its keys from the record, mark from
 * the page), or not the task whose busy window the sample fell in, or not the thread's own at an idle entry.
 */
function judge(samples: readonly ContextSample[], threads: Map<number, { thread: number; tasks: number }>,
  windows: readonly SpinWindow[]): Verdicts {
  const v: Verdicts = { cpu: 0, idle: 0, inWindow: 0, noValue: 0, wrong: 0, examples: [] };
  const wrong = (s: ContextSample, why: string): void => {
    v.wrong += 1;
    if (v.examples.length < 10) {
      v.examples.push(`${s.kind} tid ${s.tid}: ${why} (read ${s.req_id}, ${s.route}, ${s.weight}, ${s.mark}; ` +
        `from ${Object.values(s.keys).map((k) => k.from).join('/')})`);
    }
  };
  for (const s of samples) {
    const t = threads.get(s.tid);
    if (!t) continue;
    if (s.kind === 'cpu') v.cpu += 1;
    else v.idle += 1;
    const window = s.kind === 'cpu' ? windows.find((w) => w.tid === s.tid && w.start <= s.ns && s.ns <= w.end) : undefined;
    if (window) v.inWindow += 1;
    if (Object.values(s.keys).some((k) => k.ret < 0)) {
      v.noValue += 1;
      continue;
    }
    const own = threadValues(t.thread);
    const from = [s.keys.req_id.from, s.keys.route.from, s.keys.weight.from, s.keys.mark.from].join('/');
    let task: bigint | undefined;
    if (from === 'page/page/page/page') {
      if (s.req_id !== own.req_id || s.route !== own.route || s.weight !== own.weight || s.mark !== own.mark) {
        wrong(s, "from the page but not the thread's own values");
        continue;
      }
    } else if (from === 'context/context/context/page') {
      const i = Number((s.req_id ?? 0n) - 0x1_0000_0000n * BigInt(t.thread + 1));
      const weight = i + t.thread / 8;
      if (!(i >= 0 && i < t.tasks) || s.route !== `/t${t.thread}/task/${i}` ||
        (s.weight !== weight && s.weight !== weight + 1000) || s.mark !== own.mark) {
        wrong(s, 'from a record but not one task of this thread');
        continue;
      }
      task = s.req_id;
    } else {
      wrong(s, 'keys from mixed sources');
      continue;
    }
    if (window && task !== window.req_id) wrong(s, `in the busy window of task ${window.req_id}`);
    if (s.kind === 'idle' && task !== undefined) wrong(s, 'a run\'s values while the event loop enters epoll_wait');
  }
  return v;
}

describe.skipIf(!support.supported)('BPF follows the async context to the run record (the walk)', () => {
  let reader: ContextReader;
  let tld: TaskLocalData;
  let keys: Keys;
  beforeAll(() => {
    reader = loadContextReader({ map: 'private' });
    tld = TaskLocalData.open({ mapFd: reader.mapFd });
    keys = createKeys(tld);
    setValues(keys, threadValues(0));
  });
  afterAll(() => {
    reader?.close();
    tld?.close();
  });

  it(`${MAIN_TASKS} + 2 × ${WORKER_TASKS} tasks on three threads: checkpoints, CPU samples and idle readings, 0 wrong`, async () => {
    tld.run({ req_id: 1n }, () => undefined);
    expect(walkInUse(tld)).toBe(true);
    reader.watch({ tgid: process.pid, sampleHz: SAMPLE_HZ });
    let results: WorkloadResult[];
    try {
      const worker = { mapFd: reader.mapFd, progFd: reader.progFd, tasks: WORKER_TASKS, rounds: 4, mode: 'run', reader: 'context', spinMs: 1 };
      results = await Promise.all([
        runWorkload({ tld, keys, progFd: reader.progFd, thread: 0, tasks: MAIN_TASKS, rounds: 8, mode: 'run', reader: 'context', spinMs: 1 }),
        runWorker({ ...worker, thread: 1 }),
        runWorker({ ...worker, thread: 2 }),
      ]);
      // Idle between callbacks: the loop enters epoll_wait with no context.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    } finally {
      reader.unwatch();
    }
    const [main] = results;
    const threads = new Map(results.map((r, thread) => [r.tid, { thread, tasks: thread === 0 ? MAIN_TASKS : WORKER_TASKS }]));
    const verdicts = judge(reader.samples(), threads, results.flatMap((r) => r.windows));
    const checkpoints = results.reduce((n, r) => n + r.checkpoints, 0);
    console.info(
      `walk on Node ${process.version} (${asyncContextMechanism()}): ${checkpoints} checkpoints ` +
        `(${results.map((r) => r.mismatchCount).join('+')} wrong, ${results.map((r) => r.noValueCount).join('+')} no value); ` +
        `samples: ${verdicts.cpu} cpu (${verdicts.inWindow} in busy windows), ${verdicts.idle} idle, ` +
        `${verdicts.noValue} no value, ${verdicts.wrong} wrong`,
    );
    expect(main?.checkpoints).toBeGreaterThanOrEqual(10_000);
    for (const r of results) {
      expect(r.mismatches).toEqual([]);
      expect(r.mismatchCount).toBe(0);
      expect(r.noValueCount).toBe(0);
    }
    expect(verdicts.examples).toEqual([]);
    expect(verdicts.wrong).toBe(0);
    // The samplers ran: readings in busy windows of runs, and idle entries, were judged.
    expect(verdicts.inWindow).toBeGreaterThan(0);
    expect(verdicts.idle).toBeGreaterThan(0);
  }, 240_000);
});
