// Shared by the peer scenarios (each runs as its own process, because the order in which the peer library and
// @tld/userspace load decides which tld_meta_p / tld_data_p the process binds to): loading the peer with the
// wanted dlopen flags, what BPF reads, the worker, and the report printed as JSON (the addon: ../addon.mjs).
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';

/** @typedef {import('../../src/native.js').NativeBinding} NativeBinding */
/** @typedef {'local' | 'global'} PeerFlags */

/**
 * The peer library's functions (test/peer/peer_napi.c).
 * @typedef {object} PeerLibrary
 * @property {() => { cntBytes: number, valueSize: number, staticKeys: { peer_static_id: number, peer_static_tag: number } }} info
 * @property {(name: string, size: number) => number} createKey the key's offset, or -errno
 * @property {(mapFd: number, key: number, value: bigint) => number} setU64 0, or -errno when the thread has no block
 * @property {(key: number) => bigint | undefined} getU64 undefined while the thread has no block
 * @property {(mapFd: number, key: number) => bigint} keep keeps the value's pointer; returns its address
 * @property {(value: bigint) => void} writeKept stores through the kept pointer
 * @property {() => bigint} metaPageAddress
 * @property {() => bigint} dataPageAddress
 * @property {() => number} registrations
 * @property {(cnt: number, size: number) => { cnt: number, size: number }} setMetaHeader returns the old header
 * @property {(kind: 'start64' | 'readonly') => bigint} installDataPage
 * @property {(address: bigint) => boolean} unmapAndRestore
 */

/**
 * What a scenario hands worker.mjs (see its header for the modes).
 * @typedef {{ peerPath: string, flags: PeerFlags, pin: string, valueSize: import('@tld/protocol').MapValueSize,
 *   progFd: number | undefined, names: string[] }
 *   & ({ mode: 'tld-then-peer' | 'peer-then-tld', peerKey: number } | { mode: 'installed', kind: 'start64' | 'readonly' })} PeerWorkerData
 */

/**
 * The arguments a scenario was started with (see native-peer.test.ts); each scenario casts them to its own shape.
 * @type {unknown}
 */
export const args = JSON.parse(process.argv[2] ?? '{}');

/**
 * Loads the peer library like a native module would be: dlopen with RTLD_LOCAL or RTLD_GLOBAL.
 * @param {string} path
 * @param {PeerFlags} flags
 * @returns {PeerLibrary}
 */
export function loadPeer(path, flags) {
  /** @type {{ exports: unknown }} */
  const module = { exports: {} };
  const { RTLD_NOW, RTLD_GLOBAL, RTLD_LOCAL } = constants.dlopen;
  process.dlopen(module, path, RTLD_NOW | (flags === 'global' ? RTLD_GLOBAL : RTLD_LOCAL));
  return /** @type {PeerLibrary} */ (module.exports);
}

/**
 * meta.cnt and meta.size of the metadata page @tld/userspace uses.
 * @param {NativeBinding} native
 */
export function metaHeader(native) {
  const header = new Uint16Array(
    native.metaPage(() => {}),
    0,
    2,
  );
  return { cnt: /** @type {number} */ (header[0]), size: /** @type {number} */ (header[1]) };
}

/**
 * The `code` of what `fn` throws (and its message), or { code: 'none' }.
 * @param {() => unknown} fn
 * @returns {{ code: string | undefined, message?: string }}
 */
export function failure(fn) {
  try {
    fn();
    return { code: 'none' };
  } catch (error) {
    const { code, message } = /** @type {{ code?: string, message?: string }} */ (error);
    return { code, message };
  }
}

/**
 * What BPF (tld_read, on this thread) sees of `names`, as plain numbers for the report.
 * @param {import('@tld/bpf-programs').ReadResult} read
 * @param {string[]} names
 */
export function bpfView(read, names) {
  /** @type {Record<string, bigint | undefined>} */
  const values = {};
  for (const name of names) {
    const bytes = read.values[name];
    values[name] = bytes ? new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true) : undefined;
  }
  return { registered: read.registered, start: read.start, metaCnt: read.metaCnt, metaSize: read.metaSize, values };
}

/**
 * The u64 values of `names` in the iterator's record of thread `tid`.
 * @param {import('@tld/bpf-programs').RegisteredTask[]} tasks
 * @param {number} tid
 * @param {string[]} names
 */
export function iterView(tasks, tid, names) {
  const task = tasks.find((t) => t.tid === tid);
  if (!task) return { registered: false, values: {} };
  /** @type {Record<string, bigint | undefined>} */
  const values = {};
  for (const name of names) {
    const key = task.keys.find((k) => k.name === name);
    values[name] =
      key && key.value.length === 8
        ? new DataView(key.value.buffer, key.value.byteOffset).getBigUint64(0, true)
        : undefined;
  }
  return { registered: task.registered, valueStart: task.valueStart, values };
}

/**
 * Runs worker.mjs with `data`; resolves with its report.
 * @param {PeerWorkerData} data
 * @returns {Promise<unknown>}
 */
export function runWorker(data) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: data });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/**
 * Prints the report for the test (bigints as strings).
 * @param {unknown} value
 */
export function report(value) {
  process.stdout.write(
    JSON.stringify(value, (_, /** @type {unknown} */ v) => (typeof v === 'bigint' ? v.toString() : v)),
  );
}
