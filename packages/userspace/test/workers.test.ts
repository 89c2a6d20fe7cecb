// Threading model: one metadata page per process, one data page per OS thread, per-thread registration that a
// worker's exit undoes on its own thread.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { layoutFor } from '@tld/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '../src/index.js';
import {
  type PinnedMaps,
  addonPath,
  countMapFds,
  loadFixtureMaps,
  initPage,
  loadNative,
  packageDir,
} from './fixture.js';

const native = loadNative();
const workerFile = join(packageDir, 'test', 'worker.mjs');

interface Running<T> {
  message: Promise<T>;
  exited: Promise<number>;
  worker: Worker;
}

function start<T>(workerData: Record<string, unknown>): Running<T> {
  const worker = new Worker(workerFile, { workerData });
  const message = new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { message, exited, worker };
}

describe('native pages across threads', () => {
  it('exports tld_meta_p and the thread-local tld_data_p as weak default-visibility symbols', () => {
    const symbols = execFileSync('readelf', ['-W', '--dyn-syms', addonPath], {
      encoding: 'utf8',
    });
    expect(symbols).toMatch(/OBJECT\s+WEAK\s+DEFAULT\s+\d+\s+tld_meta_p\b/);
    expect(symbols).toMatch(/TLS\s+WEAK\s+DEFAULT\s+\d+\s+tld_data_p\b/);
  });

  it('one metadata page shared by all threads, one data page per thread, page-aligned', async () => {
    const page = BigInt(native.pageSize());
    const meta = new Uint8Array(native.metaPage(initPage.meta));
    native.threadDataPage(initPage.data);
    const mainData = native.threadDataPageAddress();
    const mark = layoutFor(native.pageSize()).metaStructSize; // past the last slot: bytes nobody uses
    const runs = Array.from({ length: 4 }, () =>
      start<{ tid: number; meta: bigint; data: bigint; start: number }>({ mode: 'pages', metaMarkOffset: mark }),
    );
    const results = await Promise.all(runs.map((run) => run.message));
    for (const run of runs) run.worker.postMessage('exit');
    await Promise.all(runs.map((run) => run.exited));
    expect(meta[mark]).toBe(0xa5);
    const tids = new Set([native.gettid(), ...results.map((r) => r.tid)]);
    expect(tids.size).toBe(5);
    const datas = new Set([mainData, ...results.map((r) => r.data)]);
    expect(datas.size).toBe(5);
    for (const r of results) {
      expect(r.meta).toBe(native.metaPageAddress());
      expect(r.data % page).toBe(0n);
      expect(r.start).toBe(8);
    }
    expect(native.metaPageAddress() % page).toBe(0n);
    expect(native.releaseThreadDataPage()).toBe(true);
  });
});

describe('TaskLocalData in worker threads', () => {
  let maps: PinnedMaps;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());

  it('8 workers: same keys and offsets, each its own values; exiting workers unregister', async () => {
    const main = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const earlier = main.keys().map((k) => k.name);
    const mainReq = main.u64('req_id');
    mainReq.set(1n);
    const fdsBefore = countMapFds();
    const runs = Array.from({ length: 8 }, (_, index) =>
      start<{
        tid: number;
        data: bigint;
        registrations: number;
        offsets: Record<string, number>;
        values: { reqId: bigint; worker: number; route: string };
      }>({ mode: 'tld', pin: maps.pin('tld_data_map'), index }),
    );
    // Every worker holds one registration (a dup'd map fd) once it has written.
    await expect.poll(() => countMapFds(), { timeout: 20_000 }).toBe(fdsBefore + 8);
    for (const run of runs) run.worker.postMessage('read');
    const results = await Promise.all(runs.map((run) => run.message));
    await Promise.all(runs.map((run) => run.exited));
    results.forEach((r, index) => {
      expect(r.values).toEqual({ reqId: BigInt(1000 + index), worker: index, route: `/worker/${index}` });
      expect(r.offsets).toEqual(results[0]?.offsets);
      expect(r.registrations).toBe(1);
    });
    expect(new Set(results.map((r) => r.tid)).size).toBe(8);
    expect(new Set(results.map((r) => r.data)).size).toBe(8);
    expect(results[0]?.offsets.reqId).toBe(mainReq.offset);
    // The cleanup hooks ran on the exiting threads: their registrations are gone.
    expect(countMapFds()).toBe(fdsBefore);
    expect(mainReq.get()).toBe(1n);
    // One slot per name, whatever this process created before.
    const added = ['req_id', 'worker', 'route'].filter((name) => !earlier.includes(name));
    expect(main.keys().map((k) => k.name)).toEqual([...earlier, ...added]);
    main.close();
  });

  it('16 workers racing to create 40 overlapping keys in different orders agree on one slot per name', async () => {
    const names = Array.from({ length: 40 }, (_, i) => [`race_${i}`, 1 + ((i * 7) % 48)] as [string, number]);
    const gate = new SharedArrayBuffer(8);
    const ready = new Int32Array(gate);
    const runs = Array.from({ length: 16 }, (_, index) => {
      // Each worker its own order (a rotation, reversed for odd workers), so they collide on different slots.
      const order = [...names.slice((index * 5) % 40), ...names.slice(0, (index * 5) % 40)];
      if (index % 2 === 1) order.reverse();
      return start<{ offsets: Record<string, number>; own: boolean }>({
        mode: 'race',
        pin: maps.pin('tld_data_map'),
        index,
        names: order,
        gate,
      });
    });
    await expect.poll(() => Atomics.load(ready, 1), { timeout: 20_000 }).toBe(16);
    Atomics.store(ready, 0, 1);
    Atomics.notify(ready, 0);
    const results = await Promise.all(runs.map((run) => run.message));
    await Promise.all(runs.map((run) => run.exited));
    const main = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const published = main.keys().filter((k) => k.name.startsWith('race_'));
    main.close();
    // Exactly one slot per name, all published, and every worker saw the offsets the page records.
    expect(published.map((k) => k.name).sort()).toEqual(names.map(([name]) => name).sort());
    const recorded = Object.fromEntries(published.map((k) => [k.name, k.offset]));
    for (const r of results) {
      expect(r.offsets).toEqual(recorded);
      expect(r.own).toBe(true);
    }
    for (const [name, size] of names) expect(published.find((k) => k.name === name)?.size).toBe(size);
  });
});
