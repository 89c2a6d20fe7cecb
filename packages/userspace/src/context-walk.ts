// run() by the async-context walk (PROTOCOL.md §8): nothing happens when the thread switches contexts. A run()
// builds an off-heap record of its values (its own merged over the enclosing run's) and runs `fn` inside
// AsyncLocalStorage.run(record); V8 carries the record along every continuation, and a reader that may read user
// memory walks from the thread's CPED slot to it. No async_hooks, no promise hooks, on any thread.
import {
  CTX_RECORD,
  type CtxRecordLayout,
  WALK_KEY_NAME,
  WALK_SIZE,
  WALK_STRUCT,
  ctxRecordLayout,
  encodeWalk,
  roundUpValueSize,
} from '@tld/protocol';
import { unknownKeyError } from './errors.js';
import type { Key } from './keys.js';
import { TraceContext } from './trace-context.js';
import { type ThreadWalk, threadWalk } from './v8-walk.js';

/** What a record needs of a key: where its value sits, and how to check and write a value. */
type RecordKey = Pick<Key, 'name' | 'offset' | 'size' | 'writeRun'>;

type Ready = Extract<ThreadWalk, { ok: true }>;

/** Per thread: the walk in use (set by the first walk-mode open()), what the records hold, and the facts' page. */
const state: {
  walk: Ready | undefined;
  /** Bytes of data[] the keys this thread handed out end within: a record's values area covers them. */
  extent: number;
  magic: bigint;
  /** The magic in u32 halves, as a record's header stores it. */
  magicLo: number;
  magicHi: number;
  published: ArrayBuffer | undefined;
} = { walk: undefined, extent: 0, magic: 0n, magicLo: 0, magicHi: 0, published: undefined };
state.magic = randomMagic();
state.magicLo = Number(state.magic & 0xffff_ffffn);
state.magicHi = Number(state.magic >> 32n);

function randomMagic(): bigint {
  const words = new BigUint64Array(1);
  crypto.getRandomValues(words);
  return (words[0] as bigint) | 1n; // never 0: a zeroed word is not a magic
}

const VALID = CTX_RECORD.VALID;
// Header fields as u32 indexes from the record's start (little-endian halves of the u64s).
const SEQ = CTX_RECORD.SEQ >>> 2;
const MAGIC = CTX_RECORD.MAGIC >>> 2;
const SELF = CTX_RECORD.SELF >>> 2;
const VALUES_OFF = CTX_RECORD.VALUES_OFF >>> 2;
const VALUES_SIZE = CTX_RECORD.VALUES_SIZE >>> 2;
const PRESENT_OFF = CTX_RECORD.PRESENT_OFF >>> 2;
const TRACE_ID = CTX_RECORD.TRACE_ID >>> 2;
const SPAN_ID = CTX_RECORD.SPAN_ID >>> 2;
const TRACE_FLAGS = CTX_RECORD.TRACE_FLAGS;
const TWO_32 = 2 ** 32;

/**
 * Records are carved from 64 KiB slabs (ArrayBuffers), never reused: a record is a Uint8Array over its part of a
 * slab, and that view is the run's AsyncLocalStorage store, so a slab lives while any frame can reach one of its
 * records. One ArrayBuffer per run() would cost about a microsecond (allocation and V8's external-memory
 * accounting); a view costs tens of nanoseconds.
 */
const SLAB_BYTES = 64 * 1024;

/** Views over a slab that keys write their values through (Key.writeRun), indexed from the slab's start. */
export interface RecordMemory {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i64: BigInt64Array;
  readonly f64: Float64Array;
}

interface Slab extends RecordMemory {
  readonly buffer: ArrayBuffer;
  readonly i32: Int32Array;
  /** The slab's address, in u32 halves. */
  readonly baseLo: number;
  readonly baseHi: number;
  used: number;
}
const slabOf = new WeakMap<ArrayBufferLike, Slab>();
let current: Slab | undefined;

