// Worker body for native-peer.test.ts: a native library sets this thread's tld_data_p before TaskLocalData
// opens, then the worker reports what happened (plain JavaScript: workers cannot load the TypeScript sources).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLocalData } from '../dist/index.js';

const require = createRequire(import.meta.url);
// The file the package loads (see test/fixture.ts addonPath), so the worker shares its state.
const native = require(require('node-gyp-build').path(fileURLToPath(new URL('..', import.meta.url))));
const peer = require(workerData.peerPath);
const { pin, kind } = workerData;

const installed = peer.installDataPage(kind);
const report = { installed, ours: native.threadDataPageAddress() };
try {
  const tld = TaskLocalData.open({ pinPath: pin });
  report.opened = true;
  report.registrations = native.registrationCount();
  try {
    tld.bytes('past_the_end', 4040);
  } catch (error) {
    report.tooFar = error.code;
  }
  const fits = tld.u64('fits_in_foreign_page');
  fits.set(0xfeedn);
  report.fitsOffset = fits.offset;
  report.peerRead = peer.readU64('fits_in_foreign_page');
  tld.close();
  report.afterClose = { ours: native.threadDataPageAddress(), registrations: native.registrationCount() };
} catch (error) {
  report.error = { code: error.code, message: error.message, cause: error.cause?.errnoCode };
  report.registrations = native.registrationCount();
}
parentPort.postMessage(report);
