// The async-context walk (PROTOCOL.md §8): the facts a thread publishes under the key `tld.walk`, and the off-heap
// record a run() keeps behind its AsyncLocalStorage store. Each struct is one table of fields; the C header, the
// encoders below and the tests all derive from these tables, so an offset is written here and nowhere else.

import { VALUE_ALIGN, layoutFor } from './layout.js';

export type FieldType = 'u8' | 'u16' | 'u32' | 'u64';

export interface StructField {
  readonly name: string;
  readonly type: FieldType;
  /** Number of elements: 1 for a scalar, n for `type name[n]`. */
  readonly count: number;
  readonly offset: number;
  /** One line for the generated header. */
  readonly doc: string;
}

export interface StructTable {
  readonly name: string;
  readonly size: number;
  readonly fields: readonly StructField[];
  /** Field by name; throws for a name the table lacks (a typo in code, not bad input). */
  readonly at: (name: string) => StructField;
}

const TYPE_BYTES: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

export function fieldBytes(field: StructField): number {
  return TYPE_BYTES[field.type] * field.count;
}

/** Builds a table, checking natural alignment, no overlap, and that the size covers every field (8-aligned). */
function defineStruct(
  name: string,
  size: number,
  fields: Array<Omit<StructField, 'count'> & { count?: number }>,
): StructTable {
  let end = 0;
  const out: StructField[] = fields.map((f) => ({ ...f, count: f.count ?? 1 }));
  for (const f of out) {
    if (f.offset % TYPE_BYTES[f.type] !== 0) throw new Error(`${name}.${f.name}: offset ${f.offset} not aligned`);
    if (f.offset < end) throw new Error(`${name}.${f.name}: overlaps the field before it`);
    end = f.offset + fieldBytes(f);
  }
  if (end > size || size % 8 !== 0) throw new Error(`${name}: size ${size} does not fit its fields`);
  const byName = new Map(out.map((f) => [f.name, f]));
  return Object.freeze({
    name,
    size,
    fields: Object.freeze(out),
    at(field: string): StructField {
      const f = byName.get(field);
      if (!f) throw new Error(`${name} has no field ${field}`);
      return f;
    },
  });
}

/** Key name of the published walk facts (a bytes key of WALK_STRUCT.size bytes in each thread's data page). */
export const WALK_KEY_NAME = 'tld.walk';
/** `version` of the facts this protocol describes (2: `als_address` added); 0 = not (yet) valid. */
export const WALK_VERSION = 2;

/**
 * struct tld_walk. V8 offsets are byte offsets from the untagged object start (tagged pointer − 1); official Node
 * builds: no pointer compression, 8-byte tagged words, heap objects have the low bit set, a Smi is value << 32.
 */
