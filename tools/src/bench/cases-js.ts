// What set() costs on the JavaScript side: each key type's set() against the plain operation it wraps (a typed-array
// store, encodeInto into a plain buffer, a byte copy), in one process. check() asks BPF, running on this thread,
// for the last value stored, so a candidate that stored nothing would fail the trial.
import { decodeF64, decodeI64, decodeString, decodeU32, decodeU64 } from '@tld/protocol';
import type { Reader } from '@tld/bpf-programs';
import type { PairCase } from './pair.js';

const VALUES = 1024; // a power of two: `i & MASK` picks the value, so no store is a constant
const MASK = VALUES - 1;
export const BIGINTS: readonly bigint[] = Array.from(
  { length: VALUES },
  (_, i) => 0x1_0000_0000n * BigInt(i) + 0xdead_beefn,
);
const I64S = BIGINTS.map((v, i) => (i % 2 ? -v : v));
const U32S = Array.from({ length: VALUES }, (_, i) => Math.imul(i + 1, 0x9e37_79b9) >>> 0);
const F64S = Array.from({ length: VALUES }, (_, i) => i * 1.5 + 0.25);
// Values of 15 and 31 UTF-8 bytes, the most keys of 16 and 32 bytes hold: what a route or tenant looks like.
const STRINGS = {
  16: ['/users/:id/cart', '/orders/:id/pay', '/api/v2/health', '/carts/:id/item'],
  32: [
    '/api/v2/users/:id/orders/:order',
    '/api/v2/tenants/:id/billing/inv',
    '/api/v2/carts/:id/items/:item/q',
    '/v1/search?q=:q&page=:page&x=1',
  ],
} as const;
const BYTES = Array.from({ length: 4 }, (_, i) => Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j * 7) & 0xff));

function expectEqual(what: string, got: unknown, want: unknown): void {
  if (got !== want) throw new Error(`${what}: BPF read ${String(got)}, expected ${String(want)}`);
}

function readBack(reader: Reader, name: string): Uint8Array {
  const value = reader.read([name]).values[name];
  if (!value) throw new Error(`${name}: BPF did not find the key`);
  return value;
}

function numberCase<T extends bigint | number>(
  id: string,
  kind: 'u64' | 'i64' | 'u32' | 'f64',
  values: readonly T[],
  plain: { [i: number]: T },
  store: string,
  decode: (bytes: Uint8Array) => T,
): PairCase {
  return {
    id,
    candidate: `${kind === 'u64' ? 'U64' : kind === 'i64' ? 'I64' : kind === 'u32' ? 'U32' : 'F64'}Key.set()`,
    baseline: `${store} store`,
    baselineName: `${kind} store`,
    setup({ tld, reader }) {
      const name = `bench_${kind}`;
      const key = tld[kind](name) as unknown as { set(v: T): void; get(): T };
      let last: T | undefined;
      return {
        baseline: (n) => {
          for (let i = 0; i < n; i++) plain[0] = values[i & MASK] as T;
          return plain[0];
        },
        candidate: (n) => {
          for (let i = 0; i < n; i++) key.set(values[i & MASK] as T);
          last = values[(n - 1) & MASK];
          return key.get();
        },
        check: () => expectEqual(name, decode(readBack(reader, name)), last),
      };
    },
  };
}

function stringCase(size: 16 | 32): PairCase {
  const values = STRINGS[size];
  return {
    id: `string set ${size}`,
    candidate: `StringKey.set() (${size}-byte key, ${size - 1}-byte ASCII values)`,
    baseline: `TextEncoder.encodeInto into a ${size}-byte Uint8Array`,
    baselineName: `encodeInto ${size}`,
    setup({ tld, reader }) {
      const name = `bench_str${size}`;
      const key = tld.string(name, size);
      const plain = new Uint8Array(size);
      const utf8 = new TextEncoder();
      let last = '';
      return {
        baseline: (n) => {
          let written = 0;
          for (let i = 0; i < n; i++) written = utf8.encodeInto(values[i & 3] as string, plain).written;
          return written;
        },
        candidate: (n) => {
          for (let i = 0; i < n; i++) key.set(values[i & 3] as string);
          last = values[(n - 1) & 3] as string;
          return key.size;
        },
        check: () => expectEqual(name, decodeString(readBack(reader, name)), last),
      };
    },
  };
}

export const CASES: PairCase[] = [
  numberCase('u64 set', 'u64', BIGINTS, new BigUint64Array(new ArrayBuffer(8)), 'BigUint64Array', decodeU64),
  numberCase('i64 set', 'i64', I64S, new BigInt64Array(new ArrayBuffer(8)), 'BigInt64Array', decodeI64),
  numberCase('u32 set', 'u32', U32S, new Uint32Array(new ArrayBuffer(4)), 'Uint32Array', decodeU32),
  numberCase('f64 set', 'f64', F64S, new Float64Array(new ArrayBuffer(8)), 'Float64Array', decodeF64),
  stringCase(16),
  stringCase(32),
  {
    id: 'bytes set',
    candidate: 'BytesKey.set() (16 bytes into a 32-byte key)',
    baseline: 'Uint8Array.set + fill into a plain 32-byte buffer',
    baselineName: 'bytes copy',
    setup({ tld, reader }) {
      const name = 'bench_bytes';
      const key = tld.bytes(name, 32);
      const plain = new Uint8Array(32);
      let last = BYTES[0] as Uint8Array;
      return {
        baseline: (n) => {
          for (let i = 0; i < n; i++) {
            const b = BYTES[i & 3] as Uint8Array;
            plain.set(b);
            plain.fill(0, b.length);
          }
          return plain[0];
        },
        candidate: (n) => {
          for (let i = 0; i < n; i++) key.set(BYTES[i & 3] as Uint8Array);
          last = BYTES[(n - 1) & 3] as Uint8Array;
          return key.size;
        },
        check: () => {
          const seen = readBack(reader, name);
          expectEqual(
            name,
            Buffer.from(seen.subarray(0, last.length)).equals(last) && seen.subarray(last.length).every((b) => b === 0),
            true,
          );
        },
      };
    },
  },
];
