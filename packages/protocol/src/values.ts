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