function newSlab(walk: Ready): Slab {
  const buffer = new ArrayBuffer(SLAB_BYTES);
  const base = walk.addon.dataAddress(buffer);
  const slab: Slab = {
    buffer,
    u8: new Uint8Array(buffer),
    u32: new Uint32Array(buffer),
    i32: new Int32Array(buffer),
    i64: new BigInt64Array(buffer),
    f64: new Float64Array(buffer),
    baseLo: Number(base & 0xffff_ffffn),
    baseHi: Number(base >> 32n),
    used: 0,
  };
  slabOf.set(buffer, slab);
  return slab;
}

/** A fresh, zeroed, 8-aligned stretch of `size` bytes. */
function allocate(walk: Ready, size: number): Slab {
  if (current === undefined || current.used + size > SLAB_BYTES) current = newSlab(walk);
  return current;
}

const layouts = new Map<number, CtxRecordLayout>();

function layoutFor(valuesSize: number): CtxRecordLayout {
  let layout = layouts.get(valuesSize);
  if (layout === undefined) {
    layout = ctxRecordLayout(valuesSize);
    layouts.set(valuesSize, layout);
  }
  return layout;
}

function setBit(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = (bytes[at] as number) | mask;
}

/** Makes the walk this thread's run() mechanism (idempotent). */
export function useWalk(walk: Ready): void {
  state.walk = walk;
}

/** The walk this thread uses, or undefined (page mechanism, or no walk-mode open() yet). */
export function activeWalk(): Ready | undefined {
  return state.walk;
}

/** A key this thread handed out ends at `end` bytes of data[]: records made from now on cover it. */
export function noteKeyExtent(offset: number, size: number): void {
  const end = offset + roundUpValueSize(size);
  if (end > state.extent) state.extent = end;
}

const ALS_ADDRESS = WALK_STRUCT.at('als_address').offset;

/**
 * Writes `tld.walk` into this thread's data page at `byteOffset` (the key's value), once per page: every fact,
 * then `version` last, so a reader never takes half of them. `als_address` starts at 0 (readers match by hash
 * words) and the addon's GC callbacks keep it at the AsyncLocalStorage's address from then on.
 */
export function publishWalk(walk: Ready, page: ArrayBuffer, byteOffset: number): void {
  if (state.published === page) return;
  const bytes = encodeWalk({ ...walk.facts, recordMagic: state.magic, alsAddress: 0n });
  const target = new Uint8Array(page, byteOffset, WALK_SIZE);
  target.set(bytes.subarray(4), 4);
  Atomics.store(new Uint32Array(page, byteOffset, 1), 0, new DataView(bytes.buffer).getUint32(0, true));
  walk.addon.trackAls(walk.als, page, byteOffset + ALS_ADDRESS);
  state.published = page;
}

/** The key name the facts are published under (re-exported for TaskLocalData). */
export const WALK_KEY = { name: WALK_KEY_NAME, size: WALK_SIZE } as const;

/** The record (view) of the run the current async context belongs to, while that run is live; else undefined. */
export function liveRecord(): Uint8Array | undefined {
  const record = (state.walk as Ready).als.getStore();
  return record !== undefined && record[VALID] === 1 ? record : undefined;
}

/** Sets the presence bits of a key's words (its room: size rounded up to 8) in the bitmap at byte `presentAt`. */
function markPresent(bytes: Uint8Array, presentAt: number, offset: number, size: number): void {
  const end = (offset + roundUpValueSize(size)) >>> 3;
  for (let word = offset >>> 3; word < end; word++) setBit(bytes, presentAt + (word >>> 3), 1 << (word & 7));
}

/**
 * The header's OTEP 4947 trace fields of a fresh (zeroed) record at u32 index `at` of `slab`: `trace`'s, or with
 * none given the enclosing run's (at `parentAt` of `parentSlab`), else none. Written before `valid`, never after.
 */
