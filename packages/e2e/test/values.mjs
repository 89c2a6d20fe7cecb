// Key names, sizes and per-thread values shared by the tests and their worker threads (one source of truth).
// Plain JavaScript with JSDoc types: worker threads load it directly.

/** @typedef {import('@tld/userspace').TaskLocalData} TaskLocalData */
/** @typedef {'t_u64' | 't_u32' | 't_i64' | 't_f64' | 't_str' | 't_bytes'} KeyName */
/**
 * @typedef {object} Values
 * @property {bigint} t_u64
 * @property {number} t_u32
 * @property {bigint} t_i64
 * @property {number} t_f64
 * @property {string} t_str
 * @property {Uint8Array} t_bytes
 */
/**
 * @typedef {object} Keys
 * @property {import('@tld/userspace').U64Key} t_u64
 * @property {import('@tld/userspace').U32Key} t_u32
 * @property {import('@tld/userspace').I64Key} t_i64
 * @property {import('@tld/userspace').F64Key} t_f64
 * @property {import('@tld/userspace').StringKey} t_str
 * @property {import('@tld/userspace').BytesKey} t_bytes
 */

export const STRING_SIZE = 32;
export const BYTES_SIZE = 16;

/** Every key type the library offers, in creation order. @type {readonly KeyName[]} */
export const KEY_NAMES = ['t_u64', 't_u32', 't_i64', 't_f64', 't_str', 't_bytes'];

/**
 * Distinct values for thread `i` (0 = main thread; workers 1..n; + 1000 for a second round).
 * @param {number} i
 * @returns {Values}
 */
export function valuesFor(i) {
  const bytes = new Uint8Array(BYTES_SIZE);
  for (let j = 0; j < BYTES_SIZE; j++) bytes[j] = (i * 31 + j * 7 + 1) & 0xff;
  return {
    t_u64: 0xfedcba9876543210n + BigInt(i), // above 2^53: must not go through a double
    t_u32: (0xdead0000 + i) >>> 0,
    t_i64: -(2n ** 62n) - BigInt(i),
    t_f64: -Math.PI * (i + 1) * 1e-300,
    t_str: `thread-${i}/ünï`,
    t_bytes: bytes,
  };
}

/**
 * Creates (or gets) the six keys on `tld` and returns them by name.
 * @param {TaskLocalData} tld
 * @returns {Keys}
 */
export function createKeys(tld) {
  return {
    t_u64: tld.u64('t_u64'),
    t_u32: tld.u32('t_u32'),
    t_i64: tld.i64('t_i64'),
    t_f64: tld.f64('t_f64'),
    t_str: tld.string('t_str', STRING_SIZE),
    t_bytes: tld.bytes('t_bytes', BYTES_SIZE),
  };
}

/**
 * Sets every key to `values` with plain set() calls.
 * @param {Keys} keys
 * @param {Values} values
 */
export function setAll(keys, values) {
  keys.t_u64.set(values.t_u64);
  keys.t_u32.set(values.t_u32);
  keys.t_i64.set(values.t_i64);
  keys.t_f64.set(values.t_f64);
  keys.t_str.set(values.t_str);
  keys.t_bytes.set(values.t_bytes);
}

/**
 * The exact bytes user space stores for `values` (little-endian; strings UTF-8, NUL-padded).
 * @param {Values} values
 * @returns {Record<KeyName, Uint8Array>}
 */
export function expectedBytes(values) {
  const u64 = new Uint8Array(8);
  new DataView(u64.buffer).setBigUint64(0, values.t_u64, true);
  const u32 = new Uint8Array(4);
  new DataView(u32.buffer).setUint32(0, values.t_u32, true);
  const i64 = new Uint8Array(8);
  new DataView(i64.buffer).setBigInt64(0, values.t_i64, true);
  const f64 = new Uint8Array(8);
  new DataView(f64.buffer).setFloat64(0, values.t_f64, true);
  const str = new Uint8Array(STRING_SIZE);
  str.set(new TextEncoder().encode(values.t_str));
  return { t_u64: u64, t_u32: u32, t_i64: i64, t_f64: f64, t_str: str, t_bytes: Uint8Array.from(values.t_bytes) };
}
