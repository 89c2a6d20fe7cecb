// The benchmark cases. Each pits a candidate against a baseline doing the same work, both run in one fresh process
// (tools/bench/trial.mjs). Cases 1–5 measure what @tld/userspace adds over a plain typed-array operation; the
// last two measure what users would pick instead of task local data, against U64Key.set as the reference, so
// their ratio reads "x times the cost of TLD".
//
// Every measured function runs its own loop of `n` operations and returns something derived from the last
// operation, which trial.mjs folds into a sink, so V8 cannot drop the work. Values cycle through a table of
// VALUES entries so no store is a constant.
import { AsyncLocalStorage } from 'node:async_hooks';
import { gettid, loadObject, mapUpdateElem, names, objectPaths } from '@tld/bpf-programs';
import { decodeF64, decodeString, decodeU32, decodeU64 } from '@tld/protocol';

const VALUES = 1024; // a power of two: `i & MASK` picks the value
const MASK = VALUES - 1;
const BIGINTS = Array.from({ length: VALUES }, (_, i) => 0x1_0000_0000n * BigInt(i) + 0xdead_beefn);
const U32S = Array.from({ length: VALUES }, (_, i) => Math.imul(i + 1, 0x9e37_79b9) >>> 0);
const F64S = Array.from({ length: VALUES }, (_, i) => i * 1.5 + 0.25);
const ROUTE = '/users/:id';

function expectEqual(what, got, want) {
  if (got !== want) throw new Error(`${what}: BPF read ${String(got)}, expected ${String(want)}`);
}

/** The plain-store floor for a u64: what a hand-rolled shared buffer costs. */
function plainU64Set() {
  const plain = new BigUint64Array(new ArrayBuffer(8));
  return (n) => {
    for (let i = 0; i < n; i++) plain[0] = BIGINTS[i & MASK];
    return plain[0];
  };
}

/** U64Key.set with the values of plainU64Set; check() asks BPF for the last value stored. */
function tldU64Set(tld, reader, name) {
  const key = tld.u64(name);
  let last;
  return {
    run: (n) => {
      for (let i = 0; i < n; i++) key.set(BIGINTS[i & MASK]);
      last = BIGINTS[(n - 1) & MASK];
      return key.get();
    },
    check: () => expectEqual(`${name} (u64)`, decodeU64(reader.read([name]).values[name]), last),
  };
}

/**
 * @typedef {object} Pair
 * @property {(n: number) => unknown} baseline
 * @property {(n: number) => unknown} candidate
 * @property {() => void} [check]  throws when the candidate's work is not what BPF sees
 * @property {() => void} [close]
 *
 * @typedef {object} BenchCase
 * @property {string} id
 * @property {string} candidate  what the candidate does
 * @property {string} baseline   what the baseline does
 * @property {(env: { tld: import('@tld/userspace').TaskLocalData, reader: import('@tld/bpf-programs').Reader }) => Pair} setup
 */

