// tld.run(values, fn): the semantics of values that follow the async context, checked on this thread's page (the
// bytes BPF reads; @tld/testkit's async-context tests read them with BPF under a heavy interleaved load).
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { EventEmitterAsyncResource, once } from 'node:events';
import { join } from 'node:path';
import { setImmediate as immediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type BytesKey,
  type F64Key,
  type StringKey,
  TaskLocalData,
  type U32Key,
  type U64Key,
  asyncContextMechanism,
} from '../src/index.js';
import { threadWalk } from '../src/v8-walk.js';
import { type PinnedMaps, initPage, loadFixtureMaps, loadNative, packageDir } from './fixture.js';

const native = loadNative();

/** A copy of this thread's whole data page. */
function page(): Uint8Array {
  return new Uint8Array(native.threadDataPage(initPage.data)).slice();
}

/** What the error `fn` throws (fails the test when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/**
 * Worker body (CommonJS, eval): on each request it waits until thread `tid` of this process is blocked in
 * epoll_wait (x86-64 syscalls 232 epoll_wait, 281 epoll_pwait, 441 epoll_pwait2: the event loop waiting, no
 * callback running), then copies `length` bytes at `address` from /proc/self/mem.
 */
const IDLE_READER = `
const { readFileSync, openSync, readSync, closeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const pause = new Int32Array(new SharedArrayBuffer(4));
parentPort.postMessage({ ready: true });
const idle = () => /^(232|281|441) /.test(readFileSync('/proc/self/task/' + workerData.tid + '/syscall', 'utf8'));
parentPort.on('message', ({ address, length }) => {
  for (let tries = 0; !idle(); tries++) {
    if (tries > 100000) return parentPort.postMessage({ error: 'the main thread never went idle' });
    Atomics.wait(pause, 0, 0, 1);
  }
  const bytes = new Uint8Array(length);
  const fd = openSync('/proc/self/mem', 'r');
  try { readSync(fd, bytes, 0, length, Number(address)); } finally { closeSync(fd); }
  parentPort.postMessage({ bytes });
});`;

// The same semantics by both mechanisms where the walk is available (AsyncContextFrame and an addon build).
const MODES: Array<'page' | 'walk'> = threadWalk().ok ? ['page', 'walk'] : ['page'];

