// Worker body for lifecycle.test.ts: registers, publishes its page address and the canary key the BPF writer
// fills, waits for the canary, reports, then leaves as told: 'normal' (returns), 'terminate' (waits to be
// terminated), 'throw' (an uncaught error), or 'unmap' (unmaps its registered page first: the checker's control).
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { gettid } from '@tld/bpf-programs';
import { LifecycleLayout } from '@tld/testkit';
import { TaskLocalData } from '../dist/index.js';
import { loadAddon } from './addon.mjs';

/**
 * What lifecycle.test.ts hands each worker.
 * @typedef {object} LifecycleData
 * @property {string} pin
 * @property {number} index
 * @property {'normal' | 'terminate' | 'throw' | 'unmap'} exit
 * @property {string} [peerPath] the peer library (test/peer), for 'unmap'
 */

if (!parentPort) throw new Error('lifecycle-worker.mjs runs as a worker thread of lifecycle.test.ts');
const port = parentPort;
const require = createRequire(import.meta.url);
// The addon file the package loads (node-gyp-build picks it), so the same instance.
const native = loadAddon();
/** @type {unknown} */
const data = workerData;
const { pin, index, exit, peerPath } = /** @type {LifecycleData} */ (data);

const tld = TaskLocalData.open({ pinPath: pin });
const reqId = tld.u64('req_id');
const canary = tld.u64(LifecycleLayout.canaryKey);
const page = tld.u64(LifecycleLayout.pageKey);
reqId.set(BigInt(index));
// The page first: a switch that writes the canary then also records the page (the same visit reads both keys).
// The other way round, a switch between the two stores wrote the canary but saw no page, and the wait below ended
// with no later switch while registered: the page was never counted as seen.
page.set(native.threadDataPageAddress());
canary.set(0n);

// The writer stores the canary when this thread is switched in or out: sleeping switches it out.
const nap = new Int32Array(new SharedArrayBuffer(4));
let naps = 0;
while (canary.get() !== BigInt(LifecycleLayout.canary) && naps < 5000) {
  Atomics.wait(nap, 0, 0, 1);
  naps++;
}
/** @type {{ tid: number, canarySeen: boolean, reqIdIntact: boolean, restored?: boolean }} */
const report = {
  tid: gettid(),
  canarySeen: canary.get() === BigInt(LifecycleLayout.canary),
  reqIdIntact: reqId.get() === BigInt(index),
};

if (exit === 'unmap') {
  if (peerPath === undefined) throw new Error("lifecycle-worker.mjs: exit 'unmap' needs workerData.peerPath");
  /** @type {unknown} */
  const loaded = require(peerPath);
  const peer = /** @type {import('./peer/common.mjs').PeerLibrary} */ (loaded);
  report.restored = peer.unmapAndRestore(native.threadDataPageAddress());
}
port.postMessage(report);
if (exit === 'throw') throw new Error(`worker ${index} leaves by an uncaught error`);
if (exit === 'terminate') await new Promise(() => setInterval(() => {}, 1 << 30));
