// End to end against the real kernel: TypeScript stores values with @tld/userspace, the BPF program tld_read
// (run on the same thread with BPF_PROG_TEST_RUN) reads them by name from the task-storage map.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DATA_START,
  NAME_MAX_BYTES,
  dataPageOffset,
  decodeF64,
  decodeI64,
  decodeString,
  decodeU32,
  decodeU64,
} from '@tld/protocol';
import { TaskLocalData } from '@tld/userspace';
import { gettid, loadReader, loadTaskIterator, type ReadResult, type Reader } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';
import { BYTES_SIZE, KEY_NAMES, STRING_SIZE, createKeys, expectedBytes, setAll, valuesFor } from './values.mjs';
import type { Keys, Values } from './values.mjs';
import { runWorker } from './helpers.js';

const support = bpfSupport();

/** Asserts that BPF read exactly `values`: the raw bytes and the decoded values. */
function expectValues(read: ReadResult, values: Values): void {
  expect(read.registered).toBe(true);
  const bytes = expectedBytes(values);
  for (const name of KEY_NAMES) expect(read.values[name], name).toEqual(bytes[name]);
  expect(decodeU64(read.values['t_u64'])).toBe(values.t_u64);
  expect(decodeU32(read.values['t_u32'])).toBe(values.t_u32);
  expect(decodeI64(read.values['t_i64'])).toBe(values.t_i64);
  expect(decodeF64(read.values['t_f64'])).toBe(values.t_f64);
  expect(decodeString(read.values['t_str'])).toBe(values.t_str);
}

