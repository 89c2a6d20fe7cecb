// A worker of context-proof.test.ts that stays inside a run(): it publishes its own values, enters
// tld.run({ req_id, route }) and blocks there (Atomics.wait) until the test lets it go, so that a reader of other
// tasks (the task iterator of tld dump) finds it inside the run.
// workerData: { mapFd, flag: SharedArrayBuffer (Int32Array[0]: 0 = stay, 1 = leave) }
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData } from '@tld/userspace';
import { gettid } from '@tld/bpf-programs';
import { createKeys, setValues, threadValues } from '../async-context-load.mjs';

if (!parentPort) throw new Error('runs as a worker thread of context-proof.test.ts');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const { mapFd, flag } = /** @type {{ mapFd: number, flag: SharedArrayBuffer }} */ (data);
const tld = TaskLocalData.open({ mapFd });
const keys = createKeys(tld);
setValues(keys, threadValues(5));
const gate = new Int32Array(flag);
tld.run({ req_id: 0x5eedn, route: '/blocked/in/run' }, () => {
  port.postMessage({ tid: gettid(), asyncContext: tld.asyncContext });
  Atomics.wait(gate, 0, 0);
});
tld.close();
port.postMessage({ done: true });
