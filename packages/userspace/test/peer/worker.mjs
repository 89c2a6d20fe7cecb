// A worker of a peer scenario. workerData: { mode, peerPath, flags, pin, valueSize, progFd, peerKey, names, kind }.
// Modes: 'tld-then-peer' (TaskLocalData opens first, then the peer writes on this thread), 'peer-then-tld' (the
// peer registers this thread with its own block first, then TaskLocalData opens) and 'installed' (the peer sets
// tld_data_p to a page of kind `kind` without registering it, then TaskLocalData opens).
import { parentPort, workerData } from 'node:worker_threads';
import { gettid, loadTaskIterator, readOnThisThread } from '@tld/bpf-programs';
import { addon, bpfView, failure, iterView, loadPeer } from './common.mjs';

const { mode, peerPath, flags, pin, valueSize, progFd, peerKey, names } = workerData;
const { TaskLocalData } = await import('../../dist/index.js');
const native = addon();
const mapFd = native.objGet(pin);

function bpf() {
  if (valueSize === 16) return bpfView(readOnThisThread(progFd, names), names);
  const iterator = loadTaskIterator({ map: { pinPath: pin }, valueSize });
  try {
    return iterView(iterator.readTasks({ pid: process.pid }), gettid(), names);
  } finally {
    iterator.close();
  }
}

const out = { tid: gettid() };
if (mode === 'tld-then-peer') {
  const tld = TaskLocalData.open({ pinPath: pin });
  tld.u64('js_req').set(5005n);
  const peer = loadPeer(peerPath, flags);
  out.peerSet = peer.setU64(mapFd, peerKey, 6006n);
  out.shared = peer.dataPageAddress() === native.threadDataPageAddress();
  out.peerRegistrationsAfter = peer.registrations();
  out.bpf = bpf();
} else if (mode === 'installed') {
  const peer = loadPeer(peerPath, flags);
  out.installed = peer.installDataPage(workerData.kind);
  out.open = failure(() => {
    const tld = TaskLocalData.open({ pinPath: pin });
    out.ours = native.threadDataPageAddress();
    out.tooFar = failure(() => tld.bytes('past_the_end', 4040)).code;
    const fits = tld.u64('fits_in_foreign_page');
    fits.set(0xfeedn);
    out.fitsOffset = fits.offset;
  });
  out.registrations = native.registrationCount();
  if (out.open.code === 'none') out.bpf = bpf();
} else {
  const peer = loadPeer(peerPath, flags);
  const before = peer.registrations();
  out.peerSet = peer.setU64(mapFd, peerKey, 7007n);
  out.peerRegistered = peer.registrations() - before;
  out.blockPageOffset = Number(peer.dataPageAddress() % 4096n);
  out.before = bpf();
  const opened = failure(() => TaskLocalData.open({ pinPath: pin }).u64('js_req').set(8008n));
  out.open = opened;
  out.registrations = native.registrationCount();
  out.adopted = native.threadDataPageAddress() === peer.dataPageAddress();
  out.peerGet = peer.getU64(peerKey);
  out.after = bpf();
}
native.close(mapFd);
parentPort.postMessage(out);
