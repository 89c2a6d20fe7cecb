// Worker body for terminate.test.ts: creates one key over the metadata page in `buffer` and stops for good the
// moment its slot is claimed, so that main can worker.terminate() it exactly there.
// workerData: { buffer, gate: Int32Array [stopped, never], memory: 'native' | 'js', name, size }
import { META_CNT_OFFSET, TypedArrayMemory, createKey, layoutFor } from '@tld/protocol';
import { workerData } from 'node:worker_threads';
import { MetaPageMemory } from '../dist/meta-memory.js';

/** @type {unknown} */
const data = workerData;
const { buffer, gate, memory, name, size } =
  /** @type {{ buffer: SharedArrayBuffer, gate: Int32Array, memory: 'native' | 'js', name: string, size: number }} */ (
    data
  );

/** Tells main the claim happened, then blocks until main terminates this thread. */
function stopHere() {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  Atomics.wait(gate, 1, 0);
  throw new Error('terminate-worker: expected to be terminated while stopped');
}

/**
 * Stops when a compare-exchange of cnt has won: a claim made in JavaScript, before the slot is published.
 * @param {number} found @param {number} offset @param {number} expected
 * @returns {number} found
 */
function stopIfClaimed(found, offset, expected) {
  if (offset === META_CNT_OFFSET && found === expected) stopHere();
  return found;
}

/** Plain Atomics: createKey claims and publishes in separate JavaScript steps. */
class JsMemory extends TypedArrayMemory {
  /** @override @param {number} offset @param {number} expected @param {number} replacement */
  compareExchange16(offset, expected, replacement) {
    return stopIfClaimed(super.compareExchange16(offset, expected, replacement), offset, expected);
  }
}

/** The MetaPageMemory @tld/userspace uses, stopped right after its claim, wherever that claim is made. */
class NativeMemory extends MetaPageMemory {
  /** @override @param {number} offset @param {number} expected @param {number} replacement */
  compareExchange16(offset, expected, replacement) {
    return stopIfClaimed(super.compareExchange16(offset, expected, replacement), offset, expected);
  }

  /** @override @param {number} expectedCnt @param {number} index @param {Uint8Array} nameField @param {number} valueSize */
  claimSlot(expectedCnt, index, nameField, valueSize) {
    const won = super.claimSlot(expectedCnt, index, nameField, valueSize);
    if (won) stopHere(); // before createKey runs another line
    return won;
  }
}

const mem = memory === 'native' ? new NativeMemory(buffer) : new JsMemory(buffer);
createKey(mem, name, size, { layout: layoutFor(buffer.byteLength) });
