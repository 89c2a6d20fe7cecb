// run() by the async-context walk (PROTOCOL.md §8): nothing happens when the thread switches contexts. A run()
// builds an off-heap record of its values (its own merged over the enclosing run's) and runs `fn` inside
// AsyncLocalStorage.run(record); V8 carries the record along every continuation, and a reader that may read user
// memory walks from the thread's CPED slot to it. No async_hooks, no promise hooks, on any thread.
import { CTX_RECORD, type CtxRecordLayout, WALK_KEY_NAME, WALK_SIZE, ctxRecordLayout, encodeWalk, roundUpValueSize } from '@tld/protocol';
import { type ThreadWalk, RecordBuffer, threadWalk } from './v8-walk.js';

/** One key's value for a walk run: `value` words for the record's value words from `at` (= key offset / 8) on. */
export interface WalkEntry {
  readonly at: number;
  readonly value: bigint[];
}

type Ready = Extract<ThreadWalk, { ok: true }>;

/** Per thread: the walk in use (set by the first walk-mode open()), what the records hold, and the facts' page. */
const state: {
  walk: Ready | undefined;
  /** Bytes of data[] the keys this thread handed out end within: a record's values area covers them. */
  extent: number;
  magic: bigint;
  /** The magic as the record's BigInt64Array stores it. */
  magicWord: bigint;
  published: ArrayBuffer | undefined;
} = { walk: undefined, extent: 0, magic: 0n, magicWord: 0n, published: undefined };
state.magic = randomMagic();
state.magicWord = BigInt.asIntN(64, state.magic);

function randomMagic(): bigint {
  const words = new BigUint64Array(1);
  crypto.getRandomValues(words);
  return (words[0] as bigint) | 1n; // never 0: a zeroed word is not a magic
}

const VALID = CTX_RECORD.VALID;
const SEQ_INDEX = CTX_RECORD.SEQ / 4;
const MAGIC_WORD = CTX_RECORD.MAGIC / 8;
const OFFSETS_WORD = CTX_RECORD.VALUES_OFF / 8; // values_off | values_size << 32
const PRESENT_WORD = CTX_RECORD.PRESENT_OFF / 8; // present_off | reserved << 32

interface CachedLayout extends CtxRecordLayout {
  readonly offsetsWord: bigint;
  readonly presentWord: bigint;
}
const layouts = new Map<number, CachedLayout>();

