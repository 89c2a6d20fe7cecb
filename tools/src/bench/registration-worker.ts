// A fresh worker of the registration benchmark (cases-registration.ts): says it is ready, waits until the main thread
// releases every worker at once, then times TaskLocalData.open() up to its first set(), with the tld_trace_*
// programs adding up the time this thread spent in each kind of system call meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { type TraceResult, traceOnThisThread } from '@tld/testkit';
import { TaskLocalData } from '@tld/userspace';

export interface RegistrationWorkerData {
  readonly mapFd: number;
  readonly traceBeginFd: number;
  readonly traceEndFd: number;
  /** Int32Array[0]: 0 until the main thread releases the workers. */
  readonly gate: SharedArrayBuffer;
}

const data = workerData as RegistrationWorkerData;
const port = parentPort;
if (!port) throw new Error('registration-worker.js runs as a worker thread');
port.postMessage({ type: 'ready' });
Atomics.wait(new Int32Array(data.gate), 0, 0);

/** µs from open() to the first set() done, and the time this thread spent in system calls meanwhile. */
function register(): { us: number; trace: TraceResult } {
  traceOnThisThread(data.traceBeginFd, 'begin');
  const t0 = performance.now();
  const tld = TaskLocalData.open({ mapFd: data.mapFd });
  tld.u64('req_id').set(1n);
  const t1 = performance.now();
  const trace = traceOnThisThread(data.traceEndFd, 'end');
  tld.close(); // unregisters: the second registration is a whole one again, with the code warm
  return { us: (t1 - t0) * 1000, trace };
}

const first = register();
const again = register();
port.postMessage({ type: 'done', us: first.us, trace: first.trace, warmUs: again.us });