function writeTrace(
  slab: Slab,
  at: number,
  trace: TraceContext | undefined,
  parentSlab: Slab | undefined,
  parentAt: number,
): void {
  if (trace !== undefined) {
    if (trace !== TraceContext.NONE) trace.writeHeader(slab.i32, slab.u8, at); // NONE: zeros already
  } else if (parentSlab !== undefined) {
    const u32 = slab.u32;
    const from = parentSlab.u32;
    for (let i = 0; i < 4; i++) u32[at + TRACE_ID + i] = from[parentAt + TRACE_ID + i] as number;
    u32[at + SPAN_ID] = from[parentAt + SPAN_ID] as number;
    u32[at + SPAN_ID + 1] = from[parentAt + SPAN_ID + 1] as number;
    slab.u8[4 * at + TRACE_FLAGS] = parentSlab.u8[4 * parentAt + TRACE_FLAGS] as number;
  }
}

/**
 * Runs `fn` in a new run whose record holds `values` (names of keys in `byName`) merged over the enclosing live
 * run's values, and in its header `trace` (undefined: the enclosing run's). Every value is checked as set() checks
 * it before the record can be seen; a bad one throws and leaves nothing behind.
 */
export function runInRecord<R>(
  walk: Ready,
  byName: ReadonlyMap<string, RecordKey>,
  values: Readonly<Record<string, unknown>>,
  fn: () => R,
  trace: TraceContext | undefined,
): R {
  const parent = liveRecord();
  const parentSlab = parent === undefined ? undefined : (slabOf.get(parent.buffer) as Slab);
  const parentAt = parent === undefined ? 0 : parent.byteOffset >>> 2;
  let valuesSize = state.extent;
  if (parentSlab !== undefined && (parentSlab.u32[parentAt + VALUES_SIZE] as number) > valuesSize) {
    valuesSize = parentSlab.u32[parentAt + VALUES_SIZE] as number;
  }
  const layout = layoutFor(valuesSize);
  const slab = allocate(walk, layout.size);
  const off = slab.used;
  const u32 = slab.u32;
  const at = off >>> 2;
  if (parentSlab !== undefined) {
    // The enclosing run's bitmap and values, word by word (both areas are 8-aligned, ours at least as large).
    const from = parentSlab.u32;
    const fromValues = parentAt + ((from[parentAt + VALUES_OFF] as number) >>> 2);
    const fromPresent = parentAt + ((from[parentAt + PRESENT_OFF] as number) >>> 2);
    const count = (from[parentAt + VALUES_SIZE] as number) >>> 2;
    const present = fromValues - fromPresent;
    for (let i = 0; i < present; i++) u32[at + (layout.presentOff >>> 2) + i] = from[fromPresent + i] as number;
    for (let i = 0; i < count; i++) u32[at + (layout.valuesOff >>> 2) + i] = from[fromValues + i] as number;
  }
  const valuesAt = off + layout.valuesOff;
  const presentAt = off + layout.presentOff;
  const names = Object.keys(values);
  try {
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const key = byName.get(name);
      if (key === undefined) throw unknownKeyError(name, [...byName.keys()]);
      key.writeRun(values[name], slab, valuesAt + key.offset);
      markPresent(slab.u8, presentAt, key.offset, key.size);
    }
  } catch (error) {
    slab.u8.fill(0, off, off + layout.size); // the stretch stays fresh for the next run
    throw error;
  }
  slab.used += layout.size;
  u32[at + MAGIC] = state.magicLo;
  u32[at + MAGIC + 1] = state.magicHi;
  const selfLo = slab.baseLo + off; // the record's address, low half, with at most one carry into the high half
  u32[at + SELF] = selfLo >= TWO_32 ? selfLo - TWO_32 : selfLo;
  u32[at + SELF + 1] = selfLo >= TWO_32 ? slab.baseHi + 1 : slab.baseHi;
  u32[at + VALUES_OFF] = layout.valuesOff;
  u32[at + VALUES_SIZE] = valuesSize;
  u32[at + PRESENT_OFF] = layout.presentOff;
  writeTrace(slab, at, trace, parentSlab, parentAt);
  const record = new Uint8Array(slab.buffer, off, layout.size);
  // Nothing can reach the record before als.run() installs its frame; valid is still stored last.
  Atomics.store(record, VALID, 1);
  let result: R;
  try {
    result = walk.als.run(record, callWatched, fn);
  } catch (error) {
    Atomics.store(record, VALID, 0);
    throw error;
  }
  if (!(result instanceof Promise)) Atomics.store(record, VALID, 0);
  return result;
}

