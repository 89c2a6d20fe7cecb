// The proof of run(): one thread, 128 interleaved tasks, each in its own tld.run() with its own values, hop through
// await, setTimeout, setImmediate, process.nextTick, fs/promises, a loopback TCP socket and an EventEmitter. At
// more than 10,000 checkpoints the BPF program tld_read runs on this thread (BPF_PROG_TEST_RUN: it reads the page
// the kernel pinned, exactly what a profiler or scheduler would see) and must read the values of the context
// Node's AsyncLocalStorage says is running: every time. The same workload with set() instead of run() must not.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TaskLocalData, asyncContextMechanism } from '@tld/userspace';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';
import { type Keys, createKeys, runWorkload, setValues, threadValues } from './async-context-load.mjs';

const support = bpfSupport();
const TASKS = 128;
const ROUNDS = 8;
const PLACES = [
  'EventEmitter listener',
  'after EventEmitter emit',
  'after all tasks',
  'after await',
  'after fs/promises readFile',
  'after nextTick',
  'after setTimeout',
  'after socket echo',
  'echo server data (no context)',
  'process.nextTick callback',
  'setImmediate callback',
  'setTimeout callback',
  'socket connect',
  'socket data',
  'task body',
];

describe.skipIf(!support.supported)('values follow the async context: what BPF reads on this thread', () => {
  let reader: Reader;
  let tld: TaskLocalData;
  let keys: Keys;
  beforeAll(() => {
    reader = loadReader({ map: 'private' });
    // The page mechanism: this reader reads the page (the walk has its own proof through tld_get_context_data).
    tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'page' });
    keys = createKeys(tld);
  });
  afterAll(() => {
    tld?.close();
    reader?.close();
  });
  beforeEach(() => setValues(keys, threadValues(0)));

  it(`run(): ${TASKS} interleaved tasks, over 10,000 checkpoints, BPF always reads the running context's values`, async () => {
    const result = await runWorkload({
      tld,
      keys,
      progFd: reader.progFd,
      thread: 0,
      tasks: TASKS,
      rounds: ROUNDS,
      mode: 'run',
    });
    const flags = [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].filter((flag) =>
      flag.includes('async-context-frame'),
    );
    console.info(
      `run() on Node ${process.version} ${flags.join(' ')} (${asyncContextMechanism()}): ` +
        `${result.checkpoints} checkpoints, ${result.mismatchCount} mismatches`,
    );
    expect(result.checkpoints).toBeGreaterThanOrEqual(10_000);
    expect(Object.keys(result.byPlace).sort()).toEqual(PLACES);
    expect(result.mismatches).toEqual([]);
    expect(result.mismatchCount).toBe(0);
  });

  it('set() instead of run(): the same workload shows mismatches, so the test above can tell', async () => {
    const result = await runWorkload({
      tld,
      keys,
      progFd: reader.progFd,
      thread: 0,
      tasks: TASKS,
      rounds: ROUNDS,
      mode: 'set',
    });
    console.info(
      `set() on Node ${process.version}: ${result.checkpoints} checkpoints, ${result.mismatchCount} mismatches`,
    );
    expect(result.checkpoints).toBeGreaterThanOrEqual(10_000);
    expect(Object.keys(result.byPlace).sort()).toEqual(PLACES);
    expect(result.mismatchCount).toBeGreaterThan(0);
  });
});
