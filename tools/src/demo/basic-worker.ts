// A worker of the first step: publishes its own values (unless told not to open at all), lets BPF read them on
// this thread, reports, and stays alive until the main thread has heard from every worker.
import { parentPort, workerData } from 'node:worker_threads';
import { readOnThisThread } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { KEYS, type Published, publish, readBack } from './basic-values.js';

export interface BasicWorkerData {
  readonly values: Published | null;
  readonly progFd: number;
  readonly mapFd: number;
  readonly pinPath: string | null;
  readonly name: string;
}

const port = parentPort;
if (!port) throw new Error('basic-worker.js runs as a worker thread');
const { values, progFd, mapFd, pinPath, name } = workerData as BasicWorkerData;
const tld = values ? TaskLocalData.open(pinPath ? { pinPath } : { mapFd }) : null;
if (tld && values) publish(tld, values);
port.postMessage({ thread: name, ...readBack(readOnThisThread(progFd, KEYS)) });
port.once('message', () => {
  tld?.close();
  port.close();
});
