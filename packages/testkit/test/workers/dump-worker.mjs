// A worker thread of dump.test.ts: registers in the map, sets its values (values.mjs, thread `index`), reports its
// tid, and stays registered until told to close (then it exits). workerData: { mapFd, index }
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData } from '@tld/userspace';
import { gettid } from '@tld/bpf-programs';
import { createKeys, setAll, valuesFor } from '../values.mjs';

const tld = TaskLocalData.open({ mapFd: workerData.mapFd });
setAll(createKeys(tld), valuesFor(workerData.index));
parentPort.postMessage({ tid: gettid() });
parentPort.once('message', () => {
  tld.close();
  parentPort.close(); // nothing else keeps the worker alive: it exits
});
