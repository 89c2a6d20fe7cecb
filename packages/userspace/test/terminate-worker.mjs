// Worker body for terminate.test.ts: once main says go, creates keys without pause over a run of small
// metadata regions of one SharedArrayBuffer until main terminates it, so termination lands anywhere in createKey.
import { ProtocolErrorCode, createKey, layoutFor } from '@tld/protocol';
import { workerData } from 'node:worker_threads';
import { MetaPageMemory } from '../dist/meta-memory.js';

const { buffer, control, stride, index } = workerData;
const layout = layoutFor(4096);
const gate = new Int32Array(control);
Atomics.add(gate, 1, 1); // ready
Atomics.wait(gate, 0, 0); // until go

for (let region = 0; region < buffer.byteLength / stride; region++) {
  const mem = new MetaPageMemory(buffer, region * stride, stride);
  // Overlapping names and sizes: workers race for the same keys and for the same free slot.
  for (let k = index; ; k += 3) {
    try {
      createKey(mem, `key_${k % 97}`, 1 + (k % 24), { layout });
    } catch (error) {
      if (error.code === ProtocolErrorCode.TOO_BIG) break;
      if (error.code !== ProtocolErrorCode.SIZE_MISMATCH) throw error;
    }
  }
}
