// Worker body for workers.test.ts (plain JavaScript: workers cannot load the TypeScript sources).
// Modes: 'pages' checks the native pages; 'tld' opens TaskLocalData from the built package and sets values;
// 'race' creates a shared set of keys in its own order the moment every worker is ready.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { TypedArrayMemory, initDataPage, initMetaPage } from '@tld/protocol';

const require = createRequire(import.meta.url);
// The file the package loads (see test/fixture.ts addonPath), so the worker shares its state.
const native = require(require('node-gyp-build').path(fileURLToPath(new URL('..', import.meta.url))));
const { mode, pin, index, metaMarkOffset } = workerData;

if (mode === 'pages') {
  const meta = new Uint8Array(native.metaPage((page) => initMetaPage(new TypedArrayMemory(page))));
  meta[metaMarkOffset] = 0xa5; // main reads this through its own view of the one metadata page
  native.threadDataPage((page) => initDataPage(new Uint8Array(page)));
  parentPort.postMessage({
    tid: native.gettid(),
    meta: native.metaPageAddress(),
    data: native.threadDataPageAddress(),
    start: Number(new BigUint64Array(native.threadDataPage((page) => initDataPage(new Uint8Array(page))))[0]),
  });
  // Stay alive until main has every answer: an exited worker's page is freed and its address may be reused.
  await new Promise((resolve) => parentPort.once('message', resolve));
} else if (mode === 'tld') {
  const { TaskLocalData } = await import('../dist/index.js');
  const tld = TaskLocalData.open({ pinPath: pin });
  const reqId = tld.u64('req_id');
  const worker = tld.u32('worker');
  const route = tld.string('route', 24);
  reqId.set(BigInt(1000 + index));
  worker.set(index);
  route.set(`/worker/${index}`);
  // Wait for every worker to have written before reading back: pages are per thread, so nothing may bleed over.
  await new Promise((resolve) => parentPort.once('message', resolve));
  parentPort.postMessage({
    tid: native.gettid(),
    data: native.threadDataPageAddress(),
    registrations: native.registrationCount(),
    offsets: { reqId: reqId.offset, worker: worker.offset, route: route.offset },
    values: { reqId: reqId.get(), worker: worker.get(), route: route.get() },
  });
  // Exit while still registered: the environment cleanup hook must unregister and free the page.
} else if (mode === 'race') {
  const { TaskLocalData } = await import('../dist/index.js');
  const { names, gate } = workerData;
  const tld = TaskLocalData.open({ pinPath: pin });
  const ready = new Int32Array(gate);
  Atomics.add(ready, 1, 1);
  Atomics.wait(ready, 0, 0); // every worker starts creating at the same moment
  const offsets = {};
  for (const [name, size] of names) {
    const key = tld.bytes(name, size);
    key.view.fill(index + 1); // a value only this thread should see
    offsets[name] = key.offset;
  }
  const own = names.every(([name, size]) => tld.bytes(name, size).get().every((b) => b === index + 1));
  parentPort.postMessage({ offsets, own });
  tld.close();
}
