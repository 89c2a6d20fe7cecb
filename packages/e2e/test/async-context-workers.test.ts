// Worker threads each have their own async contexts and their own page: the main thread and two workers run the
// interleaved workload with run() at the same time, a third worker runs it with no run() at all; the BPF reader on
// each thread must read that thread's running context (or its own values) at every checkpoint.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData, asyncContextMechanism } from '@tld/userspace';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';
import { type WorkloadResult, createKeys, runWorkload, setValues, threadValues } from './async-context-load.mjs';

const support = bpfSupport();

interface WorkerReport {
  mechanismAtStart: string | null;
  mechanism: string | null;
  result: WorkloadResult;
}

function runWorker(data: Record<string, unknown>): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./workers/async-context-worker.mjs', import.meta.url), { workerData: data });
    let report: WorkerReport | undefined;
    worker.once('message', (m: WorkerReport) => {
      report = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      report ? resolve(report) : reject(new Error(`worker exited with code ${code} without a report`)),
    );
  });
}

describe.skipIf(!support.supported)('async contexts per worker thread', () => {
  let reader: Reader;
  let tld: TaskLocalData;
  beforeAll(() => {
    reader = loadReader({ map: 'private' });
    tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'page' });
  });
  afterAll(() => {
    tld?.close();
    reader?.close();
  });

  it('main and workers run their own contexts at once; a worker that never calls run() has no hooks and its own values', async () => {
    const keys = createKeys(tld);
    setValues(keys, threadValues(0));
    tld.run({ req_id: 1n }, () => undefined); // main's hooks are installed before any worker starts
    expect(asyncContextMechanism()).toBeDefined();
    const common = { mapFd: reader.mapFd, progFd: reader.progFd, tasks: 32, rounds: 4 };
    const [main, first, second, plain] = await Promise.all([
      runWorkload({ tld, keys, progFd: reader.progFd, thread: 0, tasks: 32, rounds: 4, mode: 'run' }),
      runWorker({ ...common, thread: 1, mode: 'run' }),
      runWorker({ ...common, thread: 2, mode: 'run' }),
      runWorker({ ...common, thread: 3, mode: 'none' }),
    ]);
    for (const result of [main, first.result, second.result, plain.result]) {
      expect(result.checkpoints).toBeGreaterThan(1500);
      expect(result.mismatches).toEqual([]);
      expect(result.mismatchCount).toBe(0);
    }
    expect([first.mechanismAtStart, second.mechanismAtStart, plain.mechanismAtStart]).toEqual([null, null, null]);
    expect(first.mechanism).toBe(asyncContextMechanism());
    expect(plain.mechanism).toBeNull();
  });
});
