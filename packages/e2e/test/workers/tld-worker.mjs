// A worker thread of the end-to-end tests. Imports the built packages, as an application's worker would.
// workerData: { mode, mapFd, progFd, index, barrier?: Int32Array, parties?: number }
// Modes: never-open, set-and-read, late-keys.
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData } from '@tld/userspace';
import { gettid, readOnThisThread } from '@tld/bpf-programs';
import { KEY_NAMES, createKeys, setAll, valuesFor } from '../values.mjs';

/**
 * @typedef {object} TldWorkerData
 * @property {'never-open' | 'set-and-read' | 'late-keys'} mode
 * @property {number} mapFd
 * @property {number} progFd
 * @property {number} index
 * @property {Int32Array} [barrier]
 * @property {number} [parties]
 */
if (!parentPort) throw new Error('runs as a worker thread of an e2e test');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const { mode, mapFd, progFd, index, barrier, parties } = /** @type {TldWorkerData} */ (data);

/**
 * Blocks until `parties` threads have arrived at barrier slot `slot` (Atomics.wait is fine off the main thread).
 * @param {number} slot
 */
function arrive(slot) {
  if (!barrier || parties === undefined) throw new Error(`mode ${mode} needs workerData.barrier and parties`);
  Atomics.add(barrier, slot, 1);
  Atomics.notify(barrier, slot);
  for (;;) {
    const seen = Atomics.load(barrier, slot);
    if (seen >= parties) return;
    Atomics.wait(barrier, slot, seen, 10_000);
  }
}

if (mode === 'never-open') {
  // This thread never touches TaskLocalData: BPF must find no registration, and no key.
  port.postMessage({ tid: gettid(), read: readOnThisThread(progFd, KEY_NAMES) });
} else if (mode === 'set-and-read') {
  const tld = TaskLocalData.open({ mapFd });
  const keys = createKeys(tld);
  setAll(keys, valuesFor(index));
  // Everyone has set their values before anyone reads: a shared page would show another thread's values.
  arrive(0);
  const first = readOnThisThread(progFd, KEY_NAMES);
  setAll(keys, valuesFor(index + 1000));
  const second = readOnThisThread(progFd, KEY_NAMES);
  // Keep this thread's page registered until every thread has read.
  arrive(1);
  tld.close(); // the registration stays until the thread exits
  const afterClose = readOnThisThread(progFd, KEY_NAMES);
  port.postMessage({ tid: gettid(), first, second, afterClose });
} else if (mode === 'late-keys') {
  // Register first; main creates 'late_by_main' while this thread waits; then both late keys get values.
  const tld = TaskLocalData.open({ mapFd });
  arrive(0);
  const beforeSet = readOnThisThread(progFd, ['late_by_main']);
  tld.u64('late_by_main').set(BigInt(index) * 1000n + 7n);
  tld.string('late_by_worker', 24).set(`worker ${index}`);
  const afterSet = readOnThisThread(progFd, ['late_by_main', 'late_by_worker']);
  tld.close();
  port.postMessage({ beforeSet, afterSet });
} else {
  throw new Error(`unknown worker mode ${String(mode)}`);
}
