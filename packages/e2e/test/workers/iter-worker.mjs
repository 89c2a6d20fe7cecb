// A worker thread of iter.test.ts: registers in the map, sets its values (values.mjs, thread `index`), reports its
// tid, and stays registered until told to close (then it exits). workerData: { mapFd, index }
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData } from '@tld/userspace';
import { gettid } from '@tld/bpf-programs';
import { createKeys, setAll, valuesFor } from '../values.mjs';

if (!parentPort) throw new Error('runs as a worker thread of an e2e test');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const { mapFd, index } = /** @type {{ mapFd: number, index: number }} */ (data);

const tld = TaskLocalData.open({ mapFd });
setAll(createKeys(tld), valuesFor(index));
port.postMessage({ tid: gettid() });
port.once('message', () => {
  tld.close();
  port.close(); // nothing else keeps the worker alive: it exits
});
