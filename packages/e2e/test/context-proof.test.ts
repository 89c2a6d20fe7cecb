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
import { WALK_KEY_NAME, type WalkFacts, decodeString, decodeU64 } from '@tld/protocol';
import { loadTaskIterator } from '@tld/bpf-programs';
import {
  type Keys,
  type SpinWindow,
  type WorkloadResult,
  createKeys,
  runWorkload,
  setValues,
  threadValues,
} from './async-context-load.mjs';
import { corruptFacts, walkInUse } from './context-walk-facts.js';

const support = bpfSupport();
const MAIN_TASKS = 128;
const WORKER_TASKS = 32;
const SAMPLE_HZ = 1000;

function runWorker(data: Record<string, unknown>): Promise<WorkloadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./workers/async-context-worker.mjs', import.meta.url), { workerData: data });
    let report: { result: WorkloadResult } | undefined;
    worker.once('message', (m: { result: WorkloadResult }) => {
      report = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      report ? resolve(report.result) : reject(new Error(`worker exited with code ${code}`)),
    );
  });
}

interface Verdicts {
  /** Page mechanism only: CPU samples outside busy windows, which may land while hooks rewrite the page. */
  unjudged: number;
  cpu: number;
  idle: number;
  inWindow: number;
  noValue: number;
  wrong: number;
  examples: string[];
}

/**
 * Judges each sample of a thread of `threads` (tid → thread index, task count, and while it holds its own values):
 * a wrong value is one that is neither the thread's own values nor one task's tuple, or comes from the wrong place
 * (with the walk: a task's keys from its record and mark from the page, the thread's own all from the page; with
 * the page mechanism: everything from the page), or is not the task whose busy window the sample fell in, or not
 * the thread's own at an idle entry.
 */
function judge(
  samples: readonly ContextSample[],
  threads: Map<number, { thread: number; tasks: number; from: bigint; to: bigint }>,
  windows: readonly SpinWindow[],
  walk: boolean,
): Verdicts {
  const v: Verdicts = { unjudged: 0, cpu: 0, idle: 0, inWindow: 0, noValue: 0, wrong: 0, examples: [] };
  const wrong = (s: ContextSample, why: string): void => {
    v.wrong += 1;
    if (v.examples.length < 10) {
      v.examples.push(
        `${s.kind} tid ${s.tid}: ${why} (read ${s.req_id}, ${s.route}, ${s.weight}, ${s.mark}; ` +
          `from ${Object.values(s.keys)
            .map((k) => k.from)
            .join('/')})`,
      );
    }
  };
  for (const s of samples) {
    const t = threads.get(s.tid);
    // A thread is judged while it holds its own values: not while a worker starts or closes its page.
    if (!t || s.ns < t.from || s.ns > t.to) continue;
    if (s.kind === 'cpu') v.cpu += 1;
    else v.idle += 1;
    const window =
      s.kind === 'cpu' ? windows.find((w) => w.tid === s.tid && w.start <= s.ns && s.ns <= w.end) : undefined;
    if (window) v.inWindow += 1;
    // The page mechanism rewrites the page word by word at each switch: a sample can see it half done. (The walk
    // has no such moment: its readings are all judged.)
    if (!walk && s.kind === 'cpu' && !window) {
      v.unjudged += 1;
      continue;
    }
    if (Object.values(s.keys).some((k) => k.ret < 0)) {
      v.noValue += 1;
      continue;
    }
    const own = threadValues(t.thread);
    const from = [s.keys.req_id.from, s.keys.route.from, s.keys.weight.from, s.keys.mark.from].join('/');
    const i = Number((s.req_id ?? 0n) - 0x1_0000_0000n * BigInt(t.thread + 1));
    const weight = i + t.thread / 8;
    const isOwn = s.req_id === own.req_id && s.route === own.route && s.weight === own.weight && s.mark === own.mark;
    const isTask =
      i >= 0 &&
      i < t.tasks &&
      s.route === `/t${t.thread}/task/${i}` &&
      (s.weight === weight || s.weight === weight + 1000) &&
      s.mark === own.mark;
    if (!isOwn && !isTask) {
      wrong(s, "neither the thread's own values nor one task's of this thread");
      continue;
    }
    const want = !walk || isOwn ? 'page/page/page/page' : 'context/context/context/page';
    if (from !== want) wrong(s, `read from ${from}, not ${want}`);
    else if (window && (!isTask || s.req_id !== window.req_id)) wrong(s, `in the busy window of task ${window.req_id}`);
    else if (s.kind === 'idle' && !isOwn) wrong(s, "a run's values while the event loop enters epoll_wait");
  }
  return v;
}