describe.each(MODES)('TaskLocalData.run (%s)', (mode) => {
  let maps: PinnedMaps;
  let tld: TaskLocalData;
  let reqId: U64Key;
  let route: StringKey;
  let weight: F64Key;
  let worker: U32Key;
  let blob: BytesKey;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());
  beforeEach(() => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), asyncContext: mode });
    expect(tld.asyncContext).toBe(mode);
    reqId = tld.u64('req_id');
    route = tld.string('route', 32);
    weight = tld.f64('weight');
    worker = tld.u32('worker');
    blob = tld.bytes('blob', 12);
    reqId.set(7n);
    route.set('/thread');
    weight.set(0.5);
    worker.set(3);
    blob.set(new Uint8Array([1, 2, 3]));
  });
  afterEach(() => tld?.close());

  it("returns what fn returns; the values hold while fn runs and the thread's come back when it returns or throws", async () => {
    const threadPage = page();
    expect(tld.run({ req_id: 42n }, () => [reqId.get(), route.get()])).toEqual([42n, '/thread']);
    expect(page()).toEqual(threadPage);
    const error = new Error('from fn');
    expect(
      thrown(() =>
        tld.run({ req_id: 43n }, () => {
          throw error;
        }),
      ),
    ).toBe(error);
    expect(page()).toEqual(threadPage);
    await expect(
      tld.run({ route: '/async' }, async () => {
        await immediate();
        return route.get();
      }),
    ).resolves.toBe('/async');
    expect(page()).toEqual(threadPage);
  });

  it('a nested run merges over the outer one (inner wins), through awaits; leaving it brings the outer values back', async () => {
    const seen: unknown[] = [];
    await tld.run({ req_id: 1n, route: '/outer', weight: 1.5 }, async () => {
      await tld.run({ route: '/inner', worker: 9 }, async () => {
        await immediate();
        seen.push([reqId.get(), route.get(), weight.get(), worker.get()]);
      });
      seen.push([reqId.get(), route.get(), weight.get(), worker.get()]);
      await immediate();
      seen.push([reqId.get(), route.get(), weight.get(), worker.get()]);
    });
    expect(seen).toEqual([
      [1n, '/inner', 1.5, 9],
      [1n, '/outer', 1.5, 3],
      [1n, '/outer', 1.5, 3],
    ]);
    expect([reqId.get(), route.get(), weight.get(), worker.get()]).toEqual([7n, '/thread', 0.5, 3]);
  });

  it("set() inside a run changes that run's value: its continuations see it, other runs and the thread do not", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const a = tld.run({ req_id: 1n }, async () => {
      reqId.set(100n);
      worker.set(11); // a key the run did not give becomes the run's
      blob.view[0] = 0xee; // a live view asked for inside a run writes the run's value
      await gate;
      return [reqId.get(), worker.get(), blob.get()[0]];
    });
    const b = tld.run({ req_id: 2n }, async () => {
      await immediate();
      const during = [reqId.get(), worker.get(), blob.get()[0]];
      release();
      return during;
    });
    const outside = [reqId.get(), worker.get(), blob.get()[0]];
    expect(await Promise.all([a, b])).toEqual([
      [100n, 11, 0xee],
      [2n, 3, 1],
    ]);
    expect(outside).toEqual([7n, 3, 1]);
    expect([reqId.get(), worker.get(), blob.get()[0]]).toEqual([7n, 3, 1]);
  });

  it('a nested run copies the outer values when it starts: later set()s on either side stay on their side', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const readings: unknown[] = [];
    await tld.run({ req_id: 1n, route: '/outer' }, async () => {
      reqId.set(10n); // before the nested run: it inherits 10n
      const inner = tld.run({ weight: 2.5 }, async () => {
        await gate;
        readings.push(['inner', reqId.get(), route.get()]);
      });
      route.set('/outer/changed'); // after the nested run started: the nested run keeps '/outer'
      release();
      await inner;
      readings.push(['outer', reqId.get(), route.get(), weight.get()]);
    });
    expect(readings).toEqual([
      ['inner', 10n, '/outer'],
      ['outer', 10n, '/outer/changed', 0.5],
    ]);
  });

  it("keys no run gives keep the thread's own value, also when set() outside any run changes it meanwhile", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const task = tld.run({ req_id: 1n }, async () => {
      await gate;
      return [reqId.get(), route.get(), weight.get()];
    });
    setImmediate(() => {
      // Between callbacks, outside every run: the thread's own values.
      route.set('/thread/changed');
      reqId.set(8n);
      release();
    });
    expect(await task).toEqual([1n, '/thread/changed', 0.5]);
    expect([reqId.get(), route.get()]).toEqual([8n, '/thread/changed']);
  });

  it("between callbacks the page holds the thread's own values, byte for byte, while runs are pending", async () => {
    const threadPage = page();
    const between: Uint8Array[] = [];
    const tasks = [1, 2, 3].map((i) =>
      tld.run({ req_id: BigInt(i), route: `/r/${i}`, blob: new Uint8Array([i]) }, async () => {
        for (let hop = 0; hop < 3; hop++) {
          await immediate();
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        return reqId.get();
      }),
    );
    for (let hop = 0; hop < 4; hop++) {
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          between.push(page());
          resolve();
        }, 1),
      );
    }
    expect(await Promise.all(tasks)).toEqual([1n, 2n, 3n]);
    for (const bytes of between) expect(bytes).toEqual(threadPage);
    expect(page()).toEqual(threadPage);
  });

  it("while the thread sits idle in its event loop with a run pending, another thread reads the thread's own values", async () => {
    // Read from inside any callback, the page is right whatever the after-hook does: the next callback's before-hook
    // sets it. Only a reader outside every callback (BPF, another thread) sees what the after-hook left: this one
    // waits until the main thread is blocked in epoll_wait, then reads the page through /proc/self/mem.
    const reader = new Worker(IDLE_READER, { eval: true, workerData: { tid: native.gettid() } });
    try {
      // Started before the run: a callback of the worker's start-up (no run's context) while the main thread waits
      // would set the page right again and hide a missing restore.
      await once(reader, 'message');
      const threadPage = page();
      const address = native.threadDataPageAddress();
      const readWhileIdle = (): Promise<Uint8Array> =>
        new Promise((resolve, reject) => {
          reader.once('message', (message: { bytes?: Uint8Array; error?: string }) => {
            if (message.bytes) resolve(message.bytes);
            else reject(new Error(message.error));
          });
          reader.postMessage({ address, length: threadPage.length });
        });
      const seen = await tld.run({ req_id: 42n, route: '/request', blob: new Uint8Array([4, 2]) }, async () => {
        await immediate(); // from here on, a continuation: the hooks apply the run's values, then restore them
        expect(reqId.get()).toBe(42n);
        const idle = await readWhileIdle();
        expect(route.get()).toBe('/request');
        return idle;
      });
      expect(Buffer.from(seen).equals(Buffer.from(threadPage))).toBe(true);
    } finally {
      await reader.terminate();
    }
  });

  it("AsyncResource scopes (runInAsyncScope, AsyncLocalStorage.snapshot, EventEmitterAsyncResource) get their creator's values", async () => {
    const als = new AsyncLocalStorage<string>();
    const made = await tld.run({ route: '/creator' }, () =>
      als.run('creator', async () => {
        await immediate();
        const emitter = new EventEmitterAsyncResource({ name: 'probe' });
        return { resource: new AsyncResource('probe'), snapshot: AsyncLocalStorage.snapshot(), emitter };
      }),
    );
    const seen: unknown[] = [];
    const look = (how: string): void => {
      seen.push([how, als.getStore(), route.get()]);
    };
    made.emitter.on('ping', () => look('EventEmitterAsyncResource'));
    await tld.run({ route: '/caller' }, () =>
      als.run('caller', async () => {
        await immediate();
        made.resource.runInAsyncScope(() => look('runInAsyncScope'));
        made.snapshot(() => look('snapshot'));
        made.emitter.emit('ping');
        look('caller');
      }),
    );
    made.resource.runInAsyncScope(() => look('outside any run'));
    // Whatever Node says the context is, the values say the same; except that by the walk a run is over once its
    // promise settled (its record is no longer valid), so every scope entered after the creator's run ended has
    // the thread's values.
    const creator = mode === 'walk' ? '/thread' : '/creator';
    expect(seen).toEqual([
      ['runInAsyncScope', 'creator', creator],
      ['snapshot', 'creator', creator],
      ['EventEmitterAsyncResource', 'creator', creator],
      ['caller', 'caller', '/caller'],
      ['outside any run', 'creator', creator],
    ]);
    expect(route.get()).toBe('/thread');
  });

  it('bad values throw the errors set() throws, before anything is written; fn never runs', () => {
    const cases: [string, () => void, Record<string, unknown>][] = [
      ['req_id', () => reqId.set(-1n), { req_id: -1n }],
      ['req_id', () => reqId.set(1 as unknown as bigint), { req_id: 1 }],
      ['worker', () => worker.set(1.5), { worker: 1.5 }],
      ['weight', () => weight.set('1' as unknown as number), { weight: '1' }],
      ['route', () => route.set('x'.repeat(40)), { route: 'x'.repeat(40) }],
      ['route', () => route.set('a\0b'), { route: 'a\0b' }],
      ['blob', () => blob.set(new Uint8Array(13)), { blob: new Uint8Array(13) }],
      ['blob', () => blob.set([1] as unknown as Uint8Array), { blob: [1] }],
    ];
    for (const [name, viaSet, values] of cases) {
      const before = page();
      const expected = thrown(viaSet);
      expect(page(), `${name}: set() wrote despite the error`).toEqual(before);
      let ran = false;
      // A good value first: it must not be written either.
      const error = thrown(() =>
        tld.run({ req_id: 99n, ...values }, () => {
          ran = true;
        }),
      );
      expect(error.constructor, name).toBe(expected.constructor);
      expect(error.message, name).toBe(expected.message);
      expect(ran).toBe(false);
      expect(page(), name).toEqual(before);
    }
  });

  it('an unknown key name, a values that is not an object, an fn that is not a function: typed errors, nothing written', () => {
    const before = page();
    const unknown = thrown(() => tld.run({ req_id: 1n, tenant: 'acme' }, () => 0));
    expect(unknown).toMatchObject({ code: 'ERR_TLD_UNKNOWN_KEY' });
    expect(unknown.message).toContain('"tenant"');
    expect(unknown.message).toContain('create the key first');
    expect(thrown(() => tld.run(null as never, () => 0))).toBeInstanceOf(TypeError);
    expect(thrown(() => tld.run([] as never, () => 0))).toBeInstanceOf(TypeError);
    expect(thrown(() => tld.run({ req_id: 1n }, 'fn' as never))).toBeInstanceOf(TypeError);
    expect(page()).toEqual(before);
    tld.close();
    expect(thrown(() => tld.run({ req_id: 1n }, () => 0))).toMatchObject({ code: 'ERR_TLD_CLOSED' });
  });

  it("a key created with another TaskLocalData of the thread is unknown to this one's run()", () => {
    const other = TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), asyncContext: mode });
    try {
      other.u64('only_other');
      expect(thrown(() => tld.run({ only_other: 1n }, () => 0))).toMatchObject({ code: 'ERR_TLD_UNKNOWN_KEY' });
      expect(other.run({ only_other: 5n }, () => other.u64('only_other').get())).toBe(5n);
    } finally {
      other.close();
    }
  });
});

