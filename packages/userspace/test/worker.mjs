// Worker body for workers.test.ts (plain JavaScript: workers cannot load the TypeScript sources).
// Modes: 'pages' checks the native pages; 'tld' opens TaskLocalData from the built package and sets values;
// 'race' creates a shared set of keys in its own order the moment every worker is ready.
import { parentPort, workerData } from 'node:worker_threads';
import { TypedArrayMemory, initDataPage, initMetaPage } from '@tld/protocol';
import { loadAddon } from './addon.mjs';

/**
 * What workers.test.ts hands each worker, by mode.
 * @typedef {{ mode: 'pages', metaMarkOffset: number }
 *   | { mode: 'tld', pin: string, index: number }
 *   | { mode: 'race', pin: string, index: number, names: [string, number][], gate: SharedArrayBuffer }} WorkerData
 */

if (!parentPort) throw new Error('worker.mjs runs as a worker thread of workers.test.ts');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const args = /** @type {WorkerData} */ (data);
// The file the package loads (see test/fixture.ts addonPath), so the worker shares its state.
const native = loadAddon();

if (args.mode === 'pages') {
  const meta = new Uint8Array(native.metaPage((page) => initMetaPage(new TypedArrayMemory(page))));
  meta[args.metaMarkOffset] = 0xa5; // main reads this through its own view of the one metadata page
  native.threadDataPage((page) => initDataPage(new Uint8Array(page)));
  port.postMessage({
    tid: native.gettid(),
    meta: native.metaPageAddress(),
    data: native.threadDataPageAddress(),
    start: Number(new BigUint64Array(native.threadDataPage((page) => initDataPage(new Uint8Array(page))))[0]),
  });
  // Stay alive until main has every answer: an exited worker's page is freed and its address may be reused.
  await new Promise((resolve) => port.once('message', resolve));
} else if (args.mode === 'tld') {
  const { pin, index } = args;
  const { TaskLocalData } = await import('../dist/index.js');
  const tld = TaskLocalData.open({ pinPath: pin });
  const reqId = tld.u64('req_id');
  const worker = tld.u32('worker');
  const route = tld.string('route', 24);
  reqId.set(BigInt(1000 + index));
  worker.set(index);
  route.set(`/worker/${index}`);
  // Wait for every worker to have written before reading back: pages are per thread, so nothing may bleed over.
  await new Promise((resolve) => port.once('message', resolve));
  port.postMessage({
    tid: native.gettid(),
    data: native.threadDataPageAddress(),
    registrations: native.registrationCount(),
    offsets: { reqId: reqId.offset, worker: worker.offset, route: route.offset },
    values: { reqId: reqId.get(), worker: worker.get(), route: route.get() },
  });
  // Exit while still registered: the environment cleanup hook must unregister and free the page.
} else if (args.mode === 'race') {
  const { pin, index, names, gate } = args;
  const { TaskLocalData } = await import('../dist/index.js');
  const tld = TaskLocalData.open({ pinPath: pin });
  const ready = new Int32Array(gate);
  Atomics.add(ready, 1, 1);
  Atomics.wait(ready, 0, 0); // every worker starts creating at the same moment
  /** @type {Record<string, number>} */
  const offsets = {};
  for (const [name, size] of names) {
    const key = tld.bytes(name, size);
    key.view.fill(index + 1); // a value only this thread should see
    offsets[name] = key.offset;
  }
  const own = names.every(([name, size]) =>
    tld
      .bytes(name, size)
      .get()
      .every((b) => b === index + 1),
  );
  port.postMessage({ offsets, own });
  tld.close();
}