/**
 * Calls `fn` inside the run; an async fn's run ends when its promise settles. The reactions are registered inside
 * the run, so they run in it and find the record as the store (no closure per run); the caller gets a promise that
 * settles the same way, just after.
 */
function callWatched<R>(fn: () => R): R {
  const result = fn();
  return result instanceof Promise ? (result.then(endFulfilled, endRejected) as R) : result;
}

function endRun(): void {
  const record = (state.walk as Ready).als.getStore();
  if (record !== undefined) Atomics.store(record, VALID, 0);
}

function endFulfilled(value: unknown): unknown {
  endRun();
  return value;
}

function endRejected(error: unknown): never {
  endRun();
  throw error;
}

/**
 * set() inside a live run: the key checks and writes its value into the run's record under the record's seqlock,
 * and its words become the run's. false when the key lies beyond the record (created after the run started): the
 * caller stores into the page.
 */
export function writeInRecord(
  record: Uint8Array,
  key: RecordKey,
  value: unknown,
  truncate: boolean | undefined,
): boolean {
  const slab = slabOf.get(record.buffer) as Slab;
  const at = record.byteOffset >>> 2;
  if (key.offset + roundUpValueSize(key.size) > (slab.u32[at + VALUES_SIZE] as number)) return false;
  const seq = at + SEQ;
  const count = Atomics.load(slab.i32, seq);
  Atomics.store(slab.i32, seq, count + 1); // odd: a reader that sees it (or a change of it) gives no value
  try {
    key.writeRun(value, slab, record.byteOffset + (slab.u32[at + VALUES_OFF] as number) + key.offset, truncate);
    markPresent(slab.u8, record.byteOffset + (slab.u32[at + PRESENT_OFF] as number), key.offset, key.size);
  } finally {
    Atomics.store(slab.i32, seq, count + 2);
  }
  return true;
}

/** get() inside a live run: the key's bytes in the record when the run sets it, else undefined (the page's). */
export function readInRecord(record: Uint8Array, offset: number, size: number): Uint8Array | undefined {
  const slab = slabOf.get(record.buffer) as Slab;
  const at = record.byteOffset >>> 2;
  if (offset + size > (slab.u32[at + VALUES_SIZE] as number)) return undefined;
  const word = offset >>> 3;
  const presentOff = slab.u32[at + PRESENT_OFF] as number;
  if (((record[presentOff + (word >>> 3)] as number) & (1 << (word & 7))) === 0) return undefined;
  const start = (slab.u32[at + VALUES_OFF] as number) + offset;
  return record.subarray(start, start + size);
}

/**
 * BytesKey.view inside a live run: the record's bytes of the key, its words marked present; a key the run did not
 * set starts from `initial` (the page's value, as page-mode run() would show it).
 */
export function viewInRecord(
  record: Uint8Array,
  offset: number,
  size: number,
  initial: Uint8Array,
): Uint8Array | undefined {
  const slab = slabOf.get(record.buffer) as Slab;
  const at = record.byteOffset >>> 2;
  const room = roundUpValueSize(size);
  if (offset + room > (slab.u32[at + VALUES_SIZE] as number)) return undefined;
  const start = (slab.u32[at + VALUES_OFF] as number) + offset;
  const presentOff = slab.u32[at + PRESENT_OFF] as number;
  if (readInRecord(record, offset, size) === undefined) {
    record.fill(0, start, start + room);
    record.set(initial.subarray(0, size), start);
  }
  for (let word = offset >>> 3; word < (offset + room) >>> 3; word++)
    setBit(record, presentOff + (word >>> 3), 1 << (word & 7));
  return record.subarray(start, start + size);
}

/** For tests and tools: the thread's walk, discovering it if needed. */
export { threadWalk };