describe('opt-in (page mechanism)', () => {
  let maps: PinnedMaps;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());

  it('nothing is installed before the first run(): no async hook, set() and awaits run as without the library', () => {
    // A fresh process: Node's own async_hooks bookkeeping (internal, hence --expose-internals) says what is enabled.
    const script = `
      import { createRequire } from 'node:module';
      const hooks = createRequire(import.meta.url)('internal/async_hooks');
      const { TaskLocalData, asyncContextMechanism } = await import(${JSON.stringify(pathToFileURL(join(packageDir, 'dist/index.js')).href)});
      const state = () => ({ hooks: hooks.getHookArrays()[0].length, mechanism: asyncContextMechanism() ?? null });
      const tld = TaskLocalData.open({ pinPath: process.env.PIN, asyncContext: 'page' });
      const reqId = tld.u64('req_id');
      reqId.set(1n);
      await new Promise((resolve) => setTimeout(resolve, 1));
      reqId.set(2n);
      const before = state();
      let badRun = null;
      try { tld.run({ req_id: -1n }, () => 0); } catch (error) { badRun = error instanceof RangeError ? error.code : 'not a RangeError'; }
      const afterBadRun = state();
      const inRun = await tld.run({ req_id: 3n }, async () => { await null; return reqId.get().toString(); });
      const after = state();
      tld.close();
      console.log(JSON.stringify({ before, badRun, afterBadRun, inRun, after }));
    `;
    const out = execFileSync(process.execPath, ['--expose-internals', '--input-type=module', '-e', script], {
      env: { ...process.env, PIN: maps.pin('tld_data_map') },
      encoding: 'utf8',
    });
    const result = JSON.parse(out) as Record<string, { hooks: number; mechanism: string | null }>;
    expect(result['before']).toEqual({ hooks: 0, mechanism: null });
    expect(result['badRun']).toBe('ERR_OUT_OF_RANGE');
    expect(result['afterBadRun']).toEqual({ hooks: 0, mechanism: null });
    expect(result['inRun']).toBe('3');
    expect(result['after']!.hooks).toBeGreaterThan(0);
    expect(['async-hooks', 'context-frame', 'context-frame+async-hooks']).toContain(result['after']!.mechanism);
  });

  it('in this process too: the mechanism is chosen at the first run() and reported', () => {
    const tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), asyncContext: 'page' });
    try {
      tld.u64('req_id');
      tld.run({ req_id: 1n }, () => undefined);
      expect(['async-hooks', 'context-frame', 'context-frame+async-hooks']).toContain(asyncContextMechanism());
    } finally {
      tld.close();
    }
  });
});