export const WALK_STRUCT: StructTable = defineStruct('tld_walk', 64, [
  {
    name: 'version',
    type: 'u32',
    offset: 0,
    doc: 'WALK_VERSION, stored last; 0 = no walk on this thread (use the page)',
  },
  {
    name: 'als_hash',
    type: 'u32',
    offset: 4,
    doc: "identity hash of the writer's AsyncLocalStorage (the frame's key)",
  },
  {
    name: 'cped_slot',
    type: 'u64',
    offset: 8,
    doc: "address of the Isolate's continuation-preserved embedder data slot",
  },
  { name: 'no_frame', type: 'u64', offset: 16, doc: 'tagged value the slot holds outside any context (undefined)' },
  { name: 'record_magic', type: 'u64', offset: 24, doc: "random per thread: the magic of this thread's records" },
  { name: 'key_hash_off', type: 'u16', offset: 32, doc: 'offset in the key object of the word holding Smi(als_hash)' },
  { name: 'frame_table_off', type: 'u16', offset: 34, doc: 'offset of the table field in the frame (a JSMap)' },
  { name: 'table_nelements_off', type: 'u16', offset: 36, doc: 'OrderedHashMap: Smi number of elements' },
  { name: 'table_ndeleted_off', type: 'u16', offset: 38, doc: 'OrderedHashMap: Smi number of deleted elements' },
  {
    name: 'table_nbuckets_off',
    type: 'u16',
    offset: 40,
    doc: 'OrderedHashMap: Smi number of buckets (a power of two)',
  },
  { name: 'table_buckets_off', type: 'u16', offset: 42, doc: 'OrderedHashMap: first bucket (Smi entry index or -1)' },
  { name: 'entry_words', type: 'u16', offset: 44, doc: 'words per entry; entries start at buckets_off + 8 * nbuckets' },
  { name: 'entry_key', type: 'u16', offset: 46, doc: 'word index of the key in an entry' },
  { name: 'entry_value', type: 'u16', offset: 48, doc: 'word index of the value in an entry' },
  { name: 'entry_chain', type: 'u16', offset: 50, doc: 'word index of the chain (Smi next entry or -1) in an entry' },
  { name: 'store_record_off', type: 'u16', offset: 52, doc: "offset in the store object of the record's address" },
  { name: 'reserved', type: 'u16', offset: 54, doc: 'zero' },
  {
    name: 'als_address',
    type: 'u64',
    offset: 56,
    doc: "the AsyncLocalStorage's tagged address since the last GC; 0 while a GC may move it",
  },
]);

/** Bytes of the published facts: the size of the `tld.walk` key. */
export const WALK_SIZE = WALK_STRUCT.size;

/**
 * struct tld_ctx_record: the header of the record a run() keeps off-heap. Its first 28 bytes are OTEP 4947's
 * Thread-Local Context Record lead-in (trace id, span id, valid, trace flags, attrs-data-size = 0); the rest is ours.
 * The presence bitmap starts at `present_off`, the values at `values_off` (both 8-aligned, after the header).
 */
export const CTX_RECORD_STRUCT: StructTable = defineStruct('tld_ctx_record', 64, [
  { name: 'trace_id', type: 'u8', count: 16, offset: 0, doc: 'OTEP 4947: W3C trace id, zero = none' },
  { name: 'span_id', type: 'u8', count: 8, offset: 16, doc: 'OTEP 4947: W3C span id, zero = none' },
  { name: 'valid', type: 'u8', offset: 24, doc: '1 while the run is live (stored last); 0 once it ended' },
  { name: 'trace_flags', type: 'u8', offset: 25, doc: 'OTEP 4947: W3C trace flags, zero without a trace id' },
  { name: 'attrs_data_size', type: 'u16', offset: 26, doc: 'OTEP 4947: always 0 (values live in the values area)' },
  { name: 'seq', type: 'u32', offset: 28, doc: 'seqlock: odd while the writer changes values' },
  { name: 'magic', type: 'u64', offset: 32, doc: 'tld_walk.record_magic' },
  { name: 'self', type: 'u64', offset: 40, doc: "the record's own address" },
  { name: 'values_off', type: 'u32', offset: 48, doc: 'offset of the values area from the record' },
  { name: 'values_size', type: 'u32', offset: 52, doc: 'bytes of the values area (key offsets below it)' },
  { name: 'present_off', type: 'u32', offset: 56, doc: 'offset of the presence bitmap: bit i = value word i is set' },
  { name: 'reserved', type: 'u32', offset: 60, doc: 'zero' },
]);

/** Bytes of the record header; the bitmap follows it. */
export const CTX_RECORD_HEADER_SIZE = CTX_RECORD_STRUCT.size;
/** Where the presence bitmap starts in a record. */
export const CTX_RECORD_PRESENT_OFFSET = CTX_RECORD_HEADER_SIZE;
/** Values a record may hold: at most the data[] bytes of a 4 KiB page (readers bound their copies by it). */
export const CTX_RECORD_MAX_VALUES = layoutFor().dataBytes;

