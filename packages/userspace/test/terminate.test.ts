// worker.terminate() stops JavaScript between any two statements. A worker stopped after claiming a metadata
// slot but before publishing it would make every later creator in the process wait on that slot and fail;
// MetaPageMemory claims and publishes in one native call, so no termination can split them.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { META_SIZE_OFFSET, TypedArrayMemory, readMetaHeader, slotValueSizeOffset } from '@tld/protocol';
import { describe, expect, it } from 'vitest';
import { packageDir } from './fixture.js';

// Small regions with room for a few keys each (meta.size 48): creators spend their time claiming rather than
// walking long slot lists, so terminations often land near a claim. 512 bytes hold the header and 7 slots.
const STRIDE = 512;
const REGIONS = 32_768;
const ROUNDS = 24;
const WORKERS = 6;

function region(buffer: SharedArrayBuffer, index: number): TypedArrayMemory {
  return new TypedArrayMemory(buffer, index * STRIDE, STRIDE);
}

/** Starts the workers, lets them all go at once, and terminates them after a random moment. */
async function createAndTerminate(buffer: SharedArrayBuffer): Promise<void> {
  const control = new SharedArrayBuffer(8);
  const gate = new Int32Array(control);
  const workers = Array.from(
    { length: WORKERS },
    (_, index) =>
      new Worker(join(packageDir, 'test', 'terminate-worker.mjs'), { workerData: { buffer, control, stride: STRIDE, index } }),
  );
  const failures = workers.map((worker) => new Promise((_, reject) => worker.once('error', reject)));
  while (Atomics.load(gate, 1) < WORKERS) await Promise.race([sleep(1), ...failures]);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  await Promise.race([sleep(Math.random() * 3), ...failures]);
  await Promise.all(workers.map((worker) => worker.terminate()));
}

describe('terminating workers while they create keys', () => {
  it(`${ROUNDS} rounds × ${WORKERS} workers terminated mid-creation leave no claimed slot unpublished`, async () => {
    let claimed = 0;
    let regionsTouched = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const buffer = new SharedArrayBuffer(STRIDE * REGIONS);
      for (let i = 0; i < REGIONS; i++) region(buffer, i).store16(META_SIZE_OFFSET, 48);
      await createAndTerminate(buffer);
      for (let i = 0; i < REGIONS; i++) {
        const mem = region(buffer, i);
        const { cnt } = readMetaHeader(mem);
        if (cnt === 0) break;
        regionsTouched++;
        claimed += cnt;
        const unpublished = Array.from({ length: cnt }, (_, slot) => slot).filter(
          (slot) => mem.load16(slotValueSizeOffset(slot)) === 0,
        );
        expect(unpublished, `round ${round}, region ${i}: claimed but never published`).toEqual([]);
      }
    }
    console.log(`terminate: ${claimed} slots claimed in ${regionsTouched} regions`);
    // The workers were stopped while creating, not after running out of regions.
    expect(regionsTouched).toBeGreaterThan(ROUNDS);
    expect(regionsTouched).toBeLessThan(ROUNDS * REGIONS);
  });
});