describe.skipIf(!support.supported)('BPF reads what TypeScript wrote', () => {
  let reader: Reader;
  beforeAll(() => {
    reader = loadReader({ map: 'private' });
  });
  afterAll(() => reader?.close());

  it('a thread that never opened TaskLocalData reads as absent, not garbage', async () => {
    const { tid, read } = await runWorker<{ tid: number; read: ReadResult }>({
      mode: 'never-open',
      mapFd: reader.mapFd,
      progFd: reader.progFd,
      index: 0,
    });
    expect(read.tid).toBe(tid);
    expect(tid).not.toBe(gettid());
    expect(read).toMatchObject({ registered: false, status: 0, start: 0n, metaCnt: 0, metaSize: 0 });
    for (const name of KEY_NAMES) {
      expect(read.values[name]).toBeUndefined();
      expect(read.keys[name]).toEqual({ found: false, size: 0, offset: 0, value: undefined });
    }
  });

  describe('main thread', () => {
    // Each test opens its own TaskLocalData (a fresh data page: zeros) over the six keys and sets what it reads.
    let tld: TaskLocalData;
    let keys: Keys;
    beforeEach(() => {
      tld = TaskLocalData.open({ mapFd: reader.mapFd });
      keys = createKeys(tld);
    });
    afterEach(() => tld?.close());

    it('u64, u32, i64, f64, string and bytes keys: BPF reads exactly the values set, then the new ones', () => {
      const first = valuesFor(0);
      setAll(keys, first);
      const read1 = reader.read(KEY_NAMES);
      expect(read1.tid).toBe(gettid());
      expect(read1.start).toBe(BigInt(DATA_START));
      expectValues(read1, first);

      // Plain stores only, then straight to BPF: no registration or other syscall in between.
      const second = valuesFor(1000);
      setAll(keys, second);
      expectValues(reader.read(KEY_NAMES), second);
    });

    it('BPF finds each key at the offset user space allocated, with its size', () => {
      const read = reader.read(KEY_NAMES);
      const described = Object.fromEntries(tld.keys().map((k) => [k.name, k]));
      for (const name of KEY_NAMES) {
        const k = described[name]!;
        expect(read.keys[name], name).toMatchObject({ found: true, size: k.size, offset: dataPageOffset(k.offset) });
      }
      expect(read.keys['t_str']!.size).toBe(STRING_SIZE);
      expect(read.keys['t_bytes']!.size).toBe(BYTES_SIZE);
      expect(read.metaCnt).toBe(tld.keys().length);
    });

    it('a write through the live bytes view is what BPF reads', () => {
      const blob = keys.t_bytes;
      blob.view.fill(0);
      blob.view[0] = 0xa5;
      blob.view[BYTES_SIZE - 1] = 0x5a;
      const expected = new Uint8Array(BYTES_SIZE);
      expected[0] = 0xa5;
      expected[BYTES_SIZE - 1] = 0x5a;
      expect(reader.read(['t_bytes']).values['t_bytes']).toEqual(expected);
    });

    it('keys created after the thread registered are readable by BPF in that thread', () => {
      keys.t_u64.set(valuesFor(7).t_u64);
      const before = reader.read(['late_u64', 'late_str']);
      expect(before.registered).toBe(true);
      expect(before.values).toEqual({ late_u64: undefined, late_str: undefined });

      const late = tld.u64('late_u64');
      late.set(0x1122334455667788n);
      const lateStr = tld.string('late_str', 48);
      lateStr.set('created after registration');
      const after = reader.read(['late_u64', 'late_str', 't_u64']);
      expect(decodeU64(after.values['late_u64'])).toBe(0x1122334455667788n);
      expect(decodeString(after.values['late_str'])).toBe('created after registration');
      expect(after.keys['late_str']!.size).toBe(48);
      expect(decodeU64(after.values['t_u64'])).toBe(valuesFor(7).t_u64);
    });

    it('a name BPF does not know reads as absent; the other names still read', () => {
      keys.t_u32.set(valuesFor(8).t_u32);
      const longest = 'y'.repeat(NAME_MAX_BYTES);
      const read = reader.read(['no_such_key', 't_u32', 't_u6', 't_u644', longest]);
      expect(read.values['no_such_key']).toBeUndefined();
      expect(read.values['t_u6']).toBeUndefined(); // a prefix of t_u64 is not t_u64
      expect(read.values['t_u644']).toBeUndefined();
      expect(read.values[longest]).toBeUndefined(); // the longest legal name is accepted, and absent
      expect(decodeU32(read.values['t_u32'])).toBe(valuesFor(8).t_u32);
    });
  });

  it('after close() the thread stays registered with its last values until it exits (native code may hold the page)', () => {
    const tld = TaskLocalData.open({ mapFd: reader.mapFd });
    tld.u64('t_u64').set(5n);
    expect(decodeU64(reader.read(['t_u64']).values['t_u64'])).toBe(5n);
    tld.close();
    expect(decodeU64(reader.read(['t_u64']).values['t_u64'])).toBe(5n);
  });

  it('a worker reads keys created after it registered: one by main meanwhile, one by itself', async () => {
    const barrier = new Int32Array(new SharedArrayBuffer(8));
    const done = runWorker<{ beforeSet: ReadResult; afterSet: ReadResult }>({
      mode: 'late-keys',
      mapFd: reader.mapFd,
      progFd: reader.progFd,
      index: 3,
      barrier,
      parties: 2,
    });
    await expect.poll(() => Atomics.load(barrier, 0), { timeout: 20_000 }).toBe(1); // the worker is registered
    const main = TaskLocalData.open({ mapFd: reader.mapFd });
    main.u64('late_by_main').set(99n); // main's own value: the worker must not see it
    Atomics.add(barrier, 0, 1);
    Atomics.notify(barrier, 0);
    const { beforeSet, afterSet } = await done;
    // The key exists process-wide now; the worker's page holds zeros for it until the worker sets it.
    expect(beforeSet.keys['late_by_main']).toMatchObject({ found: true, size: 8 });
    expect(decodeU64(beforeSet.values['late_by_main'])).toBe(0n);
    expect(decodeU64(afterSet.values['late_by_main'])).toBe(3007n);
    expect(decodeString(afterSet.values['late_by_worker'])).toBe('worker 3');
    expect(decodeU64(reader.read(['late_by_main']).values['late_by_main'])).toBe(99n);
    main.close();
  });

  it('10 worker threads set distinct values for the same keys; each BPF read returns its own', async () => {
    const parties = 10;
    const barrier = new Int32Array(new SharedArrayBuffer(8));
    type Result = { tid: number; first: ReadResult; second: ReadResult; afterClose: ReadResult };
    const results = await Promise.all(
      Array.from({ length: parties }, (_, i) =>
        runWorker<Result>({
          mode: 'set-and-read',
          mapFd: reader.mapFd,
          progFd: reader.progFd,
          index: i + 1,
          barrier,
          parties,
        }),
      ),
    );
    const tids = new Set(results.map((r) => r.tid));
    expect(tids.size).toBe(parties);
    expect(tids.has(gettid())).toBe(false);
    results.forEach((r, i) => {
      expect(r.first.tid).toBe(r.tid);
      expectValues(r.first, valuesFor(i + 1));
      expectValues(r.second, valuesFor(i + 1 + 1000));
      expect(r.afterClose.registered).toBe(true); // until the worker exits
    });
    // The workers have exited: their cleanup hooks deleted their elements.
    const iterator = loadTaskIterator({ map: { mapFd: reader.mapFd } });
    try {
      const registered = iterator.readTasks({ pid: process.pid }).map((t) => t.tid);
      expect(registered.filter((tid) => tids.has(tid))).toEqual([]);
    } finally {
      iterator.close();
    }
  });
});
