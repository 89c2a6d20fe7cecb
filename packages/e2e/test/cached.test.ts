// The cached path a production BPF program uses: tld_get_data() with fixed keys and the per-task offset cache in
// tld_key_map (PROTOCOL.md §6): a miss caches -(slots searched), so later calls only look at new slots; a hit caches
// start + off. Each test loads its own reader, so it starts with an empty cache and no registration.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { dataPageOffset } from '@tld/protocol';
import { CACHED_KEYS, gettid, loadCachedReader, type CachedReader } from '@tld/bpf-programs';
import { addKey, bpfSupport, pagesWith, register, unmapPages, unregister, type OwnPages } from '@tld/testkit';

const support = bpfSupport();
const ENODATA = 61;

describe.skipIf(!support.supported)('tld_get_data() and its per-task cache', () => {
  let cached: CachedReader;
  beforeEach(() => {
    cached = loadCachedReader({ map: 'private' });
  });
  afterEach(() => cached?.close());

  it('a thread that never registered gets -ENODATA from tld_object_init()', () => {
    const r = cached.run();
    expect(r.tid).toBe(gettid());
    expect(r.initErr).toBe(-ENODATA);
    expect(r.reqId).toBeUndefined();
  });

  describe("over pages of the test's own (no req_id or route until the test creates them)", () => {
    let pages: OwnPages;
    beforeEach(() => {
      pages = pagesWith([
        { name: 'c_other', size: 8, value: 1n },
        { name: 'c_more', size: 8, value: 2n },
      ]);
      register(cached.mapFd, pages);
    });
    afterEach(() => {
      // Unmap only once no element points at the pages; if the delete failed, leak them (the process ends soon).
      if (unregister(cached.mapFd)) unmapPages(pages);
    });

    it('walks the slots, caches -(slots searched) on a miss and skips the walk while nothing was added', () => {
      const miss = cached.run();
      expect(miss.initErr).toBe(0);
      expect(miss.reqId).toBeUndefined();
      expect(miss.route).toBeUndefined();
      expect(miss.reqIdCache).toEqual({ before: 0, after: -2 });
      expect(miss.routeCache).toEqual({ before: 0, after: -2 });

      const again = cached.run();
      expect(again.reqIdCache).toEqual({ before: -2, after: -2 });
      expect(again.routeCache).toEqual({ before: -2, after: -2 });
    });

    it('finds a key created after a miss by looking at the new slot, and caches start + off', () => {
      expect(cached.run().reqIdCache).toEqual({ before: 0, after: -2 });
      const at = addKey(pages, { name: CACHED_KEYS.reqId.name, size: CACHED_KEYS.reqId.size, value: 7n });
      const hit = cached.run();
      expect(hit.reqId).toBe(7n);
      expect(hit.reqIdCache).toEqual({ before: -2, after: at });
      expect(hit.route).toBeUndefined();
      expect(hit.routeCache).toEqual({ before: -2, after: -3 });
    });
  });

  describe('over the pages of TaskLocalData', () => {
    let tld: TaskLocalData;
    beforeEach(() => {
      tld = TaskLocalData.open({ mapFd: cached.mapFd });
    });
    afterEach(() => tld?.close());

    const offsetOf = (name: string): number => {
      const key = tld.keys().find((k) => k.name === name);
      if (!key) throw new Error(`no key ${name}`);
      return dataPageOffset(key.offset);
    };

    it('finds req_id and route, caches start + off, then reads new values through the cache', () => {
      const reqId = tld.u64(CACHED_KEYS.reqId.name);
      const route = tld.string(CACHED_KEYS.route.name, CACHED_KEYS.route.size);
      reqId.set(7n);
      route.set('/users/:id');
      const hit = cached.run();
      expect(hit.initErr).toBe(0);
      expect(hit.reqId).toBe(7n);
      expect(hit.route).toBe('/users/:id');
      expect(hit.reqIdCache).toEqual({ before: 0, after: offsetOf('req_id') });
      expect(hit.routeCache).toEqual({ before: 0, after: offsetOf('route') });

      reqId.set(0xffff_ffff_ffff_fffen);
      route.set('/orders/:orderId/items/:itemId');
      const cachedHit = cached.run();
      expect(cachedHit.reqIdCache).toEqual({ before: offsetOf('req_id'), after: offsetOf('req_id') });
      expect(cachedHit.routeCache).toEqual({ before: offsetOf('route'), after: offsetOf('route') });
      expect(cachedHit.reqId).toBe(0xffff_ffff_ffff_fffen);
      expect(cachedHit.route).toBe('/orders/:orderId/items/:itemId');
    });
  });
});
