import { describe, expect, it } from 'vitest';
import { TypedArrayMemory } from './atomic-memory.js';
import { ProtocolErrorCode, TldError } from './errors.js';
import { createKey } from './keys.js';
import { MAP_VALUE_REVISIONS, layoutFor } from './layout.js';
import {
  checkMapValueSize,
  decodeMapValue,
  decodePages,
  encodeMapValue,
  initDataPage,
  initMetaPage,
  readDataStart,
  readMetaHeader,
} from './pages.js';

const DATA_ADDR = 0x7f12_3456_7000n;
const META_ADDR = 0x7f65_4321_0000n;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function expectBadLayout(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TldError);
  expect((caught as TldError).code).toBe(ProtocolErrorCode.BAD_LAYOUT);
}

describe('map value', () => {
  it('encodes the 16-byte value as data (u64 LE at 0) and meta (u64 LE at 8)', () => {
    const bytes = encodeMapValue({ data: DATA_ADDR, meta: META_ADDR });
    expect(bytes.length).toBe(16);
    expect(view(bytes).getBigUint64(0, true)).toBe(DATA_ADDR);
    expect(view(bytes).getBigUint64(8, true)).toBe(META_ADDR);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0x00, 0x00]);
    expect(decodeMapValue(bytes)).toEqual({ data: DATA_ADDR, meta: META_ADDR });
  });

  it('encodes the 24-byte value with u16 start at 16 (default 8) and zero padding', () => {
    const bytes = encodeMapValue({ data: DATA_ADDR, meta: META_ADDR }, 24);
    expect(bytes.length).toBe(24);
    expect(view(bytes).getBigUint64(0, true)).toBe(DATA_ADDR);
    expect(view(bytes).getBigUint64(8, true)).toBe(META_ADDR);
    expect(view(bytes).getUint16(16, true)).toBe(8);
    expect(Array.from(bytes.subarray(18))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(decodeMapValue(bytes)).toEqual({ data: DATA_ADDR, meta: META_ADDR, start: 8 });

    const custom = encodeMapValue({ data: 1n, meta: 2n, start: 0x1234 }, 24);
    expect(Array.from(custom.subarray(16, 18))).toEqual([0x34, 0x12]);
    expect(decodeMapValue(custom)).toEqual({ data: 1n, meta: 2n, start: 0x1234 });
  });

  it('round-trips full 64-bit addresses', () => {
    const value = { data: 0xffff_ffff_ffff_f000n, meta: 0x8000_0000_0000_0000n };
    expect(decodeMapValue(encodeMapValue(value))).toEqual(value);
  });

  it('decodes a value that sits at an offset inside a larger buffer', () => {
    const backing = new Uint8Array(64).fill(0xee);
    backing.set(encodeMapValue({ data: DATA_ADDR, meta: META_ADDR }), 8);
    expect(decodeMapValue(backing.subarray(8, 24))).toEqual({ data: DATA_ADDR, meta: META_ADDR });
  });

  it.each([0, 1, 8, 15, 17, 20, 23, 25, 32, 4096])('refuses value size %i with BAD_LAYOUT', (size) => {
    expectBadLayout(() => checkMapValueSize(size));
    expectBadLayout(() => encodeMapValue({ data: DATA_ADDR, meta: META_ADDR }, size));
    expectBadLayout(() => decodeMapValue(new Uint8Array(size)));
  });

  it.each(MAP_VALUE_REVISIONS)('revision $revision ($size bytes): start where its row says, round-trips', (row) => {
    const bytes = encodeMapValue({ data: DATA_ADDR, meta: META_ADDR, start: 40 }, row.size);
    expect(bytes.length).toBe(row.size);
    if (row.startOffset !== undefined) expect(view(bytes).getUint16(row.startOffset, true)).toBe(40);
    const start = row.startOffset === undefined ? {} : { start: 40 };
    expect(decodeMapValue(bytes)).toEqual({ data: DATA_ADDR, meta: META_ADDR, ...start });
  });

  it('accepts exactly 16 and 24', () => {
    expect(() => checkMapValueSize(16)).not.toThrow();
    expect(() => checkMapValueSize(24)).not.toThrow();
  });
});

