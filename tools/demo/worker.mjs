// A demo worker: publishes its own values (unless told not to open at all), lets BPF read them on this thread,
// reports, and stays alive until the main thread has heard from every worker.
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData } from '@tld/userspace';
import { readOnThisThread } from '@tld/bpf-programs';
import { KEYS, publish, readBack } from './keys.mjs';

const { values, progFd, mapFd, pinPath, name } = workerData;
const tld = values ? TaskLocalData.open(pinPath ? { pinPath } : { mapFd }) : null;
if (tld) publish(tld, values);
parentPort.postMessage({ thread: name, ...readBack(readOnThisThread(progFd, KEYS)) });
parentPort.once('message', () => {
  tld?.close();
  parentPort.close();
});
