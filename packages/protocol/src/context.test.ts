// Every number below is copied from the tables of PROTOCOL.md §8, not from context.ts, so a wrong constant fails.
import { describe, expect, it } from 'vitest';
import {
  CTX_RECORD_HEADER_SIZE,
  CTX_RECORD_STRUCT,
  WALK_KEY_NAME,
  WALK_SIZE,
  WALK_STRUCT,
  ctxRecordLayout,
  decodeWalk,
  encodeWalk,
  initCtxRecord,
  presentBit,
  readCtxRecordValue,
  type WalkFacts,
} from './context.js';

const walkOffsets: Record<string, [number, number]> = {
  version: [0, 4],
  als_hash: [4, 4],
  cped_slot: [8, 8],
  no_frame: [16, 8],
  record_magic: [24, 8],
  key_hash_off: [32, 2],
  frame_table_off: [34, 2],
  table_nelements_off: [36, 2],
  table_ndeleted_off: [38, 2],
  table_nbuckets_off: [40, 2],
  table_buckets_off: [42, 2],
  entry_words: [44, 2],
  entry_key: [46, 2],
  entry_value: [48, 2],
  entry_chain: [50, 2],
  store_record_off: [52, 2],
  reserved: [54, 2],
  als_address: [56, 8],
};

const recordOffsets: Record<string, [number, number]> = {
  trace_id: [0, 16],
  span_id: [16, 8],
  valid: [24, 1],
  trace_flags: [25, 1],
  attrs_data_size: [26, 2],
  seq: [28, 4],
  magic: [32, 8],
  self: [40, 8],
  values_off: [48, 4],
  values_size: [52, 4],
  present_off: [56, 4],
  reserved: [60, 4],
};

function sizes(table: typeof WALK_STRUCT): Record<string, [number, number]> {
  return Object.fromEntries(
    table.fields.map((f) => [f.name, [f.offset, f.count * { u8: 1, u16: 2, u32: 4, u64: 8 }[f.type]]]),
  );
}

const facts: WalkFacts = {
  cpedSlot: 0x7f12_3456_7890n,
  noFrame: 0x3a1b_0000_0011n,
  alsHash: 0x1234_567,
  recordMagic: 0xdead_beef_cafe_f00dn,
  keyHashOff: 8,
  frameTableOff: 24,
  tableNelementsOff: 16,
  tableNdeletedOff: 24,
  tableNbucketsOff: 32,
  tableBucketsOff: 40,
  entryWords: 3,
  entryKey: 0,
  entryValue: 1,
  entryChain: 2,
  storeRecordOff: 48,
  alsAddress: 0x7f00_1234_5679n,
};

describe('PROTOCOL.md §8 struct tld_walk', () => {
  it('has the documented fields at the documented offsets, 64 bytes, under the key tld.walk', () => {
    expect(sizes(WALK_STRUCT)).toEqual(walkOffsets);
    expect(WALK_SIZE).toBe(64);
    expect(WALK_KEY_NAME).toBe('tld.walk');
  });

  it('encodes and decodes every fact, version 2 at offset 0', () => {
    const bytes = encodeWalk(facts);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(0, true)).toBe(2);
    expect(view.getBigUint64(8, true)).toBe(facts.cpedSlot);
    expect(view.getUint16(52, true)).toBe(48);
    expect(view.getBigUint64(56, true)).toBe(facts.alsAddress);
    expect(decodeWalk(bytes)).toEqual({ ...facts, version: 2 });
    expect(decodeWalk(encodeWalk(facts, 0)).version).toBe(0);
  });
});

describe('PROTOCOL.md §8 struct tld_ctx_record', () => {
  it('starts with the OTEP 4947 lead-in and has a 64-byte header', () => {
    expect(sizes(CTX_RECORD_STRUCT)).toEqual(recordOffsets);
    expect(CTX_RECORD_HEADER_SIZE).toBe(64);
  });

  it('places the bitmap at 64 and the values after it, one bit per 8-byte word', () => {
    expect(ctxRecordLayout(0)).toEqual({ valuesSize: 0, presentOff: 64, presentBytes: 0, valuesOff: 64, size: 64 });
    expect(ctxRecordLayout(8)).toMatchObject({ presentBytes: 8, valuesOff: 72, size: 80 });
    expect(ctxRecordLayout(512)).toMatchObject({ presentBytes: 8, valuesOff: 72, size: 584 });
    expect(ctxRecordLayout(520)).toMatchObject({ presentBytes: 16, valuesOff: 80 });
    expect(ctxRecordLayout(4088)).toMatchObject({ presentBytes: 64, valuesOff: 128, size: 4216 });
    expect(ctxRecordLayout(4096 - 520)).toMatchObject({ presentBytes: 56, valuesOff: 120 });
    for (const bad of [-8, 4, 4096, 1.5, Number.NaN]) expect(() => ctxRecordLayout(bad)).toThrow(RangeError);
    expect(presentBit(ctxRecordLayout(4088), 0)).toEqual({ byte: 64, mask: 1 });
    expect(presentBit(ctxRecordLayout(4088), 72)).toEqual({ byte: 65, mask: 2 });
  });

  it('gives a value only when valid, present and inside the values area', () => {
    const layout = ctxRecordLayout(24);
    const view = new DataView(new ArrayBuffer(layout.size));
    initCtxRecord(view, layout, 7n, 0x1000n);
    expect(view.getBigUint64(32, true)).toBe(7n);
    expect(view.getBigUint64(40, true)).toBe(0x1000n);
    expect([view.getUint32(48, true), view.getUint32(52, true), view.getUint32(56, true)]).toEqual([72, 24, 64]);
    view.setUint32(layout.valuesOff + 8, 0xabcd, true);
    view.setUint8(64, 0b10);
    expect(readCtxRecordValue(view, 8, 4)).toBeUndefined(); // valid still 0
    view.setUint8(24, 1);
    expect(readCtxRecordValue(view, 8, 4)).toEqual(new Uint8Array([0xcd, 0xab, 0, 0]));
    expect(readCtxRecordValue(view, 0, 8)).toBeUndefined(); // word 0 not present
    expect(readCtxRecordValue(view, 16, 16)).toBeUndefined(); // beyond values_size
  });
});
