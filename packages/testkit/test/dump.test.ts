// The task iterator tld_dump (@tld/bpf-programs loadDumper) against the real kernel: it finds every registered
// thread of the host with the bytes each one stored, which a user-space map lookup cannot (the pointers read 0).
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { type DumpedThread, type Dumper, decodeDump, gettid, loadDumper } from '@tld/bpf-programs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { KEY_NAMES, createKeys, expectedBytes, setAll, valuesFor } from './values.mjs';

const support = bpfSupport();

interface DumpWorker {
  readonly tid: number;
  close(): Promise<void>;
}

async function startWorker(mapFd: number, index: number): Promise<DumpWorker> {
  const worker = new Worker(new URL('./workers/dump-worker.mjs', import.meta.url), { workerData: { mapFd, index } });
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

/** name → value bytes of a dumped thread. */
function bytesOf(thread: DumpedThread | undefined): Record<string, Uint8Array> {
  return Object.fromEntries((thread?.keys ?? []).map((k) => [k.name, k.bytes]));
}

describe.skipIf(!support.supported)('tld_dump: every registered thread, as BPF sees it', () => {
  let dumper: Dumper;
  let tld: TaskLocalData;
  beforeAll(() => {
    dumper = loadDumper('private');
    tld = TaskLocalData.open({ mapFd: dumper.mapFd });
    setAll(createKeys(tld), valuesFor(0));
  });
  afterAll(() => {
    tld?.close();
    dumper?.close();
  });

  it('the main thread and two workers, each with its own values; a closed worker is gone', async () => {
    const workers = [await startWorker(dumper.mapFd, 1), await startWorker(dumper.mapFd, 2)];
    try {
      const threads = dumper.read({ pid: process.pid });
      const tids = [gettid(), ...workers.map((w) => w.tid)];
      expect(threads.map((t) => t.tid).sort()).toEqual([...tids].sort());
      tids.forEach((tid, i) => {
        const thread = threads.find((t) => t.tid === tid);
        expect(thread).toMatchObject({ tgid: process.pid, registered: true, status: 7, start: 8 });
        expect(bytesOf(thread)).toEqual(expectedBytes(valuesFor(i)));
        expect(thread?.keys.map((k) => [k.name, k.size, k.offset])).toEqual(tld.keys().map((k) => [k.name, k.size, k.offset]));
      });
      expect(threads[0]?.meta).toEqual({ cnt: KEY_NAMES.length, size: 4088 });
      // Without the pid filter the walk covers the whole host: ours are among them.
      expect(dumper.read().map((t) => t.tid)).toEqual(expect.arrayContaining(tids));

      await workers[0]?.close();
      expect(dumper.read({ pid: process.pid }).map((t) => t.tid).sort()).toEqual([gettid(), workers[1]?.tid].sort());
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('a value stored after one read shows in the next', () => {
    const key = tld.u64('t_u64');
    key.set(42n);
    const [main] = dumper.read({ pid: process.pid });
    expect(new DataView(bytesOf(main)['t_u64']?.buffer ?? new ArrayBuffer(8)).getBigUint64(0, true)).toBe(42n);
    key.set(valuesFor(0).t_u64);
  });

  it('decodeDump refuses output that ends inside a record', () => {
    const one = new Uint8Array(40);
    expect(() => decodeDump(one.subarray(0, 39))).toThrow(RangeError);
    new DataView(one.buffer).setUint32(32, 4096, true); // data_bytes: pages that never came
    expect(() => decodeDump(one)).toThrow(/ends inside the pages/);
  });

  it('nothing pinned at the path: loadDumper throws ENOENT and pins nothing', () => {
    const pin = uniquePinPath('dump-absent');
    expect(() => loadDumper({ pinPath: pin })).toThrow(expect.objectContaining({ errnoCode: 'ENOENT' }));
    expect(existsSync(pin)).toBe(false);
  });
});
