// Scenario: @tld/userspace loads and opens first; then the peer library (with static keys) loads, RTLD_LOCAL or
// RTLD_GLOBAL: it binds to our tld_meta_p / tld_data_p. args: { peerPath, flags, pins: { v1 } }.
import { loadReader } from '@tld/bpf-programs';
import { loadAddon } from '../addon.mjs';
import { args, bpfView, failure, loadPeer, metaHeader, report, runWorker } from './common.mjs';

const { peerPath, flags, pins } =
  /** @type {{ peerPath: string, flags: import('./common.mjs').PeerFlags, pins: { v1: string } }} */ (args);
const { TaskLocalData } = await import('../../dist/index.js');
const native = loadAddon();
const reader = loadReader({ map: { pinPath: pins.v1 } });
const mapFd = native.objGet(pins.v1);
/** @type {Record<string, unknown>} */
const out = {};

const tld = TaskLocalData.open({ pinPath: pins.v1 });
tld.u64('js_req').set(1001n);
out.metaSizeBeforeLoad = metaHeader(native).size;

const peer = loadPeer(peerPath, flags);
const { staticKeys, cntBytes } = peer.info();
out.cntBytes = cntBytes;
out.staticKeys = staticKeys;
out.metaSizeAfterLoad = metaHeader(native).size; // raised by the static keys
out.sharedMeta = peer.metaPageAddress() === native.metaPageAddress();
out.sharedData = peer.dataPageAddress() === native.threadDataPageAddress();

tld.u64('js_late').set(1002n); // any key creation bounds meta.size by the page again
out.metaSizeAfterKey = metaHeader(native).size;

out.peerSetStatic = peer.setU64(mapFd, staticKeys.peer_static_id, 2002n);
const dyn = peer.createKey('peer_dyn', 8);
out.peerDyn = dyn;
out.peerSetDyn = peer.setU64(mapFd, dyn, 3003n);
out.peerRegistrations = peer.registrations(); // tld_data_p was set: the peer registers nothing itself
out.peerExists = peer.createKey('js_req', 8); // upstream cannot look a key up: -EEXIST

// Room left in data[]: neither side may hand out a key past it.
const used = tld.keys().reduce((sum, k) => sum + Math.ceil(k.size / 8) * 8, 0);
const room = 4088 - used;
out.room = room;
out.peerPastPage = peer.createKey('peer_past_page', room + 8);
out.jsPastPage = failure(() => tld.bytes('js_past_page', room + 8)).code;
out.keysAfter = tld.keys().map((k) => k.name);

// A pointer the application kept from the peer, used after close(): the page must still be there.
peer.keep(mapFd, dyn);
tld.close();
peer.writeKept(4004n);
const names = ['js_req', 'js_late', 'peer_static_id', 'peer_dyn'];
out.afterClose = bpfView(reader.read(names), names);
out.registrationsAfterClose = native.registrationCount();

const worker = {
  peerPath,
  flags,
  pin: pins.v1,
  valueSize: /** @type {const} */ (16),
  progFd: reader.progFd,
  peerKey: staticKeys.peer_static_id,
  names,
};
out.workerTldThenPeer = await runWorker({ ...worker, mode: 'tld-then-peer' });
out.workerPeerThenTld = await runWorker({ ...worker, mode: 'peer-then-tld' });
native.close(mapFd);
reader.close();
report(out);
