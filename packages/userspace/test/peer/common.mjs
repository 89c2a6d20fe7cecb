// Shared by the peer scenarios (each runs as its own process, because the order in which the peer library and
// @tld/userspace load decides which tld_meta_p / tld_data_p the process binds to): loading the peer with the
// wanted dlopen flags, the addon, BPF readers, and the report printed as JSON.
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/** The arguments a scenario was started with (see native-peer.test.ts). */
export const args = JSON.parse(process.argv[2] ?? '{}');

/** Loads the peer library like a native module would be: dlopen with RTLD_LOCAL or RTLD_GLOBAL. */
export function loadPeer(path, flags) {
  const module = { exports: {} };
  const { RTLD_NOW, RTLD_GLOBAL, RTLD_LOCAL } = constants.dlopen;
  process.dlopen(module, path, RTLD_NOW | (flags === 'global' ? RTLD_GLOBAL : RTLD_LOCAL));
  return module.exports;
}

/**
 * @tld/userspace's addon, for checks below the public API: the file the package loads (node-gyp-build picks it),
 * so the same instance.
 */
export function addon() {
  const packageDir = new URL('../..', import.meta.url).pathname;
  return require(require('node-gyp-build').path(packageDir));
}

/** meta.cnt and meta.size of the metadata page @tld/userspace uses. */
export function metaHeader(native) {
  const header = new Uint16Array(native.metaPage(() => {}), 0, 2);
  return { cnt: header[0], size: header[1] };
}

/** The `code` of what `fn` throws (and its message), or { code: 'none' }. */
export function failure(fn) {
  try {
    fn();
    return { code: 'none' };
  } catch (error) {
    return { code: error.code, message: error.message };
  }
}

/** What BPF (tld_read, on this thread) sees of `names`, as plain numbers for the report. */
export function bpfView(read, names) {
  const values = {};
  for (const name of names) {
    const bytes = read.values[name];
    values[name] = bytes ? new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true) : undefined;
  }
  return { registered: read.registered, start: read.start, metaCnt: read.metaCnt, metaSize: read.metaSize, values };
}

/** The u64 values of `names` in the iterator's record of thread `tid`. */
export function iterView(tasks, tid, names) {
  const task = tasks.find((t) => t.tid === tid);
  if (!task) return { registered: false, values: {} };
  const values = {};
  for (const name of names) {
    const key = task.keys.find((k) => k.name === name);
    values[name] = key && key.value.length === 8 ? new DataView(key.value.buffer, key.value.byteOffset).getBigUint64(0, true) : undefined;
  }
  return { registered: task.registered, valueStart: task.valueStart, values };
}

/** Runs worker.mjs with `data`; resolves with its report. */
export function runWorker(data) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: data });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Prints the report for the test (bigints as strings). */
export function report(value) {
  process.stdout.write(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}
