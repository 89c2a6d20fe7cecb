// The cached path a production BPF program uses: tld_get_data() with fixed keys and the per-task offset cache in
// tld_key_map (PROTOCOL.md §6): a miss caches -(slots searched), so later calls only look at new slots; a hit caches
// start + off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { dataPageOffset } from '@tld/protocol';
import { CACHED_KEYS, gettid, loadCachedReader, type CachedReader } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';

const support = bpfSupport();
const ENODATA = 61;

describe.skipIf(!support.supported)('tld_get_data() and its per-task cache', () => {
  let cached: CachedReader;
  let tld: TaskLocalData;
  beforeAll(() => {
    cached = loadCachedReader({ map: 'private' });
  });
  afterAll(() => {
    tld?.close();
    cached?.close();
  });

  const offsetOf = (name: string): number => {
    const key = tld.keys().find((k) => k.name === name);
    if (!key) throw new Error(`no key ${name}`);
    return dataPageOffset(key.offset);
  };

  it('a thread that never registered gets -ENODATA from tld_object_init()', () => {
    const r = cached.run();
    expect(r.tid).toBe(gettid());
    expect(r.initErr).toBe(-ENODATA);
    expect(r.reqId).toBeUndefined();
  });

  it('walks the slots, caches -(slots searched) on a miss and skips the walk while nothing was added', () => {
    tld = TaskLocalData.open({ mapFd: cached.mapFd });
    tld.u32('c_other').set(1);
    const slots = tld.keys().length;
    expect(slots).toBeGreaterThanOrEqual(1);

    const miss = cached.run();
    expect(miss.initErr).toBe(0);
    expect(miss.reqId).toBeUndefined();
    expect(miss.route).toBeUndefined();
    expect(miss.reqIdCache).toEqual({ before: 0, after: -slots });
    expect(miss.routeCache).toEqual({ before: 0, after: -slots });

    const again = cached.run();
    expect(again.reqIdCache).toEqual({ before: -slots, after: -slots });
  });

  it('finds a key created later, caches start + off, then reads new values through the cache', () => {
    const slots = tld.keys().length;
    const reqId = tld.u64(CACHED_KEYS.reqId.name);
    reqId.set(7n);
    const hit = cached.run();
    expect(hit.reqId).toBe(7n);
    expect(hit.reqIdCache).toEqual({ before: -slots, after: offsetOf('req_id') });
    expect(hit.route).toBeUndefined();
    expect(hit.routeCache.after).toBe(-(slots + 1));

    reqId.set(0xffff_ffff_ffff_fffen);
    const cachedHit = cached.run();
    expect(cachedHit.reqIdCache).toEqual({ before: offsetOf('req_id'), after: offsetOf('req_id') });
    expect(cachedHit.reqId).toBe(0xffff_ffff_ffff_fffen);
  });

  it('a string key: found once created, the whole 32 bytes copied', () => {
    const route = tld.string(CACHED_KEYS.route.name, CACHED_KEYS.route.size);
    route.set('/users/:id');
    const r = cached.run();
    expect(r.route).toBe('/users/:id');
    expect(r.routeCache.after).toBe(offsetOf('route'));
    route.set('/orders/:orderId/items/:itemId');
    expect(cached.run().route).toBe('/orders/:orderId/items/:itemId');
  });
});
