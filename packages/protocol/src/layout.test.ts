// Every number below is copied from the tables of PROTOCOL.md §2, not from layout.ts, so a wrong constant fails.
import { describe, expect, it } from 'vitest';
import {
  DATA_START,
  DATA_START_FIELD_OFFSET,
  DEFAULT_PAGE_SIZE,
  MAP_VALUE_DATA_OFFSET,
  MAP_VALUE_META_OFFSET,
  MAP_VALUE_SIZES,
  MAP_VALUE_SIZE_V1,
  MAP_VALUE_SIZE_V2,
  MAP_VALUE_START_OFFSET,
  META_CNT_OFFSET,
  META_SIZE_OFFSET,
  META_SLOTS_OFFSET,
  NAME_MAX_BYTES,
  SLOT_NAME_OFFSET,
  SLOT_NAME_SIZE,
  SLOT_SIZE,
  SLOT_VALUE_SIZE_OFFSET,
  VALUE_ALIGN,
  dataPageOffset,
  layoutFor,
  roundUpValueSize,
  slotOffset,
  slotValueSizeOffset,
} from './layout.js';

describe('PROTOCOL.md §2 map value', () => {
  it('has data at 0 and meta at 8, both 8 bytes, in a 16-byte value', () => {
    expect(MAP_VALUE_DATA_OFFSET).toBe(0);
    expect(MAP_VALUE_META_OFFSET).toBe(8);
    expect(MAP_VALUE_SIZE_V1).toBe(16);
  });

  it("has the later revision's u16 start at 16 in a 24-byte value", () => {
    expect(MAP_VALUE_START_OFFSET).toBe(16);
    expect(MAP_VALUE_SIZE_V2).toBe(24);
    expect(MAP_VALUE_SIZES).toEqual([16, 24]);
  });
});

describe('PROTOCOL.md §2 metadata page', () => {
  it('has u16 cnt at 0, u16 size at 2 and the slots from 4', () => {
    expect(META_CNT_OFFSET).toBe(0);
    expect(META_SIZE_OFFSET).toBe(2);
    expect(META_SLOTS_OFFSET).toBe(4);
  });

  it('has 64-byte slots: a 62-byte name at 4 + 64·i and a u16 size at 4 + 64·i + 62', () => {
    expect(SLOT_SIZE).toBe(64);
    expect(SLOT_NAME_OFFSET).toBe(0);
    expect(SLOT_NAME_SIZE).toBe(62);
    expect(NAME_MAX_BYTES).toBe(61);
    expect(SLOT_VALUE_SIZE_OFFSET).toBe(62);
    for (const i of [0, 1, 2, 31, 62]) {
      expect(slotOffset(i) + SLOT_NAME_OFFSET).toBe(4 + 64 * i);
      expect(slotValueSizeOffset(i)).toBe(4 + 64 * i + 62);
    }
  });

  it('keeps every u16 field 2-aligned (Atomics on a Uint16Array need it)', () => {
    for (let i = 0; i < 63; i++) expect(slotValueSizeOffset(i) % 2).toBe(0);
  });
});

describe('PROTOCOL.md §2 data page', () => {
  it('has a u64 start at 0 and data[] from 8', () => {
    expect(DATA_START_FIELD_OFFSET).toBe(0);
    expect(DATA_START).toBe(8);
    expect(dataPageOffset(0)).toBe(8);
    expect(dataPageOffset(24)).toBe(32);
    expect(dataPageOffset(24, 16)).toBe(40);
  });
});

describe('layoutFor', () => {
  it('defaults to 4096-byte pages with 63 slots and 4088 data bytes', () => {
    expect(DEFAULT_PAGE_SIZE).toBe(4096);
    expect(layoutFor()).toEqual({
      pageSize: 4096,
      maxKeys: 63,
      metaStructSize: 4 + 64 * 63,
      dataStructSize: 4096,
      dataBytes: 4088,
    });
    expect(layoutFor()).toBe(layoutFor(4096));
  });

  it.each([
    [16384, 255],
    [65536, 1023],
  ])('derives %i-byte pages: MAX_KEYS = P/64 − 1 = %i', (pageSize, maxKeys) => {
    const layout = layoutFor(pageSize);
    expect(layout.pageSize).toBe(pageSize);
    expect(layout.maxKeys).toBe(maxKeys);
    expect(layout.metaStructSize).toBe(4 + 64 * maxKeys);
    expect(layout.dataStructSize).toBe(pageSize);
    expect(layout.dataBytes).toBe(pageSize - 8);
  });

  it('keeps the metadata struct inside one page (the kernel refuses a struct spanning two)', () => {
    for (const pageSize of [4096, 16384, 65536]) {
      const layout = layoutFor(pageSize);
      expect(layout.metaStructSize).toBeLessThanOrEqual(pageSize);
      expect(layout.metaStructSize + SLOT_SIZE).toBeGreaterThan(pageSize);
    }
  });

  it.each([0, -4096, 1000, 2048, 4095, 4097, 6144, 4096.5, 131072, Number.NaN, Number.POSITIVE_INFINITY])(
    'throws RangeError for page size %s',
    (pageSize) => {
      expect(() => layoutFor(pageSize)).toThrow(RangeError);
    },
  );
});

describe('roundUpValueSize', () => {
  it('rounds up to a multiple of 8', () => {
    expect(VALUE_ALIGN).toBe(8);
    const cases: Array<[number, number]> = [
      [0, 0],
      [1, 8],
      [7, 8],
      [8, 8],
      [9, 16],
      [15, 16],
      [16, 16],
      [17, 24],
      [4087, 4088],
      [4088, 4088],
      [65528, 65528],
    ];
    for (const [size, rounded] of cases) expect(roundUpValueSize(size), `roundup(${size})`).toBe(rounded);
  });

  it('agrees with ceil(size / 8) · 8 for every valid 4096-page size', () => {
    for (let size = 1; size <= 4088; size++) expect(roundUpValueSize(size)).toBe(Math.ceil(size / 8) * 8);
  });
});
