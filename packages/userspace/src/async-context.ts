// Values that follow the request: `tld.run(values, fn)` makes `values` this thread's task local data while `fn`
// and every async continuation created inside it run. Node interleaves many requests on one thread at every await,
// so a value stored for the thread is wrong as soon as the next request runs; this module keeps the thread's data
// page in step with the async context that is running.
//
// Who decides which context runs: AsyncLocalStorage. Its store is a Frame (the values of one run()), and the page
// follows what `getStore()` reports, so it agrees with Node's own semantics on every version (an EventEmitter's
// listeners run in the context of whoever called emit(), a promise continuation in the context that awaited).
//
// When the page changes: AsyncLocalStorage says which context is current but not when one is entered, so async
// hooks say it. Before each callback the page gets the values of the callback's context; after it, the values it
// had before (between callbacks: the thread's own). Which hooks is feature-detected once, at the first run()
// (see install()); the version number is never consulted.
//
// Opt-in: nothing is installed before the first run(). Outside any run `current.frame` is null and key.set() is
// the plain typed-array store it always was, behind one never-taken branch (measured: tools/bench/async-context.mjs).
import { AsyncLocalStorage, AsyncResource, type HookCallbacks, createHook, executionAsyncResource } from 'node:async_hooks';
import { promiseHooks } from 'node:v8';
import { roundUpValueSize } from '@tld/protocol';
import type { Key } from './keys.js';

/**
 * How this thread follows async contexts, decided at its first run():
 * - `async-hooks`: AsyncLocalStorage runs on async_hooks (Node 20, 22; 24 with --no-async-context-frame):
 *   createHook({ before, after }) sees every callback, promise continuations included.
 * - `context-frame`: AsyncLocalStorage runs on AsyncContextFrame and createHook() accepts `trackPromises: false`
 *   (Node 24): async_hooks for callbacks of other resources, V8's promise hooks (cheaper) for continuations.
 * - `context-frame+async-hooks`: AsyncContextFrame without `trackPromises` (Node 22 with
 *   --experimental-async-context-frame): async_hooks for everything.
 */
export type AsyncContextMechanism = 'async-hooks' | 'context-frame' | 'context-frame+async-hooks';

/** One key's value in a context: the words set() would store, for the page's words from `at` on. */
export interface Entry {
  readonly at: number;
  readonly value: bigint[];
}

/**
 * The values of one run(): the enclosing run's values as they were when run() was called, overridden by its own.
 * set() inside the run changes this object, so every continuation of the run sees the change; a nested run
 * started earlier keeps its own copy.
 */
class Frame {
  /** set() (or a BytesKey view) changed a value in the page since the frame was applied: copy it back on leave. */
  written = false;
  constructor(readonly entries: Entry[]) {}
}

/** The frame whose values the page holds now; null between callbacks and outside any run. */
export const current: { frame: Frame | null } = { frame: null };

let storage: AsyncLocalStorage<Frame> | undefined;
let mechanism: AsyncContextMechanism | undefined;

// This thread's data page in 8-byte words (values are 8-aligned and take roundup8(size) bytes), so a switch
// stores a u64/i64/f64 whole, as set() does. `own` keeps the thread's own value of each key the applied frame
// overrides (`saved` is 1 at such a key's first word); `mark` is scratch for switchTo().
let pageBuffer: ArrayBuffer | undefined;
let page = new BigInt64Array(0);
let own = new BigInt64Array(0);
let saved = new Uint8Array(0);
let mark = new Uint32Array(0);
let stamp = 0;

/** The frame applied when each callback still running on this thread began (innermost last). */
const outer: (Frame | null)[] = [];

/** Which mechanism this thread uses; undefined until its first run() (nothing is installed before). */
export function asyncContextMechanism(): AsyncContextMechanism | undefined {
  return mechanism;
}

/**
 * Runs `fn` with `entries` (checked and encoded by the keys) merged over the enclosing run's values, in a new
 * async context of this thread; returns what `fn` returns.
 */
export function runWithValues<R>(data: ArrayBuffer, entries: Entry[], fn: () => R): R {
  const als = storage ?? install();
  bindPage(data);
  const frame = frameFor(als.getStore(), entries);
  return als.run(frame, enter, frame, fn);
}

function enter<R>(frame: Frame, fn: () => R): R {
  const previous = current.frame;
  switchTo(frame);
  try {
    return fn();
  } finally {
    switchTo(previous);
  }
}

function frameFor(parent: Frame | undefined, entries: Entry[]): Frame {
  if (parent === undefined) return new Frame(entries);
  // The parent's latest set() values are in the page while it is applied.
  if (parent === current.frame) copyBack(parent);
  const merged = entries.slice();
  for (const entry of parent.entries) {
    if (!entries.some((own) => own.at === entry.at)) merged.push({ at: entry.at, value: entry.value.slice() });
  }
  return new Frame(merged);
}

/**
 * Called by set() (and BytesKey.view) while a frame is applied, before the key's page value changes: the key
 * becomes part of the running context, its thread value is kept to be restored when the context leaves.
 */
export function claimForContext(key: Key): void {
  const frame = current.frame;
  if (frame === null) return;
  frame.written = true;
  const at = key.pageWord;
  for (const entry of frame.entries) if (entry.at === at) return;
  const words = roundUpValueSize(key.size) / 8;
  frame.entries.push({ at, value: new Array<bigint>(words).fill(0n) });
  if (saved[at] === 0) {
    for (let i = 0; i < words; i++) own[at + i] = page[at + i] as bigint;
    saved[at] = 1;
  }
}

