// One racer of race.test.ts. Runs the BUILT package (dist/), as another thread of a real program would.
// Every round all racers pass a barrier, then create their own shuffled subset of names in that round's page.
import { parentPort, workerData } from 'node:worker_threads';
import { TldError, TypedArrayMemory, createKey, layoutFor } from '../dist/index.js';

/**
 * What race.test.ts hands each racer.
 * @typedef {object} RaceData
 * @property {SharedArrayBuffer} pages one metadata page per round
 * @property {SharedArrayBuffer} control Int32 [arrived, generation, abort]
 * @property {SharedArrayBuffer} results Int32 (index, offset, created) per worker, round and name; -1 when not asked
 * @property {number} worker this racer's number
 * @property {number} workers
 * @property {number} rounds
 * @property {string[]} names
 * @property {number[]} sizes
 * @property {number} pageSize
 */

if (!parentPort) throw new Error('race-worker.mjs runs as a worker thread of race.test.ts');
const port = parentPort;
/** @type {unknown} */
const data = workerData;
const { pages, control, results, worker, workers, rounds, names, sizes, pageSize } = /** @type {RaceData} */ (data);
const ARRIVED = 0;
const GENERATION = 1;
const ABORT = 2;
const ctl = new Int32Array(control);
const out = new Int32Array(results);
const layout = layoutFor(pageSize);

/** Thrown when another racer failed: that racer reports the cause, this one only stops. */
class Aborted extends Error {}

function aborted() {
  return Atomics.load(ctl, ABORT) !== 0;
}

/** Generation-counting barrier: the last to arrive resets the count and wakes the others. */
function barrier() {
  const generation = Atomics.load(ctl, GENERATION);
  if (Atomics.add(ctl, ARRIVED, 1) === workers - 1) {
    Atomics.store(ctl, ARRIVED, 0);
    Atomics.add(ctl, GENERATION, 1);
    Atomics.notify(ctl, GENERATION);
    return;
  }
  while (Atomics.load(ctl, GENERATION) === generation) {
    // Time out now and then so a racer that failed (ABORT) cannot leave the rest waiting forever.
    if (aborted()) throw new Aborted();
    Atomics.wait(ctl, GENERATION, generation, 100);
  }
}

/**
 * mulberry32: a tiny seeded PRNG so every (worker, round) has its own reproducible order.
 * @param {number} seed
 */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

try {
  for (let round = 0; round < rounds; round++) {
    const random = prng(worker * 1_000_003 + round * 7919 + 1);
    // About two thirds of the names, a different subset per worker and round, so the sets overlap.
    const mine = [];
    for (let j = 0; j < names.length; j++) if (random() < 0.65) mine.push(j);
    for (let i = mine.length - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      const swapped = /** @type {number} */ (mine[i]);
      mine[i] = /** @type {number} */ (mine[k]);
      mine[k] = swapped;
    }
    const mem = new TypedArrayMemory(pages, round * pageSize, pageSize);

    barrier();
    for (const j of mine) {
      // A racer that died between claiming and publishing would stall us; a generous timeout keeps a
      // descheduled (not dead) publisher on a loaded 2-core machine from failing the test.
      const name = /** @type {string} */ (names[j]);
      const size = /** @type {number} */ (sizes[j]);
      const key = createKey(mem, name, size, { layout, publishTimeoutMs: 20_000 });
      const at = ((worker * rounds + round) * names.length + j) * 3;
      out[at] = key.index;
      out[at + 1] = key.offset;
      out[at + 2] = key.created ? 1 : 0;
    }
  }
  port.postMessage({ done: true });
} catch (err) {
  if (err instanceof Aborted) {
    port.postMessage({ aborted: true });
  } else {
    Atomics.store(ctl, ABORT, 1);
    Atomics.notify(ctl, GENERATION);
    const code = err instanceof TldError ? ` (${err.code})` : '';
    port.postMessage({ error: `worker ${worker}${code}: ${err instanceof Error ? err.stack : String(err)}` });
  }
}
