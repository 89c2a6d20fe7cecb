// tld_key_map caches `start + off` per task; the offsets belong to the metadata page they were computed from.
// When user space re-registers the thread with other pages (BPF_ANY update, PROTOCOL.md §1), tld_get_data() must
// drop the cache and walk the new metadata page, not read the new data page at the old offsets.
// The pages here are the test's own (@tld/testkit's own-pages), registered with mapUpdateElem.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dataPageOffset } from '@tld/protocol';
import { CACHED_KEYS, loadCachedReader, type CachedReader, type CachedResult } from '@tld/bpf-programs';
import { bpfSupport, pagesWith, register, unmapPages, unregister, type OwnPages } from '@tld/testkit';

const support = bpfSupport();
const ENODATA = 61;

describe.skipIf(!support.supported)('tld_get_data() after the thread is re-registered with other pages', () => {
  // A: req_id second (start + 8); B: req_id first, route where A's req_id was, so a stale offset reads B's route.
  const A_REQ_ID = 0xa11ce_0000_0001n;
  const B_REQ_ID = 0xb0b_0000_0002n;
  const B_ROUTE = '/b/route';
  // The pages are only read: every test registers them as it needs, in a reader (map and cache) of its own.
  let a: OwnPages;
  let b: OwnPages;
  let cached: CachedReader;
  let stillRegistered = false;

  beforeAll(() => {
    a = pagesWith([
      { name: 'a_pad', size: 8, value: 0xaaaa_aaaa_aaaa_aaaan },
      { name: CACHED_KEYS.reqId.name, size: CACHED_KEYS.reqId.size, value: A_REQ_ID },
    ]);
    b = pagesWith([
      { name: CACHED_KEYS.reqId.name, size: CACHED_KEYS.reqId.size, value: B_REQ_ID },
      { name: CACHED_KEYS.route.name, size: CACHED_KEYS.route.size, value: B_ROUTE },
    ]);
  });
  afterAll(() => {
    // Unmap only once no element points at the pages; if a delete failed, leak them (the process ends soon).
    if (!stillRegistered) for (const pages of [a, b]) if (pages) unmapPages(pages);
  });

  it('the layouts differ: req_id sits at different offsets, and B has route where A has req_id', () => {
    expect(a.at['req_id']).toBe(dataPageOffset(8));
    expect(b.at['req_id']).toBe(dataPageOffset(0));
    expect(b.at['route']).toBe(a.at['req_id']);
  });

  describe('in a reader of its own per test', () => {
    beforeEach(() => {
      cached = loadCachedReader({ map: 'private' });
    });
    afterEach(() => {
      if (!unregister(cached.mapFd)) stillRegistered = true;
      cached.close();
    });

    /** Registers `pages` and runs the cached reader once, as a thread would before the step a test checks. */
    function registerAndRun(pages: OwnPages): CachedResult {
      register(cached.mapFd, pages);
      return cached.run();
    }

    it("pages A: finds req_id and caches its offset; route misses after walking A's 2 slots", () => {
      expect(cached.run().initErr).toBe(-ENODATA);
      const r = registerAndRun(a);
      expect(r.initErr).toBe(0);
      expect(r.reqId).toBe(A_REQ_ID);
      expect(r.reqIdCache).toEqual({ before: 0, after: a.at['req_id'] });
      expect(r.route).toBeUndefined();
      expect(r.routeCache).toEqual({ before: 0, after: -2 });
    });

    it("re-registered with pages B: the cache is reset and both keys are found at B's offsets", () => {
      expect(registerAndRun(a).reqIdCache.after).toBe(a.at['req_id']);
      const r = registerAndRun(b);
      expect(r.initErr).toBe(0);
      // A stale cache reads B's route bytes as req_id and skips route (2 slots already searched).
      expect(r.reqId?.toString(16)).toBe(B_REQ_ID.toString(16));
      expect(r.route).toBe(B_ROUTE);
      expect(r.reqIdCache).toEqual({ before: 0, after: b.at['req_id'] });
      expect(r.routeCache).toEqual({ before: 0, after: b.at['route'] });
    });

    it('registering the same pages again keeps the cache', () => {
      registerAndRun(b);
      const r = registerAndRun(b);
      expect(r.reqId).toBe(B_REQ_ID);
      expect(r.reqIdCache).toEqual({ before: b.at['req_id'], after: b.at['req_id'] });
      expect(r.routeCache).toEqual({ before: b.at['route'], after: b.at['route'] });
    });

    it("A, then B, then back to A: reset again, req_id read at A's offset, route absent", () => {
      registerAndRun(a);
      expect(registerAndRun(b).route).toBe(B_ROUTE);
      const r = registerAndRun(a);
      expect(r.reqId).toBe(A_REQ_ID);
      expect(r.reqIdCache).toEqual({ before: 0, after: a.at['req_id'] });
      expect(r.route).toBeUndefined();
      expect(r.routeCache).toEqual({ before: 0, after: -2 });
    });

    it('after the element is deleted the thread reads as unregistered', () => {
      expect(registerAndRun(a).initErr).toBe(0);
      expect(unregister(cached.mapFd)).toBe(true);
      expect(cached.run().initErr).toBe(-ENODATA);
    });
  });
});
