// tld_get_context_data() (tld.bpf.h) against a synthetic image of V8's objects (context-image.ts): a thread whose
// page publishes `tld.walk` facts leading to a run record must read the record's values, the page's where the run
// does not set a key or the thread is outside any run; and with any one word of the walk corrupted it must read no
// value at all (a negative result, the destination zeroed), never the page's, the decoy's or a half-checked one.
// Deterministic: the control for the proof that runs real Node.js contexts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CTX_RECORD, DATA_START, WALK_KEY_NAME, WALK_SIZE } from '@tld/protocol';
import { gettid, loadTaskIterator, testRun } from '@tld/bpf-programs';
import {
  ContextLayout,
  type ContextReader,
  type ContextResult,
  type OwnPages,
  bpfSupport,
  loadContextReader,
  pagesWith,
  register,
  unmapPages,
  unregister,
} from '@tld/testkit';
import { type ContextImage, type Facts, ALS_HASH, V8, buildImage, smi } from './context-image.js';

const support = bpfSupport();
const EFAULT = 14;
const EINVAL = 22;
const EAGAIN = 11;
const ESTALE = 116;
const ENOENT = 2;

const f64 = (v: number): bigint => new BigUint64Array(new Float64Array([v]).buffer)[0] ?? 0n;
const u64Bytes = (v: bigint): Uint8Array => new Uint8Array(new BigUint64Array([v]).buffer);
const text = (s: string, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(s));
  return out;
};

const PAGE = { req_id: 7n, route: '/page', weight: 0.5, mark: 0xa5n };
const RUN = { req_id: 42n, route: '/run/orders', weight: 2.5 };
const DECOY = { req_id: 666n, route: '/decoy', weight: 6.66, mark: 0x666n };

