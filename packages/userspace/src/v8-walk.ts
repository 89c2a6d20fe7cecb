// The V8 facts of the async-context walk (PROTOCOL.md §8), found and verified on this thread by the small V8-API
// addon in native-v8/ (N-API reaches neither V8's continuation-preserved embedder data nor identity hashes). The
// addon is built per Node ABI and loaded only where AsyncContextFrame is on; any failure leaves a reason a user
// can read, and run() then uses the page mechanism.
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { WalkFacts } from '@tld/protocol';

/** What the addon finds; `cpedOffset` (the slot's offset in the Isolate) is for reports only. */
export interface DiscoveredFacts extends Omit<WalkFacts, 'recordMagic' | 'alsAddress'> {
  readonly cpedOffset: number;
}

interface WalkAddon {
  discover(
    als: object,
    store: Uint8Array,
    other: Uint8Array,
    map: Map<object, object>,
    keys: object[],
    values: object[],
    deleted: object,
  ): DiscoveredFacts | { reason: string };
  /** Address of an ArrayBuffer's data. */
  dataAddress(buffer: ArrayBuffer): bigint;
  walk(facts: Uint8Array): bigint;
  /**
   * Keeps the 8 bytes at `byteOffset` of `page` equal to `als`'s tagged address (0 while a GC runs) until the
   * thread's environment ends; false for bad arguments.
   */
  trackAls(als: object, page: ArrayBuffer, byteOffset: number): boolean;
}

/**
 * What the walk uses of its AsyncLocalStorage: structural, so that the published types need no @types/node (a
 * consumer's tsc would otherwise fail on the node:async_hooks import).
 */
export interface StoreOf<T> {
  getStore(): T | undefined;
  run<R, A extends unknown[]>(store: T, fn: (...args: A) => R, ...args: A): R;
}

/** This thread's walk: its AsyncLocalStorage, the addon and the verified facts, or why there is none. */
export type ThreadWalk =
  | { readonly ok: true; readonly als: StoreOf<Uint8Array>; readonly addon: WalkAddon; readonly facts: DiscoveredFacts }
  | { readonly ok: false; readonly reason: string };

let thread: ThreadWalk | undefined;

/** The walk of the calling thread, discovered on first use (each worker has its own Isolate and module state). */
export function threadWalk(): ThreadWalk {
  thread ??= discover();
  return thread;
}

/**
 * Whether AsyncLocalStorage keeps its stores in AsyncContextFrame (V8's continuation data) rather than on
 * async_hooks' execution resource: a store entered inside an AsyncResource's scope sticks to the resource only in
 * the latter (only public behaviour is probed).
 */
export function storeFollowsContextFrame(): boolean {
  const probe = new AsyncLocalStorage<object>();
  const resource = new AsyncResource('TLD_CONTEXT_PROBE');
  const marker = {};
  resource.runInAsyncScope(() => probe.enterWith(marker));
  const sticks = resource.runInAsyncScope(() => probe.getStore()) === marker;
  probe.disable();
  return !sticks;
}

function loadAddon(): WalkAddon | string {
  const dir = fileURLToPath(new URL('../native-v8/', import.meta.url));
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(dir) as WalkAddon;
  } catch (error) {
    return (
      `the V8 walk addon has no build for Node.js ${process.version} (ABI ${process.versions.modules}) in ` +
      `${dir}prebuilds: rebuild @tld/userspace with this Node.js's headers (${(error as Error).message.split('\n')[0] ?? ''})`
    );
  }
}

/**
 * Whether this Node's AsyncLocalStorage is the AsyncContextFrame one, judged from its source text: unlike the
 * behavioural probe, this enables nothing (the async_hooks flavour of AsyncLocalStorage installs hooks when used).
 */
function looksLikeContextFrame(): boolean {
  return /AsyncContextFrame/.test(Function.prototype.toString.call(AsyncLocalStorage));
}

function discover(): ThreadWalk {
  // The text check first (free of side effects), then the behaviour that proves it.
  if (!looksLikeContextFrame() || !storeFollowsContextFrame()) {
    return {
      ok: false,
      reason:
        `Node.js ${process.version} runs AsyncLocalStorage without AsyncContextFrame (on by default from Node.js 24; ` +
        'Node.js 22 needs --experimental-async-context-frame)',
    };
  }
  const addon = loadAddon();
  if (typeof addon === 'string') return { ok: false, reason: addon };
  const als = new AsyncLocalStorage<Uint8Array>();
  // Each attempt proves every fact anew; a later one can succeed where a collection moved an object mid-check.
  let found = verify(addon, als);
  for (let attempt = 1; attempt < DISCOVERY_ATTEMPTS && 'reason' in found; attempt++) found = verify(addon, als);
  if ('reason' in found) return { ok: false, reason: `the async-context walk could not be verified: ${found.reason}` };
  return { ok: true, als, addon, facts: found };
}

const DISCOVERY_ATTEMPTS = 3;

/** One attempt: the facts the addon finds and verifies for `als` on this thread, or why it could not. */
function verify(addon: WalkAddon, als: AsyncLocalStorage<Uint8Array>): DiscoveredFacts | { reason: string } {
  // A store like every run()'s (a Uint8Array over a slab), another at another offset to confirm where the data
  // pointer sits, and a Map with known keys and values (one deleted, enough for chains) that the addon reads back
  // through the layout it found.
  const slab = new ArrayBuffer(256);
  const store = new Uint8Array(slab, 64, 64);
  const other = new Uint8Array(slab, 136, 64);
  const keys = Array.from({ length: 24 }, () => ({}));
  const values = keys.map((_, i) => ({ i }));
  const deleted = {};
  const map = new Map<object, object>();
  keys.forEach((key, i) => map.set(key, values[i] as object));
  map.set(deleted, {});
  map.delete(deleted);
  try {
    return als.run(store, () => addon.discover(als, store, other, map, keys, values, deleted));
  } catch (error) {
    return { reason: `the V8 walk addon failed: ${(error as Error).message}` };
  }
}