function layoutFor(valuesSize: number): CachedLayout {
  let layout = layouts.get(valuesSize);
  if (layout === undefined) {
    const base = ctxRecordLayout(valuesSize);
    layout = {
      ...base,
      offsetsWord: BigInt(base.valuesOff) | (BigInt(base.valuesSize) << 32n),
      presentWord: BigInt(base.presentOff),
    };
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

/**
 * Writes `tld.walk` into this thread's data page at `byteOffset` (the key's value), once per page: every fact,
 * then `version` last, so a reader never takes half of them.
 */
export function publishWalk(walk: Ready, page: ArrayBuffer, byteOffset: number): void {
  if (state.published === page) return;
  const bytes = encodeWalk({ ...walk.facts, recordMagic: state.magic });
  const target = new Uint8Array(page, byteOffset, WALK_SIZE);
  target.set(bytes.subarray(4), 4);
  Atomics.store(new Uint32Array(page, byteOffset, 1), 0, new DataView(bytes.buffer).getUint32(0, true));
  state.published = page;
}

/** The key name the facts are published under (re-exported for TaskLocalData). */
export const WALK_KEY = { name: WALK_KEY_NAME, size: WALK_SIZE } as const;

/** The record of the run the current async context belongs to, while that run is live; else undefined. */
export function liveRecord(): RecordBuffer | undefined {
  const record = (state.walk as Ready).als.getStore();
  if (record === undefined) return undefined;
  const bytes = record.bytes as Uint8Array;
  return bytes[VALID] === 1 ? record : undefined;
}

/** Runs `fn` in a new run whose record holds `entries` merged over the enclosing live run's values. */
export function runInRecord<R>(walk: Ready, entries: readonly WalkEntry[], fn: () => R): R {
  const parent = liveRecord();
  let valuesSize = state.extent;
  if (parent !== undefined && parent.valuesSize > valuesSize) valuesSize = parent.valuesSize;
  const layout = layoutFor(valuesSize);
  const record = new RecordBuffer(layout.size);
  const words = new BigInt64Array(record);
  const bytes = new Uint8Array(record);
  record.words = words;
  record.bytes = bytes;
  record.valuesOff = layout.valuesOff;
  record.valuesSize = valuesSize;
  record.presentOff = layout.presentOff;
  words[MAGIC_WORD] = state.magicWord;
  words[OFFSETS_WORD] = layout.offsetsWord;
  words[PRESENT_WORD] = layout.presentWord;
  walk.addon.stampSelf(record, CTX_RECORD.SELF);
  if (parent !== undefined) {
    const from = parent.bytes as Uint8Array;
    bytes.set(from.subarray(parent.presentOff, parent.valuesOff), layout.presentOff);
    bytes.set(from.subarray(parent.valuesOff, parent.valuesOff + parent.valuesSize), layout.valuesOff);
  }
  const base = layout.valuesOff >>> 3;
  const presentOff = layout.presentOff;
  for (let e = 0; e < entries.length; e++) {
    const { at, value } = entries[e] as WalkEntry;
    for (let i = 0; i < value.length; i++) {
      const word = at + i;
      words[base + word] = value[i] as bigint;
      setBit(bytes, presentOff + (word >>> 3), 1 << (word & 7));
    }
  }
  // Nothing can reach the record before als.run() installs its frame; valid is still stored last.
  Atomics.store(bytes, VALID, 1);
  let result: R;
  try {
    result = walk.als.run(record, fn);
  } catch (error) {
    Atomics.store(bytes, VALID, 0);
    throw error;
  }
  if (result instanceof Promise) {
    // The run ends when the promise settles; the caller gets a promise that settles the same way, just after.
    const end = (): void => void Atomics.store(bytes, VALID, 0);
    return result.then(
      (value: unknown) => {
        end();
        return value;
      },
      (error: unknown) => {
        end();
        throw error;
      },
    ) as R;
  }
  Atomics.store(bytes, VALID, 0);
  return result;
}

/**
 * set() inside a live run: the value words go into the run's record under its seqlock, with their presence bits.
 * false when the key lies beyond the record (created after the run started): the caller stores into the page.
 */
export function writeInRecord(record: RecordBuffer, offset: number, value: bigint[]): boolean {
  if (offset + value.length * 8 > record.valuesSize) return false;
  const words = record.words as BigInt64Array;
  const bytes = record.bytes as Uint8Array;
  const seq = (record.seq ??= new Int32Array(record, 0, SEQ_INDEX + 1));
  const count = Atomics.load(seq, SEQ_INDEX);
  Atomics.store(seq, SEQ_INDEX, count + 1); // odd: a reader that sees it (or a change of it) retries or gives up
  const base = (record.valuesOff + offset) >>> 3;
  const at = offset >>> 3;
  for (let i = 0; i < value.length; i++) {
    words[base + i] = value[i] as bigint;
    setBit(bytes, record.presentOff + ((at + i) >>> 3), 1 << ((at + i) & 7));
  }
  Atomics.store(seq, SEQ_INDEX, count + 2);
  return true;
}

/** get() inside a live run: the key's bytes in the record when the run sets it, else undefined (the page's). */
export function readInRecord(record: RecordBuffer, offset: number, size: number): Uint8Array | undefined {
  if (offset + size > record.valuesSize) return undefined;
  const bytes = record.bytes as Uint8Array;
  const word = offset >>> 3;
  if (((bytes[record.presentOff + (word >>> 3)] as number) & (1 << (word & 7))) === 0) return undefined;
  const start = record.valuesOff + offset;
  return bytes.subarray(start, start + size);
}

/**
 * BytesKey.view inside a live run: the record's bytes of the key, its words marked present; a key the run did not
 * set starts from `initial` (the page's value, as page-mode run() would show it).
 */
export function viewInRecord(record: RecordBuffer, offset: number, size: number, initial: Uint8Array): Uint8Array | undefined {
  const room = roundUpValueSize(size);
  if (offset + room > record.valuesSize) return undefined;
  const bytes = record.bytes as Uint8Array;
  const start = record.valuesOff + offset;
  const fresh = readInRecord(record, offset, size) === undefined;
  for (let word = offset >>> 3; word < (offset + room) >>> 3; word++) setBit(bytes, record.presentOff + (word >>> 3), 1 << (word & 7));
  if (fresh) {
    bytes.fill(0, start, start + room);
    bytes.set(initial.subarray(0, size), start);
  }
  return bytes.subarray(start, start + size);
}

/** For tests and tools: the thread's walk, discovering it if needed. */
export { threadWalk };
