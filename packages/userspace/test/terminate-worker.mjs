// Worker body for terminate.test.ts: creates one key over the metadata page in `buffer` and stops for good the
// moment its slot is claimed, so that main can worker.terminate() it exactly there.
// workerData: { buffer, gate: Int32Array [stopped, never], memory: 'native' | 'js', name, size }
import { META_CNT_OFFSET, TypedArrayMemory, createKey, layoutFor } from '@tld/protocol';
import { workerData } from 'node:worker_threads';
import { MetaPageMemory } from '../dist/meta-memory.js';

const { buffer, gate, memory, name, size } = workerData;

/** Tells main the claim happened, then blocks until main terminates this thread. */
function stopHere() {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  Atomics.wait(gate, 1, 0);
  throw new Error('terminate-worker: expected to be terminated while stopped');
}

// 'native': the MetaPageMemory @tld/userspace uses; 'js': plain Atomics, where createKey claims and publishes in
// separate JavaScript steps.
const Base = memory === 'native' ? MetaPageMemory : TypedArrayMemory;

class StoppedAfterClaim extends Base {
  // A claim made in JavaScript: the compare-exchange of cnt won.
  compareExchange16(offset, expected, replacement) {
    const found = super.compareExchange16(offset, expected, replacement);
    if (offset === META_CNT_OFFSET && found === expected) stopHere();
    return found;
  }
}
if (typeof Base.prototype.claimSlot === 'function') {
  // A claim made by the memory's own claimSlot: stop the moment it returns, before createKey runs another line.
  StoppedAfterClaim.prototype.claimSlot = function claimSlot(...args) {
    const won = Base.prototype.claimSlot.apply(this, args);
    if (won) stopHere();
    return won;
  };
}

createKey(new StoppedAfterClaim(buffer), name, size, { layout: layoutFor(buffer.byteLength) });
