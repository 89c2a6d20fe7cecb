// A worker thread that never opens TaskLocalData: it burns workerData.cpuMs of its own CPU time and reports how
// much it used (CLOCK_THREAD_CPUTIME_ID), for the route profiler's "never set a route" bucket.
import { parentPort, workerData } from 'node:worker_threads';
import { gettid, threadCpuTimeNs } from '@tld/bpf-programs';

if (!parentPort) throw new Error('runs as a worker thread of an e2e test');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const { cpuMs } = /** @type {{ cpuMs: number }} */ (data);

const start = threadCpuTimeNs();
let h = 0;
while (threadCpuTimeNs() - start < cpuMs * 1e6) {
  for (let i = 0; i < 10_000; i++) h = Math.imul(h ^ i, 16777619);
}
port.postMessage({ tid: gettid(), cpuNs: threadCpuTimeNs() - start, h });
