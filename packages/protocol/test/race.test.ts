// Many real threads run PROTOCOL.md §3 at once over one shared metadata page per round. Lock-free allocation
// bugs (two slots for one name, a lost cnt increment, offsets that disagree) show up here and nowhere else.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { TypedArrayMemory, initMetaPage, layoutFor, listKeys, slotValueSizeOffset } from '../src/index.js';

const WORKERS = 16;
const ROUNDS = 1000;
const PAGE_SIZE = 4096;
// Overlapping name sets; a multi-byte name too. Size is a function of the name, as in a real program.
const NAMES = Array.from({ length: 32 }, (_, j) => (j === 7 ? 'clé-ünïcode' : `key.${j}`));
const SIZES = NAMES.map((_, j) => 1 + ((j * 7) % 24));

const srcDir = fileURLToPath(new URL('../src/', import.meta.url));
const distDir = fileURLToPath(new URL('../dist/', import.meta.url));

/** The workers run dist/: make sure it exists and is not older than src/, or we would test stale code. */
function assertDistFresh(): void {
  const rebuild = 'run `pnpm --filter @tld/protocol build` first';
  expect(existsSync(`${distDir}index.js`), `packages/protocol/dist is missing: ${rebuild}`).toBe(true);
  for (const file of readdirSync(srcDir)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.endsWith('.d.ts')) continue;
    const built = `${distDir}${file.replace(/\.ts$/, '.js')}`;
    expect(existsSync(built), `dist/${file.replace(/\.ts$/, '.js')} is missing: ${rebuild}`).toBe(true);
    expect(
      statSync(built).mtimeMs >= statSync(`${srcDir}${file}`).mtimeMs,
      `dist is older than src/${file}: ${rebuild}`,
    ).toBe(true);
  }
}

function runWorkers(workerData: Record<string, unknown>, control: Int32Array): Promise<void> {
  const url = new URL('./race-worker.mjs', import.meta.url);
  const errors: string[] = [];
  let done = 0;
  const exits = Array.from({ length: WORKERS }, (_, worker) => {
    const thread = new Worker(url, { workerData: { ...workerData, worker } });
    return new Promise<void>((resolve) => {
      thread.on('message', (message: { done?: true; error?: string }) => {
        if (message.error) errors.push(message.error);
        if (message.done) done++;
      });
      thread.on('error', (err) => {
        errors.push(`worker ${worker} crashed: ${err.stack ?? String(err)}`);
        Atomics.store(control, 2, 1); // ABORT: release the others from the barrier
      });
      thread.on('exit', (code) => {
        if (code !== 0) errors.push(`worker ${worker} exited with code ${code}`);
        resolve();
      });
    });
  });
  return Promise.all(exits).then(() => {
    if (errors.length > 0) throw new Error(errors.join('\n'));
    if (done !== WORKERS) throw new Error(`only ${done} of ${WORKERS} workers finished their rounds`);
  });
}

describe('createKey race over worker_threads', () => {
  it(`${WORKERS} workers × ${ROUNDS} rounds agree on every key, one slot per name, every slot published`, async () => {
    assertDistFresh();
    const layout = layoutFor(PAGE_SIZE);
    const pages = new SharedArrayBuffer(ROUNDS * PAGE_SIZE);
    for (let round = 0; round < ROUNDS; round++) {
      initMetaPage(new TypedArrayMemory(pages, round * PAGE_SIZE, PAGE_SIZE), layout);
    }
    const control = new SharedArrayBuffer(3 * 4);
    const results = new SharedArrayBuffer(WORKERS * ROUNDS * NAMES.length * 3 * 4);
    const out = new Int32Array(results).fill(-1);

    const started = performance.now();
    await runWorkers(
      { pages, control, results, workers: WORKERS, rounds: ROUNDS, names: NAMES, sizes: SIZES, pageSize: PAGE_SIZE },
      new Int32Array(control),
    );
    const elapsedMs = performance.now() - started;
    console.log(`race: ${WORKERS} workers × ${ROUNDS} rounds in ${elapsedMs.toFixed(0)} ms`);

    const failures: string[] = [];
    const fail = (message: string): void => {
      if (failures.length < 20) failures.push(message);
    };
    let contestedNames = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const mem = new TypedArrayMemory(pages, round * PAGE_SIZE, PAGE_SIZE);
      const cnt = mem.load16(0);
      for (let i = 0; i < cnt; i++) {
        if (mem.load16(slotValueSizeOffset(i)) === 0) fail(`round ${round}: slot ${i} < cnt ${cnt} never published`);
      }
      const keys = listKeys(mem, layout);
      const byName = new Map(keys.map((key) => [key.name, key]));
      if (byName.size !== keys.length)
        fail(`round ${round}: a name has more than one slot: ${keys.map((k) => k.name).join(',')}`);

      const requested = new Set<number>();
      for (let j = 0; j < NAMES.length; j++) {
        let creators = 0;
        let requesters = 0;
        const key = byName.get(NAMES[j]!);
        for (let worker = 0; worker < WORKERS; worker++) {
          const at = ((worker * ROUNDS + round) * NAMES.length + j) * 3;
          const index = out[at]!;
          if (index === -1) continue; // this worker did not ask for this name this round
          requesters++;
          requested.add(j);
          if (out[at + 2] === 1) creators++;
          if (!key) {
            fail(`round ${round}: worker ${worker} got ${NAMES[j]} but the page has no such key`);
          } else if (index !== key.index || out[at + 1] !== key.offset) {
            fail(
              `round ${round}: worker ${worker} got ${NAMES[j]} at slot ${index} offset ${out[at + 1]}, ` +
                `the page says slot ${key.index} offset ${key.offset}`,
            );
          }
        }
        if (requesters > 0 && creators !== 1) fail(`round ${round}: ${NAMES[j]} created by ${creators} workers`);
        if (requesters > 1) contestedNames++;
        if (key && key.size !== SIZES[j]) fail(`round ${round}: ${NAMES[j]} has size ${key.size}, not ${SIZES[j]}`);
      }
      if (cnt !== requested.size) fail(`round ${round}: cnt ${cnt} but ${requested.size} distinct names requested`);
      if (keys.length !== requested.size)
        fail(`round ${round}: ${keys.length} keys, ${requested.size} names requested`);
    }
    expect(failures).toEqual([]);
    // The test means nothing unless names really were contested.
    expect(contestedNames).toBeGreaterThan(ROUNDS * NAMES.length * 0.9);
  }, 180_000);
});
