// The task iterator tld_iter (@tld/bpf-programs loadTaskIterator) against the real kernel: every registered thread
// with the bytes each one stored, which a user-space map lookup cannot give (the pointers read 0) — main thread
// and workers, 16- and 24-byte map values, private, pinned and fd-placed maps.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MapValueSize, decodeU64 } from '@tld/protocol';
import { TaskLocalData } from '@tld/userspace';
import {
  IterRecordLayout,
  type RegisteredTask,
  type TaskIterator,
  decodeTaskRecords,
  gettid,
  loadObject,
  loadTaskIterator,
  names,
  objectPaths,
  unpin,
} from '@tld/bpf-programs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { KEY_NAMES, createKeys, expectedBytes, setAll, valuesFor } from './values.mjs';

const support = bpfSupport();

interface IterWorker {
  readonly tid: number;
  close(): Promise<void>;
}

/** A worker registered in `mapFd` with the values of thread `index` (workers/iter-worker.mjs). */
async function startWorker(mapFd: number, index: number): Promise<IterWorker> {
  const worker = new Worker(new URL('./workers/iter-worker.mjs', import.meta.url), { workerData: { mapFd, index } });
  const [{ tid }] = (await once(worker, 'message')) as [{ tid: number }];
  const exited = once(worker, 'exit');
  let closing: Promise<unknown> | undefined;
  return {
    tid,
    async close() {
      closing ??= (worker.postMessage('close'), exited);
      await closing;
    },
  };
}

/** name → value bytes of a task. */
function bytesOf(task: RegisteredTask | undefined): Record<string, Uint8Array> {
  return Object.fromEntries((task?.keys ?? []).map((k) => [k.name, k.value]));
}

const byTid = (a: number, b: number): number => a - b;

describe('decodeTaskRecords', () => {
  const L = IterRecordLayout;

  it('a record without pages is a task with an element but nothing BPF can read', () => {
    const [task, ...rest] = decodeTaskRecords(new Uint8Array(L.size));
    expect(rest).toEqual([]);
    expect(task).toMatchObject({ status: 0, registered: false, meta: undefined, data: undefined, keys: [] });
  });

  it('refuses output that ends inside a record or inside its pages', () => {
    const one = new Uint8Array(L.size);
    expect(() => decodeTaskRecords(one.subarray(0, L.size - 1))).toThrow(/ends inside a record at byte 0/);
    new DataView(one.buffer).setUint32(L.dataBytesOffset, 4096, true); // data_bytes: a page that never came
    expect(() => decodeTaskRecords(one)).toThrow(/ends inside the pages of the record at byte 0/);
  });

  it('refuses a map value size other than 16 or 24', () => {
    const size: number = 32;
    expect(() => decodeTaskRecords(new Uint8Array(0), size as MapValueSize)).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_BAD_LAYOUT' }),
    );
  });
});

