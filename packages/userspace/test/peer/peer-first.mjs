// Scenario: the peer library (with static keys) loads first, RTLD_GLOBAL or RTLD_LOCAL, and registers the main
// thread on its first data access; then @tld/userspace loads and opens on the main thread and in workers.
// args: { peerPath, flags, pins: { v1, v2 }, valueSize: 16 | 24 }.
import { gettid, loadReader, loadTaskIterator } from '@tld/bpf-programs';
import { loadAddon } from '../addon.mjs';
import { args, bpfView, failure, iterView, loadPeer, metaHeader, report, runWorker } from './common.mjs';

const { peerPath, flags, pins, valueSize } =
  /** @type {{ peerPath: string, flags: import('./common.mjs').PeerFlags, pins: { v1: string, v2: string }, valueSize: 16 | 24 }} */ (
    args
  );
const pin = valueSize === 24 ? pins.v2 : pins.v1;
const names = ['js_req', 'peer_static_id', 'peer_static_tag'];
/** @type {Record<string, unknown>} */
const out = {};

const peer = loadPeer(peerPath, flags);
const { staticKeys, cntBytes } = peer.info();
out.cntBytes = cntBytes;
out.staticKeys = staticKeys;

// What BPF sees of this thread: tld_read for the 16-byte value; the iterator (start from the value) for 24.
const reader = valueSize === 16 ? loadReader({ map: { pinPath: pin } }) : undefined;
const iterator = loadTaskIterator({ map: { pinPath: pin }, valueSize });
const bpf = () =>
  reader ? bpfView(reader.read(names), names) : iterView(iterator.readTasks({ pid: process.pid }), gettid(), names);

const { TaskLocalData } = await import('../../dist/index.js');
const native = loadAddon();
const fd = native.objGet(pin);
out.peerSet = peer.setU64(fd, staticKeys.peer_static_id, 1111n);
out.peerRegistrations = peer.registrations();
out.blockPageOffset = Number(peer.dataPageAddress() % 4096n);
out.before = bpf();

const opened = failure(() => TaskLocalData.open({ pinPath: pin }));
out.open = opened;
out.registrations = native.registrationCount();
out.twoMetaPages = native.metaPageAddress() !== 0n && native.metaPageAddress() !== peer.metaPageAddress();
if (opened.code === 'none') {
  const tld = TaskLocalData.open({ pinPath: pin });
  out.metaOwned = native.metaPageOwned();
  out.adopted = native.threadDataPageAddress() === peer.dataPageAddress();
  const header = metaHeader(native);
  out.metaHeader = header;
  tld.u64('js_req').set(2222n);
  out.jsTooBig = failure(() => tld.bytes('js_too_big', 64)).code; // the peer's page leaves 64 bytes in all
  // An inconsistent header on a page we did not create: refused, and the page left alone.
  const page = new Uint8Array(native.metaPage(() => {})).slice();
  const saved = peer.setMetaHeader(200, header.size);
  out.badCnt = failure(() => tld.u64('js_bad_cnt'));
  out.badCntOpen = failure(() => TaskLocalData.open({ pinPath: pin })).code;
  peer.setMetaHeader(saved.cnt, 5000);
  out.badSize = failure(() => tld.u64('js_bad_size')).code;
  peer.setMetaHeader(saved.cnt, saved.size);
  out.pageUnchanged = Buffer.compare(page, new Uint8Array(native.metaPage(() => {}))) === 0;
  out.peerGet = peer.getU64(staticKeys.peer_static_id);
}
out.peerRegistrationsAfter = peer.registrations();
out.after = bpf();

const worker = { peerPath, flags, pin, valueSize, progFd: reader?.progFd, peerKey: staticKeys.peer_static_id, names };
out.workerTldThenPeer = await runWorker({ ...worker, mode: 'tld-then-peer' });
out.workerPeerThenTld = await runWorker({ ...worker, mode: 'peer-then-tld' });
native.close(fd);
reader?.close();
iterator.close();
report(out);