/** Where a record's parts sit for a values area of `valuesSize` bytes (a multiple of 8, ≤ CTX_RECORD_MAX_VALUES). */
export interface CtxRecordLayout {
  readonly valuesSize: number;
  readonly presentOff: number;
  readonly presentBytes: number;
  readonly valuesOff: number;
  /** Bytes to allocate. */
  readonly size: number;
}

export function ctxRecordLayout(valuesSize: number): CtxRecordLayout {
  if (
    !Number.isInteger(valuesSize) ||
    valuesSize < 0 ||
    valuesSize % VALUE_ALIGN !== 0 ||
    valuesSize > CTX_RECORD_MAX_VALUES
  ) {
    throw new RangeError(
      `a record's values area must be a multiple of 8 from 0 to ${CTX_RECORD_MAX_VALUES}, got ${String(valuesSize)}`,
    );
  }
  // One bit per 8-byte value word (a u64 of bitmap covers 512 bytes), rounded up to whole u64 words.
  const presentBytes = Math.ceil(valuesSize / 512) * 8;
  const valuesOff = CTX_RECORD_PRESENT_OFFSET + presentBytes;
  return Object.freeze({
    valuesSize,
    presentOff: CTX_RECORD_PRESENT_OFFSET,
    presentBytes,
    valuesOff,
    size: valuesOff + valuesSize,
  });
}

/** The facts a thread publishes under `tld.walk`; every number was found and verified on that thread. */
export interface WalkFacts {
  readonly cpedSlot: bigint;
  readonly noFrame: bigint;
  readonly alsHash: number;
  readonly recordMagic: bigint;
  readonly keyHashOff: number;
  readonly frameTableOff: number;
  readonly tableNelementsOff: number;
  readonly tableNdeletedOff: number;
  readonly tableNbucketsOff: number;
  readonly tableBucketsOff: number;
  readonly entryWords: number;
  readonly entryKey: number;
  readonly entryValue: number;
  readonly entryChain: number;
  readonly storeRecordOff: number;
  /** Kept current by the writer's GC callbacks (0 while a GC runs); readers compare keys with it. */
  readonly alsAddress: bigint;
}

/** Fields of WALK_STRUCT that are not facts: the version (stored last, on its own) and the reserved padding. */
const NOT_FACTS = new Set(['version', 'reserved']);

/** Each fact with its field of WALK_STRUCT: cped_slot is cpedSlot, and so on. */
const WALK_FACT_FIELDS = WALK_STRUCT.fields
  .filter((field) => !NOT_FACTS.has(field.name))
  .map((field): [keyof WalkFacts, StructField] => [
    field.name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()) as keyof WalkFacts,
    field,
  ]);

function put(view: DataView, at: number, field: StructField, value: number | bigint): void {
  switch (field.type) {
    case 'u8':
      view.setUint8(at + field.offset, Number(value));
      break;
    case 'u16':
      view.setUint16(at + field.offset, Number(value), true);
      break;
    case 'u32':
      view.setUint32(at + field.offset, Number(value), true);
      break;
    case 'u64':
      view.setBigUint64(at + field.offset, BigInt(value), true);
      break;
  }
}

function get(view: DataView, at: number, field: StructField): number | bigint {
  switch (field.type) {
    case 'u8':
      return view.getUint8(at + field.offset);
    case 'u16':
      return view.getUint16(at + field.offset, true);
    case 'u32':
      return view.getUint32(at + field.offset, true);
    case 'u64':
      return view.getBigUint64(at + field.offset, true);
  }
}

/** The 64 bytes of `tld.walk` for these facts, `version` included (callers that write in place store it last). */
export function encodeWalk(facts: WalkFacts, version = WALK_VERSION): Uint8Array {
  const bytes = new Uint8Array(WALK_SIZE);
  const view = new DataView(bytes.buffer);
  for (const [prop, field] of WALK_FACT_FIELDS) put(view, 0, field, facts[prop]);
  put(view, 0, WALK_STRUCT.at('version'), version);
  return bytes;
}