/**
 * Makes the page hold `next`'s values (null: the thread's own). Writes only keys of the two frames: keys of the
 * leaving frame that `next` lacks get the thread's value back, keys of `next` get its value. Never throws (it
 * runs inside async hooks, where an exception ends the process).
 */
function switchTo(next: Frame | null): void {
  const previous = current.frame;
  if (previous === next) return;
  current.frame = next;
  if (page.length === 0) return; // the page was released (TaskLocalData closed): nothing to keep in step
  if (previous !== null) {
    if (previous.written) copyBack(previous);
    if (++stamp === 0xffff_ffff) {
      mark.fill(0);
      stamp = 1;
    }
    if (next !== null) for (const entry of next.entries) mark[entry.at] = stamp;
    for (const { at, value } of previous.entries) {
      if (mark[at] === stamp) continue;
      for (let i = 0; i < value.length; i++) page[at + i] = own[at + i] as bigint;
      saved[at] = 0;
    }
  }
  if (next !== null) {
    for (const { at, value } of next.entries) {
      if (saved[at] === 0) {
        for (let i = 0; i < value.length; i++) own[at + i] = page[at + i] as bigint;
        saved[at] = 1;
      }
      // Word by word: each 8-byte store is whole for a BPF reader, as set()'s are (memory coherence: keys.ts).
      for (let i = 0; i < value.length; i++) page[at + i] = value[i] as bigint;
    }
  }
}

/** Keeps what set() (or a view) wrote into the page while `frame` was applied. */
function copyBack(frame: Frame): void {
  frame.written = false;
  if (page.length === 0) return;
  for (const { at, value } of frame.entries) {
    for (let i = 0; i < value.length; i++) value[i] = page[at + i] as bigint;
  }
}

function bindPage(data: ArrayBuffer): void {
  if (data === pageBuffer) return;
  // Every TaskLocalData of a thread shares its one page; another page means they all closed (the old page was
  // released) and a new one opened: its thread values start from that page.
  pageBuffer = data;
  const words = Math.floor(data.byteLength / 8);
  page = new BigInt64Array(data, 0, words);
  own = new BigInt64Array(words);
  saved = new Uint8Array(words);
  mark = new Uint32Array(words);
}

// --- the hooks -----------------------------------------------------------------------------------------------

const kFrame = Symbol('tld.frame');
type Tagged = { [kFrame]?: Frame | undefined };

function store(): Frame | null {
  return (storage as AsyncLocalStorage<Frame>).getStore() ?? null;
}

function beforeCallback(): void {
  outer.push(current.frame);
  switchTo(store());
}

function afterCallback(): void {
  switchTo(outer.pop() ?? null);
}

// With AsyncContextFrame, AsyncResource.runInAsyncScope() (AsyncResource.bind, AsyncLocalStorage.snapshot(),
// EventEmitterAsyncResource, queueMicrotask) emits `before` and only then switches to the resource's frame, so
// getStore() there still reports the caller's context. The resource's context is the one it was created in: the
// init hook records it.
function beforeResourceCallback(): void {
  outer.push(current.frame);
  const resource = executionAsyncResource();
  switchTo(resource instanceof AsyncResource ? ((resource as Tagged)[kFrame] ?? null) : store());
}

function tagAsyncResource(_asyncId: number, _type: string, _triggerAsyncId: number, resource: object): void {
  if (resource instanceof AsyncResource) (resource as Tagged)[kFrame] = store() ?? undefined;
}

function install(): AsyncLocalStorage<Frame> {
  storage = new AsyncLocalStorage<Frame>();
  if (!storeFollowsContextFrame()) {
    // AsyncLocalStorage keeps its store on the execution resource, which Node sets before `before` runs.
    createHook({ before: beforeCallback, after: afterCallback }).enable();
    mechanism = 'async-hooks';
  } else if (hooksCanIgnorePromises() && typeof promiseHooks?.createHook === 'function') {
    // V8 restores a continuation's frame before it calls the promise `before` hook: getStore() is right there.
    // Going to V8 directly skips async_hooks' promise bookkeeping (async ids, resource stack) per continuation.
    const hooks: HookCallbacks & { trackPromises: boolean } = {
      init: tagAsyncResource,
      before: beforeResourceCallback,
      after: afterCallback,
      trackPromises: false,
    };
    createHook(hooks).enable();
    promiseHooks.createHook({ before: beforeCallback, after: afterCallback });
    mechanism = 'context-frame';
  } else {
    createHook({ init: tagAsyncResource, before: beforeResourceCallback, after: afterCallback }).enable();
    mechanism = 'context-frame+async-hooks';
  }
  return storage;
}

/**
 * Whether AsyncLocalStorage keeps its stores in AsyncContextFrame (V8's continuation data) rather than on
 * async_hooks' execution resource: a store entered inside an AsyncResource's scope sticks to the resource only in
 * the latter (only public behaviour is probed).
 */
function storeFollowsContextFrame(): boolean {
  const probe = new AsyncLocalStorage<object>();
  const resource = new AsyncResource('TLD_CONTEXT_PROBE');
  const marker = {};
  resource.runInAsyncScope(() => probe.enterWith(marker));
  const sticks = resource.runInAsyncScope(() => probe.getStore()) === marker;
  probe.disable();
  return !sticks;
}

/** Whether createHook() knows `trackPromises` (it validates it; older versions ignore unknown options). */
function hooksCanIgnorePromises(): boolean {
  try {
    createHook({ trackPromises: 'probe' } as unknown as HookCallbacks);
    return false;
  } catch (error) {
    return (error as { code?: unknown }).code === 'ERR_INVALID_ARG_TYPE';
  }
}
