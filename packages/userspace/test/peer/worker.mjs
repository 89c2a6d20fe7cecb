// A worker of a peer scenario. workerData: { mode, peerPath, flags, pin, valueSize, progFd, peerKey, names, kind }.
// Modes: 'tld-then-peer' (TaskLocalData opens first, then the peer writes on this thread), 'peer-then-tld' (the
// peer registers this thread with its own block first, then TaskLocalData opens) and 'installed' (the peer sets
// tld_data_p to a page of kind `kind` without registering it, then TaskLocalData opens).
import { parentPort, workerData } from 'node:worker_threads';
import { gettid, loadTaskIterator, readOnThisThread } from '@tld/bpf-programs';
import { loadAddon } from '../addon.mjs';
import { bpfView, failure, iterView, loadPeer } from './common.mjs';

if (!parentPort) throw new Error('peer/worker.mjs runs as a worker thread of a peer scenario');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const args = /** @type {import('./common.mjs').PeerWorkerData} */ (data);
const { peerPath, flags, pin, valueSize, progFd, names } = args;
const { TaskLocalData } = await import('../../dist/index.js');
const native = loadAddon();
const mapFd = native.objGet(pin);

/** What BPF sees of `names` on this thread: tld_read for the 16-byte value, the iterator for 24. */
function bpf() {
  if (valueSize === 16) {
    if (progFd === undefined) throw new Error('peer/worker.mjs: a 16-byte value is read with workerData.progFd');
    return bpfView(readOnThisThread(progFd, names), names);
  }
  const iterator = loadTaskIterator({ map: { pinPath: pin }, valueSize });
  try {
    return iterView(iterator.readTasks({ pid: process.pid }), gettid(), names);
  } finally {
    iterator.close();
  }
}

/** @type {Record<string, unknown>} */
const out = { tid: gettid() };
if (args.mode === 'tld-then-peer') {
  const tld = TaskLocalData.open({ pinPath: pin });
  tld.u64('js_req').set(5005n);
  const peer = loadPeer(peerPath, flags);
  out.peerSet = peer.setU64(mapFd, args.peerKey, 6006n);
  out.shared = peer.dataPageAddress() === native.threadDataPageAddress();
  out.peerRegistrationsAfter = peer.registrations();
  out.bpf = bpf();
} else if (args.mode === 'installed') {
  const peer = loadPeer(peerPath, flags);
  out.installed = peer.installDataPage(args.kind);
  const opened = failure(() => {
    const tld = TaskLocalData.open({ pinPath: pin });
    out.ours = native.threadDataPageAddress();
    out.tooFar = failure(() => tld.bytes('past_the_end', 4040)).code;
    const fits = tld.u64('fits_in_foreign_page');
    fits.set(0xfeedn);
    out.fitsOffset = fits.offset;
  });
  out.open = opened;
  out.registrations = native.registrationCount();
  if (opened.code === 'none') out.bpf = bpf();
} else {
  const peer = loadPeer(peerPath, flags);
  const before = peer.registrations();
  out.peerSet = peer.setU64(mapFd, args.peerKey, 7007n);
  out.peerRegistered = peer.registrations() - before;
  out.blockPageOffset = Number(peer.dataPageAddress() % 4096n);
  out.before = bpf();
  const opened = failure(() => TaskLocalData.open({ pinPath: pin }).u64('js_req').set(8008n));
  out.open = opened;
  out.registrations = native.registrationCount();
  out.adopted = native.threadDataPageAddress() === peer.dataPageAddress();
  out.peerGet = peer.getU64(args.peerKey);
  out.after = bpf();
}
native.close(mapFd);
port.postMessage(out);