// One reader and TaskLocalData for the file: which mechanism run() uses here decides which tests exist (the walk
// on Node 24, 26 and 22 with --experimental-async-context-frame; the page elsewhere). node-versions.test.ts runs
// this file on each of them.
const reader = support.supported ? loadContextReader({ map: 'private' }) : undefined;
const tld = reader ? TaskLocalData.open({ mapFd: reader.mapFd }) : undefined;
const walk = tld?.asyncContext === 'walk';

describe.skipIf(!reader || !tld)('BPF follows the async context to the run record (the walk)', () => {
  const r = reader as ContextReader;
  const t = tld as TaskLocalData;
  let keys: Keys;
  beforeAll(() => {
    keys = createKeys(t);
    setValues(keys, threadValues(0));
  });
  afterAll(() => {
    t.close();
    r.close();
  });

  it(`${MAIN_TASKS} + 2 × ${WORKER_TASKS} tasks on three threads: checkpoints, CPU samples and idle readings, 0 wrong`, async () => {
    t.run({ req_id: 1n }, () => undefined);
    expect(walkInUse(t)).toBe(walk);
    r.watch({ tgid: process.pid, sampleHz: SAMPLE_HZ });
    let results: WorkloadResult[];
    let unwatched = 0n;
    try {
      const worker = {
        mapFd: r.mapFd,
        progFd: r.progFd,
        tasks: WORKER_TASKS,
        rounds: 4,
        mode: 'run',
        reader: 'context',
        spinMs: 1,
        asyncContext: 'auto',
      };
      results = await Promise.all([
        runWorkload({
          tld: t,
          keys,
          progFd: r.progFd,
          thread: 0,
          tasks: MAIN_TASKS,
          rounds: 8,
          mode: 'run',
          reader: 'context',
          spinMs: 1,
        }),
        runWorker({ ...worker, thread: 1 }),
        runWorker({ ...worker, thread: 2 }),
      ]);
      // Idle between callbacks: the loop enters epoll_wait with no context.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    } finally {
      r.unwatch();
      unwatched = process.hrtime.bigint();
    }
    const [main] = results;
    const threads = new Map(
      results.map((w, thread) => [
        w.tid,
        {
          thread,
          tasks: thread === 0 ? MAIN_TASKS : WORKER_TASKS,
          from: w.began,
          to: thread === 0 ? unwatched : w.ended,
        },
      ]),
    );
    const verdicts = judge(
      r.samples(),
      threads,
      results.flatMap((w) => w.windows),
      walk,
    );
    const checkpoints = results.reduce((n, w) => n + w.checkpoints, 0);
    console.info(
      `${walk ? 'walk' : 'page'} on Node ${process.version} (${asyncContextMechanism()}): ${checkpoints} checkpoints ` +
        `(${results.map((w) => w.mismatchCount).join('+')} wrong, ${results.map((w) => w.noValueCount).join('+')} no value); ` +
        `samples: ${verdicts.cpu} cpu (${verdicts.inWindow} in busy windows), ${verdicts.idle} idle, ` +
        `${verdicts.noValue} no value, ${verdicts.wrong} wrong${walk ? '' : `, ${verdicts.unjudged} not judged (page mechanism)`}`,
    );
    expect(main?.checkpoints).toBeGreaterThanOrEqual(10_000);
    for (const w of results) {
      expect(w.mismatches, `thread tid ${w.tid}`).toEqual([]);
      expect(w.mismatchCount).toBe(0);
      expect(w.noValueCount).toBe(0);
    }
    expect(verdicts.examples).toEqual([]);
    expect(verdicts.wrong).toBe(0);
    // The samplers ran: readings in busy windows of runs, and idle entries, were judged.
    expect(verdicts.inWindow).toBeGreaterThan(0);
    expect(verdicts.idle).toBeGreaterThan(0);
  }, 240_000);

  // The control: facts that lead the walk astray must give no value inside the runs, never the page's (the thread's
  // own values, wrong inside a run) or another run's. (A wrong als_hash or table_buckets_off makes the lookup miss
  // our AsyncLocalStorage, which reads as outside any run: PROTOCOL.md §8.)
  const CORRUPTIONS: Array<[string, (f: WalkFacts) => Partial<WalkFacts>]> = [
    ['cped_slot points at unmapped memory', () => ({ cpedSlot: 8n })],
    ['frame_table_off is off by a word', (f) => ({ frameTableOff: f.frameTableOff + 8 })],
    ['store_record_off is off by a word', (f) => ({ storeRecordOff: f.storeRecordOff + 8 })],
    ["record_magic is not the records' magic", (f) => ({ recordMagic: f.recordMagic ^ 0x5a5an })],
    ['entry_words is 0', () => ({ entryWords: 0 })],
  ];
  // Registered only where run() uses the walk: without it there are no facts to corrupt (the test below instead).
  for (const [what, corrupt] of walk ? CORRUPTIONS : []) {
    it(`control: ${what}: no value inside every run, no wrong value anywhere`, async () => {
      const restore = corruptFacts(t, corrupt);
      let result: WorkloadResult;
      try {
        result = await runWorkload({
          tld: t,
          keys,
          progFd: r.progFd,
          thread: 0,
          tasks: 16,
          rounds: 2,
          mode: 'run',
          reader: 'context',
        });
      } finally {
        restore();
      }
      expect(result.mismatches.filter((m) => !m.endsWith('BPF read no value'))).toEqual([]);
      expect(result.mismatchCount).toBe(0);
      expect(result.inRunCheckpoints).toBeGreaterThan(100);
      expect(result.noValueCount).toBeGreaterThanOrEqual(result.inRunCheckpoints);
      // Restored: the same readers read the runs' values again.
      const after = await runWorkload({
        tld: t,
        keys,
        progFd: r.progFd,
        thread: 0,
        tasks: 4,
        rounds: 1,
        mode: 'run',
        reader: 'context',
      });
      expect([after.mismatchCount, after.noValueCount]).toEqual([0, 0]);
    }, 60_000);
  }

  if (walk) {
    it("the task iterator (tld dump) finds a worker blocked inside a run: the run's values beside the page's", async () => {
      const flag = new SharedArrayBuffer(4);
      const worker = new Worker(new URL('./workers/context-run-worker.mjs', import.meta.url), {
        workerData: { mapFd: r.mapFd, flag },
      });
      const iterator = loadTaskIterator({ map: { mapFd: r.mapFd } });
      try {
        const started = await new Promise<{ tid: number; asyncContext: string }>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        expect(started.asyncContext).toBe('walk');
        const task = iterator.readTasks({ pid: process.pid }).find((k) => k.tid === started.tid);
        expect(task?.contextStatus).toBe(1);
        const keyed = Object.fromEntries(
          (task?.keys ?? []).filter((k) => k.name !== WALK_KEY_NAME).map((k) => [k.name, k]),
        );
        const own = threadValues(5);
        expect([keyed['req_id']?.context.from, keyed['route']?.context.from, keyed['mark']?.context.from]).toEqual([
          'context',
          'context',
          'page',
        ]);
        expect(decodeU64(keyed['req_id']?.context.value)).toBe(0x5eedn);
        expect(decodeString(keyed['route']?.context.value)).toBe('/blocked/in/run');
        expect(decodeU64(keyed['mark']?.context.value)).toBe(own.mark);
        // Beside them, the page keeps the thread's own values.
        expect([decodeU64(keyed['req_id']?.value), decodeString(keyed['route']?.value)]).toEqual([
          own.req_id,
          own.route,
        ]);
      } finally {
        iterator.close();
        Atomics.store(new Int32Array(flag), 0, 1);
        Atomics.notify(new Int32Array(flag), 0);
        await new Promise((resolve) => worker.once('exit', resolve));
      }
    });
  }

  if (!walk) {
    it(`without the walk (${t.asyncContextReason ?? 'page mechanism'}): no facts published, every key read from the page run() keeps`, async () => {
      expect(t.keys().map((k) => k.name)).not.toContain(WALK_KEY_NAME);
      const inside = await t.run({ req_id: 99n, route: '/page/mode' }, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return r.read();
      });
      expect([inside.keys.req_id.from, inside.keys.route.from, inside.keys.mark.from]).toEqual([
        'page',
        'page',
        'page',
      ]);
      expect([inside.req_id, inside.route, inside.mark]).toEqual([99n, '/page/mode', threadValues(0).mark]);
    });
  }
});
