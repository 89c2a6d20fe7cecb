// The interleaved workload of the async-context proof, shared by the main-thread test and its worker
// threads (plain JavaScript: workers load it directly). Many tasks, each in its own context, hop through await,
// setTimeout, setImmediate, process.nextTick, fs/promises, a loopback TCP socket and an EventEmitter. At every
// checkpoint the BPF program tld_read runs on this thread and what it read is compared with the values of the
// context Node's own AsyncLocalStorage says is running (none: the thread's own values).
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeF64, decodeString, decodeU64 } from '@tld/protocol';
import { gettid, readOnThisThread } from '@tld/bpf-programs';
import { readContextOnThisThread } from '@tld/testkit';

export const ROUTE_SIZE = 32;
/** Keys the reader reads: three given to every run(), `mark` never given to any. */
export const NAMES = ['req_id', 'route', 'weight', 'mark'];

/**
 * @typedef {{ req_id: bigint, route: string, weight: number, mark: bigint }} Values
 * @typedef {object} WorkloadResult
 * @property {number} checkpoints
 * @property {number} mismatchCount
 * @property {string[]} mismatches the first ten mismatches, described
 * @property {Record<string, number>} byPlace checkpoints per place in the task (await, setTimeout callback, ...)
 * @property {number} noValueCount reader 'context': checkpoints where the walk gave no value for some key
 * @property {number} inRunCheckpoints checkpoints inside a task's context
 * @property {number} tid the thread's kernel id
 * @property {SpinWindow[]} windows with `spinMs`: when this thread was busy inside a task's run, and whose
 * @property {bigint} began process.hrtime.bigint() when the workload started (the thread's own values set)
 * @property {bigint} ended ... and when it ended
 * @typedef {{ start: bigint, end: bigint, tid: number, req_id: bigint }} SpinWindow
 * @typedef {{ req_id: import('@tld/userspace').U64Key, route: import('@tld/userspace').StringKey,
 *   weight: import('@tld/userspace').F64Key, mark: import('@tld/userspace').U64Key }} Keys
 */

/** @param {import('@tld/userspace').TaskLocalData} tld @returns {Keys} */
export function createKeys(tld) {
  return {
    req_id: tld.u64('req_id'),
    route: tld.string('route', ROUTE_SIZE),
    weight: tld.f64('weight'),
    mark: tld.u64('mark'),
  };
}

/** The thread's own values of thread `thread` (0 = main). @param {number} thread @returns {Values} */
export function threadValues(thread) {
  return {
    req_id: 7n + BigInt(thread),
    route: `/thread/${thread}`,
    weight: 0.5 + thread,
    mark: 0xa5a5_0000_0000_0000n + BigInt(thread),
  };
}

/** Task `i`'s values on thread `thread`; `mark` stays the thread's. @param {number} thread @param {number} i @returns {Values} */
export function taskValues(thread, i) {
  return {
    req_id: 0x1_0000_0000n * BigInt(thread + 1) + BigInt(i), // both halves of the word differ between tasks
    route: `/t${thread}/task/${i}`,
    weight: i + thread / 8,
    mark: threadValues(thread).mark,
  };
}

/** @param {Keys} keys @param {Values} values */
export function setValues(keys, values) {
  keys.req_id.set(values.req_id);
  keys.route.set(values.route);
  keys.weight.set(values.weight);
  keys.mark.set(values.mark);
}

/**
 * Runs `tasks` interleaved tasks of `rounds` rounds each. mode 'run': each task in tld.run() with its values;
 * mode 'set': each task calls set() with its values when it starts (what a program without run() would do);
 * mode 'none': the tasks have no values of their own and expect the thread's everywhere.
 * reader 'page' (default): progFd is tld_read, which reads the page; 'context': progFd is tld_read_context, which
 * walks to the running context's record (tld_get_context_data()): where run() uses the walk, inside a run the run's
 * keys must come from the record and `mark` from the page, outside any run every key from the page; where it
 * mirrors values into the page (asyncContext 'page'), every key from the page. `spinMs`: at each 'task body'
 * checkpoint the task keeps the CPU that long and records the window (CLOCK_MONOTONIC), for samplers.
 * @param {{ tld: import('@tld/userspace').TaskLocalData, keys: Keys, progFd: number, thread: number,
 *   tasks: number, rounds: number, mode: 'run' | 'set' | 'none', reader?: 'page' | 'context', spinMs?: number }} options
 * @returns {Promise<WorkloadResult>}
 */
