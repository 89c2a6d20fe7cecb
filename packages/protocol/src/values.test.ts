// Decoders of value bytes: the inverse of what user space stores.
import { describe, expect, it } from 'vitest';
import { VALUE_TYPES, decodeF64, decodeI64, decodeString, decodeU32, decodeU64 } from './values.js';

describe('decoders', () => {
  it('read little-endian values from the first bytes', () => {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, 0xfedcba9876543210n, true);
    expect(decodeU64(b)).toBe(0xfedcba9876543210n);
    expect(decodeI64(b)).toBe(0xfedcba9876543210n - 2n ** 64n);
    expect(decodeU32(b)).toBe(0x76543210);
    v.setFloat64(0, -0.1, true);
    expect(decodeF64(b)).toBe(-0.1);
  });

  it('read a value that does not start at byte 0 of its buffer', () => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setBigUint64(8, 42n, true);
    expect(decodeU64(b.subarray(8))).toBe(42n);
  });

  it('strings stop at the first NUL and decode UTF-8', () => {
    const bytes = new Uint8Array(16);
    bytes.set(new TextEncoder().encode('ünï'));
    bytes[10] = 0x41; // after the NUL: ignored
    expect(decodeString(bytes)).toBe('ünï');
    expect(decodeString(new TextEncoder().encode('full'))).toBe('full');
  });

  it('refuse missing or short values', () => {
    expect(() => decodeU64(undefined)).toThrow(TypeError);
    expect(() => decodeString(undefined)).toThrow(TypeError);
    expect(() => decodeU64(new Uint8Array(4))).toThrow(RangeError);
    expect(() => decodeU32(new Uint8Array(3))).toThrow(RangeError);
  });
});

describe('VALUE_TYPES', () => {
  it.each(Object.entries(VALUE_TYPES))('%s: decodes a value of its size and refuses one byte less', (_name, type) => {
    const size = type.size ?? 16;
    expect(() => type.decode(new Uint8Array(size))).not.toThrow();
    expect(() => type.decode(undefined)).toThrow(TypeError);
    if (type.size !== undefined) expect(() => type.decode(new Uint8Array(type.size - 1))).toThrow(RangeError);
  });

  it('fixed-size types fit a value slot whole (one aligned store of at most 8 bytes)', () => {
    for (const type of Object.values(VALUE_TYPES))
      if (type.size !== undefined) expect([1, 2, 4, 8]).toContain(type.size);
  });
});
