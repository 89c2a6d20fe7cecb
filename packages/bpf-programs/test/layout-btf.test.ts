// src/reader-layout.ts and src/profile-layout.ts compute the offsets of the syscall programs; the kernel runs them with the layout clang
// put into each object. Compare every number with the objects' own BTF, so a layout rule the generator gets
// wrong fails here (test/layout.test.ts checks the same against a host build of the header).
import { describe, expect, it } from 'vitest';
import { CachedLayout, ProfileLayout, objectPaths } from '../src/index.js';
import { arrayLength, btf, offsetOf, struct } from './btf-util.js';
import { readerLayoutFields } from './reader-layout.js';

describe('the layout modules agree with the BTF of the built objects', () => {
  it('struct tld_reader_ctx / tld_reader_key in tld_reader.bpf.o', () => {
    const types = btf(objectPaths.reader);
    const ctx = struct(types, 'tld_reader_ctx');
    const key = struct(types, 'tld_reader_key');
    expect(readerLayoutFields()).toEqual({
      ctxSize: ctx.size,
      maxKeys: arrayLength(types, ctx, 'keys'),
      nrKeys: offsetOf(ctx, 'nr_keys'),
      status: offsetOf(ctx, 'status'),
      tid: offsetOf(ctx, 'tid'),
      tgid: offsetOf(ctx, 'tgid'),
      start: offsetOf(ctx, 'start'),
      metaCnt: offsetOf(ctx, 'meta_cnt'),
      metaSize: offsetOf(ctx, 'meta_size'),
      keys: offsetOf(ctx, 'keys'),
      keySize: key.size,
      nameBytes: arrayLength(types, key, 'name'),
      valueBytes: arrayLength(types, key, 'value'),
      nameOffset: offsetOf(key, 'name'),
      valueOffset: offsetOf(key, 'value'),
      offsetOffset: offsetOf(key, 'offset'),
      sizeOffset: offsetOf(key, 'size'),
      foundOffset: offsetOf(key, 'found'),
      badNameOffset: offsetOf(key, 'bad_name'),
    });
  });

  it('struct tld_cached_ctx in tld_cached.bpf.o', () => {
    const types = btf(objectPaths.cached);
    const ctx = struct(types, 'tld_cached_ctx');
    expect({ ...CachedLayout }).toEqual({
      ctxSize: ctx.size,
      initErrOffset: offsetOf(ctx, 'init_err'),
      foundOffset: offsetOf(ctx, 'found'),
      reqIdOffset: offsetOf(ctx, 'req_id'),
      routeOffset: offsetOf(ctx, 'route'),
      routeBytes: arrayLength(types, ctx, 'route'),
      reqIdCacheBeforeOffset: offsetOf(ctx, 'req_id_cache_before'),
      reqIdCacheAfterOffset: offsetOf(ctx, 'req_id_cache_after'),
      routeCacheBeforeOffset: offsetOf(ctx, 'route_cache_before'),
      routeCacheAfterOffset: offsetOf(ctx, 'route_cache_after'),
      tidOffset: offsetOf(ctx, 'tid'),
    });
  });

  it('struct tld_profile_config / tld_route_key / tld_route_stats in tld_route_profile.bpf.o', () => {
    const types = btf(objectPaths.routeProfile);
    const config = struct(types, 'tld_profile_config');
    const key = struct(types, 'tld_route_key');
    const stats = struct(types, 'tld_route_stats');
    const { routeBytes, config: c, routeKey, routeStats } = ProfileLayout;
    expect({ routeBytes, config: c, routeKey, routeStats }).toEqual({
      routeBytes: arrayLength(types, key, 'route'),
      config: { size: config.size, tgidOffset: offsetOf(config, 'tgid') },
      routeKey: { size: key.size, routeOffset: offsetOf(key, 'route'), stateOffset: offsetOf(key, 'state') },
      routeStats: {
        size: stats.size,
        cpuNsOffset: offsetOf(stats, 'cpu_ns'),
        piecesOffset: offsetOf(stats, 'pieces'),
        samplesOffset: offsetOf(stats, 'samples'),
      },
    });
  });
});