export async function runWorkload({ tld, keys, progFd, thread, tasks, rounds, mode, reader = 'page', spinMs = 0 }) {
  const began = process.hrtime.bigint();
  /** @type {AsyncLocalStorage<Values>} what the test expects: Node's own idea of the running context */
  const expected = new AsyncLocalStorage();
  const own = threadValues(thread);
  const dir = await mkdtemp(join(tmpdir(), 'tld-async-context-'));
  const file = join(dir, 'payload');
  await writeFile(file, 'x'.repeat(256));
  let checkpoints = 0;
  let mismatchCount = 0;
  /** @type {string[]} */
  const mismatches = [];
  /** @type {Record<string, number>} */
  const byPlace = {};
  let noValueCount = 0;
  let inRunCheckpoints = 0;
  const tid = gettid();
  /** @type {SpinWindow[]} */
  const windows = [];

  /**
   * @param {boolean} inRun whether Node says a task's context is running
   * @returns {Values | undefined} the values BPF read; undefined when the walk gave no value
   */
  function read(inRun) {
    if (reader === 'page') {
      const r = readOnThisThread(progFd, NAMES);
      return {
        req_id: decodeU64(r.values['req_id']),
        route: decodeString(r.values['route']),
        weight: decodeF64(r.values['weight']),
        mark: decodeU64(r.values['mark']),
      };
    }
    const r = readContextOnThisThread(progFd);
    if (r.req_id === undefined || r.route === undefined || r.weight === undefined || r.mark === undefined)
      return undefined;
    // Where each value came from is part of what is checked: a run's keys from its record, the rest from the page.
    const run = inRun && mode === 'run' && tld.asyncContext === 'walk' ? 'context' : 'page';
    if (
      r.keys.req_id.from !== run ||
      r.keys.route.from !== run ||
      r.keys.weight.from !== run ||
      r.keys.mark.from !== 'page'
    ) {
      return {
        req_id: -1n,
        route: `from ${r.keys.req_id.from}/${r.keys.route.from}/${r.keys.weight.from}/${r.keys.mark.from}`,
        weight: NaN,
        mark: -1n,
      };
    }
    return { req_id: r.req_id, route: r.route, weight: r.weight, mark: r.mark };
  }

  /** @param {string} place */
  function checkpoint(place) {
    const store = expected.getStore();
    const want = store ?? own;
    const got = read(store !== undefined);
    checkpoints += 1;
    if (store !== undefined) inRunCheckpoints += 1;
    byPlace[place] = (byPlace[place] ?? 0) + 1;
    if (got === undefined) {
      noValueCount += 1;
      if (mismatches.length < 10) mismatches.push(`${place}: want ${show(want)}, BPF read no value`);
    } else if (
      got.req_id !== want.req_id ||
      got.route !== want.route ||
      got.weight !== want.weight ||
      got.mark !== want.mark
    ) {
      mismatchCount += 1;
      if (mismatches.length < 10) mismatches.push(`${place}: want ${show(want)}, BPF read ${show(got)}`);
    }
    if (spinMs > 0 && place === 'task body' && store !== undefined) {
      const start = process.hrtime.bigint();
      const until = start + BigInt(Math.round(spinMs * 1e6));
      let end = start;
      while (end < until) end = process.hrtime.bigint();
      windows.push({ start, end, tid, req_id: store.req_id });
    }
  }

  // Created outside any context: the server side's callbacks run with the thread's own values.
  const server = createServer((socket) => {
    socket.on('data', (chunk) => {
      checkpoint('echo server data (no context)');
      socket.write(chunk);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the echo server has no TCP port');
  const { port } = address;
  // Listeners run in the context of whoever calls emit() (Node semantics), whoever registered them.
  const bus = new EventEmitter();
  bus.on('hop', () => checkpoint('EventEmitter listener'));

  /** @param {number} i */
  async function hops(i) {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        checkpoint('socket connect');
        resolve(undefined);
      });
    });
    let received = '';
    /** @type {(() => void) | undefined} */
    let echoed;
    socket.on('data', (chunk) => {
      checkpoint('socket data');
      received += chunk.toString();
      if (received.endsWith('\n')) {
        received = '';
        echoed?.();
      }
    });
    for (let round = 0; round < rounds; round++) {
      const mine = expected.getStore();
      if (mine !== undefined && round === rounds >> 1) {
        // Halfway, each task changes one of its values with set(): inside a run that is the run's value only.
        mine.weight += 1000;
        keys.weight.set(mine.weight);
      }
      checkpoint('task body');
      await Promise.resolve(); // a bare await: one promise-reaction hop
      checkpoint('after await');
      await new Promise((resolve) =>
        setTimeout(
          () => {
            checkpoint('setTimeout callback');
            resolve(undefined);
          },
          (i + round) % 3,
        ),
      );
      checkpoint('after setTimeout');
      await new Promise((resolve) =>
        setImmediate(() => {
          checkpoint('setImmediate callback');
          resolve(undefined);
        }),
      );
      await new Promise((resolve) =>
        process.nextTick(() => {
          checkpoint('process.nextTick callback');
          resolve(undefined);
        }),
      );
      checkpoint('after nextTick');
      await readFile(file);
      checkpoint('after fs/promises readFile');
      await new Promise((resolve) => {
        echoed = () => resolve(undefined);
        socket.write(`${i}.${round}\n`);
      });
      checkpoint('after socket echo');
      bus.emit('hop');
      checkpoint('after EventEmitter emit');
    }
    socket.destroy();
  }

  /** @param {number} i */
  function start(i) {
    if (mode === 'none') return hops(i);
    const values = taskValues(thread, i); // this task's own object: it changes its weight halfway
    if (mode === 'run') {
      const { req_id, route, weight } = values;
      return tld.run({ req_id, route, weight }, () => expected.run(values, () => hops(i)));
    }
    return expected.run(values, () => {
      setValues(keys, values);
      return hops(i);
    });
  }

  try {
    await Promise.all(Array.from({ length: tasks }, (_, i) => start(i)));
    // Back outside every context: the thread's own values again.
    await new Promise((resolve) => setImmediate(() => resolve(undefined)));
    checkpoint('after all tasks');
  } finally {
    await new Promise((resolve) => server.close(() => resolve(undefined)));
    await rm(dir, { recursive: true, force: true });
  }
  return {
    checkpoints,
    mismatchCount,
    mismatches,
    byPlace,
    noValueCount,
    inRunCheckpoints,
    tid,
    windows,
    began,
    ended: process.hrtime.bigint(),
  };
}

/** @param {Values} v */
function show(v) {
  return `{ req_id: ${v.req_id}, route: ${JSON.stringify(v.route)}, weight: ${v.weight}, mark: ${v.mark} }`;
}
