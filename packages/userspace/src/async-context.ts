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
// the plain typed-array store it always was, behind one never-taken branch (measured: `pnpm bench`, case async-context).
import {
  AsyncLocalStorage,
  AsyncResource,
  type HookCallbacks,
  createHook,
  executionAsyncResource,
} from 'node:async_hooks';
import { promiseHooks } from 'node:v8';
import { roundUpValueSize } from '@tld/protocol';
import type { Key } from './keys.js';
import { storeFollowsContextFrame } from './v8-walk.js';

/**
 * How this thread follows async contexts, decided at its first run():
 * - `async-hooks`: AsyncLocalStorage runs on async_hooks (Node 20, 22; 24 with --no-async-context-frame):
 *   createHook({ before, after }) sees every callback, promise continuations included.
 * - `context-frame`: AsyncLocalStorage runs on AsyncContextFrame and createHook() accepts `trackPromises: false`
 *   (Node 24): async_hooks for callbacks of other resources, V8's promise hooks (cheaper) for continuations.
 * - `context-frame+async-hooks`: AsyncContextFrame without `trackPromises` (Node 22 with
 *   --experimental-async-context-frame): async_hooks for everything.
 * - `walk`: open({ asyncContext: 'walk' | 'auto' }) with the walk available (context-walk.ts): no hooks at all.
 */
export type AsyncContextMechanism = 'async-hooks' | 'context-frame' | 'context-frame+async-hooks' | 'walk';

/** One key's value for run(): the words set() would store, for the page's words from `at` on. */
export interface Entry {
  readonly at: number;
  readonly value: bigint[];
}

/**
 * The values of one run(): the enclosing run's values as they were when run() was called, overridden by its own.
 * set() inside the run changes this object, so every continuation of the run sees the change; a nested run
 * started earlier keeps its own copy. Flat: page word `words[i]` gets `values[i]`, so a switch is one loop.
 */
class Frame {
  /** set() (or a BytesKey view) changed a value in the page since the frame was applied: copy it back on leave. */
  written = false;
  constructor(
    readonly words: number[],
    readonly values: bigint[],
  ) {}
}

/**
 * `frame`: the frame whose values the page holds now; null between callbacks and outside any run (page mechanism).
 * `walk`: this thread runs run() by the async-context walk (context-walk.ts): set() and get() look for a live run.
 */
export const current: { frame: Frame | null; walk: boolean } = { frame: null, walk: false };

let storage: AsyncLocalStorage<Frame> | undefined;
let mechanism: AsyncContextMechanism | undefined;

// This thread's data page in 8-byte words (values are 8-aligned and take roundup8(size) bytes), so a switch
// stores a u64/i64/f64 whole, as set() does. Invariant: the page holds the applied frame's values at its words and
// the thread's own values everywhere else; `own` keeps the thread's values of the applied frame's words. `mark`
// is scratch for a switch between two frames.
let pageBuffer: ArrayBuffer | undefined;
let page = new BigInt64Array(0);
let own = new BigInt64Array(0);
let mark = new Uint32Array(0);
let stamp = 0;

/** The frame applied when each callback still running on this thread began (innermost last). */
const outer: (Frame | null)[] = [];

/** A walk-mode run() started on this thread: report it, unless a page-mode run() chose hooks already. */
export function noteWalkRun(): void {
  mechanism ??= 'walk';
}

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
  const words: number[] = [];
  const values: bigint[] = [];
  for (const { at, value } of entries) {
    for (let i = 0; i < value.length; i++) {
      words.push(at + i);
      values.push(value[i] as bigint);
    }
  }
  if (parent !== undefined) {
    // The parent's latest set() values are in the page while it is applied.
    if (parent === current.frame && parent.written) copyBack(parent);
    const mine = words.length;
    for (let i = 0; i < parent.words.length; i++) {
      const word = parent.words[i] as number;
      if (words.lastIndexOf(word, mine - 1) !== -1) continue;
      words.push(word);
      values.push(parent.values[i] as bigint);
    }
  }
  return new Frame(words, values);
}

/**
 * Called by set() (and BytesKey.view) while a frame is applied, before the key's page value changes: the key
 * becomes part of the running context (its thread value is kept, to be restored when the context leaves).
 */
export function claimForContext(key: Key): void {
  const frame = current.frame;
  if (frame === null) return;
  frame.written = true;
  const at = key.pageWord;
  if (frame.words.includes(at)) return;
  const end = Math.min(at + roundUpValueSize(key.size) / 8, page.length);
  for (let word = at; word < end; word++) {
    own[word] = page[word] as bigint; // not in the frame: the page holds the thread's value
    frame.words.push(word);
    frame.values.push(0n); // the page's value after set(), copied back when the frame leaves
  }
}

/**
 * Makes the page hold `next`'s values (null: the thread's own), writing only the two frames' words. Never throws
 * (it runs inside async hooks, where an exception ends the process).
 */
function switchTo(next: Frame | null): void {
  const previous = current.frame;
  if (previous === next) return;
  current.frame = next;
  if (page.length === 0) return; // the page was released (TaskLocalData closed): nothing to keep in step
  if (previous !== null && previous.written) copyBack(previous);
  if (previous !== null && next !== null) {
    switchBetween(previous, next);
  } else if (previous !== null) {
    // Leaving to the thread's own values. Word by word: each 8-byte store is whole for a BPF reader, as set()'s
    // are (memory coherence: keys.ts).
    const words = previous.words;
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as number;
      if (word < page.length) page[word] = own[word] as bigint;
    }
  } else if (next !== null) {
    const { words, values } = next;
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as number;
      if (word >= page.length) continue; // a key of a page since released (see bindPage)
      own[word] = page[word] as bigint;
      page[word] = values[i] as bigint;
    }
  }
}

/** From one frame to another (a run nested in a callback of another context): only the words that differ. */
function switchBetween(previous: Frame, next: Frame): void {
  if (stamp >= 0xffff_fff0) {
    mark.fill(0);
    stamp = 0;
  }
  const inNext = ++stamp;
  const inPrevious = ++stamp;
  for (const word of next.words) if (word < page.length) mark[word] = inNext;
  for (const word of previous.words) {
    if (word < page.length && mark[word] !== inNext) page[word] = own[word] as bigint; // the thread's value again
  }
  for (const word of previous.words) if (word < page.length) mark[word] = inPrevious;
  const { words, values } = next;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as number;
    if (word >= page.length) continue;
    if (mark[word] !== inPrevious) own[word] = page[word] as bigint; // not the previous frame's: the thread's
    page[word] = values[i] as bigint;
  }
}

/** Keeps what set() (or a view) wrote into the page while `frame` was applied. */
function copyBack(frame: Frame): void {
  frame.written = false;
  const { words, values } = frame;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as number;
    if (word < page.length) values[i] = page[word] as bigint;
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

/** Whether createHook() knows `trackPromises` (it validates it; older versions ignore unknown options). */
function hooksCanIgnorePromises(): boolean {
  try {
    createHook({ trackPromises: 'probe' } as unknown as HookCallbacks);
    return false;
  } catch (error) {
    return (error as { code?: unknown }).code === 'ERR_INVALID_ARG_TYPE';
  }
}