/** @type {BenchCase[]} */
export const CASES = [
  {
    id: 'u64 set',
    candidate: 'U64Key.set(bigint)',
    baseline: 'BigUint64Array store',
    setup({ tld, reader }) {
      const tldSet = tldU64Set(tld, reader, 'bench_u64');
      return { baseline: plainU64Set(), candidate: tldSet.run, check: tldSet.check };
    },
  },
  {
    id: 'u32 set',
    candidate: 'U32Key.set(number)',
    baseline: 'Uint32Array store',
    setup({ tld, reader }) {
      const key = tld.u32('bench_u32');
      let last;
      const plain = new Uint32Array(new ArrayBuffer(4));
      return {
        baseline: (n) => {
          for (let i = 0; i < n; i++) plain[0] = U32S[i & MASK];
          return plain[0];
        },
        candidate: (n) => {
          for (let i = 0; i < n; i++) key.set(U32S[i & MASK]);
          last = U32S[(n - 1) & MASK];
          return key.get();
        },
        check: () => expectEqual('bench_u32', decodeU32(reader.read(['bench_u32']).values['bench_u32']), last),
      };
    },
  },
  {
    id: 'f64 set',
    candidate: 'F64Key.set(number)',
    baseline: 'Float64Array store',
    setup({ tld, reader }) {
      const key = tld.f64('bench_f64');
      let last;
      const plain = new Float64Array(new ArrayBuffer(8));
      return {
        baseline: (n) => {
          for (let i = 0; i < n; i++) plain[0] = F64S[i & MASK];
          return plain[0];
        },
        candidate: (n) => {
          for (let i = 0; i < n; i++) key.set(F64S[i & MASK]);
          last = F64S[(n - 1) & MASK];
          return key.get();
        },
        check: () => expectEqual('bench_f64', decodeF64(reader.read(['bench_f64']).values['bench_f64']), last),
      };
    },
  },
  {
    id: 'string set',
    candidate: `StringKey.set('${ROUTE}') (32 B)`,
    baseline: 'TextEncoder.encodeInto',
    setup({ tld, reader }) {
      const key = tld.string('bench_route', 32);
      const plain = new Uint8Array(32);
      const utf8 = new TextEncoder();
      return {
        baseline: (n) => {
          let written = 0;
          for (let i = 0; i < n; i++) written = utf8.encodeInto(ROUTE, plain).written;
          return written;
        },
        candidate: (n) => {
          for (let i = 0; i < n; i++) key.set(ROUTE);
          return key.size;
        },
        check: () => {
          key.set('/other'); // so the check fails unless the loop's store is what BPF sees
          key.set(ROUTE);
          expectEqual('bench_route', decodeString(reader.read(['bench_route']).values['bench_route']), ROUTE);
        },
      };
    },
  },
  {
    id: 'u64 get',
    candidate: 'U64Key.get()',
    baseline: 'BigUint64Array load',
    setup({ tld }) {
      const key = tld.u64('bench_u64_get');
      key.set(BIGINTS[5]);
      const plain = new BigUint64Array(new ArrayBuffer(8));
      plain[0] = BIGINTS[5];
      return {
        baseline: (n) => {
          let hits = 0;
          for (let i = 0; i < n; i++) if (plain[0] === BIGINTS[i & MASK]) hits++;
          return hits;
        },
        candidate: (n) => {
          let hits = 0;
          for (let i = 0; i < n; i++) if (key.get() === BIGINTS[i & MASK]) hits++;
          return hits;
        },
      };
    },
  },
  {
    id: 'AsyncLocalStorage',
    candidate: 'AsyncLocalStorage.enterWith({ reqId })',
    baseline: 'U64Key.set(bigint)',
    setup({ tld, reader }) {
      const tldSet = tldU64Set(tld, reader, 'bench_req_id');
      const als = new AsyncLocalStorage();
      return {
        baseline: tldSet.run,
        candidate: (n) => {
          for (let i = 0; i < n; i++) als.enterWith({ reqId: BIGINTS[i & MASK] });
          return als.getStore()?.reqId;
        },
        check: tldSet.check,
      };
    },
  },
  {
    id: 'syscall update',
    candidate: 'BPF_MAP_UPDATE_ELEM, tid-keyed hash',
    baseline: 'U64Key.set(bigint)',
    setup({ tld, reader }) {
      const tldSet = tldU64Set(tld, reader, 'bench_req_id');
      // What a program does without uptr pages: one bpf() call per update into a hash map keyed by thread id.
      // The fixture map tld_wrong_map_type has exactly that shape (BPF_MAP_TYPE_HASH, int key, 16-byte value).
      const fixtures = loadObject(objectPaths.fixtures);
      const fd = fixtures.mapFd(names.wrongMapTypeMap);
      const key = new Uint8Array(new Int32Array([gettid()]).buffer);
      const value = new Uint8Array(16);
      const view = new DataView(value.buffer);
      return {
        baseline: tldSet.run,
        candidate: (n) => {
          for (let i = 0; i < n; i++) {
            view.setBigUint64(0, BIGINTS[i & MASK], true);
            mapUpdateElem(fd, key, value, 0);
          }
          return value[0];
        },
        check: tldSet.check,
        close: () => fixtures.close(),
      };
    },
  },
];