/** Reads `tld.walk` bytes back; `version` 0 means the thread publishes no walk. */
export function decodeWalk(bytes: Uint8Array): WalkFacts & { readonly version: number } {
  if (bytes.length < WALK_SIZE) throw new RangeError(`tld.walk needs ${WALK_SIZE} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, number | bigint> = { version: get(view, 0, WALK_STRUCT.at('version')) };
  for (const [prop, field] of WALK_FACT_FIELDS) out[prop] = get(view, 0, field);
  return out as unknown as WalkFacts & { readonly version: number };
}

/** Byte offset of a field in a struct (for code that stores one field at a time). */
export function fieldOffset(table: StructTable, name: string): number {
  return table.at(name).offset;
}

/** Offsets of the record header fields the writer touches on every run, as plain numbers. */
export const CTX_RECORD = Object.freeze({
  VALID: fieldOffset(CTX_RECORD_STRUCT, 'valid'),
  SEQ: fieldOffset(CTX_RECORD_STRUCT, 'seq'),
  MAGIC: fieldOffset(CTX_RECORD_STRUCT, 'magic'),
  SELF: fieldOffset(CTX_RECORD_STRUCT, 'self'),
  VALUES_OFF: fieldOffset(CTX_RECORD_STRUCT, 'values_off'),
  VALUES_SIZE: fieldOffset(CTX_RECORD_STRUCT, 'values_size'),
  PRESENT_OFF: fieldOffset(CTX_RECORD_STRUCT, 'present_off'),
  TRACE_ID: fieldOffset(CTX_RECORD_STRUCT, 'trace_id'),
  SPAN_ID: fieldOffset(CTX_RECORD_STRUCT, 'span_id'),
  TRACE_FLAGS: fieldOffset(CTX_RECORD_STRUCT, 'trace_flags'),
});

/**
 * Writes a fresh record's header (valid stays 0: the writer stores it last, after the values). `view` covers the
 * record from its first byte; `self` is the record's address.
 */
export function initCtxRecord(view: DataView, layout: CtxRecordLayout, magic: bigint, self: bigint): void {
  view.setBigUint64(CTX_RECORD.MAGIC, magic, true);
  view.setBigUint64(CTX_RECORD.SELF, self, true);
  view.setUint32(CTX_RECORD.VALUES_OFF, layout.valuesOff, true);
  view.setUint32(CTX_RECORD.VALUES_SIZE, layout.valuesSize, true);
  view.setUint32(CTX_RECORD.PRESENT_OFF, layout.presentOff, true);
}

/** Byte (from the record start) and bit of the presence flag of the value word holding key offset `keyOffset`. */
export function presentBit(layout: CtxRecordLayout, keyOffset: number): { byte: number; mask: number } {
  const word = keyOffset >>> 3;
  return { byte: layout.presentOff + (word >>> 3), mask: 1 << (word & 7) };
}

/**
 * Reads a key's value the way a reader does: `undefined` when the record is not valid, the key lies beyond the
 * values area, or its first word is not present (the reader then uses the page); bytes otherwise.
 */
export function readCtxRecordValue(view: DataView, keyOffset: number, size: number): Uint8Array | undefined {
  if (view.getUint8(CTX_RECORD.VALID) !== 1) return undefined;
  const valuesOff = view.getUint32(CTX_RECORD.VALUES_OFF, true);
  const valuesSize = view.getUint32(CTX_RECORD.VALUES_SIZE, true);
  const presentOff = view.getUint32(CTX_RECORD.PRESENT_OFF, true);
  if (keyOffset + size > valuesSize) return undefined;
  const word = keyOffset >>> 3;
  if ((view.getUint8(presentOff + (word >>> 3)) & (1 << (word & 7))) === 0) return undefined;
  const start = view.byteOffset + valuesOff + keyOffset;
  return new Uint8Array(view.buffer.slice(start, start + size));
}