describe.skipIf(!support.supported)('tld_iter: every registered thread, as BPF sees it', () => {
  let iterator: TaskIterator;
  let tld: TaskLocalData;
  beforeAll(() => {
    iterator = loadTaskIterator({ map: 'private' });
    tld = TaskLocalData.open({ mapFd: iterator.mapFd });
    setAll(createKeys(tld), valuesFor(0));
  });
  afterAll(() => {
    tld?.close();
    iterator?.close();
  });

  it('the main thread and two workers, each with its own values; a closed worker is gone', async () => {
    expect(iterator.valueSize).toBe(16);
    const workers = [await startWorker(iterator.mapFd, 1), await startWorker(iterator.mapFd, 2)];
    try {
      const tasks = iterator.readTasks({ pid: process.pid });
      const tids = [gettid(), ...workers.map((w) => w.tid)];
      expect(tasks.map((t) => t.tid).sort(byTid)).toEqual([...tids].sort(byTid));
      tids.forEach((tid, i) => {
        const task = tasks.find((t) => t.tid === tid);
        expect(task).toMatchObject({
          tgid: process.pid,
          comm: expect.any(String) as string,
          registered: true,
          status: 7,
          start: 8n,
          valueStart: undefined,
          metaCnt: KEY_NAMES.length,
          metaSize: 4088,
        });
        expect(task?.meta?.length).toBe(4036);
        expect(task?.data?.length).toBe(4096);
        expect(bytesOf(task)).toEqual(expectedBytes(valuesFor(i)));
        expect(task?.keys.map((k) => [k.name, k.size, k.offset])).toEqual(
          tld.keys().map((k) => [k.name, k.size, k.offset]),
        );
      });
      // Without a pid the walk covers every task of the host; only ours have an element in this private map.
      expect(
        iterator
          .readTasks()
          .map((t) => t.tid)
          .sort(byTid),
      ).toEqual([...tids].sort(byTid));

      await workers[0]?.close();
      expect(
        iterator
          .readTasks({ pid: process.pid })
          .map((t) => t.tid)
          .sort(byTid),
      ).toEqual([gettid(), workers[1]?.tid ?? -1].sort(byTid));
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('a value stored after one read shows in the next', () => {
    const key = tld.u64('t_u64');
    key.set(42n);
    const [main] = iterator.readTasks({ pid: process.pid });
    expect(decodeU64(bytesOf(main)['t_u64'])).toBe(42n);
    key.set(valuesFor(0).t_u64);
    expect(bytesOf(iterator.readTasks({ pid: process.pid })[0])['t_u64']).toEqual(expectedBytes(valuesFor(0)).t_u64);
  });

  it('a second iterator over the same map fd reads the same threads, its value size taken from the map', () => {
    const other = loadTaskIterator({ map: { mapFd: iterator.mapFd } });
    try {
      expect(other.valueSize).toBe(16);
      expect(other.readTasks({ pid: process.pid })).toEqual(iterator.readTasks({ pid: process.pid }));
    } finally {
      other.close();
    }
  });

  it('a bad pid is a TypeError; a closed iterator refuses to read', () => {
    expect(() => iterator.readTasks({ pid: -1 })).toThrow(TypeError);
    expect(() => iterator.readTasks({ pid: 2 ** 31 })).toThrow(TypeError);
    const other = loadTaskIterator({ map: { mapFd: iterator.mapFd } });
    other.close();
    other.close();
    expect(() => other.readTasks()).toThrow(/closed/);
  });

  it('nothing pinned at the path: ENOENT naming the fix, and nothing is pinned', () => {
    const pin = uniquePinPath('iter-absent');
    expect(() => loadTaskIterator({ map: { pinPath: pin } })).toThrow(
      expect.objectContaining({
        errnoCode: 'ENOENT',
        message: expect.stringContaining(`nothing is pinned at ${pin}`) as string,
      }),
    );
    expect(existsSync(pin)).toBe(false);
  });

  it('a private map with the 24-byte value: start comes from the value', () => {
    const v2 = loadTaskIterator({ map: 'private', valueSize: 24 });
    try {
      expect(v2.valueSize).toBe(24);
      expect(v2.readTasks()).toEqual([]);
      const mine = TaskLocalData.open({ mapFd: v2.mapFd });
      expect(mine.valueSize).toBe(24);
      mine.u64('it_v2').set(24n);
      const [task] = v2.readTasks({ pid: process.pid });
      expect(task).toMatchObject({ tid: gettid(), registered: true, valueStart: 8 });
      expect(decodeU64(bytesOf(task)['it_v2'])).toBe(24n);
      mine.close();
    } finally {
      v2.close();
    }
  });

  it('a pinned 24-byte map: the iterator picks its build from the pin, refuses another valueSize, and leaves the pin', () => {
    const pinPath = uniquePinPath('iter-v2');
    loadObject(objectPaths.iterV2, { [names.dataMap]: { pinPath } }).close();
    try {
      expect(() => loadTaskIterator({ map: { pinPath }, valueSize: 16 })).toThrow(
        expect.objectContaining({
          code: 'ERR_TLD_BAD_LAYOUT',
          message: expect.stringContaining('24-byte values') as string,
        }),
      );
      const v2 = loadTaskIterator({ map: { pinPath } });
      try {
        expect(v2.valueSize).toBe(24);
        const mine = TaskLocalData.open({ pinPath });
        mine.u64('it_v2_pinned').set(2424n);
        const [task] = v2.readTasks({ pid: process.pid });
        expect(task).toMatchObject({ tid: gettid(), registered: true, valueStart: 8 });
        expect(decodeU64(bytesOf(task)['it_v2_pinned'])).toBe(2424n);
        mine.close();
      } finally {
        v2.close();
      }
      expect(existsSync(pinPath)).toBe(true);
    } finally {
      unpin(pinPath);
    }
  });
});
