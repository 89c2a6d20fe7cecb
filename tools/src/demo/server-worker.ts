// A worker thread of the demo server: registers with task local data, then serves the requests the main thread
// posts to it, publishing each one's values while it works on it (threads mode: stepRunner), and reports the CPU
// time its handlers measured when asked.
import { parentPort, workerData } from 'node:worker_threads';
import { gettid } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { createKeys, stepRunner } from './request-scope.js';
import type { ServerWorkerData, WorkerReply, WorkerRequest } from './server.js';
import { handle } from './workload.js';

const port = parentPort;
if (!port) throw new Error('server-worker.js runs as a worker thread');
const { mapFd } = workerData as ServerWorkerData;
const tld = TaskLocalData.open({ mapFd });
const runner = stepRunner(createKeys(tld));

port.on('message', (message: WorkerRequest | 'tally' | 'close') => {
  if (message === 'close') {
    tld.close();
    port.close();
  } else if (message === 'tally') {
    port.postMessage({ tally: [...runner.tally] } satisfies WorkerReply);
  } else {
    const { id, route, tenant, reqId, n } = message;
    // The reply is posted inside the request's last step: its values are still published when it is sent.
    runner
      .run(
        { route, tenant, reqId },
        (step) => handle(route, tenant, n, step),
        (body) => {
          port.postMessage({ id, body } satisfies WorkerReply);
        },
      )
      .catch((error: unknown) => port.postMessage({ id, error: String(error) } satisfies WorkerReply));
  }
});
port.postMessage({ ready: gettid() });
