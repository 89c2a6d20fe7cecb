// Decoders for value bytes as user space stores them (little-endian, PROTOCOL.md §2): what a BPF reader copied
// out of a data page turned back into JavaScript values.

function need(bytes: Uint8Array | undefined, n: number, what: string): DataView {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: no bytes (key not found?)`);
  if (bytes.length < n) throw new RangeError(`${what} needs ${n} bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** u64 from the first 8 bytes. Throws TypeError for undefined, RangeError for fewer bytes. */
export function decodeU64(bytes: Uint8Array | undefined): bigint {
  return need(bytes, 8, 'u64').getBigUint64(0, true);
}

/** i64 from the first 8 bytes. Throws like decodeU64. */
export function decodeI64(bytes: Uint8Array | undefined): bigint {
  return need(bytes, 8, 'i64').getBigInt64(0, true);
}

/** u32 from the first 4 bytes. Throws like decodeU64. */
export function decodeU32(bytes: Uint8Array | undefined): number {
  return need(bytes, 4, 'u32').getUint32(0, true);
}

/** f64 from the first 8 bytes. Throws like decodeU64. */
export function decodeF64(bytes: Uint8Array | undefined): number {
  return need(bytes, 8, 'f64').getFloat64(0, true);
}

const utf8 = new TextDecoder();

/** UTF-8 string up to the first NUL (or the end). Throws TypeError for undefined. */
export function decodeString(bytes: Uint8Array | undefined): string {
  need(bytes, 0, 'string');
  const b = bytes as Uint8Array;
  const nul = b.indexOf(0);
  return utf8.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** The bytes themselves. Throws TypeError for undefined. */
export function decodeBytes(bytes: Uint8Array | undefined): Uint8Array {
  need(bytes, 0, 'bytes');
  return bytes as Uint8Array;
}

/** One value type of typed keys: its size in the data page (undefined: chosen per key) and how to read it back. */
export interface ValueType<T> {
  readonly size: number | undefined;
  readonly decode: (bytes: Uint8Array | undefined) => T;
  readonly description: string;
}

/**
 * Every value type of typed keys, one row each. Adding a type is a row here (and its decoder above) and a Key class
 * in @tld/userspace with its TaskLocalData method; everything else (the userspace key kinds, the messages that
 * list the types, the decoders' tests) reads this table.
 */
export const VALUE_TYPES = Object.freeze({
  u64: { size: 8, decode: decodeU64, description: 'unsigned 64-bit integer (bigint)' },
  i64: { size: 8, decode: decodeI64, description: 'signed 64-bit integer (bigint)' },
  u32: { size: 4, decode: decodeU32, description: 'unsigned 32-bit integer (number)' },
  f64: { size: 8, decode: decodeF64, description: '64-bit IEEE-754 float (number)' },
  string: { size: undefined, decode: decodeString, description: 'UTF-8 text, NUL-padded to the key size' },
  bytes: { size: undefined, decode: decodeBytes, description: 'raw bytes' },
} satisfies Record<string, ValueType<unknown>>);

/** The name of a value type: 'u64', 'string', ... */
export type ValueTypeName = keyof typeof VALUE_TYPES;