describe('metadata page', () => {
  it('initMetaPage sets cnt 0 and size P − 8 and writes nothing else', () => {
    for (const pageSize of [4096, 16384, 65536]) {
      const page = new Uint8Array(new SharedArrayBuffer(pageSize));
      const mem = new TypedArrayMemory(page.buffer);
      initMetaPage(mem, layoutFor(pageSize));
      expect(view(page).getUint16(0, true)).toBe(0);
      expect(view(page).getUint16(2, true)).toBe(pageSize - 8);
      expect(page.subarray(4).every((b) => b === 0)).toBe(true);
      expect(readMetaHeader(mem)).toEqual({ cnt: 0, size: pageSize - 8 });
    }
  });

  it('initMetaPage defaults to the 4096-byte layout: size bytes f8 0f', () => {
    const page = new Uint8Array(4096);
    initMetaPage(new TypedArrayMemory(page.buffer));
    expect(Array.from(page.subarray(0, 4))).toEqual([0, 0, 0xf8, 0x0f]);
  });
});

describe('data page', () => {
  it('initDataPage writes start = 8 as a u64 LE at 0 and nothing else', () => {
    const page = new Uint8Array(4096);
    initDataPage(page);
    expect(Array.from(page.subarray(0, 8))).toEqual([8, 0, 0, 0, 0, 0, 0, 0]);
    expect(page.subarray(8).every((b) => b === 0)).toBe(true);
    expect(readDataStart(page)).toBe(8);
  });

  it('reads and writes start relative to a page that is a view into a larger buffer', () => {
    const backing = new Uint8Array(3 * 4096).fill(0xaa);
    const page = backing.subarray(4096, 8192);
    initDataPage(page);
    expect(Array.from(backing.subarray(4096, 4104))).toEqual([8, 0, 0, 0, 0, 0, 0, 0]);
    expect(backing[4095]).toBe(0xaa);
    expect(backing[4104]).toBe(0xaa);
    expect(readDataStart(page)).toBe(8);
    view(page).setBigUint64(0, 24n, true);
    expect(readDataStart(page)).toBe(24);
  });
});

describe('decodePages', () => {
  function setUp(): { meta: TypedArrayMemory; data: Uint8Array } {
    const meta = new TypedArrayMemory(new SharedArrayBuffer(4096));
    initMetaPage(meta);
    const data = new Uint8Array(4096);
    initDataPage(data);
    return { meta, data };
  }

  it('returns no rows for an empty metadata page', () => {
    const { meta, data } = setUp();
    expect(decodePages(meta, data)).toEqual([]);
  });

  it('returns name, index, offset, size and the value bytes of every key', () => {
    const { meta, data } = setUp();
    const a = createKey(meta, 'counter', 8);
    const b = createKey(meta, 'tag', 3);
    const c = createKey(meta, 'résumé', 20);
    view(data).setBigUint64(8 + a.offset, 0x0102030405060708n, true);
    data.set([0x61, 0x62, 0x63], 8 + b.offset);
    data.set(
      Array.from({ length: 20 }, (_, i) => i + 1),
      8 + c.offset,
    );
    // A byte right after tag's 3 bytes (padding) must not leak into its row.
    data[8 + b.offset + 3] = 0xff;

    const rows = decodePages(meta, data);
    expect(rows.map(({ bytes, ...rest }) => rest)).toEqual([
      { name: 'counter', index: 0, offset: 0, size: 8 },
      { name: 'tag', index: 1, offset: 8, size: 3 },
      { name: 'résumé', index: 2, offset: 16, size: 20 },
    ]);
    expect(Array.from(rows[0]!.bytes)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(Array.from(rows[1]!.bytes)).toEqual([0x61, 0x62, 0x63]);
    expect(Array.from(rows[2]!.bytes)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("reads values at the data page's own start, not at a fixed 8", () => {
    const { meta, data } = setUp();
    createKey(meta, 'x', 4);
    view(data).setBigUint64(0, 16n, true);
    data.set([1, 2, 3, 4], 8);
    data.set([9, 8, 7, 6], 16);
    expect(Array.from(decodePages(meta, data)[0]!.bytes)).toEqual([9, 8, 7, 6]);
  });

  it('returns copies: changing a row does not change the page', () => {
    const { meta, data } = setUp();
    createKey(meta, 'x', 4);
    data.set([1, 2, 3, 4], 8);
    decodePages(meta, data)[0]!.bytes.fill(0);
    expect(Array.from(data.subarray(8, 12))).toEqual([1, 2, 3, 4]);
  });

  it('stops at a claimed but unpublished slot (later offsets depend on its size)', () => {
    const { meta, data } = setUp();
    createKey(meta, 'a', 8);
    meta.store16(0, 2); // slot 1 claimed, never published
    expect(decodePages(meta, data).map((row) => row.name)).toEqual(['a']);
  });
});