describe.skipIf(!support.supported)('tld_get_context_data() over a synthetic V8 image', () => {
  let reader: ContextReader;
  let image: ContextImage;
  let pages: OwnPages;
  /** Offset of each key in data[]: the same offset in the record's values area. */
  let off: Record<string, number>;

  const publish = (overrides: Partial<Facts> = {}): void => {
    pages.data.bytes.set(image.facts(overrides), pages.at[WALK_KEY_NAME] ?? -1);
  };

  beforeEach(() => {
    reader = loadContextReader({ map: 'private' });
    image = buildImage();
    pages = pagesWith([
      { name: 'req_id', size: 8, value: PAGE.req_id },
      { name: 'route', size: ContextLayout.routeBytes, value: PAGE.route },
      { name: 'weight', size: 8, value: f64(PAGE.weight) },
      { name: 'mark', size: 8, value: PAGE.mark },
      { name: WALK_KEY_NAME, size: WALK_SIZE, value: '' },
    ]);
    off = Object.fromEntries(Object.entries(pages.at).map(([name, at]) => [name, at - DATA_START]));
    const at = (name: string): number => off[name] ?? -1;
    image.value(at('req_id'), u64Bytes(RUN.req_id));
    image.value(at('route'), text(RUN.route, ContextLayout.routeBytes));
    image.value(at('weight'), u64Bytes(f64(RUN.weight)));
    for (const name of ['req_id', 'route', 'weight']) image.present(at(name), true);
    image.value(at('req_id'), u64Bytes(DECOY.req_id), 'decoy');
    image.value(at('route'), text(DECOY.route, ContextLayout.routeBytes), 'decoy');
    image.value(at('weight'), u64Bytes(f64(DECOY.weight)), 'decoy');
    image.value(at('mark'), u64Bytes(DECOY.mark), 'decoy');
    // The decoy record sets every key: a walk that took the decoy's entry would read all four from it.
    const decoyPresent = image.RECORD.decoy + image.RECORD.presentOff;
    image.records.bytes.fill(0xff, decoyPresent, decoyPresent + 8);
    publish();
    register(reader.mapFd, pages);
  });

  afterEach(() => {
    if (reader && unregister(reader.mapFd)) unmapPages(pages);
    image?.unmap();
    reader?.close();
  });

  const both = (check: (r: ContextResult) => void): void => {
    for (const remote of [false, true]) {
      const r = reader.read({ remote });
      expect(r.initErr).toBe(0);
      check(r);
    }
  };

  const expectRun = (r: ContextResult): void => {
    expect([r.keys.req_id.ret, r.keys.route.ret, r.keys.weight.ret, r.keys.mark.ret]).toEqual([1, 1, 1, 0]);
    expect({ req_id: r.req_id, route: r.route, weight: r.weight, mark: r.mark }).toEqual({ ...RUN, mark: PAGE.mark });
  };
  const expectPage = (r: ContextResult): void => {
    expect([r.keys.req_id.ret, r.keys.route.ret, r.keys.weight.ret, r.keys.mark.ret]).toEqual([0, 0, 0, 0]);
    expect({ req_id: r.req_id, route: r.route, weight: r.weight, mark: r.mark }).toEqual(PAGE);
  };

  it("inside a run: the run's values from its record, the page's for the key the run does not set", () => {
    both(expectRun);
  });

  /** Heap offset of word `word` of entry `i` of the image's table (2 buckets). */
  const entry = (i: number, word: number): number =>
    image.AT.table + V8.bucketsOff + 8 * 2 + 8 * (V8.entryWords * i + word);

  // The walk of the current task copies 640 bytes around the frame and 320 of the record, and takes every word it
  // can from those copies; our AsyncLocalStorage's key is recognised by the published address, with no read. In
  // this image the table lies inside the frame's copy, the stores outside it: the reads are the slot, the frame's
  // copy, the decoy key's hash word (first in the chain, not at the address), the store's record word and the
  // record's copy (the value comes from that copy). Counted by one more walk of tld_read_context (walkReads).
  it('the walk takes the table and the value from its copies and our key by address: 5 reads of user memory', () => {
    expect(reader.read().walkReads).toBe(5);
  });

  it('a store just before its frame, as V8 allocates a run: its record word comes from the copy, 4 reads', () => {
    const near = image.AT.frame - 0x80;
    image.heapWord(near + V8.storeRecordOff, image.recordAddress);
    image.heapWord(entry(1, V8.entryValue), image.tagged(near));
    expect(reader.read().walkReads).toBe(4);
    both(expectRun);
  });

  it("a table outside the frame's copy is copied on its own: 6 reads, the same values", () => {
    const far = 0x900;
    image.heap.bytes.copyWithin(far, image.AT.table, image.AT.table + 0x100);
    image.heapWord(image.AT.frame + V8.frameTableOff, image.tagged(far));
    image.heap.bytes.fill(0xee, image.AT.table, image.AT.table + 0x100); // the old table would give no value
    expect(reader.read().walkReads).toBe(6);
    both(expectRun);
  });

  it('no address published (a GC is moving objects): the hash words decide, one read more, the same values', () => {
    publish({ alsAddress: 0n });
    expect(reader.read().walkReads).toBe(6);
    both(expectRun);
  });

  it('an address that is no key of the frame (stale): the hash words decide, the same values', () => {
    publish({ alsAddress: image.tagged(0x700) });
    both(expectRun);
  });

  it("a stale address on another AsyncLocalStorage's key, whose store is no record of ours: no value", () => {
    publish({ alsAddress: image.tagged(image.AT.decoyKey) });
    image.recordWord(image.RECORD.decoy + CTX_RECORD.MAGIC, 0x1234n);
    both((r) => {
      expect(Object.values(r.keys).map((k) => k.ret)).toEqual([-EINVAL, -EINVAL, -EINVAL, -EINVAL]);
      expect([r.req_id, r.route, r.weight, r.mark]).toEqual([undefined, undefined, undefined, undefined]);
    });
  });

  it("a stale address on a key that maps to undefined: its hash word must agree, else no value (not the page's)", () => {
    publish({ alsAddress: image.tagged(image.AT.decoyKey) });
    image.heapWord(entry(0, V8.entryValue), image.tagged(image.AT.undefined));
    both((r) => {
      expect(Object.values(r.keys).map((k) => k.ret)).toEqual([-EINVAL, -EINVAL, -EINVAL, -EINVAL]);
      expect([r.req_id, r.route, r.weight, r.mark]).toEqual([undefined, undefined, undefined, undefined]);
    });
  });

  it("our key by address mapping to undefined (a run ended), its hash word agreeing: the page's values", () => {
    image.heapWord(entry(1, V8.entryValue), image.tagged(image.AT.undefined));
    both(expectPage);
  });

  it('a key whose presence bit is clear is read from the page, the others from the record', () => {
    image.present(off['route'] ?? -1, false);
    both((r) => {
      expect([r.keys.req_id.ret, r.keys.route.ret, r.keys.weight.ret]).toEqual([1, 0, 1]);
      expect([r.req_id, r.route, r.weight]).toEqual([RUN.req_id, PAGE.route, RUN.weight]);
    });
  });

  it("outside any run (the slot holds the no-frame value): the page's values", () => {
    image.heapWord(image.AT.slot, image.tagged(image.AT.undefined));
    both(expectPage);
  });

  it("a frame without our AsyncLocalStorage (its chain ends): the page's values", () => {
    publish({ alsHash: (ALS_HASH ^ 0x0ff0_0000) >>> 0, alsAddress: image.tagged(0x700) });
    both(expectPage);
  });

  it("no walk published (version 0): the page's values", () => {
    publish({ version: 0 });
    both(expectPage);
  });

  it("facts of version 1 (a writer without als_address): no walk, the page's values", () => {
    publish({ version: 1 });
    both(expectPage);
  });

  it('a key the page does not have: -ENOENT', () => {
    const other = loadContextReader({ map: 'private' });
    const bare = pagesWith([{ name: 'req_id', size: 8, value: 1n }]);
    register(other.mapFd, bare);
    try {
      const r = other.read();
      expect(r.keys.req_id.ret).toBe(0);
      expect(r.req_id).toBe(1n);
      expect([r.keys.route.ret, r.keys.weight.ret, r.keys.mark.ret]).toEqual([-ENOENT, -ENOENT, -ENOENT]);
    } finally {
      if (unregister(other.mapFd)) unmapPages(bare);
      other.close();
    }
  });

  it("the task iterator (tld dump) shows the run's values beside the page's, and no value for a corrupt walk", () => {
    const iterator = loadTaskIterator({ map: { mapFd: reader.mapFd } });
    try {
      const mine = (): NonNullable<ReturnType<typeof iterator.readTasks>[number]> => {
        const task = iterator.readTasks({ pid: process.pid }).find((t) => t.tid === gettid());
        if (!task) throw new Error('this thread is not in the iterator output');
        return task;
      };
      const keys = (t: ReturnType<typeof mine>): Record<string, [string, string, string | undefined]> =>
        Object.fromEntries(
          t.keys
            .filter((k) => k.name !== WALK_KEY_NAME)
            .map((k) => [
              k.name,
              [
                k.context.from,
                Buffer.from(k.value).toString('hex'),
                k.context.value && Buffer.from(k.context.value).toString('hex'),
              ],
            ]),
        );
      const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
      const page = {
        req_id: hex(u64Bytes(PAGE.req_id)),
        route: hex(text(PAGE.route, 32)),
        weight: hex(u64Bytes(f64(PAGE.weight))),
        mark: hex(u64Bytes(PAGE.mark)),
      };
      let task = mine();
      expect(task.contextStatus).toBe(1);
      expect(keys(task)).toEqual({
        req_id: ['context', page.req_id, hex(u64Bytes(RUN.req_id))],
        route: ['context', page.route, hex(text(RUN.route, 32))],
        weight: ['context', page.weight, hex(u64Bytes(f64(RUN.weight)))],
        mark: ['page', page.mark, page.mark],
      });
      image.record32('valid', 0);
      task = mine();
      expect(task.contextStatus).toBe(-ESTALE);
      expect(Object.values(keys(task)).map(([from, , value]) => [from, value])).toEqual(
        Array(4).fill(['none', undefined]),
      );
      image.heapWord(image.AT.slot, image.tagged(image.AT.undefined));
      task = mine();
      expect(task.contextStatus).toBe(0);
      expect(Object.values(keys(task)).map(([from]) => from)).toEqual(Array(4).fill('page'));
    } finally {
      iterator.close();
    }
  });

  // One corruption at a time; each must give no value for every key (the destination zeroed), never a value.
  const w = (at: number): number => at; // heap offsets, for readability below
  const corruptions: Array<[string, number, () => void]> = [
    [
      'the slot is not a tagged pointer',
      EINVAL,
      () => image.heapWord(w(image.AT.slot), image.tagged(image.AT.frame) - 1n),
    ],
    ['the slot is unreadable', EFAULT, () => publish({ cpedSlot: 0x10n })],
    [
      'the table is not a tagged pointer',
      EINVAL,
      () => image.heapWord(image.AT.frame + V8.frameTableOff, image.tagged(image.AT.table) - 1n),
    ],
    ['the frame_table_off fact is wrong', EINVAL, () => publish({ frameTableOff: 8 })],
    ['the bucket count is not a Smi', EINVAL, () => image.heapWord(image.AT.table + V8.nbucketsOff, smi(2) | 1n)],
    ['the bucket count is not a power of two', EINVAL, () => image.heapWord(image.AT.table + V8.nbucketsOff, smi(3))],
    ['the bucket count is over the bound', EINVAL, () => image.heapWord(image.AT.table + V8.nbucketsOff, smi(2048))],
    ['more entries than the table holds', EINVAL, () => image.heapWord(image.AT.table + V8.nelementsOff, smi(5))],
    ['a negative deleted count', EINVAL, () => image.heapWord(image.AT.table + V8.ndeletedOff, smi(-1))],
    ['the element count is not a Smi', EINVAL, () => image.heapWord(image.AT.table + V8.nelementsOff, smi(2) + 0x100n)],
    [
      'the bucket is not a Smi',
      EINVAL,
      () => image.heapWord(image.AT.table + V8.bucketsOff + 8 * (ALS_HASH & 1), image.tagged(image.AT.table)),
    ],
    [
      'the bucket points past the entries',
      EINVAL,
      () => image.heapWord(image.AT.table + V8.bucketsOff + 8 * (ALS_HASH & 1), smi(2)),
    ],
    ['the chain loops', EINVAL, () => image.heapWord(entry(0, V8.entryChain), smi(0))],
    ['the chain is not a Smi', EINVAL, () => image.heapWord(entry(0, V8.entryChain), image.tagged(image.AT.table))],
    [
      'the store is not a tagged pointer',
      EINVAL,
      () => image.heapWord(entry(1, V8.entryValue), image.tagged(image.AT.store) - 1n),
    ],
    [
      'the record pointer is misaligned',
      EINVAL,
      () => image.heapWord(image.AT.store + V8.storeRecordOff, image.recordAddress + 4n),
    ],
    ['the record pointer is NULL', EINVAL, () => image.heapWord(image.AT.store + V8.storeRecordOff, 0n)],
    ['the record pointer is unreadable', EFAULT, () => image.heapWord(image.AT.store + V8.storeRecordOff, 0x1000n)],
    ['the record magic differs', EINVAL, () => image.recordWord(CTX_RECORD.MAGIC, 0x1234n)],
    [
      'the record is not at its own address (self)',
      EINVAL,
      () => image.recordWord(CTX_RECORD.SELF, image.recordAddress + 8n),
    ],
    [
      'the store leads to a copy of the record',
      EINVAL,
      () => {
        const copyAt = image.RECORD.decoy + 512;
        image.records.bytes.copyWithin(copyAt, 0, 1024);
        image.heapWord(image.AT.store + V8.storeRecordOff, image.records.address + BigInt(copyAt));
      },
    ],
    ['the run has ended (valid 0)', ESTALE, () => image.record32('valid', 0)],
    ['the writer is changing the record (seq odd)', EAGAIN, () => image.record32('seq', 3)],
    [
      'the values area is larger than a page',
      EINVAL,
      () => {
        new DataView(image.records.buffer).setUint32(CTX_RECORD.VALUES_SIZE, 8192, true);
      },
    ],
    ['the entry_words fact is 0', EINVAL, () => publish({ entryWords: 0 })],
    ['the entry_key fact is outside the entry', EINVAL, () => publish({ entryKey: 3 })],
    ['the record_magic fact is 0', EINVAL, () => publish({ recordMagic: 0n })],
  ];

  for (const [what, errno, corrupt] of corruptions) {
    it(`${what}: no value (-${errno}), the destination zeroed`, () => {
      corrupt();
      both((r) => {
        expect([r.keys.req_id.ret, r.keys.route.ret, r.keys.weight.ret, r.keys.mark.ret]).toEqual([
          -errno,
          -errno,
          -errno,
          -errno,
        ]);
        expect([r.req_id, r.route, r.weight, r.mark]).toEqual([undefined, undefined, undefined, undefined]);
      });
      const ctx = new Uint8Array(ContextLayout.ctxSize);
      testRun(reader.progFd, ctx, 'tld_read_context');
      const V = ContextLayout.values;
      const values = ctx.subarray(ContextLayout.readOffset + V.reqIdOffset, ContextLayout.readOffset + V.size);
      expect(values.every((b) => b === 0)).toBe(true);
    });
  }
});
