// tld_iter (iter/task) over tld_data_map: every registered thread of the process with its keys and values, as a
// dump tool reads them — main thread and workers, 16- and 24-byte map values.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeU64 } from '@tld/protocol';
import { TaskLocalData } from '@tld/userspace';
import { type Reader, gettid, loadReader, loadTaskIterator } from '@tld/bpf-programs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';

const support = bpfSupport();

/** A worker that registers with `value` in key it_value, reports its tid and stays until told to exit. */
function registeredWorker(mapFd: number, value: bigint): { tid: Promise<number>; exit: () => Promise<number> } {
  const worker = new Worker(
    `import { parentPort, workerData } from 'node:worker_threads';
     import { TaskLocalData } from '@tld/userspace';
     import { gettid } from '@tld/bpf-programs';
     TaskLocalData.open({ mapFd: workerData.mapFd }).u64('it_value').set(workerData.value);
     parentPort.postMessage(gettid());
     parentPort.once('message', () => parentPort.close());`,
    { eval: true, workerData: { mapFd, value } },
  );
  const tid = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { tid, exit: () => (worker.postMessage('exit'), exited) };
}

describe.skipIf(!support.supported)('tld_iter: every registered thread with its values', () => {
  let reader: Reader;
  beforeAll(() => {
    reader = loadReader();
  });
  afterAll(() => reader?.close());

  it('main and two workers, each with its own value; threads that exit disappear', async () => {
    const iterator = loadTaskIterator({ map: { mapFd: reader.mapFd } });
    try {
      const main = TaskLocalData.open({ mapFd: reader.mapFd });
      main.u64('it_value').set(1n);
      const workers = [registeredWorker(reader.mapFd, 2n), registeredWorker(reader.mapFd, 3n)];
      const tids = await Promise.all(workers.map((w) => w.tid));
      const tasks = iterator.readTasks({ pid: process.pid });
      const byTid = new Map(tasks.map((t) => [t.tid, t]));
      expect([...byTid.keys()].sort()).toEqual([gettid(), ...tids].sort());
      for (const [tid, value] of [[gettid(), 1n], [tids[0], 2n], [tids[1], 3n]] as const) {
        const task = byTid.get(tid!)!;
        expect(task).toMatchObject({ tgid: process.pid, registered: true, start: 8n, valueStart: undefined });
        expect(task.meta?.length).toBe(4036);
        expect(task.data?.length).toBe(4096);
        const key = task.keys.find((k) => k.name === 'it_value');
        expect(decodeU64(key?.value)).toBe(value);
      }
      // Without a pid, every task of the host registered in this (private) map: the same three.
      expect(iterator.readTasks().map((t) => t.tid).sort()).toEqual([gettid(), ...tids].sort());
      await Promise.all(workers.map((w) => w.exit()));
      expect(iterator.readTasks({ pid: process.pid }).map((t) => t.tid)).toEqual([gettid()]);
      main.close();
    } finally {
      iterator.close();
    }
  });

  it('a map with the 24-byte value: start comes from the value', () => {
    const pinPath = uniquePinPath('iter-v2');
    const iterator = loadTaskIterator({ map: { pinPath }, valueSize: 24 });
    try {
      expect(iterator.readTasks()).toEqual([]);
      const tld = TaskLocalData.open({ pinPath });
      expect(tld.valueSize).toBe(24);
      tld.u64('it_v2').set(24n);
      const [task] = iterator.readTasks({ pid: process.pid });
      expect(task).toMatchObject({ tid: gettid(), registered: true, valueStart: 8 });
      expect(decodeU64(task?.keys.find((k) => k.name === 'it_v2')?.value)).toBe(24n);
      tld.close();
    } finally {
      iterator.close(); // created the pin: removes it
    }
  });
});
