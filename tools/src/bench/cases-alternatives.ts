// What users would pick instead of task local data, each against U64Key.set() measured in the same process (not
// reported again under `u64 set`), so the ratio reads "x times the cost of TLD".
import { AsyncLocalStorage } from 'node:async_hooks';
import { gettid, loadObject, mapUpdateElem } from '@tld/bpf-programs';
import { names, objectPaths } from '@tld/testkit';
import { decodeU64 } from '@tld/protocol';
import type { Loop, PairCase, TldEnv } from './pair.js';
import { BIGINTS } from './cases-js.js';

const MASK = BIGINTS.length - 1;

/** U64Key.set over BIGINTS; check() asks BPF for the last value stored. */
function tldU64Set({ tld, reader }: TldEnv): { run: Loop; check: () => void } {
  const key = tld.u64('bench_req_id');
  let last = 0n;
  return {
    run: (n) => {
      for (let i = 0; i < n; i++) key.set(BIGINTS[i & MASK] as bigint);
      last = BIGINTS[(n - 1) & MASK] as bigint;
      return key.get();
    },
    check: () => {
      const seen = decodeU64(reader.read(['bench_req_id']).values['bench_req_id']);
      if (seen !== last) throw new Error(`bench_req_id: BPF read ${seen}, expected ${last}`);
    },
  };
}

export const CASES: PairCase[] = [
  {
    id: 'async local storage',
    candidate: 'AsyncLocalStorage.enterWith({ reqId })',
    baseline: 'U64Key.set()',
    baselineName: 'u64 set',
    reportBaseline: false,
    setup(env) {
      const tldSet = tldU64Set(env);
      const als = new AsyncLocalStorage<{ reqId: bigint }>();
      return {
        baseline: tldSet.run,
        candidate: (n) => {
          for (let i = 0; i < n; i++) als.enterWith({ reqId: BIGINTS[i & MASK] as bigint });
          return als.getStore()?.reqId;
        },
        check: tldSet.check,
      };
    },
  },
  {
    id: 'syscall per update',
    candidate: 'one BPF_MAP_UPDATE_ELEM per value (tid-keyed hash map)',
    baseline: 'U64Key.set()',
    baselineName: 'u64 set',
    reportBaseline: false,
    setup(env) {
      const tldSet = tldU64Set(env);
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
            view.setBigUint64(0, BIGINTS[i & MASK] as bigint, true);
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
