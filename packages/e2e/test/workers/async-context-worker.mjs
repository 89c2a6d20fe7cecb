// A worker of async-context-workers.test.ts: its own TaskLocalData, its own contexts (or none) and its own page,
// checked by the BPF reader on this thread. Imports the built packages, as an application's worker would.
// workerData: { mapFd, progFd, thread, mode: 'run' | 'none', tasks, rounds, reader?: 'page' | 'context', spinMs?,
//   asyncContext?: 'auto' | 'walk' | 'page' (default 'page') }
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData, asyncContextMechanism } from '@tld/userspace';
import { createKeys, runWorkload, setValues, threadValues } from '../async-context-load.mjs';

if (!parentPort) throw new Error('runs as a worker thread of async-context-workers.test.ts');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const { mapFd, progFd, thread, mode, tasks, rounds, reader, spinMs, asyncContext = 'page' } =
  /** @type {{ mapFd: number, progFd: number, thread: number, mode: 'run' | 'none', tasks: number, rounds: number,
   *   reader?: 'page' | 'context', spinMs?: number, asyncContext?: 'auto' | 'walk' | 'page' }} */ (data);
// The main thread installed its hooks before starting this worker: a worker has none until it calls run() itself.
const mechanismAtStart = asyncContextMechanism() ?? null;
const tld = TaskLocalData.open({ mapFd, asyncContext });
const keys = createKeys(tld);
setValues(keys, threadValues(thread));
const result = await runWorkload({ tld, keys, progFd, thread, tasks, rounds, mode, reader, spinMs });
const mechanism = asyncContextMechanism() ?? null;
tld.close();
port.postMessage({ mechanismAtStart, mechanism, result });
